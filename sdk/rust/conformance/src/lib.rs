//! The Rust probe of sdk/CONFORMANCE.md §2: every hook, every verdict and
//! every host function, with results in tags that the Go conformance suite
//! compares byte for byte with the other languages.

use sluice::{Hooks, Host, Plugin, Verdict};

/// Largest body chunk read at once (CONFORMANCE.md §2, data step 3).
const CHUNK: usize = 65536;

/// The probe keeps nothing between calls.
pub struct Probe;

impl Plugin for Probe {
    const HOOKS: Hooks = Hooks::ALL;

    fn configure(_host: &Host) -> Result<Self, String> {
        Ok(Probe)
    }

    fn on_connect(&self, host: &Host) -> Verdict {
        host.set_tag("probe.connect", host.info(sluice::info::CLIENT_IP).unwrap_or_default());
        Verdict::Continue
    }

    fn on_helo(&self, host: &Host) -> Verdict {
        host.set_tag("probe.helo", host.info(sluice::info::HELO).unwrap_or_default());
        Verdict::Continue
    }

    fn on_mail(&self, host: &Host) -> Verdict {
        let from = host.info(sluice::info::MAIL_FROM).unwrap_or_default();
        host.set_tag("probe.mail", &from);
        match sluice::local_part(&from) {
            b"reject" => host.reject(550, "5.7.1", "probe reject"),
            b"tempfail" => host.tempfail(451, "4.7.1", "probe tempfail"),
            b"accept" => Verdict::Accept,
            b"discard" => Verdict::Discard,
            b"quarantine" => {
                host.set_reply(550, "5.7.1", "probe quarantine");
                Verdict::Quarantine
            }
            b"badverdict" => Verdict::Raw(7),
            b"badreply" => {
                host.set_reply(250, "2.0.0", "ok"); // traps
                Verdict::Continue
            }
            b"crlfreply" => {
                host.set_reply(550, "5.7.1", "x\r\n250 OK"); // traps
                Verdict::Continue
            }
            b"mismatch" => {
                host.set_reply(451, "4.7.1", "wrong class");
                Verdict::Reject
            }
            b"trap" => panic!("probe trap"),
            _ => Verdict::Continue,
        }
    }

    fn on_rcpt(&self, host: &Host) -> Verdict {
        host.set_tag("probe.rcpt.count", decimal(host.rcpt_count()));
        let rcpt = host.info(sluice::info::RCPT).unwrap_or_default();
        if sluice::local_part(&rcpt) == b"blocked" {
            return host.reject(550, "5.7.1", "probe blocked");
        }
        Verdict::Continue
    }

