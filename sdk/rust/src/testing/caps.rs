//! The mock host's capability functions (sdk/ABI.md §4.8 to §4.11): a
//! key/value store on a fake clock, DNS answers set by the test, canned
//! authentication results and a pretend DKIM signer.
//!
//! Grants are not emulated: every capability is available, as if the
//! policy granted it, except that `dkim_sign` knows only the keys the test
//! added.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use super::state::{out, trap, with, Field, State};
use crate::caps::{DkimKey, DnsError};
use crate::verdict::Phase;
use crate::{NOT_FOUND, QUOTA, REFUSED, TEMPERROR};

/// One key of the emulated store.
#[derive(Clone, Debug)]
pub(crate) struct KvEntry {
    pub(crate) value: Vec<u8>,
    /// Milliseconds on the session's clock; `None`: never expires.
    pub(crate) expires: Option<u64>,
}

/// The capability state of a session. The key/value store is outside the
/// transaction: a failed call keeps its writes, as in the gateway.
#[derive(Clone, Debug, Default)]
pub(crate) struct Caps {
    pub(crate) clock_ms: u64,
    pub(crate) kv: BTreeMap<Vec<u8>, KvEntry>,
    /// The store's quota in bytes (sdk/ABI.md §4.8); `None`: the default.
    pub(crate) kv_quota: Option<i64>,
    /// Whether the store is down: every kv call answers TEMPERROR, as the
    /// gateway's Redis store does when Redis cannot answer (sdk/ABI.md §4.8).
    pub(crate) kv_down: bool,
    /// Answers by (upper-case qtype, lower-case name without the final dot).
    pub(crate) dns: BTreeMap<(String, String), Result<Vec<Vec<u8>>, DnsError>>,
    /// Flat members of the auth result (`spf.result`, `dkim.0.domain`, ...).
    pub(crate) auth: BTreeMap<String, String>,
    /// The checks of the last auth_check of this call (with DMARC's implied
    /// ones), `None` before any.
    pub(crate) auth_ran: Option<i32>,
    pub(crate) dkim_keys: Vec<DkimKey>,
    /// Granted scanners: the flat members of their result, or the reason
    /// they fail with TEMPERROR.
    pub(crate) scans: BTreeMap<String, Result<BTreeMap<String, String>, String>>,
    /// The scanner of the last scan of this call, `None` before any.
    pub(crate) scan_last: Option<String>,
}

impl Caps {
    /// The live entry of `key`, dropping it if it expired.
    pub(crate) fn kv_live(&mut self, key: &[u8]) -> Option<&mut KvEntry> {
        let now = self.clock_ms;
        if self.kv.get(key).map_or(false, |e| e.expires.map_or(false, |t| now >= t)) {
            self.kv.remove(key);
        }
        self.kv.get_mut(key)
    }

    pub(crate) fn kv_put(&mut self, key: &[u8], value: Vec<u8>, ttl_ms: i32) {
        let expires = if ttl_ms > 0 { Some(self.clock_ms + ttl_ms as u64) } else { None };
        self.kv.insert(key.to_vec(), KvEntry { value, expires });
    }

    /// What the keys count against the quota: per key 128 bytes + its
    /// length + its value's length, the value counting at least 20.
    pub(crate) fn kv_usage(&self) -> i64 {
        self.kv.iter().map(|(k, e)| kv_cost(k, &e.value)).sum()
    }

    /// Whether growing the store by `grow` bytes stays within the quota,
    /// after removing expired keys when it would not.
    fn kv_fits(&mut self, grow: i64) -> bool {
        let quota = self.kv_quota.unwrap_or(KV_DEFAULT_QUOTA);
        if grow <= 0 || self.kv_usage() + grow <= quota {
            return true;
        }
        let now = self.clock_ms;
        self.kv.retain(|_, e| e.expires.map_or(true, |t| now < t));
        self.kv_usage() + grow <= quota
    }

    /// The value of info `dkim.keys`, or `None` without keys.
    pub(crate) fn dkim_key_list(&self) -> Option<Vec<u8>> {
        if self.dkim_keys.is_empty() {
            return None;
        }
        let lines: Vec<String> = self
            .dkim_keys
            .iter()
            .map(|k| std::format!("{} {} {} {}", k.name, k.domain, k.selector, k.algorithm))
            .collect();
        Some(lines.join("\n").into_bytes())
    }
}

/// The lookup key of a domain name: lower case, without the final dot.
pub(crate) fn dns_name(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    s.strip_suffix('.').map(str::to_string).unwrap_or(s)
}

const QTYPES: [&str; 7] = ["A", "AAAA", "TXT", "MX", "PTR", "NS", "CNAME"];

/// The default quota of a plugin's store (sdk/ABI.md §4.8).
const KV_DEFAULT_QUOTA: i64 = 64 << 20;

/// What one key counts against the quota (sdk/ABI.md §4.8).
pub(crate) fn kv_cost(key: &[u8], value: &[u8]) -> i64 {
    128 + key.len() as i64 + value.len().max(20) as i64
}

