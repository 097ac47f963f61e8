/*
 * Native tests of sluice.h and of the mock host (sluice_mock.c).
 * Run: sdk/c/test.sh  (or see the command there).
 */
#include "sluice.h"
#include "sluice_mock.h"

#include <string.h>

/* ---- pure helpers ---- */

static void test_strings(void) {
    char buf[16];
    SLUICE_EXPECT_INT(sluice_fmt_uint(buf, 0), 1);
    SLUICE_EXPECT(memcmp(buf, "0", 1) == 0);
    size_t n = sluice_fmt_uint(buf, 4294967295u);
    buf[n] = '\0';
    SLUICE_EXPECT_STR(buf, "4294967295");
    n = sluice_fmt_uint(buf, 1200);
    buf[n] = '\0';
    SLUICE_EXPECT_STR(buf, "1200");
    sluice_fmt_hex32(buf, 0x0badf00d);
    buf[8] = '\0';
    SLUICE_EXPECT_STR(buf, "0badf00d");

    const char *a = "we@ird@Example.COM";
    SLUICE_EXPECT_INT(sluice_local_part(a, strlen(a)), 6);
    size_t dlen;
    const char *d = sluice_domain(a, strlen(a), &dlen);
    SLUICE_EXPECT(sluice_equal_fold(d, dlen, "example.com", 11));
    SLUICE_EXPECT(!sluice_equal(d, dlen, "example.com", 11));
    SLUICE_EXPECT_INT(sluice_local_part("nobody", 6), 6);
    sluice_domain("nobody", 6, &dlen);
    SLUICE_EXPECT_INT(dlen, 0);
    SLUICE_EXPECT_INT(sluice_local_part("", 0), 0);
}

static void test_json(void) {
    const char *j = " { \"nested\": {\"greeting\": \"no\", \"a\": [1, \"}\", {\"b\": \"]\"}]},"
                    " \"greeting\" : \"h\\u00e9llo \\\"w\\\"\\n\\ud83d\\ude00\", \"n\": -42, \"big\": 9223372036854775808,"
                    " \"t\": true, \"f\": false, \"greeting\": \"second\", \"s\": \"plain\" } ";
    size_t len = strlen(j);
    char buf[64];

    int32_t n = sluice_json_string(j, len, "greeting", buf, sizeof buf);
    SLUICE_EXPECT_INT(n, 15); /* h é(2) llo, space, "w", LF, 😀(4) */
    SLUICE_EXPECT(n == 15 && memcmp(buf, "h\xc3\xa9llo \"w\"\n\xf0\x9f\x98\x80", 15) == 0);

    /* the (buf, cap) protocol: too small copies nothing */
    memset(buf, '#', sizeof buf);
    SLUICE_EXPECT_INT(sluice_json_string(j, len, "greeting", buf, 5), 15);
    SLUICE_EXPECT(buf[0] == '#');
    SLUICE_EXPECT_INT(sluice_json_string_str(j, len, "s", buf, 6), 5);
    SLUICE_EXPECT_STR(buf, "plain");
    SLUICE_EXPECT_INT(sluice_json_string_str(j, len, "s", buf, 5), SLUICE_TOO_LONG);
    SLUICE_EXPECT_STR(buf, "");

    SLUICE_EXPECT_INT(sluice_json_string(j, len, "a", buf, sizeof buf), SLUICE_NOT_FOUND); /* nested only */
    SLUICE_EXPECT_INT(sluice_json_string(j, len, "missing", buf, sizeof buf), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_json_string(j, len, "n", buf, sizeof buf), SLUICE_WRONG_TYPE);

    size_t at;
    n = sluice_json_find(j, len, "nested", &at);
    SLUICE_EXPECT(n > 0 && j[at] == '{' && j[at + (size_t)n - 1] == '}');

    int64_t v = 0;
    SLUICE_EXPECT_INT(sluice_json_int(j, len, "n", &v), 0);
    SLUICE_EXPECT_INT(v, -42);
    SLUICE_EXPECT_INT(sluice_json_int(j, len, "big", &v), SLUICE_WRONG_TYPE);
    SLUICE_EXPECT_INT(sluice_json_int(j, len, "s", &v), SLUICE_WRONG_TYPE);
    int b = -1;
    SLUICE_EXPECT_INT(sluice_json_bool(j, len, "t", &b), 0);
    SLUICE_EXPECT_INT(b, 1);
    SLUICE_EXPECT_INT(sluice_json_bool(j, len, "f", &b), 0);
    SLUICE_EXPECT_INT(b, 0);
    SLUICE_EXPECT_INT(sluice_json_bool(j, len, "n", &b), SLUICE_WRONG_TYPE);

    SLUICE_EXPECT_INT(sluice_json_string("{}", 2, "x", buf, sizeof buf), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_json_string("[]", 2, "x", buf, sizeof buf), SLUICE_BAD_JSON);
    SLUICE_EXPECT_INT(sluice_json_string("{\"x\" 1}", 7, "x", buf, sizeof buf), SLUICE_BAD_JSON);
    SLUICE_EXPECT_INT(sluice_json_string("{\"y\": \"unterminated}", 20, "x", buf, sizeof buf), SLUICE_BAD_JSON);
    SLUICE_EXPECT_INT(sluice_json_string("{\"x\": \"\\q\"}", 11, "x", buf, sizeof buf), SLUICE_BAD_JSON);
    SLUICE_EXPECT_INT(sluice_json_string("{\"x\": \"\\u12\"}", 13, "x", buf, sizeof buf), SLUICE_BAD_JSON);
    SLUICE_EXPECT_INT(sluice_json_string("{\"x\": \"\"}", 9, "x", buf, sizeof buf), 0);
}

