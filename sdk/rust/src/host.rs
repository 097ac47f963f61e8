//! [`Host`]: the typed layer over the host functions of sdk/ABI.md §4.

use alloc::vec;
use alloc::vec::Vec;

use crate::sys;
use crate::verdict::{Level, Verdict};

/// The value host functions return for "no such item" (sdk/ABI.md §4).
pub const NOT_FOUND: i32 = -1;

/// The value capability functions return when the answer could not be had
/// now (a DNS timeout or server failure); retrying later may succeed
/// (sdk/ABI.md §4.9).
pub const TEMPERROR: i32 = -2;

/// The value `dkim_sign` returns when the host declined to sign, with the
/// reason in the plugin's buffer (sdk/ABI.md §4.10).
pub const REFUSED: i32 = -3;

/// The value `kv_set` and `kv_incr` return when the write would take the
/// plugin's key/value store past its quota (`kv_quota` in the policy);
/// nothing was written (sdk/ABI.md §4.8).
pub const QUOTA: i32 = -4;

/// Size of the first read attempt of a value of unknown length. Most
/// values (addresses, header fields, tags) fit; longer ones cost one more
/// host call with a buffer of the exact size.
const FIRST_READ: usize = 256;

/// Keys for [`Host::info`] (sdk/ABI.md §4.2), with the first phase in which
/// each one is available.
pub mod info {
    /// The session id used in the logs (from connect).
    pub const SESSION_ID: &str = "session.id";
    /// Client address, textual: `192.0.2.1`, `2001:db8::1` (from connect).
    pub const CLIENT_IP: &str = "client.ip";
    /// Client TCP port, decimal (from connect).
    pub const CLIENT_PORT: &str = "client.port";
    /// The client's verified PTR name; absent if unknown (from connect).
    pub const CLIENT_NAME: &str = "client.name";
    /// The HELO/EHLO argument (from helo).
    pub const HELO: &str = "helo";
    /// TLS version (`TLS1.3`); absent without TLS (from connect).
    pub const TLS: &str = "tls";
    /// Cipher suite name when encrypted (from connect).
    pub const TLS_CIPHER: &str = "tls.cipher";
    /// The listener's hostname (from connect).
    pub const SERVER_HOSTNAME: &str = "server.hostname";
    /// `connect`, `helo`, `mail`, `rcpt` or `data`.
    pub const PHASE: &str = "phase";
    /// The plugin's name in the policy (also during configure).
    pub const PLUGIN_NAME: &str = "plugin.name";
    /// Reverse path without angle brackets; empty for `<>` (from mail).
    pub const MAIL_FROM: &str = "mail.from";
    /// ESMTP parameters of MAIL, space-separated (from mail).
    pub const MAIL_PARAMS: &str = "mail.params";
    /// The recipient being checked (rcpt only).
    pub const RCPT: &str = "rcpt";
    /// ESMTP parameters of this RCPT (rcpt only).
    pub const RCPT_PARAMS: &str = "rcpt.params";
    /// The MTA's queue id (from mail; milter mode only, Postfix's macro `i`).
    pub const QUEUE_ID: &str = "queue_id";
    /// The SASL login name when the client authenticated (from mail; milter mode).
    pub const AUTH_USER: &str = "auth.user";
    /// The DKIM keys this plugin may sign with, one per line: `name domain
    /// selector algorithm`; absent if none (from connect). See
    /// [`Host::dkim_keys`](crate::Host::dkim_keys).
    pub const DKIM_KEYS: &str = "dkim.keys";
}

/// Access to the gateway during one hook call.
///
/// A `Host` is handed to every hook and to [`Plugin::configure`]; you cannot
/// make one yourself. It is a zero-sized handle: every method is one or two
/// host calls, nothing is cached.
///
/// Reads return `Option<Vec<u8>>`: `None` is NOT_FOUND (the item does not
/// exist, or not in this phase). The `*_into` variants read into a buffer
/// you keep and reuse, so a loop over many values allocates nothing.
///
/// Misuse that the ABI forbids (an invalid header name, a mutation outside
/// `data`, an invalid reply, ...) traps: the call is a plugin error, every
/// change it made is discarded, and the plugin's `on_error` policy applies.
///
/// [`Plugin::configure`]: crate::Plugin::configure
pub struct Host {
    _private: (),
}

impl Host {
    pub(crate) const fn new() -> Host {
        Host { _private: () }
    }

    // ----- §4.1 logging and configuration -----

    /// Writes a line to the gateway log, tagged with the plugin's name,
    /// phase and session id. Text past 4096 bytes is cut; control
    /// characters are escaped.
    pub fn log(&self, level: Level, msg: impl AsRef<[u8]>) {
        sys::log(level as i32, msg.as_ref())
    }

