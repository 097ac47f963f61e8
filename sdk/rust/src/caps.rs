//! The capability host functions of sdk/ABI.md §4.8 to §4.11 on [`Host`]:
//! the key/value store, DNS lookups, DKIM signing and message
//! authentication.
//!
//! Each needs a grant in the plugin's policy block (`grants = ["kv"]`,
//! `["dns"]`, `["dkim:NAME"]`), and the gateway refuses at load a module
//! that imports one without its grant. A module imports only what it calls:
//! a plugin that never calls these methods imports none of them and needs
//! no grant.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::host::{info, read_owned, Host, NOT_FOUND, QUOTA, REFUSED, TEMPERROR};
use crate::sys;

/// Why [`Host::dns_lookup`] has no records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist, has no record of that type, or is not a
    /// valid domain name (the ABI's NOT_FOUND).
    NotFound,
    /// A timeout, a server failure or a network error: retrying later may
    /// succeed (the ABI's TEMPERROR). Answer 4xx rather than 5xx on it.
    Temporary,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsError::NotFound => "not found",
            DnsError::Temporary => "temporary DNS failure",
        })
    }
}

/// Why [`Host::scan`] has no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanError {
    /// Not in phase `data` (the ABI's NOT_FOUND).
    NotFound,
    /// The scanner was unreachable, timed out or answered garbage (the
    /// ABI's TEMPERROR), with the host's reason. Defer the message (4xx)
    /// rather than pass it unscanned.
    Temporary(String),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::NotFound => f.write_str("no message to scan in this phase"),
            ScanError::Temporary(r) => write!(f, "scan failed: {}", r),
        }
    }
}

/// Why a key/value call did not do what it was asked (sdk/ABI.md §4.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvError {
    /// The write would take the plugin's key/value store past its quota
    /// (`kv_quota` in the policy, default 64 MiB; the ABI's QUOTA). Nothing
    /// was written; keys free up as they expire or are deleted. Only
    /// [`Host::kv_set`] and [`Host::kv_incr`] return it.
    QuotaExceeded,
    /// The store could not answer now: a shared store (Redis) is down, slow
    /// or refused the call (the ABI's TEMPERROR). Nothing is known about the
    /// key: it is neither "absent" nor "written". Answer 4xx rather than
    /// 5xx on it, or let the message through if the plugin's purpose allows.
    Temporary,
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvError::QuotaExceeded => "key/value quota exceeded",
            KvError::Temporary => "key/value store temporarily unavailable",
        })
    }
}

/// The checks [`Host::auth_check`] evaluates, OR-ed together (sdk/ABI.md
/// §4.11).
///
/// ```
/// use sluice::AuthChecks;
/// assert_eq!(AuthChecks::SPF.with(AuthChecks::DKIM).bits(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthChecks(i32);

impl AuthChecks {
    /// SPF (RFC 7208), from phase `mail`.
    pub const SPF: AuthChecks = AuthChecks(1);
    /// DKIM verification (RFC 6376), phase `data` only.
    pub const DKIM: AuthChecks = AuthChecks(2);
    /// DMARC (RFC 7489), phase `data` only; implies SPF and DKIM.
    pub const DMARC: AuthChecks = AuthChecks(4);

    /// These checks plus `other`.
    pub const fn with(self, other: AuthChecks) -> AuthChecks {
        AuthChecks(self.0 | other.0)
    }

    /// The bit mask `auth_check` takes.
    pub const fn bits(self) -> i32 {
        self.0
    }
}

/// A DKIM key the policy lets this plugin sign with (sdk/ABI.md §4.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimKey {
    /// The name of the `dkim_key` block, which [`Host::dkim_sign`] takes.
    pub name: String,
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: String,
}

/// The error of [`Host::dkim_sign`] when the host declined to sign (no From
/// field or more than one, or a `headers` option without From). The message
/// is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimRefusal {
    /// The host's reason, printable ASCII of at most 256 bytes.
    pub reason: String,
}

impl fmt::Display for DkimRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dkim signing refused: {}", self.reason)
    }
}

/// The longest reason `dkim_sign` writes (sdk/ABI.md §4.10).
const MAX_REFUSAL: usize = 256;

