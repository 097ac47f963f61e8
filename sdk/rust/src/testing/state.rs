//! The mock host's state and its implementation of the host functions
//! (`sys`), which [`Host`](crate::Host) calls natively.
//!
//! While a [`Session`](super::Session) runs a hook, its state sits in a
//! thread-local slot, which is where `sys` finds it: tests on different
//! threads never see each other. A host function that the gateway would trap
//! on panics with the reason instead; the session catches the panic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use super::caps::Caps;
use super::validate;
use crate::verdict::{Level, Phase};
use crate::NOT_FOUND;

/// A reply set with `set_reply`: code, enhanced code, text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 400 to 599.
    pub code: u16,
    /// `class.subject.detail`; the host's `X.0.0` if the plugin passed none.
    pub enhanced: String,
    /// The text.
    pub text: String,
}

impl core::fmt::Display for Reply {
    /// `550 5.7.1 text`, as the client would see it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

/// One header field: its name and its raw bytes `Name: value CRLF`, folding
/// kept, as the gateway stores it.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub(crate) name: Vec<u8>,
    pub(crate) raw: Vec<u8>,
}

impl Field {
    pub(crate) fn new(name: &[u8], value: &[u8]) -> Field {
        let mut raw = Vec::with_capacity(name.len() + value.len() + 4);
        raw.extend_from_slice(name);
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
        Field { name: name.to_vec(), raw }
    }

    /// The bytes after the colon, without one leading space and the final
    /// CRLF (sdk/ABI.md §4.4).
    pub(crate) fn value(&self) -> &[u8] {
        let mut v = &self.raw[self.name.len()..];
        while let Some((&c, rest)) = v.split_first() {
            v = rest;
            if c == b':' {
                break;
            }
        }
        if v.first() == Some(&b' ') {
            v = &v[1..];
        }
        v.strip_suffix(b"\r\n").unwrap_or(v)
    }
}

/// Everything the mock host knows about one session.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// `None` while `configure` runs.
    pub(crate) phase: Option<Phase>,
    pub(crate) plugin_name: Vec<u8>,
    pub(crate) config: Vec<u8>,
    /// Session information by key: session.id, client.ip, tls, ...
    pub(crate) info: BTreeMap<String, Vec<u8>>,
    pub(crate) helo: Vec<u8>,
    pub(crate) mail_from: Vec<u8>,
    pub(crate) mail_params: Vec<u8>,
    pub(crate) rcpt: Vec<u8>,
    pub(crate) rcpt_params: Vec<u8>,
    pub(crate) rcpts: Vec<Vec<u8>>,
    pub(crate) session_tags: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) tags: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) fields: Vec<Field>,
    pub(crate) body: Vec<u8>,
    pub(crate) reply: Option<Reply>,
    pub(crate) logs: Vec<(Level, Vec<u8>)>,
    /// The key/value store, DNS, auth and DKIM emulation (sdk/ABI.md §4.8-§4.11).
    pub(crate) caps: Caps,
}

impl State {
    fn in_data(&self) -> bool {
        self.phase == Some(Phase::Data)
    }

    /// Traps unless the current phase is one of `phases`.
    pub(crate) fn need(&self, what: &str, phases: &[Phase]) {
        match self.phase {
            Some(p) if phases.contains(&p) => {}
            Some(p) => trap(std::format!("{} is not allowed in phase {}", what, p.name())),
            None => trap(std::format!("{} is not allowed in sluice_configure", what)),
        }
    }

    fn info(&self, key: &[u8]) -> Option<&[u8]> {
        let key = core::str::from_utf8(key).ok()?;
        if key == crate::info::PLUGIN_NAME {
            return Some(&self.plugin_name);
        }
        let phase = self.phase?;
        let at_least = |p: Phase| phase >= p;
        match key {
            "phase" => Some(phase.name().as_bytes()),
            "helo" if at_least(Phase::Helo) => Some(&self.helo),
            "mail.from" if at_least(Phase::Mail) => Some(&self.mail_from),
            "mail.params" if at_least(Phase::Mail) => Some(&self.mail_params),
            "rcpt" if phase == Phase::Rcpt => Some(&self.rcpt),
            "rcpt.params" if phase == Phase::Rcpt => Some(&self.rcpt_params),
            "helo" | "mail.from" | "mail.params" | "rcpt" | "rcpt.params" => None,
            _ => self.info.get(key).map(Vec::as_slice),
        }
    }