/* ---- host functions through the mock ---- */

static int32_t data_rewrite(void) {
    char v[64];
    SLUICE_EXPECT_INT(sluice_header_count(), 3);
    SLUICE_EXPECT_INT(sluice_header_find("SUBJECT", 0), 0);
    SLUICE_EXPECT_INT(sluice_header_find("subject", 1), 2);
    SLUICE_EXPECT_INT(sluice_header_find("subject", 2), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_header_value_str(1, v, sizeof v), 7);
    SLUICE_EXPECT_STR(v, "a\r\n\tb c"); /* folding kept */
    SLUICE_EXPECT_INT(sluice_header_get_str("Subject", v, sizeof v), 3);
    SLUICE_EXPECT_STR(v, "one");
    SLUICE_EXPECT_INT(sluice_header_get_str("Subject", v, 3), SLUICE_TOO_LONG);
    memset(v, '#', sizeof v);
    SLUICE_EXPECT_INT(sluice_header_name(0, v, 6), 7); /* "Subject" does not fit: nothing copied */
    SLUICE_EXPECT(v[0] == '#');
    SLUICE_EXPECT_INT(sluice_header_name(0, v, 7), 7);
    SLUICE_EXPECT(memcmp(v, "Subject", 7) == 0);
    SLUICE_EXPECT_INT(sluice_header_value(9, v, sizeof v), SLUICE_NOT_FOUND);

    SLUICE_EXPECT_INT(sluice_header_change(0, "[EXT] one"), 0);
    SLUICE_EXPECT_INT(sluice_header_insert(0, "X-Top", "1"), 0);
    SLUICE_EXPECT_INT(sluice_header_insert(99, "X-Nowhere", "1"), SLUICE_NOT_FOUND);
    sluice_header_add("X-End", "2");
    SLUICE_EXPECT_INT(sluice_header_delete_all("subject"), 2);
    SLUICE_EXPECT_INT(sluice_header_delete(42), SLUICE_NOT_FOUND);

    /* body in chunks of 4 */
    char chunk[4], all[64];
    int32_t off = 0, n;
    while ((n = sluice_body_read(off, chunk, sizeof chunk)) > 0) {
        memcpy(all + off, chunk, (size_t)n);
        off += n;
    }
    SLUICE_EXPECT_INT(n, 0);
    SLUICE_EXPECT_INT(off, sluice_body_size());
    SLUICE_EXPECT(off == 14 && memcmp(all, "line 1\r\n.dot\r\n", 14) == 0);
    SLUICE_EXPECT_INT(sluice_body_read(off + 1, chunk, sizeof chunk), SLUICE_NOT_FOUND);
    sluice_body_append("--\r\nfooter\r\n");

    sluice_rcpt_add("new@example.org");
    sluice_rcpt_add("NEW@example.org"); /* already there */
    SLUICE_EXPECT_INT(sluice_rcpt_remove("bob@example.net"), 0);
    SLUICE_EXPECT_INT(sluice_rcpt_remove("bob@example.net"), SLUICE_NOT_FOUND);
    sluice_mail_set("");
    return SLUICE_CONTINUE;
}