    /// The plugin's `config` from the policy as JSON (`{}` without one).
    /// See [`json`](crate::json) for a small reader.
    pub fn config(&self) -> Vec<u8> {
        read_owned(sys::config).unwrap_or_default()
    }

    // ----- §4.2 session and envelope information -----

    /// A value of the session or transaction by key (see [`info`]).
    pub fn info(&self, key: &str) -> Option<Vec<u8>> {
        read_owned(|b| sys::info(key.as_bytes(), b))
    }

    /// Like [`info`](Host::info), into a reusable buffer.
    pub fn info_into<'b>(&self, key: &str, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
        read_into(buf, |b| sys::info(key.as_bytes(), b))
    }

    /// The number of recipients accepted so far in this transaction. In
    /// `rcpt` the recipient being checked is not counted.
    pub fn rcpt_count(&self) -> usize {
        count(sys::rcpt_count())
    }

    /// Recipient `index` (0-based).
    pub fn rcpt(&self, index: usize) -> Option<Vec<u8>> {
        let i = idx(index)?;
        read_owned(|b| sys::rcpt_get(i, b))
    }

    /// Every recipient accepted so far.
    pub fn rcpts(&self) -> Vec<Vec<u8>> {
        (0..self.rcpt_count()).filter_map(|i| self.rcpt(i)).collect()
    }

    // ----- §4.3 tags -----

    /// A tag set by this or an earlier plugin. Transaction tags shadow
    /// session tags. A key is 1 to 64 bytes of `[A-Za-z0-9_.-]` (else trap).
    pub fn tag(&self, key: &str) -> Option<Vec<u8>> {
        read_owned(|b| sys::tag_get(key.as_bytes(), b))
    }

    /// Like [`tag`](Host::tag), into a reusable buffer.
    pub fn tag_into<'b>(&self, key: &str, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
        read_into(buf, |b| sys::tag_get(key.as_bytes(), b))
    }

    /// Sets a tag: a session tag in `connect` and `helo`, a transaction tag
    /// later. The value is at most 1024 bytes without CR, LF or NUL.
    pub fn set_tag(&self, key: &str, value: impl AsRef<[u8]>) {
        sys::tag_set(key.as_bytes(), value.as_ref());
    }

    // ----- §4.4 header fields (data) -----

    /// The number of header fields; 0 outside `data`.
    pub fn header_count(&self) -> usize {
        count(sys::header_count())
    }

    /// The name of field `index`.
    pub fn header_name(&self, index: usize) -> Option<Vec<u8>> {
        let i = idx(index)?;
        read_owned(|b| sys::header_name(i, b))
    }

    /// Like [`header_name`](Host::header_name), into a reusable buffer.
    pub fn header_name_into<'b>(&self, index: usize, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
        let i = idx(index)?;
        read_into(buf, |b| sys::header_name(i, b))
    }

    /// The value of field `index`: the bytes after the colon, without one
    /// leading space and the final CRLF. Folded values keep `CRLF WSP`.
    pub fn header_value(&self, index: usize) -> Option<Vec<u8>> {
        let i = idx(index)?;
        read_owned(|b| sys::header_value(i, b))
    }

    /// Like [`header_value`](Host::header_value), into a reusable buffer.
    pub fn header_value_into<'b>(&self, index: usize, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
        let i = idx(index)?;
        read_into(buf, |b| sys::header_value(i, b))
    }

    /// The index of the `nth` (0-based) field called `name`, compared
    /// case-insensitively.
    pub fn find_header(&self, name: impl AsRef<[u8]>, nth: usize) -> Option<usize> {
        let n = idx(nth)?;
        let r = sys::header_find(name.as_ref(), n);
        if r < 0 {
            None
        } else {
            Some(r as usize)
        }
    }

    /// The value of the first field called `name`.
    pub fn header(&self, name: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        self.find_header(name, 0).and_then(|i| self.header_value(i))
    }

    /// Every field as `(name, value)`, top to bottom. Indexes refer to the
    /// header as it is now: do not change the header while iterating.
    pub fn headers(&self) -> Headers<'_> {
        Headers { host: self, next: 0, count: self.header_count() }
    }

    /// Appends a field at the end of the header. A name is 1 to 76 bytes of
    /// printable ASCII without `:`; a value has no NUL and CRLF only as
    /// folding (else trap). Lines over 998 bytes are folded by the host
    /// (sdk/ABI.md §4.4).
    pub fn add_header(&self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        sys::header_add(name.as_ref(), value.as_ref());
    }

    /// Inserts a field before position `index` (0 = top, `header_count()` =
    /// end). `false` if `index` is out of range.
    pub fn insert_header(&self, index: usize, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> bool {
        match idx(index) {
            Some(i) => sys::header_insert(i, name.as_ref(), value.as_ref()) >= 0,
            None => false,
        }
    }

    /// Replaces the value of field `index`, keeping its name. `false` if
    /// out of range.
    pub fn change_header(&self, index: usize, value: impl AsRef<[u8]>) -> bool {
        match idx(index) {
            Some(i) => sys::header_change(i, value.as_ref()) >= 0,
            None => false,
        }
    }

    /// Removes field `index`. `false` if out of range.
    pub fn delete_header(&self, index: usize) -> bool {
        match idx(index) {
            Some(i) => sys::header_delete(i) >= 0,
            None => false,
        }
    }

    // ----- §4.5 body (data) -----

    /// The body size in bytes; 0 outside `data`.
    pub fn body_size(&self) -> usize {
        count(sys::body_size())
    }

    /// Copies body bytes from `offset` into `buf` and returns how many: at
    /// most `buf.len()`, 0 at (or past) the end.
    pub fn body_read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let off = match idx(offset) {
            Some(o) => o,
            None => return 0,
        };
        let cap = buf.len().min(i32::MAX as usize);
        count(sys::body_read(off, &mut buf[..cap]))
    }

    /// A reader over the body, from its start. The body is never copied as
    /// a whole: you choose the chunk size with the buffer you pass.
    pub fn body(&self) -> Body<'_> {
        Body { host: self, offset: 0 }
    }

    /// Replaces the body (CRLF line endings, no NUL, lines of at most 998
    /// bytes; checked when the hook returns).
    pub fn replace_body(&self, body: impl AsRef<[u8]>) {
        sys::body_replace(body.as_ref());
    }

    /// Appends bytes to the body. Write a large new body as one
    /// [`replace_body`](Host::replace_body) and then appends.
    pub fn append_body(&self, bytes: impl AsRef<[u8]>) {
        sys::body_append(bytes.as_ref());
    }

    // ----- §4.6 envelope changes -----

    /// Sets the reverse path (`mail` and `data`); empty is the null sender.
    pub fn set_mail_from(&self, addr: impl AsRef<[u8]>) {
        sys::mail_set(addr.as_ref());
    }

    /// Adds a recipient (`data` only).
    pub fn add_rcpt(&self, addr: impl AsRef<[u8]>) {
        sys::rcpt_add(addr.as_ref());
    }

    /// Removes a recipient, compared case-insensitively (`data` only).
    /// `false` if it was not there. Removing the last one traps: return
    /// [`Verdict::Discard`] instead.
    pub fn remove_rcpt(&self, addr: impl AsRef<[u8]>) -> bool {
        sys::rcpt_remove(addr.as_ref()) >= 0
    }

    // ----- §4.7 reply -----

    /// Sets the reply used with a reject (5xx) or tempfail (4xx) verdict.
    /// `enhanced` is `class.subject.detail` with the class of `code` (RFC
    /// 3463), or `""` for `X.0.0`; `text` is 1 to 400 bytes of printable
    /// ASCII. Anything else traps. The last call wins.
    pub fn set_reply(&self, code: u16, enhanced: &str, text: impl AsRef<[u8]>) {
        sys::set_reply(i32::from(code), enhanced.as_bytes(), text.as_ref());
    }

    /// Sets a 5xx reply and returns [`Verdict::Reject`]:
    /// `return host.reject(550, "5.7.1", "No thanks");`
    pub fn reject(&self, code: u16, enhanced: &str, text: impl AsRef<[u8]>) -> Verdict {
        self.set_reply(code, enhanced, text);
        Verdict::Reject
    }

    /// Sets a 4xx reply and returns [`Verdict::Tempfail`].
    pub fn tempfail(&self, code: u16, enhanced: &str, text: impl AsRef<[u8]>) -> Verdict {
        self.set_reply(code, enhanced, text);
        Verdict::Tempfail
    }

    /// Returns [`Verdict::Quarantine`] with `reason` (printable ASCII, 1 to
    /// 400 bytes), which the gateway writes into the `X-Sluice-Quarantine`
    /// header. The reason travels as the call's reply text.
    pub fn quarantine(&self, reason: impl AsRef<[u8]>) -> Verdict {
        self.set_reply(550, "5.7.1", reason);
        Verdict::Quarantine
    }
}