    fn on_data(&self, host: &Host) -> Verdict {
        // 1. Every header field, name ":" value "\n", into one hash; two
        // reusable buffers, so no allocation per field.
        let (mut name, mut value) = (Vec::new(), Vec::new());
        let mut h = Fnv::new();
        let count = host.header_count();
        for i in 0..count {
            h.write(host.header_name_into(i, &mut name).unwrap_or_default());
            h.write(b":");
            h.write(host.header_value_into(i, &mut value).unwrap_or_default());
            h.write(b"\n");
        }
        host.set_tag("probe.headers", h.hex());
        host.set_tag("probe.header.count", decimal(count));

        // 2. The second Subject.
        if let Some(i) = host.find_header("subject", 1) {
            host.set_tag("probe.subject2", host.header_value(i).unwrap_or_default());
        }

        // 3. The body, in chunks into one fixed buffer.
        let mut buf = vec![0u8; CHUNK];
        let mut body = host.body();
        let mut h = Fnv::new();
        loop {
            let n = body.read(&mut buf);
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
        host.set_tag("probe.body.len", decimal(body.offset()));
        host.set_tag("probe.body.sum", h.hex());

        // 4. The configuration, byte-exact.
        let config = host.config();
        let mut h = Fnv::new();
        h.write(&config);
        host.set_tag("probe.config.len", decimal(config.len()));
        host.set_tag("probe.config.sum", h.hex());

        // 5. Mutations.
        if let Some(i) = host.find_header("X-Probe-Delete", 0) {
            host.delete_header(i);
        }
        if let Some(i) = host.find_header("X-Probe-Change", 0) {
            host.change_header(i, "changed");
        }
        host.insert_header(0, "X-Probe-Top", "1");
        host.add_header("X-Probe", "rust");
        if host.find_header("X-Probe-Body", 0).is_some() {
            host.replace_body("replaced\r\n");
            host.append_body("appended\r\n");
        }
        Verdict::Continue
    }
}

sluice::plugin!(Probe);

/// FNV-1a, 32 bits (offset basis 2166136261, prime 16777619).
struct Fnv(u32);

const PRIME: u32 = 16_777_619;

/// Repeats a statement for i = 0..32, without a loop.
macro_rules! for_each_32 {
    ($i:ident => $e:expr) => {
        for_each_32!(@ $i $e; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
    };
    (@ $i:ident $e:expr; $($n:literal)*) => {
        $({
            let $i = $n;
            $e;
        })*
    };
}

impl Fnv {
    fn new() -> Fnv {
        Fnv(2_166_136_261)
    }

    fn write(&mut self, b: &[u8]) {
        // 32 bytes per loop iteration, written out: the gateway checks its
        // deadline at every loop back-edge (wazero's close-on-context-done),
        // which costs far more than a byte of FNV. A 10 MiB body hashes in
        // ~30 ms this way, ~400 ms with a plain byte loop.
        let mut chunks = b.chunks_exact(32);
        for c in &mut chunks {
            let mut h = self.0;
            for_each_32!(i => h = (h ^ u32::from(c[i])).wrapping_mul(PRIME));
            self.0 = h;
        }
        for &c in chunks.remainder() {
            self.0 = (self.0 ^ u32::from(c)).wrapping_mul(PRIME);
        }
    }

    /// 8 lowercase hex digits.
    fn hex(&self) -> [u8; 8] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 8];
        for (i, o) in out.iter_mut().enumerate() {
            *o = DIGITS[(self.0 >> (28 - 4 * i) & 0xf) as usize];
        }
        out
    }
}