/* A Subject with a 1,500-byte line, prefixed: the mock folds it as the host
 * does (sdk/ABI.md §4.4), no plugin error. */
static int32_t data_prefix_long(void) {
    static char v[2048];
    int32_t n = sluice_header_value(0, v + 6, (int32_t)sizeof v - 7);
    SLUICE_EXPECT(n > 0 && n < (int32_t)sizeof v - 7);
    memcpy(v, "[EXT] ", 6);
    v[6 + n] = '\0';
    SLUICE_EXPECT_INT(sluice_header_change(0, v), 0);
    return SLUICE_CONTINUE;
}

static void test_header_folding(void) {
    static char in[2048], want[2048];
    char words[1500];
    for (int i = 0; i < 1499; i++)
        words[i] = i % 5 == 4 ? ' ' : 'w'; /* "wwww wwww ... wwww", 1499 bytes */
    words[1499] = '\0';
    snprintf(in, sizeof in, "Subject: %s\r\n\r\nbody\r\n", words);
    /* "Subject: [EXT] " is 15 bytes: the last space within 998 is words[979]. */
    snprintf(want, sizeof want, "Subject: [EXT] %.979s\r\n%s\r\n\r\nbody\r\n", words, words + 979);
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_envelope(m, "alice@example.org", "bob@example.net", NULL);
    SLUICE_EXPECT_INT(sluice_mock_set_message(m, in), 0);
    sluice_mock_result r = sluice_mock_data(m, data_prefix_long);
    SLUICE_EXPECT(r.called && !r.error);
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL), want);
    sluice_mock_free(m);
}

static void test_message_changes(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_envelope(m, "alice@example.org", "bob@example.net", NULL);
    SLUICE_EXPECT_INT(sluice_mock_set_message(m, "Subject: one\nX-Fold: a\n\tb c\nsubject:two\n\nline 1\n.dot\n"), 0);
    sluice_mock_result r = sluice_mock_data(m, data_rewrite);
    SLUICE_EXPECT(r.called && !r.error);
    SLUICE_EXPECT_STR(r.reason, "");
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL),
                      "X-Top: 1\r\nX-Fold: a\r\n\tb c\r\nX-End: 2\r\n\r\nline 1\r\n.dot\r\n--\r\nfooter\r\n");
    SLUICE_EXPECT_STR(sluice_mock_mail_from(m), "");
    SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 1);
    SLUICE_EXPECT_STR(sluice_mock_rcpt_at(m, 0), "new@example.org");
    SLUICE_EXPECT_INT(sluice_mock_set_message(m, "no colon here\n\nbody\n"), -1);
    sluice_mock_free(m);
}

static int32_t data_find(void) {
    char buf[8];
    /* body: "0123456789\r\nBUY NOW\r\n" */
    SLUICE_EXPECT_INT(sluice_body_find("BUY NOW", buf, sizeof buf), 12); /* spans chunks */
    SLUICE_EXPECT_INT(sluice_body_find("0123", buf, sizeof buf), 0);
    SLUICE_EXPECT_INT(sluice_body_find("789\r\nB", buf, sizeof buf), 7);
    SLUICE_EXPECT_INT(sluice_body_find("NOW\r\n", buf, sizeof buf), 16);
    SLUICE_EXPECT_INT(sluice_body_find("buy now", buf, sizeof buf), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_body_find("W\r\nx", buf, sizeof buf), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_body_find("", buf, sizeof buf), 0);
    SLUICE_EXPECT_INT(sluice_body_find("12345678", buf, sizeof buf), SLUICE_TOO_LONG);
    char big[64];
    SLUICE_EXPECT_INT(sluice_body_find("BUY NOW", big, sizeof big), 12);
    return SLUICE_CONTINUE;
}

static void test_body_find(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    sluice_mock_set_message(m, "Subject: x\n\n0123456789\nBUY NOW\n");
    SLUICE_EXPECT(!sluice_mock_data(m, data_find).error);
    sluice_mock_free(m);
}

