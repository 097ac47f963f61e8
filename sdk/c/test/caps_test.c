/*
 * Native tests of sluice_caps.h (sdk/ABI.md §4.8 to §4.11) against the mock
 * host. Run: sdk/c/test.sh.
 */
#include "sluice.h"
#include "sluice_caps.h"
#include "sluice_mock.h"

#include <string.h>

/* What the hooks below saw, for the checks. */
static char seen[16][SLUICE_MAX_DKIM_REASON + 1];
static int32_t rc[16];

static void record(int i, int32_t r, const char *buf) {
    rc[i] = r;
    snprintf(seen[i], sizeof seen[i], "%s", r >= 0 && buf != NULL ? buf : "");
}

/* ---- key/value store ---- */

static int32_t kv_hook(void) {
    char buf[64];
    record(0, sluice_kv_get_str("greylist", buf, sizeof buf), buf);
    sluice_kv_set("greylist", "first", 0);
    record(1, sluice_kv_get_str("greylist", buf, sizeof buf), buf);
    record(2, sluice_kv_get("greylist", buf, 2), NULL); /* too small: the length */
    rc[3] = sluice_kv_incr("rate", 1, 1000);
    rc[4] = sluice_kv_incr("rate", 5, 0);
    rc[5] = sluice_kv_incr("rate", -10, 0);
    rc[6] = sluice_kv_delete("greylist");
    rc[7] = sluice_kv_delete("greylist");
    static const char bin[] = {'a', '\0', 'b'};
    sluice_kv_set_n("bin", 3, bin, sizeof bin, 0);
    rc[8] = sluice_kv_get_n("bin", 3, buf, sizeof buf);
    rc[9] = rc[8] == 3 && memcmp(buf, bin, 3) == 0;
    return SLUICE_CONTINUE;
}

static int32_t kv_saturate_hook(void) {
    rc[0] = sluice_kv_incr("big", 7, 0);
    rc[1] = sluice_kv_incr("text", 2, 0);
    return SLUICE_CONTINUE;
}

static int32_t kv_then_trap_hook(void) {
    sluice_kv_set("kept", "yes", 0);
    sluice_trap();
}

static int32_t kv_bad_key_hook(void) {
    sluice_kv_set("", "v", 0);
    return SLUICE_CONTINUE;
}

static int32_t kv_bad_ttl_hook(void) {
    sluice_kv_incr("k", 1, -1);
    return SLUICE_CONTINUE;
}

static void test_kv(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_result r = sluice_mock_connect(m, kv_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[1], 5);
    SLUICE_EXPECT_STR(seen[1], "first");
    SLUICE_EXPECT_INT(rc[2], 5);
    SLUICE_EXPECT_INT(rc[3], 1);
    SLUICE_EXPECT_INT(rc[4], 6);
    SLUICE_EXPECT_INT(rc[5], -4);
    SLUICE_EXPECT_INT(rc[6], 0);
    SLUICE_EXPECT_INT(rc[7], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[9], 1);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "rate"), "-4");
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "greylist"), NULL);

    /* rate was created with a 1 s lifetime, and the later incrs kept it */
    sluice_mock_advance_ms(m, 999);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "rate"), "-4");
    sluice_mock_advance_ms(m, 1);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "rate"), NULL);
    SLUICE_EXPECT(sluice_mock_kv(m, "bin") != NULL);

    sluice_mock_set_kv(m, "big", "2147483647", 0);
    sluice_mock_set_kv(m, "text", "abc", 0);
    r = sluice_mock_data(m, kv_saturate_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], INT32_MAX);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "big"), "2147483654");
    SLUICE_EXPECT_INT(rc[1], 2);

    r = sluice_mock_connect(m, kv_then_trap_hook);
    SLUICE_EXPECT(r.error);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "kept"), "yes"); /* outside the transaction */
    r = sluice_mock_connect(m, kv_bad_key_hook);
    SLUICE_EXPECT(r.error && strstr(r.reason, "key length 0") != NULL);
    r = sluice_mock_connect(m, kv_bad_ttl_hook);
    SLUICE_EXPECT(r.error && strstr(r.reason, "negative ttl_ms") != NULL);
    sluice_mock_free(m);
}

/* ---- key/value quota (ABI.md §4.8) ---- */

static int32_t kv_quota_hook(void) {
    char v[101];
    memset(v, 'v', 100);
    v[100] = '\0';
    rc[0] = sluice_kv_set("a", v, 0);
    rc[1] = sluice_kv_set("b", v, 0);
    rc[2] = sluice_kv_set("c", v, 0);     /* past the quota */
    rc[3] = sluice_kv_incr("n", 1, 0);    /* creating past the quota */
    rc[4] = sluice_kv_incr("a", 1, 0);    /* an existing key always counts */
    return SLUICE_CONTINUE;
}