/// Parses the value of info `dkim.keys` (sdk/ABI.md §4.2): one key per
/// line, `name domain selector algorithm`. Lines without exactly four
/// fields are skipped.
///
/// ```
/// let keys = sluice::parse_dkim_keys(b"main example.org s1 ed25519-sha256\nbad line\n");
/// assert_eq!(keys.len(), 1);
/// assert_eq!(keys[0].selector, "s1");
/// ```
pub fn parse_dkim_keys(text: &[u8]) -> Vec<DkimKey> {
    let text = String::from_utf8_lossy(text);
    text.split('\n')
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            match f[..] {
                [name, domain, selector, algorithm] => Some(DkimKey {
                    name: name.into(),
                    domain: domain.into(),
                    selector: selector.into(),
                    algorithm: algorithm.into(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// A lifetime in milliseconds as the ABI's `ttl_ms`, capped at `i32::MAX`
/// (about 24.8 days); 0 means no expiry.
fn ttl(ms: u32) -> i32 {
    ms.min(i32::MAX as u32) as i32
}

impl Host {
    // ----- §4.8 key/value store (grant "kv") -----

    /// The value of `key` (1 to 256 bytes) in the plugin's key/value store,
    /// or `Ok(None)` if absent or expired; [`KvError::Temporary`] if the
    /// store could not answer (a shared store that is down). The store is
    /// shared by every instance of the plugin and kept across reloads.
    /// Needs `grants = ["kv"]`; works in every phase and in `configure`.
    pub fn kv_get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, KvError> {
        let key = key.as_ref();
        let mut code = 0;
        let v = read_owned(|b| {
            code = sys::kv_get(key, b);
            code
        });
        match v {
            None if code == TEMPERROR => Err(KvError::Temporary),
            v => Ok(v),
        }
    }

    /// Stores `value` (at most 64 KiB) under `key` for `ttl_ms`
    /// milliseconds (0: no expiry), replacing any value and lifetime. Writes
    /// take effect at once and are not undone if the hook later fails.
    /// [`KvError::QuotaExceeded`] when the plugin's store has no room for
    /// it, [`KvError::Temporary`] when the store could not answer (the
    /// write may or may not have happened).
    pub fn kv_set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl_ms: u32) -> Result<(), KvError> {
        match sys::kv_set(key.as_ref(), value.as_ref(), ttl(ttl_ms)) {
            QUOTA => Err(KvError::QuotaExceeded),
            TEMPERROR => Err(KvError::Temporary),
            _ => Ok(()),
        }
    }

    /// Atomically adds `delta` to the decimal counter under `key` and
    /// returns the new value, saturated to the `i32` range. A missing key
    /// starts at 0 and lives `ttl_ms` milliseconds (0: no expiry); an
    /// existing key keeps its lifetime (a fixed window). A value that is not
    /// a decimal integer counts as 0.
    /// [`KvError::QuotaExceeded`] when a missing key cannot be created
    /// within the quota (incrementing an existing key never hits it);
    /// [`KvError::Temporary`] when the store could not answer.
    pub fn kv_incr(&self, key: impl AsRef<[u8]>, delta: i32, ttl_ms: u32) -> Result<i32, KvError> {
        let key = key.as_ref();
        let n = sys::kv_incr(key, delta, ttl(ttl_ms));
        if n != QUOTA && n != TEMPERROR {
            return Ok(n);
        }
        // -4 and -2 are also a counter's values. QUOTA is returned only
        // instead of creating the key, so the key exists now if and only if
        // it counted; TEMPERROR means the store could not answer, and then
        // it cannot answer kv_get either, or has no such key (sdk/ABI.md
        // §4.8).
        match self.kv_get(key) {
            Ok(Some(_)) => Ok(n),
            Err(e) => Err(e),
            Ok(None) if n == QUOTA => Err(KvError::QuotaExceeded),
            Ok(None) => Err(KvError::Temporary),
        }
    }

    /// Removes `key`; `Ok(false)` if it was absent, [`KvError::Temporary`]
    /// when the store could not answer.
    pub fn kv_delete(&self, key: impl AsRef<[u8]>) -> Result<bool, KvError> {
        match sys::kv_delete(key.as_ref()) {
            TEMPERROR => Err(KvError::Temporary),
            n => Ok(n == 0),
        }
    }

    // ----- §4.9 DNS lookups (grant "dns") -----

    /// The records of type `qtype` (`A`, `AAAA`, `TXT`, `MX`, `PTR`, `NS`
    /// or `CNAME`; any other traps) for `name`, through the gateway's
    /// resolver and cache. Records are text: an address for A/AAAA, the
    /// strings of one record concatenated for TXT, `preference host` for
    /// MX, a name ending in `.` otherwise. Needs `grants = ["dns"]`; the
    /// lookup counts against the hook's `timeout`.
    pub fn dns_lookup(&self, qtype: &str, name: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>, DnsError> {
        let name = name.as_ref();
        let mut code = 0;
        let v = read_owned(|b| {
            code = sys::dns_lookup(qtype.as_bytes(), name, b);
            code
        });
        match v {
            Some(v) if v.is_empty() => Ok(Vec::new()),
            Some(v) => Ok(v.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect()),
            None if code == TEMPERROR => Err(DnsError::Temporary),
            None => Err(DnsError::NotFound),
        }
    }

    // ----- §4.11 message authentication (grant "dns") -----

    /// Has the host evaluate SPF, DKIM and/or DMARC for this message, and
    /// keep the result for the rest of the hook call, to read with
    /// [`auth_value`](Host::auth_value). `false` when a check is asked for
    /// too early (SPF before `mail`, DKIM and DMARC before `data`). DNS
    /// failures are `temperror` results, not errors. Needs `grants =
    /// ["dns"]`.
    pub fn auth_check(&self, checks: AuthChecks) -> bool {
        sys::auth_check(checks.bits(), &mut []) >= 0
    }

    /// Like [`auth_check`](Host::auth_check), returning the whole result as
    /// JSON (sdk/ABI.md §4.11). Reading single members with
    /// [`auth_value`](Host::auth_value) costs far less than parsing it.
    pub fn auth_check_json(&self, checks: AuthChecks) -> Option<Vec<u8>> {
        read_owned(|b| sys::auth_check(checks.bits(), b))
    }

    /// One member of the last [`auth_check`](Host::auth_check) of this hook
    /// call as text: `spf.result`, `spf.domain`, `dkim.count`,
    /// `dkim.0.result`, `dmarc.policy`, `dmarc.pct`, `dmarc.spf_aligned`
    /// (`true`/`false`), ... `None` before any check in this call, for a
    /// check that was not asked for, and for an unknown key.
    pub fn auth_value(&self, key: &str) -> Option<String> {
        read_owned(|b| sys::auth_value(key.as_bytes(), b)).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    // ----- §4.12 content scanning (grant "scan:NAME") -----

    /// Has the host send the message as it is now to the scanner `name` (a
    /// `scanner` block; needs `grants = ["scan:NAME"]`, and an ungranted
    /// name traps) and keep the result for the rest of the hook call, to
    /// read with [`scan_value`](Host::scan_value). Phase `data` only.
    pub fn scan(&self, name: &str) -> Result<(), ScanError> {
        self.scan_json_into(name, &mut []).map(|_| ())
    }

    /// Like [`scan`](Host::scan), returning the whole result as JSON
    /// (sdk/ABI.md §4.12).
    pub fn scan_json(&self, name: &str) -> Result<Vec<u8>, ScanError> {
        let mut code = 0;
        match read_owned(|b| {
            code = sys::scan(name.as_bytes(), b);
            code
        }) {
            Some(v) => Ok(v),
            None => Err(self.scan_failure(code)),
        }
    }

    fn scan_json_into(&self, name: &str, buf: &mut [u8]) -> Result<i32, ScanError> {
        let n = sys::scan(name.as_bytes(), buf);
        if n < 0 {
            return Err(self.scan_failure(n));
        }
        Ok(n)
    }

    fn scan_failure(&self, code: i32) -> ScanError {
        if code == TEMPERROR {
            ScanError::Temporary(self.scan_value("error").unwrap_or_default())
        } else {
            ScanError::NotFound
        }
    }

    /// One member of the last [`scan`](Host::scan) of this hook call as
    /// text: `engine`, `action`, `score`, `required_score`, `spam`,
    /// `message`, `subject`, `infected`, `virus`, `symbols.count`,
    /// `symbols.0.name`, `symbols.GTUBE.score`, `add_headers.0.value`, ...
    /// (sdk/ABI.md §4.12); `error` after a failed scan. `None` before any
    /// scan in this call and for an unknown key.
    pub fn scan_value(&self, key: &str) -> Option<String> {
        read_owned(|b| sys::scan_value(key.as_bytes(), b)).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    // ----- §4.10 DKIM signing (grant "dkim:NAME") -----

    /// The DKIM keys the policy lets this plugin sign with (info
    /// `dkim.keys`); empty if none.
    pub fn dkim_keys(&self) -> Vec<DkimKey> {
        self.info(info::DKIM_KEYS).map(|v| parse_dkim_keys(&v)).unwrap_or_default()
    }

    /// Has the host sign the message as it is now with key `name` and
    /// insert the `DKIM-Signature` field at the top (phase `data`; sign
    /// last). `opts` is a JSON object with any of `headers` (array of field
    /// names, must include From), `canonicalization` and `expiration`
    /// (seconds), or `""` for the defaults; an unknown member traps, as does
    /// a key that was not granted.
    pub fn dkim_sign(&self, name: &str, opts: &str) -> Result<(), DkimRefusal> {
        let mut buf = [0u8; MAX_REFUSAL];
        match sys::dkim_sign(name.as_bytes(), opts.as_bytes(), &mut buf) {
            0 => Ok(()),
            REFUSED => {
                let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
                Err(DkimRefusal { reason: String::from_utf8_lossy(&buf[..end]).into_owned() })
            }
            NOT_FOUND => Err(DkimRefusal { reason: String::from("not available in this phase") }),
            _ => Err(DkimRefusal { reason: String::from("unexpected host result") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_keys_parse_skips_malformed_lines() {
        let keys = parse_dkim_keys(
            b"a example.org s1 rsa-sha256\n\nb  example.net   s2 ed25519-sha256\nshort line\n",
        );
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys[1],
            DkimKey {
                name: "b".into(),
                domain: "example.net".into(),
                selector: "s2".into(),
                algorithm: "ed25519-sha256".into()
            }
        );
    }

    #[test]
    fn ttl_is_capped() {
        assert_eq!(ttl(0), 0);
        assert_eq!(ttl(1500), 1500);
        assert_eq!(ttl(u32::MAX), i32::MAX);
    }
}