fn kv_key(fn_name: &str, key: &[u8]) {
    if key.is_empty() || key.len() > 256 {
        trap(std::format!("{}: key length {} is outside 1-256 bytes", fn_name, key.len()))
    }
}

fn kv_ttl(fn_name: &str, ttl_ms: i32) {
    if ttl_ms < 0 {
        trap(std::format!("{}: negative ttl_ms {}", fn_name, ttl_ms))
    }
}

/// Writes `s` as a JSON string.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&std::format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The members `prefix.M` of `auth` as a JSON object; `pct` is a number,
/// `*_aligned` booleans.
fn json_object(auth: &BTreeMap<String, String>, prefix: &str) -> String {
    let mut o = String::from("{");
    for (k, v) in auth.iter() {
        let m = match k.strip_prefix(prefix) {
            Some(m) if !m.contains('.') => m,
            _ => continue,
        };
        if o.len() > 1 {
            o.push(',');
        }
        json_str(&mut o, m);
        o.push(':');
        if m == "pct" || m.ends_with("_aligned") {
            o.push_str(v);
        } else {
            json_str(&mut o, v);
        }
    }
    o.push('}');
    o
}

/// The auth result as the host's JSON, for the checks in `ran`.
fn auth_json(auth: &BTreeMap<String, String>, ran: i32) -> String {
    let mut parts = Vec::new();
    if ran & 1 != 0 {
        parts.push(std::format!("\"spf\":{}", json_object(auth, "spf.")));
    }
    if ran & 2 != 0 {
        let n: usize = auth.get("dkim.count").and_then(|c| c.parse().ok()).unwrap_or(0);
        let sigs: Vec<String> = (0..n).map(|i| json_object(auth, &std::format!("dkim.{}.", i))).collect();
        parts.push(std::format!("\"dkim\":[{}]", sigs.join(",")));
    }
    if ran & 4 != 0 {
        parts.push(std::format!("\"dmarc\":{}", json_object(auth, "dmarc.")));
    }
    std::format!("{{{}}}", parts.join(","))
}

/// Whether the `headers` option of dkim_sign lists From.
fn headers_have_from(opts: &[u8]) -> bool {
    match crate::json::raw(opts, "headers") {
        None => true,
        Some(list) => list.windows(6).any(|w| w.eq_ignore_ascii_case(b"\"from\"")),
    }
}

fn dkim_refusal(st: &State, opts: &[u8]) -> Option<&'static str> {
    let froms = st.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(b"From")).count();
    if froms == 0 {
        Some("the message has no From field")
    } else if froms > 1 {
        Some("the message has more than one From field")
    } else if !headers_have_from(opts) {
        Some("headers does not include From")
    } else {
        None
    }
}

/// The capability host functions over the installed state.
pub(crate) mod sys {
    use super::*;

    pub(crate) fn kv_get(key: &[u8], buf: &mut [u8]) -> i32 {
        kv_key("kv_get", key);
        with(|st| {
            if st.caps.kv_down {
                return TEMPERROR;
            }
            match st.caps.kv_live(key) {
                Some(e) => out(buf, &e.value),
                None => NOT_FOUND,
            }
        })
    }

    pub(crate) fn kv_set(key: &[u8], val: &[u8], ttl_ms: i32) -> i32 {
        kv_key("kv_set", key);
        kv_ttl("kv_set", ttl_ms);
        if val.len() > 65536 {
            trap(std::format!("kv_set: value of {} bytes is above the limit of 65536", val.len()))
        }
        with(|st| {
            if st.caps.kv_down {
                return TEMPERROR;
            }
            let old = st.caps.kv_live(key).map_or(0, |e| kv_cost(key, &e.value));
            if !st.caps.kv_fits(kv_cost(key, val) - old) {
                return QUOTA;
            }
            st.caps.kv_put(key, val.to_vec(), ttl_ms);
            0
        })
    }

    pub(crate) fn kv_incr(key: &[u8], delta: i32, ttl_ms: i32) -> i32 {
        kv_key("kv_incr", key);
        kv_ttl("kv_incr", ttl_ms);
        with(|st| {
            if st.caps.kv_down {
                return TEMPERROR;
            }
            if st.caps.kv_live(key).is_none() {
                if !st.caps.kv_fits(kv_cost(key, &[])) {
                    return QUOTA;
                }
                st.caps.kv_put(key, Vec::new(), ttl_ms);
            }
            let e = st.caps.kv_live(key).expect("just stored");
            let cur: i64 = core::str::from_utf8(&e.value).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            let n = cur.saturating_add(i64::from(delta));
            e.value = n.to_string().into_bytes();
            n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        })
    }

    pub(crate) fn kv_delete(key: &[u8]) -> i32 {
        kv_key("kv_delete", key);
        with(|st| {
            if st.caps.kv_down {
                return TEMPERROR;
            }
            if st.caps.kv_live(key).is_none() {
                return NOT_FOUND;
            }
            st.caps.kv.remove(key);
            0
        })
    }

