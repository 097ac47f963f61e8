//! Content scanning (sdk/ABI.md §4.12) against the mock host of
//! sluice::testing.

use sluice::testing::Session;
use sluice::{Phase, ScanError, Verdict};

#[test]
fn scan_members_errors_and_phases() {
    let mut s = Session::new();
    s.set_scan("spam", "engine", "rspamd")
        .set_scan("spam", "action", "reject")
        .set_scan("spam", "symbols.count", "1")
        .set_scan("spam", "symbols.0.name", "GTUBE")
        .set_scan_error("virus", "scanner \"virus\" (clamd): scanner unreachable: connection refused");
    let mut got = (None, None, None, None, None);
    let out = s.run(Phase::Data, |h| {
        let before = h.scan_value("action");
        h.scan("spam").unwrap();
        let json = h.scan_json("spam").unwrap();
        got = (
            before,
            h.scan_value("action"),
            h.scan_value("symbols.0.name"),
            Some(String::from_utf8(json).unwrap()),
            h.scan("virus").err(),
        );
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(got.0, None, "scan_value before any scan");
    assert_eq!(got.1.as_deref(), Some("reject"));
    assert_eq!(got.2.as_deref(), Some("GTUBE"));
    assert!(got.3.unwrap().contains("\"action\":\"reject\""));
    match got.4 {
        Some(ScanError::Temporary(r)) => assert!(r.contains("unreachable"), "{}", r),
        other => panic!("failing scanner: {:?}", other),
    }

    // Outside data: NotFound. An ungranted scanner traps.
    let mut early = None;
    s.run(Phase::Mail, |h| {
        early = h.scan("spam").err();
        Verdict::Continue
    });
    assert_eq!(early, Some(ScanError::NotFound));
    let out = s.run(Phase::Data, |h| {
        let _ = h.scan("other");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("not granted"));
}
