//! The Rust example filter of sdk/CONFORMANCE.md §1.
//!
//! - `data`: adds `X-Example-Lang: rust`, then `X-Example-Greeting:
//!   <greeting>`, where `<greeting>` is the string `greeting` of the plugin's
//!   configuration (`hello` without one);
//! - `rcpt`: rejects a recipient whose local part is exactly `blocked` with
//!   `550 5.7.1 Recipient blocked by the rust example`.

use sluice::{Hooks, Host, Plugin, Verdict};

/// The configured filter. It keeps only configuration: an instance serves
/// every session.
pub struct Example {
    greeting: String,
}

impl Plugin for Example {
    const HOOKS: Hooks = Hooks::RCPT.with(Hooks::DATA);

    fn configure(host: &Host) -> Result<Self, String> {
        let greeting = sluice::json::string(&host.config(), "greeting").unwrap_or_else(|| "hello".into());
        // Refuse at load time what would make every message a plugin error.
        if greeting.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0) {
            return Err("greeting: must not contain CR, LF or NUL".into());
        }
        Ok(Example { greeting })
    }

    fn on_rcpt(&self, host: &Host) -> Verdict {
        match host.info(sluice::info::RCPT) {
            Some(rcpt) if sluice::local_part(&rcpt) == b"blocked" => {
                host.reject(550, "5.7.1", "Recipient blocked by the rust example")
            }
            _ => Verdict::Continue,
        }
    }

    fn on_data(&self, host: &Host) -> Verdict {
        host.add_header("X-Example-Lang", "rust");
        host.add_header("X-Example-Greeting", &self.greeting);
        Verdict::Continue
    }
}

sluice::plugin!(Example);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::Session;

    #[test]
    fn data_adds_both_headers_in_order() {
        let mut s = Session::new();
        s.set_config(r#"{"greeting":"hi there","other":{"greeting":"no"}}"#);
        let p: Example = s.configure().unwrap();
        s.set_envelope("alice@example.org", &["bob@example.net"]);
        s.set_message(b"Subject: test\n\nHello\n");
        let out = s.data(&p);
        assert!(out.is_ok(), "{:?}", out.error);
        assert_eq!(out.verdict, Verdict::Continue);
        assert_eq!(
            s.message(),
            b"Subject: test\r\nX-Example-Lang: rust\r\nX-Example-Greeting: hi there\r\n\r\nHello\r\n"
        );
    }

    #[test]
    fn greeting_defaults_to_hello() {
        let mut s = Session::new();
        let p: Example = s.configure().unwrap();
        s.set_message(b"Subject: x\n\n");
        assert!(s.data(&p).is_ok());
        assert_eq!(s.header_values("X-Example-Greeting"), [b"hello".to_vec()]);
    }

    #[test]
    fn bad_greeting_is_refused() {
        let mut s = Session::new();
        s.set_config(r#"{"greeting":"a\r\nBcc: x@y"}"#);
        let err = s.configure::<Example>().err().expect("CRLF accepted");
        assert!(err.contains("greeting"), "{}", err);
    }

    #[test]
    fn rcpt_blocked_is_rejected_others_pass() {
        let mut s = Session::new();
        let p: Example = s.configure().unwrap();
        s.mail(&p, "alice@example.org");
        let out = s.rcpt(&p, "blocked@example.net");
        assert_eq!(out.verdict, Verdict::Reject);
        assert_eq!(out.reply_line(), "550 5.7.1 Recipient blocked by the rust example");
        for ok in ["bob@example.net", "blocked.not@example.net", "xblocked@example.net"] {
            let out = s.rcpt(&p, ok);
            assert_eq!(out.verdict, Verdict::Continue, "{}", ok);
        }
        assert_eq!(s.rcpts().len(), 3);
    }

    #[test]
    fn only_rcpt_and_data_are_hooks() {
        let mut s = Session::new();
        let p: Example = s.configure().unwrap();
        assert!(!s.connect(&p).called);
        assert!(!s.helo(&p, "client.example").called);
        assert!(!s.mail(&p, "a@b.example").called);
        assert!(s.rcpt(&p, "c@d.example").called);
    }
}