static void test_kv_quota(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_kv_quota(m, 2 * (128 + 1 + 100));
    sluice_mock_result r = sluice_mock_connect(m, kv_quota_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 0);
    SLUICE_EXPECT_INT(rc[1], 0);
    SLUICE_EXPECT_INT(rc[2], SLUICE_QUOTA);
    SLUICE_EXPECT_INT(rc[3], SLUICE_QUOTA);
    SLUICE_EXPECT_INT(rc[4], 1);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "c"), NULL);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "n"), NULL);
    SLUICE_EXPECT(sluice_mock_kv_usage(m) <= 2 * (128 + 1 + 100));
    sluice_mock_free(m);
}

/* ---- key/value store down (ABI.md §4.8) ---- */

static int32_t kv_down_hook(void) {
    char buf[16];
    rc[0] = sluice_kv_get("a", buf, sizeof buf);
    rc[1] = sluice_kv_set("a", "v", 0);
    rc[2] = sluice_kv_incr("n", 1, 0);
    rc[3] = sluice_kv_delete("a");
    return SLUICE_CONTINUE;
}

static void test_kv_down(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_kv(m, "a", "1", 0);
    sluice_mock_set_kv_down(m, 1);
    sluice_mock_result r = sluice_mock_connect(m, kv_down_hook);
    SLUICE_EXPECT(!r.error);
    for (int i = 0; i < 4; i++)
        SLUICE_EXPECT_INT(rc[i], SLUICE_TEMPERROR);
    SLUICE_EXPECT_STR(sluice_mock_kv(m, "a"), "1");
    sluice_mock_free(m);
}

/* ---- DNS ---- */

static int32_t dns_hook(void) {
    char buf[128];
    record(0, sluice_dns_lookup_str("txt", "Example.ORG.", buf, sizeof buf), buf);
    record(1, sluice_dns_lookup_str("A", "mx.example.org", buf, sizeof buf), buf);
    rc[2] = sluice_dns_lookup("AAAA", "mx.example.org", buf, sizeof buf);
    rc[3] = sluice_dns_lookup("MX", "nowhere.example", buf, sizeof buf);
    rc[4] = sluice_dns_lookup("MX", "slow.example", buf, sizeof buf);
    return SLUICE_CONTINUE;
}

static int32_t dns_bad_type_hook(void) {
    char buf[8];
    sluice_dns_lookup("SRV", "example.org", buf, sizeof buf);
    return SLUICE_CONTINUE;
}

static void test_dns(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_dns(m, "TXT", "example.org", "v=spf1 -all\nhello world");
    sluice_mock_set_dns(m, "a", "MX.example.org.", "192.0.2.7");
    sluice_mock_set_dns_temporary(m, "MX", "slow.example");
    sluice_mock_result r = sluice_mock_helo(m, dns_hook, "client.example");
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 23);
    SLUICE_EXPECT_STR(seen[0], "v=spf1 -all\nhello world");
    SLUICE_EXPECT_STR(seen[1], "192.0.2.7");
    SLUICE_EXPECT_INT(rc[2], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[3], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[4], SLUICE_TEMPERROR);

    /* sluice_record_next splits on '\n' */
    size_t pos = 0, rlen;
    const char *rec = sluice_record_next(seen[0], strlen(seen[0]), &pos, &rlen);
    SLUICE_EXPECT(rec != NULL && sluice_equal(rec, rlen, "v=spf1 -all", 11));
    rec = sluice_record_next(seen[0], strlen(seen[0]), &pos, &rlen);
    SLUICE_EXPECT(rec != NULL && sluice_equal(rec, rlen, "hello world", 11));
    SLUICE_EXPECT(sluice_record_next(seen[0], strlen(seen[0]), &pos, &rlen) == NULL);
    pos = 0;
    SLUICE_EXPECT(sluice_record_next("", 0, &pos, &rlen) == NULL);

    r = sluice_mock_helo(m, dns_bad_type_hook, "client.example");
    SLUICE_EXPECT(r.error && strstr(r.reason, "unsupported query type") != NULL);
    sluice_mock_free(m);
}

/* ---- message authentication ---- */

static int32_t auth_helo_hook(void) {
    rc[0] = sluice_auth_check(SLUICE_AUTH_SPF);
    return SLUICE_CONTINUE;
}

static int32_t auth_mail_hook(void) {
    char buf[64];
    rc[0] = sluice_auth_check(SLUICE_AUTH_DMARC); /* too early */
    rc[1] = sluice_auth_value("spf.result", buf, sizeof buf);
    rc[2] = sluice_auth_check(SLUICE_AUTH_SPF);
    record(3, sluice_auth_value_str("spf.result", buf, sizeof buf), buf);
    rc[4] = sluice_auth_value("dkim.count", buf, sizeof buf); /* not asked for */
    return SLUICE_CONTINUE;
}

