//! The capability methods of Host (sdk/ABI.md §4.8 to §4.11) against the
//! mock host of sluice::testing.

use sluice::testing::Session;
use sluice::{AuthChecks, DkimKey, DkimRefusal, DnsError, Phase, Verdict};

#[test]
fn kv_round_trip_incr_delete_and_expiry() {
    let mut s = Session::new();
    let mut seen = Vec::new();
    let out = s.run(Phase::Connect, |h| {
        seen.push(h.kv_get("greylist").unwrap());
        h.kv_set("greylist", b"\x00first\xff", 0).unwrap();
        seen.push(h.kv_get("greylist").unwrap());
        h.kv_set("window", "x", 1000).unwrap();
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(seen, [None, Some(b"\x00first\xff".to_vec())]);
    assert_eq!(s.kv("greylist"), Some(b"\x00first\xff".to_vec()));

    // kv_incr: created at 0 with the ttl, an existing key keeps its lifetime.
    let mut counts = Vec::new();
    s.run(Phase::Mail, |h| {
        counts.push(h.kv_incr("rate", 1, 1000).unwrap());
        counts.push(h.kv_incr("rate", 5, 0).unwrap());
        counts.push(h.kv_incr("rate", -10, 0).unwrap());
        Verdict::Continue
    });
    assert_eq!(counts, [1, 6, -4]);
    assert_eq!(s.kv("rate"), Some(b"-4".to_vec()), "the stored value is the decimal text");
    s.advance_ms(999);
    assert!(s.kv("rate").is_some() && s.kv("window").is_some());
    s.advance_ms(1);
    assert_eq!(s.kv("rate"), None, "the window of the first kv_incr ended");
    assert_eq!(s.kv("window"), None);

    // Saturation, non-numeric values, delete.
    s.set_kv("big", i32::MAX.to_string(), 0).set_kv("text", "abc", 0);
    let mut got = (0, 0, false, false, None);
    s.run(Phase::Data, |h| {
        got = (
            h.kv_incr("big", 7, 0).unwrap(),
            h.kv_incr("text", 2, 0).unwrap(),
            h.kv_delete("text").unwrap(),
            h.kv_delete("text").unwrap(),
            h.kv_get("text").unwrap(),
        );
        Verdict::Continue
    });
    assert_eq!(got, (i32::MAX, 2, true, false, None));
    assert_eq!(s.kv("big"), Some(b"2147483654".to_vec()), "the store keeps the unsaturated sum");
}

#[test]
fn kv_writes_survive_a_failed_call_and_bad_keys_trap() {
    let mut s = Session::new();
    let out = s.run(Phase::Connect, |h| {
        h.kv_set("k", "v", 0).unwrap();
        panic!("boom")
    });
    assert!(out.error.unwrap().contains("boom"));
    assert_eq!(s.kv("k"), Some(b"v".to_vec()), "the store is outside the transaction");
    let out = s.run(Phase::Connect, |h| {
        let _ = h.kv_get("");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("key length 0"));
    let out = s.run(Phase::Connect, |h| {
        let _ = h.kv_set("k", vec![b'x'; 65537], 0);
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("above the limit"));
}

#[test]
fn dns_lookup_splits_records_and_tells_not_found_from_temporary() {
    let mut s = Session::new();
    s.set_dns("TXT", "example.org", &["v=spf1 -all", "hello world"])
        .set_dns("A", "mx.example.org.", &["192.0.2.7"])
        .set_dns_temporary("MX", "slow.example");
    let mut got = Vec::new();
    let out = s.run(Phase::Helo, |h| {
        got.push(h.dns_lookup("txt", "Example.ORG."));
        got.push(h.dns_lookup("A", "mx.example.org"));
        got.push(h.dns_lookup("AAAA", "mx.example.org"));
        got.push(h.dns_lookup("MX", "nowhere.example"));
        got.push(h.dns_lookup("MX", "slow.example"));
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(
        got,
        [
            Ok(vec![b"v=spf1 -all".to_vec(), b"hello world".to_vec()]),
            Ok(vec![b"192.0.2.7".to_vec()]),
            Err(DnsError::NotFound),
            Err(DnsError::NotFound),
            Err(DnsError::Temporary),
        ]
    );
    let out = s.run(Phase::Helo, |h| {
        let _ = h.dns_lookup("SRV", "example.org");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("unsupported query type"));
}

#[test]
fn auth_value_needs_auth_check_in_the_same_call() {
    let mut s = Session::new();
    s.set_auth("spf.result", "pass")
        .set_auth("spf.domain", "example.org")
        .set_auth("dkim.count", "1")
        .set_auth("dkim.0.result", "fail")
        .set_auth("dmarc.result", "fail")
        .set_auth("dmarc.pct", "100")
        .set_auth("dmarc.spf_aligned", "true");
    s.set_envelope("a@example.org", &["b@example.net"]);

    // Too early: SPF before mail, DMARC before data.
    let mut early = Vec::new();
    s.run(Phase::Helo, |h| {
        early.push(h.auth_check(AuthChecks::SPF));
        Verdict::Continue
    });
    s.run(Phase::Mail, |h| {
        early.push(h.auth_check(AuthChecks::DMARC));
        early.push(h.auth_value("spf.result").is_some());
        early.push(h.auth_check(AuthChecks::SPF));
        early.push(h.auth_value("spf.result").as_deref() == Some("pass"));
        early.push(h.auth_value("dkim.count").is_none()); // not asked for
        Verdict::Continue
    });
    assert_eq!(early, [false, false, false, true, true, true]);

    let mut got = Vec::new();
    s.set_message(b"From: a@example.org\n\nx\n");
    let out = s.run(Phase::Data, |h| {
        got.push(h.auth_value("spf.result")); // results last one call
        assert!(h.auth_check(AuthChecks::DMARC));
        for k in ["spf.result", "dkim.count", "dkim.0.result", "dmarc.pct", "dmarc.spf_aligned", "dmarc.nope"]
        {
            got.push(h.auth_value(k));
        }
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    let some = |v: &str| Some(v.to_string());
    assert_eq!(got, [None, some("pass"), some("1"), some("fail"), some("100"), some("true"), None]);

    let mut json = None;
    s.run(Phase::Data, |h| {
        json = h.auth_check_json(AuthChecks::SPF.with(AuthChecks::DKIM));
        Verdict::Continue
    });
    assert_eq!(
        String::from_utf8(json.unwrap()).unwrap(),
        r#"{"spf":{"domain":"example.org","result":"pass"},"dkim":[{"result":"fail"}]}"#
    );
}

#[test]
fn dkim_keys_and_signing() {
    let mut s = Session::new();
    let mut keys = Vec::new();
    s.run(Phase::Connect, |h| {
        keys = h.dkim_keys();
        Verdict::Continue
    });
    assert!(keys.is_empty());

    s.add_dkim_key("main", "example.org", "s1", "ed25519-sha256").add_dkim_key(
        "legacy",
        "example.net",
        "old",
        "rsa-sha256",
    );
    s.run(Phase::Connect, |h| {
        keys = h.dkim_keys();
        Verdict::Continue
    });
    assert_eq!(
        keys,
        [
            DkimKey {
                name: "main".into(),
                domain: "example.org".into(),
                selector: "s1".into(),
                algorithm: "ed25519-sha256".into()
            },
            DkimKey {
                name: "legacy".into(),
                domain: "example.net".into(),
                selector: "old".into(),
                algorithm: "rsa-sha256".into()
            },
        ]
    );

    // Refused with the host's reason, nothing changed.
    s.set_envelope("a@example.org", &["b@example.net"]);
    s.set_message(b"Subject: no from\n\nx\n");
    let mut res = Ok(());
    let out = s.run(Phase::Data, |h| {
        res = h.dkim_sign("main", "");
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(res, Err(DkimRefusal { reason: "the message has no From field".into() }));
    assert!(s.header_values("DKIM-Signature").is_empty());

    s.set_message(b"From: a@example.org\nSubject: s\n\nx\n");
    s.run(Phase::Data, |h| {
        res = h.dkim_sign("main", r#"{"headers": ["Subject"]}"#);
        Verdict::Continue
    });
    assert_eq!(res.as_ref().unwrap_err().reason, "headers does not include From");

    s.run(Phase::Data, |h| {
        res = h.dkim_sign("main", r#"{"canonicalization": "relaxed"}"#);
        Verdict::Continue
    });
    assert_eq!(res, Ok(()));
    assert!(s.message().starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));

    // A key that was not granted traps.
    let out = s.run(Phase::Data, |h| {
        let _ = h.dkim_sign("other", "");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("not granted"));
}

#[test]
fn kv_quota_is_an_error_not_a_trap() {
    use sluice::KvError::QuotaExceeded;
    let mut s = Session::new();
    s.set_kv_quota(2 * (128 + 1 + 100));
    let mut got = Vec::new();
    let out = s.run(Phase::Connect, |h| {
        let v = vec![b'v'; 100];
        got.push(h.kv_set("a", &v, 0));
        got.push(h.kv_set("b", &v, 0));
        got.push(h.kv_set("c", &v, 0));
        got.push(h.kv_incr("n", 1, 0).map(|_| ()));
        got.push(h.kv_incr("a", -4, 0).map(|n| assert_eq!(n, -4, "a counter at -4 is a value")));
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(got, [Ok(()), Ok(()), Err(QuotaExceeded), Err(QuotaExceeded), Ok(())]);
    assert_eq!(s.kv("c"), None, "a refused key is not stored");
    assert!(s.kv_usage() <= 2 * (128 + 1 + 100));
}

#[test]
fn kv_store_down_is_temporary_not_absent() {
    use sluice::KvError::Temporary;
    let mut s = Session::new();
    s.set_kv("seen", "1", 0).set_kv("n", "-2", 0).set_kv_down(true);
    let mut got = None;
    let out = s.run(Phase::Rcpt, |h| {
        got = Some((
            h.kv_get("seen"),
            h.kv_get("absent"),
            h.kv_set("k", "v", 0),
            h.kv_incr("n", 1, 0),
            h.kv_incr("new", 1, 0),
            h.kv_delete("seen"),
        ));
        Verdict::Continue
    });
    assert!(out.is_ok(), "{:?}", out.error);
    assert_eq!(
        got.unwrap(),
        (Err(Temporary), Err(Temporary), Err(Temporary), Err(Temporary), Err(Temporary), Err(Temporary))
    );
    // A bad key is still misuse, down or not.
    let out = s.run(Phase::Rcpt, |h| {
        let _ = h.kv_get("");
        Verdict::Continue
    });
    assert!(out.error.unwrap().contains("key length 0"));

    // Back up: the keys are there, nothing was written while down, and a
    // counter whose value is -2 (TEMPERROR's number) is a value.
    s.set_kv_down(false);
    let mut got = None;
    s.run(Phase::Rcpt, |h| {
        got = Some((h.kv_get("seen"), h.kv_get("k"), h.kv_incr("n", 0, 0), h.kv_delete("seen")));
        Verdict::Continue
    });
    assert_eq!(got.unwrap(), (Ok(Some(b"1".to_vec())), Ok(None), Ok(-2), Ok(true)));
}