/* Misuse ends the call and rolls back everything it changed. */
static int32_t data_then_bad_header(void) {
    sluice_header_add("X-Good", "1");
    sluice_tag_set("seen", "yes");
    sluice_header_add("X-Bad", "a\nb");
    SLUICE_EXPECT(0); /* not reached */
    return SLUICE_CONTINUE;
}
static int32_t data_then_trap(void) {
    sluice_body_replace("gone\r\n");
    sluice_trap();
}
static int32_t data_bad_body(void) {
    sluice_body_replace("bare\nLF");
    return SLUICE_CONTINUE;
}
static int32_t data_remove_all(void) {
    sluice_rcpt_remove("bob@example.net");
    return SLUICE_CONTINUE;
}
static int32_t bad_verdict(void) { return 6; }
static int32_t mismatch(void) {
    sluice_set_reply(451, "4.7.1", "wrong class");
    return SLUICE_REJECT;
}
static int32_t bad_enh(void) { return sluice_reject(550, "4.7.1", "class differs"); }
static int32_t long_name(void) {
    char name[78];
    memset(name, 'N', 77);
    sluice_header_add_n(name, 77, "v", 1);
    return SLUICE_CONTINUE;
}
static int32_t header_in_mail(void) {
    sluice_header_add("X-Too-Early", "1");
    return SLUICE_CONTINUE;
}
static int32_t bad_tag_key(void) {
    sluice_tag_set("no spaces", "x");
    return SLUICE_CONTINUE;
}
static int32_t rcpt_add_in_mail(void) {
    sluice_rcpt_add("x@example.com");
    return SLUICE_CONTINUE;
}
static int32_t bad_address(void) {
    sluice_mail_set("<a@b>");
    return SLUICE_CONTINUE;
}

static void expect_error(sluice_mock *m, int phase, sluice_mock_fn fn, const char *reason_part) {
    sluice_mock_result r = sluice_mock_run(m, phase, fn);
    SLUICE_EXPECT(r.called && r.error);
    if (strstr(r.reason, reason_part) == NULL)
        SLUICE_EXPECT_STR(r.reason, reason_part);
    SLUICE_EXPECT_INT(r.reply_code, 0);
}

static void test_plugin_errors(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_envelope(m, "alice@example.org", "bob@example.net", NULL);
    sluice_mock_set_message(m, "Subject: x\n\nbody\n");
    const char *before = "Subject: x\r\n\r\nbody\r\n";

    expect_error(m, SLUICE_MOCK_DATA, data_then_bad_header, "header_add: header value contains CR or LF");
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL), before);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "seen"), NULL);
    expect_error(m, SLUICE_MOCK_DATA, data_then_trap, "trap");
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL), before);
    expect_error(m, SLUICE_MOCK_DATA, data_bad_body, "the new body is invalid: body contains a bare LF");
    expect_error(m, SLUICE_MOCK_DATA, data_remove_all, "removed every recipient");
    SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 1);
    expect_error(m, SLUICE_MOCK_DATA, bad_verdict, "returned 6, which is not a verdict");
    expect_error(m, SLUICE_MOCK_MAIL, mismatch, "reject verdict with a non-5xx reply");
    expect_error(m, SLUICE_MOCK_MAIL, bad_enh, "enhanced status code");
    expect_error(m, SLUICE_MOCK_DATA, long_name, "header name must be 1 to 76 bytes");
    expect_error(m, SLUICE_MOCK_MAIL, header_in_mail, "header_add: not allowed");
    expect_error(m, SLUICE_MOCK_RCPT, bad_tag_key, "tag key");
    expect_error(m, SLUICE_MOCK_MAIL, rcpt_add_in_mail, "rcpt_add: not allowed");
    expect_error(m, SLUICE_MOCK_MAIL, bad_address, "angle bracket");
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL), before);
    sluice_mock_free(m);
}

/* ---- phases, info, tags, configure ---- */

static int32_t tag_phase(void) {
    char phase[16];
    sluice_info_str(SLUICE_INFO_PHASE, phase, sizeof phase);
    sluice_tag_set(phase, "1");
    return SLUICE_CONTINUE;
}

static int32_t mail_info(void) {
    char v[64];
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_MAIL_FROM, v, sizeof v), 0); /* null sender */
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_HELO, v, sizeof v), 11);
    SLUICE_EXPECT_STR(v, "client.test");
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_RCPT, v, sizeof v), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_TLS, v, sizeof v), 6);
    SLUICE_EXPECT_STR(v, "TLS1.3");
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_CLIENT_IP, v, 5), SLUICE_TOO_LONG);
    v[0] = '#';
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_CLIENT_IP, v, 0), SLUICE_TOO_LONG);
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_RCPT, v, 0), SLUICE_NOT_FOUND);
    SLUICE_EXPECT(v[0] == '#'); /* size 0: nothing written */
    SLUICE_EXPECT_INT(sluice_info(SLUICE_INFO_CLIENT_IP, NULL, 0), 9); /* the length only */
    SLUICE_EXPECT_INT(sluice_tag_get_str("connect", v, sizeof v), 1);
    SLUICE_EXPECT_INT(sluice_header_count(), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_body_size(), SLUICE_NOT_FOUND);
    return sluice_tempfail(452, "4.5.3", "Too many recipients");
}