static int32_t auth_data_hook(void) {
    char buf[128];
    rc[0] = sluice_auth_value("spf.result", buf, sizeof buf); /* results last one call */
    rc[1] = sluice_auth_check(SLUICE_AUTH_DMARC);
    record(2, sluice_auth_value_str("dkim.0.result", buf, sizeof buf), buf);
    record(3, sluice_auth_value_str("dmarc.pct", buf, sizeof buf), buf);
    rc[4] = sluice_auth_is("dmarc.result", "fail");
    rc[5] = sluice_auth_is("dmarc.result", "pass");
    rc[6] = sluice_auth_value("dmarc.nope", buf, sizeof buf);
    record(7, sluice__str(sluice_auth_check_json(SLUICE_AUTH_SPF | SLUICE_AUTH_DKIM, buf, sizeof buf - 1), buf, sizeof buf), buf);
    return SLUICE_CONTINUE;
}

static void test_auth(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_auth(m, "spf.result", "pass");
    sluice_mock_set_auth(m, "spf.domain", "example.org");
    sluice_mock_set_auth(m, "dkim.count", "1");
    sluice_mock_set_auth(m, "dkim.0.result", "fail");
    sluice_mock_set_auth(m, "dmarc.result", "fail");
    sluice_mock_set_auth(m, "dmarc.pct", "100");
    sluice_mock_result r = sluice_mock_helo(m, auth_helo_hook, "client.example");
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 0);

    r = sluice_mock_mail(m, auth_mail_hook, "a@example.org");
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 0);
    SLUICE_EXPECT_INT(rc[1], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[2], 1);
    SLUICE_EXPECT_STR(seen[3], "pass");
    SLUICE_EXPECT_INT(rc[4], SLUICE_NOT_FOUND);

    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    sluice_mock_set_message(m, "From: a@example.org\n\nx\n");
    r = sluice_mock_data(m, auth_data_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[1], 1);
    SLUICE_EXPECT_STR(seen[2], "fail");
    SLUICE_EXPECT_STR(seen[3], "100");
    SLUICE_EXPECT_INT(rc[4], 1);
    SLUICE_EXPECT_INT(rc[5], 0);
    SLUICE_EXPECT_INT(rc[6], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_STR(seen[7], "{\"spf\":{\"result\":\"pass\",\"domain\":\"example.org\"},\"dkim\":[{\"result\":\"fail\"}]}");
    sluice_mock_free(m);
}

/* ---- DKIM ---- */

static sluice_dkim_key keys[4];
static char keybuf[256];

static int32_t dkim_keys_hook(void) {
    rc[0] = sluice_dkim_keys(keybuf, sizeof keybuf, keys, 4);
    char tiny[8];
    rc[1] = sluice_dkim_keys(tiny, sizeof tiny, keys + 3, 1);
    return SLUICE_CONTINUE;
}

static int32_t dkim_sign_hook(void) {
    char reason[SLUICE_MAX_DKIM_REASON + 1];
    rc[0] = sluice_dkim_sign("main", NULL, reason, sizeof reason);
    snprintf(seen[0], sizeof seen[0], "%s", reason);
    rc[1] = sluice_dkim_sign("main", "{\"headers\": [\"Subject\"]}", reason, sizeof reason);
    snprintf(seen[1], sizeof seen[1], "%s", reason);
    rc[2] = sluice_dkim_sign("main", "{\"headers\": [\"Subject\"]}", reason, 10); /* cut */
    snprintf(seen[2], sizeof seen[2], "%s", reason);
    return SLUICE_CONTINUE;
}

static int32_t dkim_sign_ok_hook(void) {
    rc[0] = sluice_dkim_sign("legacy", "{\"canonicalization\": \"relaxed\"}", NULL, 0);
    return SLUICE_CONTINUE;
}

static int32_t dkim_ungranted_hook(void) {
    sluice_dkim_sign("other", "", NULL, 0);
    return SLUICE_CONTINUE;
}