    pub(crate) fn dns_lookup(qtype: &[u8], name: &[u8], buf: &mut [u8]) -> i32 {
        let q = String::from_utf8_lossy(qtype).to_ascii_uppercase();
        if !QTYPES.contains(&q.as_str()) {
            trap(std::format!("dns_lookup: unsupported query type {:?}", q))
        }
        if name.len() > 255 {
            return NOT_FOUND;
        }
        with(|st| match st.caps.dns.get(&(q, dns_name(name))) {
            Some(Ok(recs)) if !recs.is_empty() => out(buf, &recs.join(&b'\n')),
            Some(Err(DnsError::Temporary)) => TEMPERROR,
            _ => NOT_FOUND,
        })
    }

    pub(crate) fn auth_check(checks: i32, buf: &mut [u8]) -> i32 {
        if checks == 0 || checks & !7 != 0 {
            trap(std::format!("auth_check: invalid checks {}", checks))
        }
        with(|st| {
            let phase = match st.phase {
                Some(p) => p,
                None => return NOT_FOUND,
            };
            if phase < Phase::Mail || (checks & !1 != 0 && phase != Phase::Data) {
                return NOT_FOUND;
            }
            let ran = if checks & 4 != 0 { 7 } else { checks };
            st.caps.auth_ran = Some(ran);
            out(buf, auth_json(&st.caps.auth, ran).as_bytes())
        })
    }

    pub(crate) fn auth_value(key: &[u8], buf: &mut [u8]) -> i32 {
        with(|st| {
            let ran = match st.caps.auth_ran {
                Some(r) => r,
                None => return NOT_FOUND,
            };
            let key = String::from_utf8_lossy(key);
            let bit = match key.split('.').next() {
                Some("spf") => 1,
                Some("dkim") => 2,
                Some("dmarc") => 4,
                _ => 0,
            };
            match st.caps.auth.get(key.as_ref()) {
                Some(v) if ran & bit != 0 => out(buf, v.as_bytes()),
                _ => NOT_FOUND,
            }
        })
    }

    pub(crate) fn scan(name: &[u8], buf: &mut [u8]) -> i32 {
        let name = String::from_utf8_lossy(name).into_owned();
        with(|st| {
            let res = match st.caps.scans.get(&name) {
                Some(r) => r.clone(),
                None => trap(std::format!("scan: scanner {:?} is not granted to this plugin", name)),
            };
            st.caps.scan_last = None;
            if st.phase != Some(Phase::Data) {
                return NOT_FOUND;
            }
            st.caps.scan_last = Some(name);
            match res {
                Ok(members) => {
                    let mut o = String::from("{");
                    for (k, v) in members.iter() {
                        if o.len() > 1 {
                            o.push(',');
                        }
                        json_str(&mut o, k);
                        o.push(':');
                        json_str(&mut o, v);
                    }
                    o.push('}');
                    out(buf, o.as_bytes())
                }
                Err(_) => TEMPERROR,
            }
        })
    }

    pub(crate) fn scan_value(key: &[u8], buf: &mut [u8]) -> i32 {
        let key = String::from_utf8_lossy(key).into_owned();
        with(|st| {
            let last = match &st.caps.scan_last {
                Some(n) => n.clone(),
                None => return NOT_FOUND,
            };
            match st.caps.scans.get(&last) {
                Some(Ok(members)) => match members.get(&key) {
                    Some(v) => out(buf, v.as_bytes()),
                    None => NOT_FOUND,
                },
                Some(Err(reason)) if key == "error" => out(buf, reason.as_bytes()),
                _ => NOT_FOUND,
            }
        })
    }

    pub(crate) fn dkim_sign(name: &[u8], opts: &[u8], buf: &mut [u8]) -> i32 {
        with(|st| {
            st.need("dkim_sign", &[Phase::Data]);
            let key = match st.caps.dkim_keys.iter().find(|k| k.name.as_bytes() == name) {
                Some(k) => k.clone(),
                None => trap(std::format!(
                    "dkim_sign: key {:?} is not granted to this plugin",
                    String::from_utf8_lossy(name)
                )),
            };
            let trimmed = String::from_utf8_lossy(opts);
            let trimmed = trimmed.trim();
            if !opts.is_empty() && !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
                trap("dkim_sign: options are not a JSON object".to_string())
            }
            if let Some(reason) = dkim_refusal(st, opts) {
                let n = reason.len().min(buf.len());
                buf[..n].copy_from_slice(&reason.as_bytes()[..n]);
                return REFUSED;
            }
            let value = std::format!(
                "v=1; a={}; c=relaxed/relaxed; d={}; s={}; h=From; bh=mock; b=mock",
                key.algorithm,
                key.domain,
                key.selector
            );
            st.fields.insert(0, Field::new(b"DKIM-Signature", value.as_bytes()));
            0
        })
    }
}