static int32_t configure_reads(void) {
    char v[64];
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_PLUGIN_NAME, v, sizeof v), 4);
    SLUICE_EXPECT_INT(sluice_info_str(SLUICE_INFO_CLIENT_IP, v, sizeof v), SLUICE_NOT_FOUND);
    SLUICE_EXPECT_INT(sluice_rcpt_count(), SLUICE_NOT_FOUND);
    int32_t len;
    const char *cfg = sluice_config_load(&len);
    SLUICE_EXPECT(cfg != NULL && len == 6000);
    sluice_log_info("configured");
    return 0;
}
static int32_t configure_tag(void) {
    sluice_tag_set("x", "y");
    return 0;
}
static int32_t configure_refuse(void) {
    sluice_log_error("nope");
    return 1;
}

static void test_session(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_info(m, SLUICE_INFO_TLS, "TLS1.3");
    static char cfg[6001];
    memset(cfg, ' ', 6000);
    cfg[0] = '{';
    cfg[5999] = '}';
    sluice_mock_set_config(m, cfg);
    sluice_mock_result r = sluice_mock_configure(m, configure_reads);
    SLUICE_EXPECT(r.called && !r.error && r.verdict == 0);
    SLUICE_EXPECT_INT(sluice_mock_log_count(m), 1);
    SLUICE_EXPECT_STR(sluice_mock_log_text(m, 0), "configured");
    SLUICE_EXPECT_INT(sluice_mock_log_level(m, 0), SLUICE_LOG_INFO);
    expect_error(m, SLUICE_MOCK_CONFIGURE, configure_tag, "tag_set: not allowed");
    expect_error(m, SLUICE_MOCK_CONFIGURE, configure_refuse, "returned 1");

    SLUICE_EXPECT(!sluice_mock_connect(m, tag_phase).error);
    SLUICE_EXPECT(!sluice_mock_helo(m, tag_phase, "client.test").error);
    SLUICE_EXPECT(!sluice_mock_mail(m, tag_phase, "a@example.org").error);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "connect"), "1");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "mail"), "1");
    /* a new transaction drops transaction tags, keeps session tags */
    r = sluice_mock_mail(m, mail_info, "");
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_TEMPFAIL);
    SLUICE_EXPECT_INT(r.reply_code, 452);
    SLUICE_EXPECT_STR(r.reply_enh, "4.5.3");
    SLUICE_EXPECT_STR(r.reply_text, "Too many recipients");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "mail"), NULL);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "helo"), "1");

    r = sluice_mock_rcpt(m, NULL, "x@example.net"); /* not exported: not called */
    SLUICE_EXPECT(!r.called && r.verdict == SLUICE_CONTINUE);
    SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 1);
    sluice_mock_free(m);
}

/* Quarantine passes its reason as the reply text, for X-Sluice-Quarantine,
 * and logs nothing: the same behaviour in every SDK (sdk/ABI.md §2.1). */
static int32_t data_quarantine(void) { return sluice_quarantine("looks odd"); }

static void test_quarantine(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    sluice_mock_set_message(m, "Subject: x\n\nbody\n");
    sluice_mock_result r = sluice_mock_data(m, data_quarantine);
    SLUICE_EXPECT(r.called && !r.error && r.verdict == SLUICE_QUARANTINE);
    SLUICE_EXPECT_INT(r.reply_code, 550);
    SLUICE_EXPECT_STR(r.reply_enh, "5.7.1");
    SLUICE_EXPECT_STR(r.reply_text, "looks odd");
    SLUICE_EXPECT_INT(sluice_mock_log_count(m), 0);
    sluice_mock_free(m);
}

int main(void) {
    test_strings();
    test_quarantine();
    test_json();
    test_message_changes();
    test_header_folding();
    test_body_find();
    test_plugin_errors();
    test_session();
    return sluice_mock_done();
}
