//! An in-memory gateway for unit tests: run your plugin's hooks natively
//! with `cargo test`, no WebAssembly involved. Only compiled when not
//! targeting `wasm32`.
//!
//! [`Session`] behaves like the gateway: it enforces the ABI's rules (header
//! names and values, tags, addresses, replies, the phase of each mutation,
//! the body check when the hook returns, the verdict against the reply) and
//! turns a violation, or a panic, into a plugin error in
//! [`Outcome::error`], rolling back every change the call made.
//!
//! ```
//! use sluice::testing::Session;
//! use sluice::{Host, Hooks, Plugin, Verdict};
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     const HOOKS: Hooks = Hooks::DATA;
//!     fn configure(_: &Host) -> Result<Self, String> { Ok(Hello) }
//!     fn on_data(&self, h: &Host) -> Verdict {
//!         h.add_header("X-Hello", "world");
//!         Verdict::Continue
//!     }
//! }
//!
//! let mut s = Session::new();
//! let p: Hello = s.configure().unwrap();
//! s.set_envelope("alice@example.org", &["bob@example.net"]);
//! s.set_message(b"Subject: hi\n\nbody\n");
//! let out = s.data(&p);
//! assert!(out.is_ok(), "{:?}", out.error);
//! assert_eq!(s.header_values("x-hello"), [b"world".to_vec()]);
//! assert_eq!(s.message(), b"Subject: hi\r\nX-Hello: world\r\n\r\nbody\r\n");
//! ```

mod caps;
pub(crate) mod state;
mod validate;

pub(crate) use state::sys;
pub use state::Reply;

use std::panic::{self, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::Once;
use std::vec::Vec;

use crate::host::Host;
use crate::plugin::Plugin;
use crate::verdict::{Level, Phase, Verdict};
use state::{Field, State, TRAP};

/// What one hook call did, as the gateway would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the hook ran: `false` when the plugin's
    /// [`HOOKS`](Plugin::HOOKS) does not hold this phase.
    pub called: bool,
    /// The verdict. After a plugin error it is the gateway's default
    /// `on_error` result: [`Verdict::Tempfail`].
    pub verdict: Verdict,
    /// The reply the client gets for reject and tempfail (the one the
    /// plugin set, or the gateway's default), and the reason of a
    /// quarantine; `None` otherwise.
    pub reply: Option<Reply>,
    /// Why the call was a plugin error (a trap, a panic, an invalid
    /// verdict, a reply that does not match the verdict, an invalid body);
    /// `None` if it was not. The call's changes were rolled back.
    pub error: Option<String>,
}

impl Outcome {
    /// The call was not a plugin error.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The reply as the client sees it (`550 5.7.1 text`), or `""`.
    pub fn reply_line(&self) -> String {
        self.reply.as_ref().map(ToString::to_string).unwrap_or_default()
    }
}

/// One SMTP session against an in-memory host. Hook methods run the
/// plugin's hook for that phase and update the session the way the gateway
/// does.
pub struct Session {
    st: State,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session from client `192.0.2.1` port `49152` to
    /// `mx.example.test`, id `test-session`, for a plugin named `test` with
    /// configuration `{}`.
    pub fn new() -> Session {
        let mut st = State { plugin_name: b"test".to_vec(), config: b"{}".to_vec(), ..State::default() };
        for (k, v) in [
            (crate::info::SESSION_ID, "test-session"),
            (crate::info::CLIENT_IP, "192.0.2.1"),
            (crate::info::CLIENT_PORT, "49152"),
            (crate::info::SERVER_HOSTNAME, "mx.example.test"),
        ] {
            st.info.insert(k.to_string(), v.as_bytes().to_vec());
        }
        Session { st }
    }

    // ----- setting up -----

    /// The configuration JSON the plugin reads with `Host::config`.
    pub fn set_config(&mut self, json: &str) -> &mut Self {
        self.st.config = json.as_bytes().to_vec();
        self
    }

    /// The plugin's name in the policy (`info("plugin.name")`).
    pub fn set_plugin_name(&mut self, name: &str) -> &mut Self {
        self.st.plugin_name = name.as_bytes().to_vec();
        self
    }