/// Iterator over the header fields, from [`Host::headers`].
pub struct Headers<'h> {
    host: &'h Host,
    next: usize,
    count: usize,
}

impl Iterator for Headers<'_> {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some((self.host.header_name(i)?, self.host.header_value(i)?))
    }
}

/// A chunked reader over the message body, from [`Host::body`].
///
/// ```no_run
/// # fn f(host: &sluice::Host) {
/// let mut buf = [0u8; 4096];
/// let mut body = host.body();
/// loop {
///     let n = body.read(&mut buf);
///     if n == 0 { break; }
///     // use &buf[..n]
/// }
/// # }
/// ```
pub struct Body<'h> {
    host: &'h Host,
    offset: usize,
}

impl Body<'_> {
    /// Reads the next bytes into `buf`; 0 at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.host.body_read(self.offset, buf);
        self.offset += n;
        n
    }

    /// How many bytes were read so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Moves to `offset` from the start of the body.
    pub fn seek(&mut self, offset: usize) {
        self.offset = offset;
    }
}

/// A non-negative host result as a count; NOT_FOUND and errors are 0.
fn count(r: i32) -> usize {
    if r < 0 {
        0
    } else {
        r as usize
    }
}

/// An index as the ABI's i32; `None` if it does not fit (and so cannot exist).
fn idx(i: usize) -> Option<i32> {
    if i <= i32::MAX as usize {
        Some(i as i32)
    } else {
        None
    }
}