    fn check_field(&self, name: &[u8], value: &[u8]) -> Field {
        if let Err(e) = validate::header_name(name).and_then(|_| validate::header_value(name, value)) {
            trap(e)
        }
        Field::new(name, &validate::fold(name, value))
    }
}

std::thread_local! {
    static CURRENT: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Installs `st` as the state host functions see on this thread.
pub(crate) fn install(st: State) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        assert!(c.is_none(), "sluice::testing: a hook is already running on this thread");
        *c = Some(st);
    })
}

/// Removes the installed state.
pub(crate) fn uninstall() -> State {
    CURRENT.with(|c| c.borrow_mut().take()).expect("sluice::testing: no hook is running")
}

pub(crate) fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let st = c.as_mut().unwrap_or_else(|| {
            panic!("sluice: a Host method was called outside a hook run by sluice::testing::Session")
        });
        f(st)
    })
}

/// The prefix of a panic that stands for a trap in the gateway.
pub(crate) const TRAP: &str = "sluice trap: ";

pub(crate) fn trap(reason: String) -> ! {
    panic!("{}{}", TRAP, reason)
}

/// Copies `v` to `buf` if it fits; returns its full length (sdk/ABI.md §3).
pub(crate) fn out(buf: &mut [u8], v: &[u8]) -> i32 {
    if v.len() <= buf.len() {
        buf[..v.len()].copy_from_slice(v);
    }
    v.len() as i32
}

fn found(r: bool) -> i32 {
    if r {
        0
    } else {
        NOT_FOUND
    }
}

/// The host functions of sdk/ABI.md §4, over the installed state.
pub(crate) mod sys {
    use super::*;

    pub(crate) use crate::testing::caps::sys::*;

    pub(crate) fn log(level: i32, msg: &[u8]) {
        let level = match level {
            0 => Level::Debug,
            1 => Level::Info,
            2 => Level::Warn,
            3 => Level::Error,
            l => trap(std::format!("log level {} is not 0 to 3", l)),
        };
        with(|st| st.logs.push((level, msg[..msg.len().min(4096)].to_vec())))
    }

    pub(crate) fn config(buf: &mut [u8]) -> i32 {
        with(|st| out(buf, &st.config))
    }

    pub(crate) fn info(key: &[u8], buf: &mut [u8]) -> i32 {
        if key == crate::info::DKIM_KEYS.as_bytes() {
            return with(|st| match st.caps.dkim_key_list() {
                Some(v) if st.phase.is_some() => out(buf, &v),
                _ => NOT_FOUND,
            });
        }
        with(|st| match st.info(key) {
            Some(v) => out(buf, v),
            None => NOT_FOUND,
        })
    }

    pub(crate) fn rcpt_count() -> i32 {
        with(|st| if st.phase.is_none() { NOT_FOUND } else { st.rcpts.len() as i32 })
    }

    pub(crate) fn rcpt_get(index: i32, buf: &mut [u8]) -> i32 {
        with(|st| match st.rcpts.get(index as usize) {
            Some(r) if index >= 0 && st.phase.is_some() => out(buf, r),
            _ => NOT_FOUND,
        })
    }

    pub(crate) fn tag_get(key: &[u8], buf: &mut [u8]) -> i32 {
        with(|st| {
            if let Err(e) = validate::tag_key(key) {
                trap(e)
            }
            if st.phase.is_none() {
                return NOT_FOUND;
            }
            match st.tags.get(key).or_else(|| st.session_tags.get(key)) {
                Some(v) => out(buf, v),
                None => NOT_FOUND,
            }
        })
    }

    pub(crate) fn tag_set(key: &[u8], val: &[u8]) -> i32 {
        with(|st| {
            st.need("tag_set", &[Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt, Phase::Data]);
            if let Err(e) = validate::tag_key(key).and_then(|_| validate::tag_value(val)) {
                trap(e)
            }
            let map = match st.phase {
                Some(Phase::Connect | Phase::Helo) => &mut st.session_tags,
                _ => &mut st.tags,
            };
            map.insert(key.to_vec(), val.to_vec());
            0
        })
    }

    pub(crate) fn header_count() -> i32 {
        with(|st| if st.in_data() { st.fields.len() as i32 } else { NOT_FOUND })
    }

    pub(crate) fn header_name(index: i32, buf: &mut [u8]) -> i32 {
        with(|st| match st.fields.get(index as usize) {
            Some(f) if index >= 0 && st.in_data() => out(buf, &f.name),
            _ => NOT_FOUND,
        })
    }