    /// Sets session information available from `connect` on, such as
    /// [`info::TLS`](crate::info::TLS) or [`info::CLIENT_NAME`](crate::info::CLIENT_NAME).
    /// Keys that belong to a phase (`helo`, `mail.from`, `rcpt`, ...) are set
    /// by the hook methods instead.
    pub fn set_info(&mut self, key: &str, value: impl AsRef<[u8]>) -> &mut Self {
        self.st.info.insert(key.to_string(), value.as_ref().to_vec());
        self
    }

    /// Removes session information, so `info(key)` is NOT_FOUND.
    pub fn delete_info(&mut self, key: &str) -> &mut Self {
        self.st.info.remove(key);
        self
    }

    /// Starts a transaction without calling any hook: sender and accepted
    /// recipients.
    pub fn set_envelope(&mut self, from: &str, rcpts: &[&str]) -> &mut Self {
        self.new_transaction(from.as_bytes());
        self.st.rcpts = rcpts.iter().map(|r| r.as_bytes().to_vec()).collect();
        self
    }

    /// The message the `data` phase sees, from raw bytes: a bare `\n`
    /// becomes CRLF, so test messages can be written as plain strings.
    pub fn set_message(&mut self, raw: &[u8]) -> &mut Self {
        let raw = crlf(raw);
        let (fields, body) = parse(&raw);
        self.st.fields = fields;
        self.st.body = body;
        self
    }

    // ----- capabilities (sdk/ABI.md §4.8 to §4.11) -----
    //
    // Grants are not emulated: the key/value store, DNS and auth_check are
    // always available; dkim_sign knows the keys added with add_dkim_key.

    /// A key of the plugin's key/value store as the plugin would read it
    /// now, for assertions.
    pub fn kv(&mut self, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        self.st.caps.kv_live(key.as_ref()).map(|e| e.value.clone())
    }

    /// Stores a key as `Host::kv_set` would, to prepare a test.
    pub fn set_kv(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl_ms: u32) -> &mut Self {
        let ttl = ttl_ms.min(i32::MAX as u32) as i32;
        self.st.caps.kv_put(key.as_ref(), value.as_ref().to_vec(), ttl);
        self
    }

    /// Sets the plugin's key/value quota in bytes, as `kv_quota` in its
    /// policy block would (default 64 MiB): a write past it gets
    /// `KvError::QuotaExceeded` (sdk/ABI.md §4.8).
    pub fn set_kv_quota(&mut self, bytes: i64) -> &mut Self {
        self.st.caps.kv_quota = Some(bytes);
        self
    }

    /// Takes the key/value store down (`true`) or brings it back
    /// (`false`): while down, every kv call gets `KvError::Temporary`, as
    /// with a shared store (Redis) that cannot answer (sdk/ABI.md §4.8).
    /// The keys are kept and are there again once it is back.
    pub fn set_kv_down(&mut self, down: bool) -> &mut Self {
        self.st.caps.kv_down = down;
        self
    }

    /// The bytes the plugin's keys count against its quota.
    pub fn kv_usage(&self) -> i64 {
        self.st.caps.kv_usage()
    }

    /// Moves the key/value store's clock forward: keys whose lifetime has
    /// passed are gone. The clock moves only when a test calls this.
    pub fn advance_ms(&mut self, ms: u64) -> &mut Self {
        self.st.caps.clock_ms += ms;
        self
    }

    /// The records `Host::dns_lookup(qtype, name)` returns. Names compare
    /// case-insensitively, with or without the final dot; a name and type
    /// without records is NOT_FOUND.
    pub fn set_dns(&mut self, qtype: &str, name: &str, records: &[&str]) -> &mut Self {
        let recs = records.iter().map(|r| r.as_bytes().to_vec()).collect();
        self.st.caps.dns.insert((qtype.to_ascii_uppercase(), caps::dns_name(name.as_bytes())), Ok(recs));
        self
    }

