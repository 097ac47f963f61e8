//! The typed Host layer against the in-crate mock host: the same code that
//! runs in WebAssembly, with the gateway's rules enforced by
//! sluice::testing.

use sluice::testing::Session;
use sluice::{info, Hooks, Host, Level, Phase, Plugin, Verdict};

fn run(s: &mut Session, phase: Phase, f: impl FnOnce(&Host) -> Verdict) -> sluice::testing::Outcome {
    s.run(phase, f)
}

fn data_session(msg: &[u8]) -> Session {
    let mut s = Session::new();
    s.set_envelope("alice@example.org", &["bob@example.net"]);
    s.set_message(msg);
    s
}

#[test]
fn info_follows_the_phase() {
    let mut s = Session::new();
    s.set_info(info::TLS, "TLS1.3");
    let seen = |s: &mut Session, phase: Phase| {
        let mut got = Vec::new();
        run(s, phase, |h| {
            for k in [
                info::CLIENT_IP,
                info::HELO,
                info::MAIL_FROM,
                info::RCPT,
                info::TLS,
                info::CLIENT_NAME,
                info::PHASE,
            ] {
                got.push(h.info(k).map(|v| String::from_utf8(v).unwrap()));
            }
            Verdict::Continue
        });
        got
    };
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        seen(&mut s, Phase::Connect),
        [some("192.0.2.1"), None, None, None, some("TLS1.3"), None, some("connect")]
    );
    s.helo(&NoHooks, "client.example");
    s.mail(&NoHooks, "a@example.org");
    assert_eq!(
        seen(&mut s, Phase::Mail),
        [
            some("192.0.2.1"),
            some("client.example"),
            some("a@example.org"),
            None,
            some("TLS1.3"),
            None,
            some("mail")
        ]
    );
    s.rcpt(&NoHooks, "b@example.net");
    let mut rcpt = None;
    s.rcpt(&Recorder, "c@example.net");
    run(&mut s, Phase::Data, |h| {
        rcpt = h.info(info::RCPT);
        Verdict::Continue
    });
    assert_eq!(rcpt, None, "rcpt is only available in the rcpt phase");
    assert_eq!(s.tag("seen.rcpt"), Some(&b"c@example.net 1"[..]));
}

/// Implements nothing.
struct NoHooks;
impl Plugin for NoHooks {
    const HOOKS: Hooks = Hooks::NONE;
    fn configure(_: &Host) -> Result<Self, String> {
        Ok(NoHooks)
    }
}

/// Records the recipient being checked and rcpt_count.
struct Recorder;
impl Plugin for Recorder {
    const HOOKS: Hooks = Hooks::RCPT.with(Hooks::CONNECT);
    fn configure(_: &Host) -> Result<Self, String> {
        Ok(Recorder)
    }
    fn on_connect(&self, h: &Host) -> Verdict {
        h.set_tag("seen.connect", "yes");
        Verdict::Continue
    }
    fn on_rcpt(&self, h: &Host) -> Verdict {
        let mut v = h.info(info::RCPT).unwrap();
        v.extend_from_slice(format!(" {}", h.rcpt_count()).as_bytes());
        h.set_tag("seen.rcpt", v);
        Verdict::Continue
    }
    fn on_data(&self, _: &Host) -> Verdict {
        panic!("not in HOOKS: never called")
    }
}

#[test]
fn hooks_mask_decides_what_runs() {
    let mut s = Session::new();
    let p: Recorder = s.configure().unwrap();
    assert!(s.connect(&p).called);
    assert!(!s.data(&p).called, "on_data is overridden but not declared");
    assert_eq!(format!("{:?}", Recorder::HOOKS), "{Connect, Rcpt}");
}