static void test_dkim(void) {
    /* parsing in place, malformed lines skipped */
    char text[] = "a example.org s1 rsa-sha256\n\nb  example.net\ts2 ed25519-sha256\nshort line\nc d e f g\nlast x y z";
    sluice_dkim_key k[4];
    SLUICE_EXPECT_INT(sluice_dkim_parse_keys(text, k, 4), 3);
    SLUICE_EXPECT_STR(k[0].name, "a");
    SLUICE_EXPECT_STR(k[0].algorithm, "rsa-sha256");
    SLUICE_EXPECT_STR(k[1].domain, "example.net");
    SLUICE_EXPECT_STR(k[1].selector, "s2");
    SLUICE_EXPECT_STR(k[2].name, "last");
    SLUICE_EXPECT_STR(k[2].algorithm, "z");
    char one[] = "a b c d\ne f g h";
    SLUICE_EXPECT_INT(sluice_dkim_parse_keys(one, k, 1), 1);

    sluice_mock *m = sluice_mock_new();
    sluice_mock_result r = sluice_mock_connect(m, dkim_keys_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 0); /* no keys granted */

    sluice_mock_add_dkim_key(m, "main", "example.org", "s1", "ed25519-sha256");
    sluice_mock_add_dkim_key(m, "legacy", "example.net", "old", "rsa-sha256");
    r = sluice_mock_connect(m, dkim_keys_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 2);
    SLUICE_EXPECT_STR(keys[0].name, "main");
    SLUICE_EXPECT_STR(keys[0].domain, "example.org");
    SLUICE_EXPECT_STR(keys[1].selector, "old");
    SLUICE_EXPECT_STR(keys[1].algorithm, "rsa-sha256");
    SLUICE_EXPECT_INT(rc[1], SLUICE_TOO_LONG);

    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    sluice_mock_set_message(m, "Subject: no from\n\nx\n");
    r = sluice_mock_data(m, dkim_sign_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], SLUICE_REFUSED);
    SLUICE_EXPECT_STR(seen[0], "the message has no From field");
    SLUICE_EXPECT_STR(sluice_mock_header(m, "DKIM-Signature", 0), NULL);

    sluice_mock_set_message(m, "From: a@example.org\nSubject: s\n\nx\n");
    r = sluice_mock_data(m, dkim_sign_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[1], SLUICE_REFUSED);
    SLUICE_EXPECT_STR(seen[1], "headers does not include From");
    SLUICE_EXPECT_STR(seen[2], "headers d"); /* 9 bytes and the NUL */

    r = sluice_mock_data(m, dkim_sign_ok_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], 0);
    SLUICE_EXPECT_STR(sluice_mock_header_name_at(m, 0), "DKIM-Signature");
    SLUICE_EXPECT(strstr(sluice_mock_header_value_at(m, 0), "d=example.net; s=old") != NULL);

    r = sluice_mock_data(m, dkim_ungranted_hook);
    SLUICE_EXPECT(r.error && strstr(r.reason, "not granted") != NULL);
    sluice_mock_free(m);
}

/* ---- content scanning ---- */

static int32_t scan_data_hook(void) {
    char buf[256];
    record(0, sluice_scan_value_str("action", buf, sizeof buf), buf); /* before any scan */
    rc[1] = sluice_scan("spam");
    record(2, sluice_scan_value_str("action", buf, sizeof buf), buf);
    rc[3] = sluice_scan_is("symbols.0.name", "GTUBE");
    record(4, sluice_scan_json("spam", buf, (int32_t)sizeof buf), buf);
    rc[5] = sluice_scan("virus");
    record(6, sluice_scan_value_str("error", buf, sizeof buf), buf);
    record(7, sluice_scan_value_str("action", buf, sizeof buf), buf);
    return SLUICE_CONTINUE;
}

static int32_t scan_mail_hook(void) {
    rc[0] = sluice_scan("spam");
    return SLUICE_CONTINUE;
}

static int32_t scan_ungranted_hook(void) {
    sluice_scan("other");
    return SLUICE_CONTINUE;
}

static void test_scan(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_scan(m, "spam", "engine", "rspamd");
    sluice_mock_set_scan(m, "spam", "action", "reject");
    sluice_mock_set_scan(m, "spam", "symbols.0.name", "GTUBE");
    sluice_mock_set_scan_error(m, "virus", "scanner unreachable");
    sluice_mock_result r = sluice_mock_mail(m, scan_mail_hook, "a@example.org");
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], SLUICE_NOT_FOUND);

    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    sluice_mock_set_message(m, "From: a@example.org\n\nx\n");
    r = sluice_mock_data(m, scan_data_hook);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(rc[0], SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(rc[1], 0);
    SLUICE_EXPECT_STR(seen[2], "reject");
    SLUICE_EXPECT_INT(rc[3], 1);
    SLUICE_EXPECT(strstr(seen[4], "\"action\":\"reject\"") != NULL);
    SLUICE_EXPECT_INT(rc[5], SLUICE_TEMPERROR);
    SLUICE_EXPECT_STR(seen[6], "scanner unreachable");
    SLUICE_EXPECT_INT(rc[7], SLUICE_NOT_FOUND);

    r = sluice_mock_data(m, scan_ungranted_hook);
    SLUICE_EXPECT(r.error && strstr(r.reason, "not granted") != NULL);
    sluice_mock_free(m);
}

int main(void) {
    test_kv();
    test_kv_quota();
    test_kv_down();
    test_dns();
    test_auth();
    test_dkim();
    test_scan();
    return sluice_mock_done();
}
