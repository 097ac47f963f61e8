//! The host functions with slices instead of pointers. On `wasm32` they call
//! [`raw`](crate::raw); natively they call the in-crate mock host of
//! [`testing`](crate::testing), so [`Host`](crate::Host) is the same code in
//! both worlds, retry protocol included.

#[cfg(target_arch = "wasm32")]
pub(crate) use self::wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::sys::*;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::raw;

    // Pointers and lengths are 32-bit on wasm32; the casts are lossless.
    fn p(b: &[u8]) -> (i32, i32) {
        (b.as_ptr() as usize as i32, b.len() as i32)
    }

    fn m(b: &mut [u8]) -> (i32, i32) {
        (b.as_mut_ptr() as usize as i32, b.len() as i32)
    }

    // SAFETY (every function below): the host copies from (ptr, len) during
    // the call and writes at most `cap` bytes to (buf, cap), both of which
    // describe live slices; it never keeps a pointer (sdk/ABI.md §3).

    pub(crate) fn log(level: i32, msg: &[u8]) {
        let (mp, ml) = p(msg);
        unsafe { raw::log(level, mp, ml) }
    }
    pub(crate) fn config(buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::config(bp, bc) }
    }
    pub(crate) fn info(key: &[u8], buf: &mut [u8]) -> i32 {
        let ((kp, kl), (bp, bc)) = (p(key), m(buf));
        unsafe { raw::info(kp, kl, bp, bc) }
    }
    pub(crate) fn rcpt_count() -> i32 {
        unsafe { raw::rcpt_count() }
    }
    pub(crate) fn rcpt_get(index: i32, buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::rcpt_get(index, bp, bc) }
    }
    pub(crate) fn tag_get(key: &[u8], buf: &mut [u8]) -> i32 {
        let ((kp, kl), (bp, bc)) = (p(key), m(buf));
        unsafe { raw::tag_get(kp, kl, bp, bc) }
    }
    pub(crate) fn tag_set(key: &[u8], val: &[u8]) -> i32 {
        let ((kp, kl), (vp, vl)) = (p(key), p(val));
        unsafe { raw::tag_set(kp, kl, vp, vl) }
    }
    pub(crate) fn header_count() -> i32 {
        unsafe { raw::header_count() }
    }
    pub(crate) fn header_name(index: i32, buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::header_name(index, bp, bc) }
    }
    pub(crate) fn header_value(index: i32, buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::header_value(index, bp, bc) }
    }
    pub(crate) fn header_find(name: &[u8], nth: i32) -> i32 {
        let (np, nl) = p(name);
        unsafe { raw::header_find(np, nl, nth) }
    }
    pub(crate) fn header_add(name: &[u8], val: &[u8]) -> i32 {
        let ((np, nl), (vp, vl)) = (p(name), p(val));
        unsafe { raw::header_add(np, nl, vp, vl) }
    }
    pub(crate) fn header_insert(index: i32, name: &[u8], val: &[u8]) -> i32 {
        let ((np, nl), (vp, vl)) = (p(name), p(val));
        unsafe { raw::header_insert(index, np, nl, vp, vl) }
    }
    pub(crate) fn header_change(index: i32, val: &[u8]) -> i32 {
        let (vp, vl) = p(val);
        unsafe { raw::header_change(index, vp, vl) }
    }
    pub(crate) fn header_delete(index: i32) -> i32 {
        unsafe { raw::header_delete(index) }
    }
    pub(crate) fn body_size() -> i32 {
        unsafe { raw::body_size() }
    }
    pub(crate) fn body_read(offset: i32, buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::body_read(offset, bp, bc) }
    }
    pub(crate) fn body_replace(b: &[u8]) -> i32 {
        let (bp, bl) = p(b);
        unsafe { raw::body_replace(bp, bl) }
    }
    pub(crate) fn body_append(b: &[u8]) -> i32 {
        let (bp, bl) = p(b);
        unsafe { raw::body_append(bp, bl) }
    }
    pub(crate) fn mail_set(addr: &[u8]) -> i32 {
        let (ap, al) = p(addr);
        unsafe { raw::mail_set(ap, al) }
    }
    pub(crate) fn rcpt_add(addr: &[u8]) -> i32 {
        let (ap, al) = p(addr);
        unsafe { raw::rcpt_add(ap, al) }
    }
    pub(crate) fn rcpt_remove(addr: &[u8]) -> i32 {
        let (ap, al) = p(addr);
        unsafe { raw::rcpt_remove(ap, al) }
    }
    pub(crate) fn set_reply(code: i32, enh: &[u8], text: &[u8]) -> i32 {
        let ((ep, el), (tp, tl)) = (p(enh), p(text));
        unsafe { raw::set_reply(code, ep, el, tp, tl) }
    }

    pub(crate) fn kv_get(key: &[u8], buf: &mut [u8]) -> i32 {
        let ((kp, kl), (bp, bc)) = (p(key), m(buf));
        unsafe { raw::kv_get(kp, kl, bp, bc) }
    }
    pub(crate) fn kv_set(key: &[u8], val: &[u8], ttl_ms: i32) -> i32 {
        let ((kp, kl), (vp, vl)) = (p(key), p(val));
        unsafe { raw::kv_set(kp, kl, vp, vl, ttl_ms) }
    }
    pub(crate) fn kv_incr(key: &[u8], delta: i32, ttl_ms: i32) -> i32 {
        let (kp, kl) = p(key);
        unsafe { raw::kv_incr(kp, kl, delta, ttl_ms) }
    }
    pub(crate) fn kv_delete(key: &[u8]) -> i32 {
        let (kp, kl) = p(key);
        unsafe { raw::kv_delete(kp, kl) }
    }
    pub(crate) fn dns_lookup(qtype: &[u8], name: &[u8], buf: &mut [u8]) -> i32 {
        let ((qp, ql), (np, nl), (bp, bc)) = (p(qtype), p(name), m(buf));
        unsafe { raw::dns_lookup(qp, ql, np, nl, bp, bc) }
    }
    pub(crate) fn dkim_sign(name: &[u8], opts: &[u8], buf: &mut [u8]) -> i32 {
        let ((np, nl), (op, ol), (bp, bc)) = (p(name), p(opts), m(buf));
        unsafe { raw::dkim_sign(np, nl, op, ol, bp, bc) }
    }
    pub(crate) fn auth_check(checks: i32, buf: &mut [u8]) -> i32 {
        let (bp, bc) = m(buf);
        unsafe { raw::auth_check(checks, bp, bc) }
    }
    pub(crate) fn auth_value(key: &[u8], buf: &mut [u8]) -> i32 {
        let ((kp, kl), (bp, bc)) = (p(key), m(buf));
        unsafe { raw::auth_value(kp, kl, bp, bc) }
    }
    pub(crate) fn scan(name: &[u8], buf: &mut [u8]) -> i32 {
        let ((np, nl), (bp, bc)) = (p(name), m(buf));
        unsafe { raw::scan(np, nl, bp, bc) }
    }
    pub(crate) fn scan_value(key: &[u8], buf: &mut [u8]) -> i32 {
        let ((kp, kl), (bp, bc)) = (p(key), m(buf));
        unsafe { raw::scan_value(kp, kl, bp, bc) }
    }
}