    pub(crate) fn header_value(index: i32, buf: &mut [u8]) -> i32 {
        with(|st| match st.fields.get(index as usize) {
            Some(f) if index >= 0 && st.in_data() => out(buf, f.value()),
            _ => NOT_FOUND,
        })
    }

    pub(crate) fn header_find(name: &[u8], nth: i32) -> i32 {
        with(|st| {
            if !st.in_data() || nth < 0 {
                return NOT_FOUND;
            }
            st.fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name.eq_ignore_ascii_case(name))
                .nth(nth as usize)
                .map_or(NOT_FOUND, |(i, _)| i as i32)
        })
    }

    pub(crate) fn header_add(name: &[u8], val: &[u8]) -> i32 {
        with(|st| {
            st.need("header_add", &[Phase::Data]);
            let f = st.check_field(name, val);
            st.fields.push(f);
            0
        })
    }

    pub(crate) fn header_insert(index: i32, name: &[u8], val: &[u8]) -> i32 {
        with(|st| {
            st.need("header_insert", &[Phase::Data]);
            let f = st.check_field(name, val);
            if index < 0 || index as usize > st.fields.len() {
                return NOT_FOUND;
            }
            st.fields.insert(index as usize, f);
            0
        })
    }

    pub(crate) fn header_change(index: i32, val: &[u8]) -> i32 {
        with(|st| {
            st.need("header_change", &[Phase::Data]);
            if index < 0 || index as usize >= st.fields.len() {
                return NOT_FOUND;
            }
            let name = st.fields[index as usize].name.clone();
            st.fields[index as usize] = st.check_field(&name, val);
            0
        })
    }

    pub(crate) fn header_delete(index: i32) -> i32 {
        with(|st| {
            st.need("header_delete", &[Phase::Data]);
            if index < 0 || index as usize >= st.fields.len() {
                return NOT_FOUND;
            }
            st.fields.remove(index as usize);
            0
        })
    }

    pub(crate) fn body_size() -> i32 {
        with(|st| if st.in_data() { st.body.len() as i32 } else { NOT_FOUND })
    }

    pub(crate) fn body_read(offset: i32, buf: &mut [u8]) -> i32 {
        with(|st| {
            if !st.in_data() || offset < 0 || offset as usize > st.body.len() {
                return NOT_FOUND;
            }
            let chunk = &st.body[offset as usize..];
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            n as i32
        })
    }

    pub(crate) fn body_replace(b: &[u8]) -> i32 {
        with(|st| {
            st.need("body_replace", &[Phase::Data]);
            st.body = b.to_vec();
            0
        })
    }

    pub(crate) fn body_append(b: &[u8]) -> i32 {
        with(|st| {
            st.need("body_append", &[Phase::Data]);
            st.body.extend_from_slice(b);
            0
        })
    }

    pub(crate) fn mail_set(addr: &[u8]) -> i32 {
        with(|st| {
            st.need("mail_set", &[Phase::Mail, Phase::Data]);
            if let Err(e) = validate::address(addr, true) {
                trap(e)
            }
            st.mail_from = addr.to_vec();
            0
        })
    }

    pub(crate) fn rcpt_add(addr: &[u8]) -> i32 {
        with(|st| {
            st.need("rcpt_add", &[Phase::Data]);
            if let Err(e) = validate::address(addr, false) {
                trap(e)
            }
            if !st.rcpts.iter().any(|r| r.eq_ignore_ascii_case(addr)) {
                st.rcpts.push(addr.to_vec());
            }
            0
        })
    }

    pub(crate) fn rcpt_remove(addr: &[u8]) -> i32 {
        with(|st| {
            st.need("rcpt_remove", &[Phase::Data]);
            if let Err(e) = validate::address(addr, false) {
                trap(e)
            }
            let before = st.rcpts.len();
            st.rcpts.retain(|r| !r.eq_ignore_ascii_case(addr));
            found(st.rcpts.len() != before)
        })
    }

    pub(crate) fn set_reply(code: i32, enh: &[u8], text: &[u8]) -> i32 {
        with(|st| {
            st.need("set_reply", &[Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt, Phase::Data]);
            if let Err(e) = validate::reply(code, enh, text) {
                trap(e)
            }
            let enhanced = if enh.is_empty() {
                std::format!("{}.0.0", code / 100)
            } else {
                String::from_utf8_lossy(enh).into_owned()
            };
            st.reply =
                Some(Reply { code: code as u16, enhanced, text: String::from_utf8_lossy(text).into_owned() });
            0
        })
    }
}