    /// Makes lookups of `qtype` for `name` fail with TEMPERROR (a timeout or
    /// SERVFAIL).
    pub fn set_dns_temporary(&mut self, qtype: &str, name: &str) -> &mut Self {
        let k = (qtype.to_ascii_uppercase(), caps::dns_name(name.as_bytes()));
        self.st.caps.dns.insert(k, Err(crate::DnsError::Temporary));
        self
    }

    /// Sets one member of the result `auth_check` gives, by its
    /// `auth_value` key: `spf.result`, `dkim.count`, `dkim.0.domain`,
    /// `dmarc.pct`, ... The mock evaluates nothing: members are returned as
    /// set, for the checks asked for, from the phases the ABI allows.
    pub fn set_auth(&mut self, key: &str, value: &str) -> &mut Self {
        self.st.caps.auth.insert(key.to_string(), value.to_string());
        self
    }

    /// Grants the plugin the scanner `name` and sets one member of the
    /// result `scan` gives, by its `scan_value` key: `engine`, `action`,
    /// `score`, `symbols.count`, `symbols.0.name`, `virus`, ... The mock
    /// scans nothing: members are returned as set, in phase `data`.
    pub fn set_scan(&mut self, name: &str, key: &str, value: &str) -> &mut Self {
        let e = self.st.caps.scans.entry(name.to_string()).or_insert_with(|| Ok(Default::default()));
        if e.is_err() {
            *e = Ok(Default::default());
        }
        if let Ok(m) = e {
            m.insert(key.to_string(), value.to_string());
        }
        self
    }

    /// Grants the plugin the scanner `name` and makes it fail as an
    /// unreachable, timed-out or garbled scanner does: `scan` gives
    /// TEMPERROR, and `scan_value("error")` the reason.
    pub fn set_scan_error(&mut self, name: &str, reason: &str) -> &mut Self {
        self.st.caps.scans.insert(name.to_string(), Err(reason.to_string()));
        self
    }

    /// Grants the plugin DKIM key `name` (listed by `Host::dkim_keys`).
    /// `Host::dkim_sign` with it inserts a pretend `DKIM-Signature` field at
    /// the top, or refuses like the host when the message has no From field
    /// or more than one, or `headers` lacks From.
    pub fn add_dkim_key(&mut self, name: &str, domain: &str, selector: &str, algorithm: &str) -> &mut Self {
        self.st.caps.dkim_keys.push(crate::DkimKey {
            name: name.to_string(),
            domain: domain.to_string(),
            selector: selector.to_string(),
            algorithm: algorithm.to_string(),
        });
        self
    }

    // ----- running hooks -----

    /// Runs [`Plugin::configure`] as `sluice_configure` does; `Err` holds
    /// the plugin's error, or the reason of a trap or panic.
    pub fn configure<P: Plugin>(&mut self) -> Result<P, String> {
        self.st.phase = None;
        let mut built = None;
        let out = self.call(|h| {
            built = Some(P::configure(h));
            Verdict::Continue
        });
        if let Some(e) = out.error {
            return Err(e);
        }
        match built {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => {
                // What the plugin! export does before refusing.
                self.st.logs.push((Level::Error, e.as_bytes().to_vec()));
                Err(e)
            }
            None => Err("configure did not return".to_string()),
        }
    }

    /// The `connect` phase.
    pub fn connect<P: Plugin>(&mut self, p: &P) -> Outcome {
        self.hook(p, Phase::Connect)
    }

    /// The `helo` phase with HELO/EHLO argument `name`.
    pub fn helo<P: Plugin>(&mut self, p: &P, name: &str) -> Outcome {
        self.st.helo = name.as_bytes().to_vec();
        self.hook(p, Phase::Helo)
    }

    /// The `mail` phase: starts a new transaction from `from` (`""` is the
    /// null sender). The message set with [`set_message`](Session::set_message)
    /// is kept.
    pub fn mail<P: Plugin>(&mut self, p: &P, from: &str) -> Outcome {
        self.new_transaction(from.as_bytes());
        self.hook(p, Phase::Mail)
    }