/// The `(buf, cap)` protocol of sdk/ABI.md §3 into a fresh vector: a first
/// attempt into a stack buffer, then one of the exact size if the value is
/// longer. `call` returns the full length, or a negative value for NOT_FOUND.
pub(crate) fn read_owned(mut call: impl FnMut(&mut [u8]) -> i32) -> Option<Vec<u8>> {
    let mut first = [0u8; FIRST_READ];
    let n = call(&mut first);
    if n < 0 {
        return None;
    }
    let n = n as usize;
    if n <= FIRST_READ {
        return Some(first[..n].to_vec());
    }
    let mut v = vec![0u8; n];
    loop {
        let n = call(&mut v);
        if n < 0 {
            return None;
        }
        let n = n as usize;
        if n <= v.len() {
            v.truncate(n);
            return Some(v);
        }
        v.resize(n, 0); // the value grew between the calls
    }
}

/// The `(buf, cap)` protocol into a caller's buffer, whose capacity is
/// reused: it grows only when a value is longer than any before. On return
/// `buf` holds exactly the value (or nothing for NOT_FOUND).
fn read_into(buf: &mut Vec<u8>, mut call: impl FnMut(&mut [u8]) -> i32) -> Option<&[u8]> {
    let mut cap = buf.capacity().max(FIRST_READ);
    loop {
        buf.clear();
        buf.resize(cap, 0);
        let n = call(buf);
        if n < 0 {
            buf.clear();
            return None;
        }
        let n = n as usize;
        if n <= cap {
            buf.truncate(n);
            return Some(&buf[..]);
        }
        cap = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake host value: NOT_FOUND when None, else copies if it fits.
    fn serve<'a>(value: Option<&'a [u8]>, calls: &'a mut usize) -> impl FnMut(&mut [u8]) -> i32 + 'a {
        move |b: &mut [u8]| {
            *calls += 1;
            match value {
                None => NOT_FOUND,
                Some(v) => {
                    if v.len() <= b.len() {
                        b[..v.len()].copy_from_slice(v);
                    }
                    v.len() as i32
                }
            }
        }
    }

    #[test]
    fn read_owned_short_value_takes_one_call() {
        let mut calls = 0;
        assert_eq!(read_owned(serve(Some(b"abc"), &mut calls)), Some(b"abc".to_vec()));
        assert_eq!(calls, 1);
    }

    #[test]
    fn read_owned_long_value_retries_with_exact_size() {
        let long = vec![b'x'; 1000];
        let mut calls = 0;
        let got = read_owned(serve(Some(&long), &mut calls)).unwrap();
        assert_eq!(got, long);
        assert_eq!(got.capacity(), 1000);
        assert_eq!(calls, 2);
    }

    #[test]
    fn read_owned_not_found() {
        let mut calls = 0;
        assert_eq!(read_owned(serve(None, &mut calls)), None);
    }

    #[test]
    fn read_into_reuses_capacity() {
        let long = vec![b'y'; 5000];
        let mut buf = Vec::new();
        let mut calls = 0;
        assert_eq!(read_into(&mut buf, serve(Some(&long), &mut calls)).unwrap(), &long[..]);
        assert_eq!(calls, 2);
        let cap = buf.capacity();
        let mut calls = 0;
        assert_eq!(read_into(&mut buf, serve(Some(b"short"), &mut calls)).unwrap(), b"short");
        assert_eq!(buf, b"short");
        assert_eq!(calls, 1);
        let mut calls = 0;
        assert_eq!(read_into(&mut buf, serve(Some(&long), &mut calls)).unwrap(), &long[..]);
        assert_eq!(calls, 1, "a value as long as an earlier one fits at once");
        assert_eq!(buf.capacity(), cap);
        assert_eq!(read_into(&mut buf, serve(None, &mut calls)), None);
        assert!(buf.is_empty());
    }
}