/// A decimal number without leading zeros.
fn decimal(n: usize) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::Session;

    fn hash(b: &[u8]) -> String {
        let mut h = Fnv::new();
        h.write(b);
        String::from_utf8(h.hex().to_vec()).unwrap()
    }

    fn tag(s: &Session, k: &str) -> String {
        String::from_utf8(s.tag(k).unwrap_or_else(|| panic!("no tag {}", k)).to_vec()).unwrap()
    }

    #[test]
    fn fnv_vectors() {
        assert_eq!(hash(b""), "811c9dc5");
        assert_eq!(hash(b"a"), "e40c292c");
        assert_eq!(hash(b"foobar"), "bf9cf968");
        // The unrolled loop and the byte loop agree at every length.
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..100 {
            let mut one = Fnv::new();
            data[..n].iter().for_each(|c| one.write(&[*c]));
            assert_eq!(hash(&data[..n]), String::from_utf8(one.hex().to_vec()).unwrap(), "{}", n);
        }
    }

    #[test]
    fn session_phases_set_tags() {
        let mut s = Session::new();
        let p: Probe = s.configure().unwrap();
        assert!(s.connect(&p).is_ok());
        assert!(s.helo(&p, "client.example").is_ok());
        assert!(s.mail(&p, "alice@example.org").is_ok());
        assert!(s.rcpt(&p, "bob@example.net").is_ok());
        let out = s.rcpt(&p, "blocked@example.net");
        assert_eq!(out.reply_line(), "550 5.7.1 probe blocked");
        assert_eq!(tag(&s, "probe.connect"), "192.0.2.1");
        assert_eq!(tag(&s, "probe.helo"), "client.example");
        assert_eq!(tag(&s, "probe.mail"), "alice@example.org");
        assert_eq!(tag(&s, "probe.rcpt.count"), "1");
    }

    #[test]
    fn mail_verdicts() {
        let cases: &[(&str, Verdict, &str, bool)] = &[
            ("reject", Verdict::Reject, "550 5.7.1 probe reject", true),
            ("tempfail", Verdict::Tempfail, "451 4.7.1 probe tempfail", true),
            ("accept", Verdict::Accept, "", true),
            ("discard", Verdict::Discard, "", true),
            ("quarantine", Verdict::Quarantine, "550 5.7.1 probe quarantine", true),
            ("other", Verdict::Continue, "", true),
            ("badverdict", Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later", false),
            ("badreply", Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later", false),
            ("crlfreply", Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later", false),
            ("mismatch", Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later", false),
            ("trap", Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later", false),
        ];
        for &(local, verdict, reply, ok) in cases {
            let mut s = Session::new();
            let p: Probe = s.configure().unwrap();
            let from = format!("{}@example.org", local);
            let out = s.mail(&p, &from);
            assert_eq!(
                (out.verdict, out.reply_line(), out.is_ok()),
                (verdict, reply.to_string(), ok),
                "{}",
                local
            );
            // A plugin error rolls the tag back; otherwise it stays.
            assert_eq!(s.tag("probe.mail").is_some(), ok, "{}", local);
        }
    }

    #[test]
    fn data_hashes_and_mutations() {
        let msg = b"Subject: one\n folded\nX-Probe-Delete: x\nsubject: two\nX-Probe-Change: y\nX-Probe-Body: 1\n\nline 1\nline 2\n";
        let mut s = Session::new();
        s.set_config(r#"{"a":[1,{"b":"c"}]}"#);
        let p: Probe = s.configure().unwrap();
        s.set_envelope("alice@example.org", &["bob@example.net"]);
        s.set_message(msg);
        let out = s.data(&p);
        assert!(out.is_ok(), "{:?}", out.error);

        let headers =
            "Subject:one\r\n folded\nX-Probe-Delete:x\nsubject:two\nX-Probe-Change:y\nX-Probe-Body:1\n";
        assert_eq!(tag(&s, "probe.headers"), hash(headers.as_bytes()));
        assert_eq!(tag(&s, "probe.header.count"), "5");
        assert_eq!(tag(&s, "probe.subject2"), "two");
        assert_eq!(tag(&s, "probe.body.len"), "16");
        assert_eq!(tag(&s, "probe.body.sum"), hash(b"line 1\r\nline 2\r\n"));
        assert_eq!(tag(&s, "probe.config.len"), "19");
        assert_eq!(tag(&s, "probe.config.sum"), hash(br#"{"a":[1,{"b":"c"}]}"#));
        assert_eq!(
            String::from_utf8(s.message()).unwrap(),
            "X-Probe-Top: 1\r\nSubject: one\r\n folded\r\nsubject: two\r\nX-Probe-Change: changed\r\n\
             X-Probe-Body: 1\r\nX-Probe: rust\r\n\r\nreplaced\r\nappended\r\n"
        );
    }

    #[test]
    fn large_body_is_read_in_chunks() {
        let mut body = Vec::new();
        while body.len() < 200_000 {
            body.extend_from_slice(b"0123456789abcdefghijklmnopqrstuvwxyz\r\n");
        }
        let mut msg = b"Subject: big\r\n\r\n".to_vec();
        msg.extend_from_slice(&body);
        let mut s = Session::new();
        let p: Probe = s.configure().unwrap();
        s.set_message(&msg);
        assert!(s.data(&p).is_ok());
        assert_eq!(tag(&s, "probe.body.len"), body.len().to_string());
        assert_eq!(tag(&s, "probe.body.sum"), hash(&body));
        assert_eq!(s.body(), &body[..], "no X-Probe-Body: body unchanged");
    }
}