    /// The `rcpt` phase for `to`; the recipient is accepted (added to
    /// [`rcpts`](Session::rcpts)) unless the outcome is reject or tempfail.
    pub fn rcpt<P: Plugin>(&mut self, p: &P, to: &str) -> Outcome {
        self.st.rcpt = to.as_bytes().to_vec();
        let out = self.hook(p, Phase::Rcpt);
        if !matches!(out.verdict, Verdict::Reject | Verdict::Tempfail) {
            self.st.rcpts.push(to.as_bytes().to_vec());
        }
        out
    }

    /// The `data` phase, on the message of [`set_message`](Session::set_message).
    pub fn data<P: Plugin>(&mut self, p: &P) -> Outcome {
        self.hook(p, Phase::Data)
    }

    /// Runs any function as a hook of `phase`: to test a helper that takes
    /// a [`Host`], or to run a second plugin.
    pub fn run(&mut self, phase: Phase, f: impl FnOnce(&Host) -> Verdict) -> Outcome {
        self.st.phase = Some(phase);
        self.call(f)
    }

    // ----- inspecting -----

    /// The message as it would be forwarded: header fields, blank line, body.
    pub fn message(&self) -> Vec<u8> {
        let mut m: Vec<u8> = self.st.fields.iter().flat_map(|f| f.raw.iter().copied()).collect();
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(&self.st.body);
        m
    }

    /// The values of every field called `name` (case-insensitive), top to
    /// bottom.
    pub fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.st
            .fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value().to_vec())
            .collect()
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.st.body
    }

    /// A tag, as a later plugin would read it (transaction tags shadow
    /// session tags).
    pub fn tag(&self, key: &str) -> Option<&[u8]> {
        let k = key.as_bytes();
        self.st.tags.get(k).or_else(|| self.st.session_tags.get(k)).map(Vec::as_slice)
    }

    /// Every tag, `(key, value)`, sorted by key.
    pub fn tags(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut all = self.st.session_tags.clone();
        all.extend(self.st.tags.clone());
        all.into_iter().collect()
    }

    /// The reverse path.
    pub fn mail_from(&self) -> &[u8] {
        &self.st.mail_from
    }

    /// The recipients.
    pub fn rcpts(&self) -> &[Vec<u8>] {
        &self.st.rcpts
    }

    /// What the plugin logged, in order.
    pub fn logs(&self) -> &[(Level, Vec<u8>)] {
        &self.st.logs
    }

    // ----- internals -----

    fn new_transaction(&mut self, from: &[u8]) {
        self.st.mail_from = from.to_vec();
        self.st.mail_params.clear();
        self.st.rcpts.clear();
        self.st.tags.clear();
    }

    fn hook<P: Plugin>(&mut self, p: &P, phase: Phase) -> Outcome {
        self.st.phase = Some(phase);
        if !P::HOOKS.contains(phase) {
            return Outcome { called: false, verdict: Verdict::Continue, reply: None, error: None };
        }
        let f: fn(&P, &Host) -> Verdict = match phase {
            Phase::Connect => P::on_connect,
            Phase::Helo => P::on_helo,
            Phase::Mail => P::on_mail,
            Phase::Rcpt => P::on_rcpt,
            Phase::Data => P::on_data,
        };
        self.call(|h| f(p, h))
    }

    /// One call, as `Plugin.Call` and `filter.Chain` do it: install the
    /// state, run, check the result, commit or roll back.
    fn call(&mut self, f: impl FnOnce(&Host) -> Verdict) -> Outcome {
        quiet_traps();
        self.st.caps.auth_ran = None; // auth_check results last one hook call
        self.st.caps.scan_last = None; // so do scan results
        let snapshot = self.st.clone();
        self.st.reply = None;
        state::install(core::mem::take(&mut self.st));
        let res = panic::catch_unwind(AssertUnwindSafe(|| f(&Host::new())));
        self.st = state::uninstall();
        let reply = self.st.reply.take();
        let v = match res {
            Ok(v) => v,
            Err(payload) => return self.fail(snapshot, panic_text(payload)),
        };
        if let Err(e) = self.check(v, reply.as_ref(), &snapshot) {
            return self.fail(snapshot, e);
        }
        let reply = match v {
            Verdict::Reject => {
                Some(reply.unwrap_or_else(|| default_reply(550, "5.7.1", "Rejected by policy")))
            }
            Verdict::Tempfail => {
                Some(reply.unwrap_or_else(|| default_reply(451, "4.7.1", "Try again later")))
            }
            Verdict::Quarantine => reply,
            _ => None,
        };
        Outcome { called: true, verdict: v, reply, error: None }
    }

    /// A plugin error: roll back to `snapshot` (keeping the logs) and
    /// answer as the gateway's default `on_error = "tempfail"` does.
    fn fail(&mut self, snapshot: State, error: String) -> Outcome {
        let logs = core::mem::take(&mut self.st.logs);
        let caps = core::mem::take(&mut self.st.caps);
        self.st = snapshot;
        self.st.logs = logs;
        self.st.caps = caps; // the key/value store is outside the transaction
        Outcome {
            called: true,
            verdict: Verdict::Tempfail,
            reply: Some(default_reply(451, "4.3.0", "Temporary local problem, try again later")),
            error: Some(error),
        }
    }

    /// The checks the gateway makes when a hook returns (sdk/ABI.md §2.1,
    /// §4.5, §4.6).
    fn check(&self, v: Verdict, reply: Option<&Reply>, before: &State) -> Result<(), String> {
        let raw = v.to_raw();
        if !(0..=5).contains(&raw) {
            return Err(std::format!("invalid verdict {}", raw));
        }
        if let Some(r) = reply {
            if v == Verdict::Reject && r.code / 100 != 5 {
                return Err("reject verdict with a non-5xx reply".to_string());
            }
            if v == Verdict::Tempfail && r.code / 100 != 4 {
                return Err("tempfail verdict with a non-4xx reply".to_string());
            }
        }
        if self.st.phase == Some(Phase::Data) {
            if self.st.body != before.body {
                validate::body(&self.st.body)?;
            }
            if self.st.rcpts.is_empty() && !before.rcpts.is_empty() {
                return Err("the plugin removed every recipient; return Verdict::Discard instead".to_string());
            }
        }
        Ok(())
    }
}