#[test]
fn configure_sees_only_config_log_and_plugin_name() {
    struct Conf;
    impl Plugin for Conf {
        const HOOKS: Hooks = Hooks::NONE;
        fn configure(h: &Host) -> Result<Self, String> {
            assert_eq!(h.info(info::PLUGIN_NAME).as_deref(), Some(&b"mine"[..]));
            assert_eq!(h.info(info::CLIENT_IP), None);
            assert_eq!(h.header_count(), 0);
            assert_eq!(h.rcpt_count(), 0);
            match sluice::json::string(&h.config(), "mode").as_deref() {
                Some("ok") => Ok(Conf),
                Some("trap") => {
                    h.set_tag("not.allowed", "x");
                    Ok(Conf)
                }
                other => Err(format!("mode: unknown value {:?}", other)),
            }
        }
    }
    let mut s = Session::new();
    s.set_plugin_name("mine").set_config(r#"{"mode":"ok"}"#);
    assert!(s.configure::<Conf>().is_ok());
    s.set_config(r#"{"mode":"bad"}"#);
    assert_eq!(s.configure::<Conf>().err().unwrap(), r#"mode: unknown value Some("bad")"#);
    assert_eq!(s.logs().last().unwrap(), &(Level::Error, br#"mode: unknown value Some("bad")"#.to_vec()));
    s.set_config(r#"{"mode":"trap"}"#);
    let err = s.configure::<Conf>().err().unwrap();
    assert_eq!(err, "trap: tag_set is not allowed in sluice_configure");
}

#[test]
fn a_trap_rolls_back_every_change_and_keeps_the_logs() {
    let mut s = data_session(b"Subject: x\n\nbody\n");
    let before = s.message();
    let out = run(&mut s, Phase::Data, |h| {
        h.log(Level::Info, "about to fail");
        h.add_header("X-Ok", "1");
        h.set_tag("t", "1");
        h.append_body("more\r\n");
        h.add_header("Bad Name", "x");
        Verdict::Continue
    });
    assert_eq!(out.error.as_deref(), Some("trap: header name contains byte 0x20"));
    assert_eq!(
        (out.verdict, out.reply_line().as_str()),
        (Verdict::Tempfail, "451 4.3.0 Temporary local problem, try again later")
    );
    assert_eq!(s.message(), before);
    assert_eq!(s.tag("t"), None);
    assert_eq!(s.logs(), [(Level::Info, b"about to fail".to_vec())]);
}

#[test]
fn a_panic_is_a_plugin_error() {
    let mut s = Session::new();
    let out = run(&mut s, Phase::Connect, |h| {
        h.set_tag("t", "1");
        panic!("boom")
    });
    assert_eq!(out.error.as_deref(), Some("panic: boom"));
    assert_eq!(s.tag("t"), None);
}

#[test]
fn mutations_outside_their_phase_trap() {
    type Change = fn(&Host);
    let cases: [(Phase, Change); 5] = [
        (Phase::Mail, |h| h.add_header("X", "y")),
        (Phase::Rcpt, |h| h.replace_body("x\r\n")),
        (Phase::Rcpt, |h| h.set_mail_from("a@b.example")),
        (Phase::Mail, |h| h.add_rcpt("a@b.example")),
        (Phase::Helo, |h| {
            h.delete_header(0);
        }),
    ];
    for (phase, f) in cases {
        let mut s = Session::new();
        let out = run(&mut s, phase, |h| {
            f(h);
            Verdict::Continue
        });
        let e = out.error.unwrap_or_default();
        assert!(e.starts_with("trap: ") && e.contains(phase.name()), "{:?}: {}", phase, e);
    }
    // ...and reads outside data are NOT_FOUND, not traps.
    let mut s = Session::new();
    let out = run(&mut s, Phase::Mail, |h| {
        assert_eq!((h.header_count(), h.body_size(), h.find_header("x", 0)), (0, 0, None));
        assert_eq!(h.body_read(0, &mut [0u8; 4]), 0);
        Verdict::Continue
    });
    assert!(out.is_ok());
}

/// quarantine passes its reason as the reply text, which the gateway writes
/// into X-Sluice-Quarantine, and logs nothing: the same in every SDK
/// (sdk/ABI.md §2.1).
#[test]
fn quarantine_reason_is_the_reply_text() {
    let mut s = Session::new();
    let out = s.run(Phase::Mail, |h| h.quarantine("looks odd"));
    assert_eq!((out.verdict, out.reply_line()), (Verdict::Quarantine, "550 5.7.1 looks odd".to_string()));
    assert!(s.logs().is_empty(), "logs: {:?}", s.logs());
}

#[test]
fn replies_and_verdicts() {
    let mut s = Session::new();
    let mut call = |f: fn(&Host) -> Verdict| {
        let out = s.run(Phase::Mail, f);
        (out.verdict, out.reply_line(), out.error)
    };
    let ok = |v, r: &str| (v, r.to_string(), None);
    let err = |e: &str| {
        (
            Verdict::Tempfail,
            "451 4.3.0 Temporary local problem, try again later".to_string(),
            Some(e.to_string()),
        )
    };
    assert_eq!(call(|h| h.reject(554, "5.7.0", "go away")), ok(Verdict::Reject, "554 5.7.0 go away"));
    assert_eq!(call(|h| h.tempfail(450, "", "later")), ok(Verdict::Tempfail, "450 4.0.0 later"));
    assert_eq!(call(|_| Verdict::Reject), ok(Verdict::Reject, "550 5.7.1 Rejected by policy"));
    assert_eq!(call(|_| Verdict::Tempfail), ok(Verdict::Tempfail, "451 4.7.1 Try again later"));
    assert_eq!(call(|h| h.quarantine("looks odd")), ok(Verdict::Quarantine, "550 5.7.1 looks odd"));
    assert_eq!(call(|_| Verdict::Raw(9)), err("invalid verdict 9"));
    assert_eq!(call(|h| h.tempfail(550, "5.7.1", "x")), err("tempfail verdict with a non-4xx reply"));
    assert_eq!(call(|h| h.reject(250, "2.0.0", "x")), err("trap: reply code 250 is not between 400 and 599"));
    assert_eq!(
        call(|h| h.reject(550, "5.7.1", "a\r\n250 ok")),
        err("trap: reply text contains byte 0x0d; only printable ASCII and space are allowed")
    );
    assert!(call(|h| h.reject(550, "4.7.1", "x")).2.is_some(), "enhanced class must match");
    assert_eq!(
        call(|h| {
            h.set_reply(550, "5.7.1", "first");
            h.reject(551, "5.7.1", "last wins")
        }),
        ok(Verdict::Reject, "551 5.7.1 last wins")
    );
    assert_eq!(call(|_| Verdict::Continue), ok(Verdict::Continue, ""));
}

#[test]
fn tags_session_and_transaction() {
    let mut s = Session::new();
    run(&mut s, Phase::Connect, |h| {
        h.set_tag("k", "session");
        h.set_tag("s", "1");
        Verdict::Continue
    });
    s.mail(&NoHooks, "a@example.org");
    run(&mut s, Phase::Mail, |h| {
        assert_eq!(h.tag("k").unwrap(), b"session");
        h.set_tag("k", "txn");
        let mut buf = Vec::new();
        assert_eq!(h.tag_into("k", &mut buf), Some(&b"txn"[..]));
        assert_eq!(h.tag("missing"), None);
        Verdict::Continue
    });
    assert_eq!(s.tag("k"), Some(&b"txn"[..]));
    s.mail(&NoHooks, "b@example.org"); // a new transaction
    assert_eq!(s.tag("k"), Some(&b"session"[..]));
    assert_eq!(s.tags(), [(b"k".to_vec(), b"session".to_vec()), (b"s".to_vec(), b"1".to_vec())]);
    let out = run(&mut s, Phase::Mail, |h| {
        h.set_tag("bad key", "x");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("tag key"));
    let out = run(&mut s, Phase::Mail, |h| {
        h.set_tag("k", "a\nb");
        Verdict::Continue
    });
    assert_eq!(out.error.as_deref(), Some("trap: tag value contains CR, LF or NUL"));
}

#[test]
fn recipients_through_rcpt_and_data() {
    struct Gate;
    impl Plugin for Gate {
        const HOOKS: Hooks = Hooks::RCPT;
        fn configure(_: &Host) -> Result<Self, String> {
            Ok(Gate)
        }
        fn on_rcpt(&self, h: &Host) -> Verdict {
            if sluice::domain(&h.info(info::RCPT).unwrap()).eq_ignore_ascii_case(b"blocked.example") {
                return h.reject(550, "5.1.1", "no");
            }
            Verdict::Continue
        }
    }
    let mut s = Session::new();
    s.mail(&Gate, "a@example.org");
    assert_eq!(s.rcpt(&Gate, "x@BLOCKED.example").verdict, Verdict::Reject);
    assert!(s.rcpt(&Gate, "b@example.net").is_ok());
    assert!(s.rcpt(&Gate, "c@example.net").is_ok());
    s.set_message(b"Subject: x\n\n");
    let out = run(&mut s, Phase::Data, |h| {
        assert_eq!(h.rcpts(), [b"b@example.net".to_vec(), b"c@example.net".to_vec()]);
        assert_eq!(h.rcpt(2), None);
        h.add_rcpt("archive@example.net");
        h.add_rcpt("ARCHIVE@example.net"); // already there: no change
        assert!(h.remove_rcpt("B@example.net"));
        assert!(!h.remove_rcpt("nobody@example.net"));
        h.set_mail_from("");
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(s.rcpts(), [b"c@example.net".to_vec(), b"archive@example.net".to_vec()]);
    assert_eq!(s.mail_from(), b"");
    let out = run(&mut s, Phase::Data, |h| {
        h.remove_rcpt("c@example.net");
        h.remove_rcpt("archive@example.net");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("removed every recipient"));
    assert_eq!(s.rcpts().len(), 2, "rolled back");
    let out = run(&mut s, Phase::Data, |h| {
        h.add_rcpt("<x@example.net>");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("angle bracket"));
}

#[test]
fn header_reads_and_edits() {
    let long = "v".repeat(700);
    let msg = format!("Subject: one\nX-Long: {}\nsubject: two\n folded\nX-Del: 1\n\nbody\n", long);
    let mut s = data_session(msg.as_bytes());
    let out = run(&mut s, Phase::Data, |h| {
        assert_eq!(h.header_count(), 4);
        let all: Vec<(Vec<u8>, Vec<u8>)> = h.headers().collect();
        assert_eq!(all[2], (b"subject".to_vec(), b"two\r\n folded".to_vec()));
        assert_eq!(h.header_value(1).unwrap(), long.as_bytes(), "longer than the first read");
        let mut buf = Vec::new();
        assert_eq!(h.header_value_into(1, &mut buf).unwrap(), long.as_bytes());
        assert_eq!(h.header_name_into(0, &mut buf).unwrap(), b"Subject");
        assert_eq!(h.find_header("SUBJECT", 1), Some(2));
        assert_eq!(h.find_header("subject", 2), None);
        assert_eq!(h.header("x-del").unwrap(), b"1");
        assert_eq!(h.header_value(4), None);
        assert!(!h.insert_header(5, "X-Out", "range"));
        assert!(!h.change_header(4, "x"));
        assert!(!h.delete_header(4));
        let i = h.find_header("X-Del", 0).unwrap();
        assert!(h.delete_header(i));
        assert!(h.change_header(0, "new\r\n\tfolded"));
        assert!(h.insert_header(0, "X-Top", "1"));
        assert!(h.insert_header(h.header_count(), "X-End", ""));
        h.add_header("X-Last", "z");
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    let want = format!(
        "X-Top: 1\r\nSubject: new\r\n\tfolded\r\nX-Long: {}\r\nsubject: two\r\n folded\r\nX-End: \r\nX-Last: z\r\n\r\nbody\r\n",
        long
    );
    assert_eq!(String::from_utf8(s.message()).unwrap(), want);
    for bad in ["a\nb", "a\r\n", "a\r\n \r\n b", "nul\0"] {
        let out = run(&mut s, Phase::Data, |h| {
            h.add_header("X-Bad", bad);
            Verdict::Continue
        });
        assert!(out.error.is_some(), "{:?} accepted", bad);
    }
}

#[test]
fn body_chunks_and_rewrites() {
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!("line {}\n", i));
    }
    let mut s = data_session(format!("Subject: b\n\n{}", body).as_bytes());
    let want = body.replace('\n', "\r\n");
    let out = run(&mut s, Phase::Data, |h| {
        assert_eq!(h.body_size(), want.len());
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        let mut r = h.body();
        loop {
            let n = r.read(&mut buf);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, want.as_bytes());
        assert_eq!(r.offset(), want.len());
        r.seek(want.len() - 4);
        assert_eq!(r.read(&mut buf), 4);
        assert_eq!(h.body_read(want.len() + 10, &mut buf), 0, "past the end");
        h.replace_body("new\r\n");
        h.append_body("footer\r\n");
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(s.body(), b"new\r\nfooter\r\n");
    let out = run(&mut s, Phase::Data, |h| {
        h.append_body("bare\nlf");
        Verdict::Continue
    });
    assert_eq!(out.error.as_deref(), Some("body contains a bare LF"));
    assert_eq!(s.body(), b"new\r\nfooter\r\n", "rolled back");
}
