//! `hello`: the plugin the SDK's README builds step by step. It adds a
//! header to every message, tags the subject of external mail, appends a
//! footer, and rejects mail from one configured sender.
//!
//! Build: `cargo build --offline --release --target wasm32-unknown-unknown`
//! (with Debian's toolchain: see the README).

use sluice::{Hooks, Host, Plugin, Verdict};

/// The configuration, parsed once per instance.
pub struct Hello {
    /// Value of X-Hello; default "world".
    header: String,
    /// A sender to reject; empty rejects nobody.
    deny: String,
}

impl Plugin for Hello {
    const HOOKS: Hooks = Hooks::MAIL.with(Hooks::DATA);

    fn configure(host: &Host) -> Result<Self, String> {
        let config = host.config();
        let header = sluice::json::string(&config, "header").unwrap_or_else(|| "world".into());
        let deny = sluice::json::string(&config, "deny").unwrap_or_default();
        if header.is_empty() || header.bytes().any(|c| c.is_ascii_control()) {
            return Err("header: must be non-empty, without control characters".into());
        }
        Ok(Hello { header, deny })
    }

    fn on_mail(&self, host: &Host) -> Verdict {
        let from = host.info(sluice::info::MAIL_FROM).unwrap_or_default();
        if !self.deny.is_empty() && from.eq_ignore_ascii_case(self.deny.as_bytes()) {
            return host.reject(550, "5.7.1", "Sender not welcome here");
        }
        Verdict::Continue
    }

    fn on_data(&self, host: &Host) -> Verdict {
        host.add_header("X-Hello", &self.header);
        if let Some(i) = host.find_header("Subject", 0) {
            let subject = host.header_value(i).unwrap_or_default();
            if !subject.starts_with(b"[EXT] ") {
                let mut tagged = b"[EXT] ".to_vec();
                tagged.extend_from_slice(&subject);
                host.change_header(i, tagged);
            }
        }
        if body_contains(host, b"BUY NOW") {
            return host.quarantine("shouting sales pitch");
        }
        host.append_body("--\r\nScanned by Sluice\r\n");
        Verdict::Continue
    }
}

/// Whether the body contains `needle`, reading it in 16 KiB chunks (a match
/// may straddle two chunks, so each chunk is searched together with the
/// tail of the previous one).
fn body_contains(host: &Host, needle: &[u8]) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let keep = needle.len().saturating_sub(1);
    let mut have = 0; // bytes carried over from the previous chunk
    let mut body = host.body();
    loop {
        let n = body.read(&mut buf[have..]);
        if n == 0 {
            return false;
        }
        let len = have + n;
        if buf[..len].windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        let tail = len.min(keep);
        buf.copy_within(len - tail..len, 0);
        have = tail;
    }
}

sluice::plugin!(Hello);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::Session;

    #[test]
    fn hello() {
        let mut s = Session::new();
        s.set_config(r#"{"header": "hi", "deny": "bad@example.com"}"#);
        let p: Hello = s.configure().unwrap();

        // MAIL: the denied sender gets our reply.
        let out = s.mail(&p, "BAD@example.com");
        assert_eq!(out.verdict, Verdict::Reject);
        assert_eq!(out.reply_line(), "550 5.7.1 Sender not welcome here");

        // DATA: build the message from raw bytes ("\n" becomes CRLF).
        s.set_envelope("alice@example.org", &["bob@example.net"]);
        s.set_message(b"Subject: test\n\nHello\n");
        let out = s.data(&p);
        assert!(out.is_ok(), "{:?}", out.error);
        assert_eq!(
            s.message(),
            b"Subject: [EXT] test\r\nX-Hello: hi\r\n\r\nHello\r\n--\r\nScanned by Sluice\r\n"
        );
    }

    #[test]
    fn quarantine_finds_a_phrase_across_chunks() {
        let mut s = Session::new();
        let p: Hello = s.configure().unwrap();
        // 227 lines of 72 bytes and 37 more: "BUY" ends the first 16 KiB.
        let mut body = format!("{}\n", "x".repeat(70)).repeat(227);
        body.push_str(&"y".repeat(37));
        body.push_str("BUY NOW\n");
        s.set_message(format!("Subject: offer\n\n{}", body).as_bytes());
        let out = s.data(&p);
        assert_eq!(out.verdict, Verdict::Quarantine);
        assert_eq!(out.reply.unwrap().text, "shouting sales pitch");
    }

    #[test]
    fn bad_config_is_refused() {
        let err = Session::new().set_config(r#"{"header": ""}"#).configure::<Hello>().err();
        assert!(err.unwrap().starts_with("header:"));
    }
}