fn default_reply(code: u16, enhanced: &str, text: &str) -> Reply {
    Reply { code, enhanced: enhanced.to_string(), text: text.to_string() }
}

fn panic_text(payload: std::boxed::Box<dyn core::any::Any + Send>) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    };
    match msg.strip_prefix(TRAP) {
        Some(reason) => std::format!("trap: {}", reason),
        None => std::format!("panic: {}", msg),
    }
}

/// Keeps the mock's traps out of the test output (they are reported in
/// [`Outcome::error`]); other panics print as usual.
fn quiet_traps() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(std::boxed::Box::new(move |info| {
            let trap = info.payload().downcast_ref::<String>().map_or(false, |s| s.starts_with(TRAP));
            if !trap {
                prev(info)
            }
        }));
    });
}

/// Turns every bare LF into CRLF.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    for (i, &c) in raw.iter().enumerate() {
        if c == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// Splits a message into header fields and body the way the gateway does:
/// fields up to the first empty line, continuation lines kept in their
/// field; a line that is not a field starts the body.
fn parse(raw: &[u8]) -> (Vec<Field>, Vec<u8>) {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let rest = &raw[pos..];
        let line = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => &rest[..i + 2],
            None => rest,
        };
        if line == b"\r\n" {
            return (fields, raw[pos + 2..].to_vec());
        }
        if line[0] == b' ' || line[0] == b'\t' {
            match fields.last_mut() {
                Some(f) => f.raw.extend_from_slice(line),
                None => break,
            }
            pos += line.len();
            continue;
        }
        let name = match line.iter().position(|&c| c == b':') {
            Some(i) if i > 0 => {
                let n = &line[..i];
                let end = n.iter().rposition(|&c| c != b' ' && c != b'\t').map_or(0, |e| e + 1);
                &n[..end]
            }
            _ => break,
        };
        if validate::header_name(name).is_err() {
            break;
        }
        fields.push(Field { name: name.to_vec(), raw: line.to_vec() });
        pos += line.len();
    }
    (fields, raw[pos..].to_vec())
}
