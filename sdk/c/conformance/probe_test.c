/*
 * Native tests of the probe against the mock host; the Go conformance suite
 * runs the same plugin compiled to wasm through the real host. The expected
 * hashes were computed independently (FNV-1a 32 over the bytes named in
 * sdk/CONFORMANCE.md §2). Run ../test.sh.
 */
#include "sluice.h"
#include "sluice_mock.h"

#include <string.h>

static const char message[] =
    "Subject: one\r\n"
    "X-Probe-Delete: x\r\n"
    "X-8bit: caf\xe9\r\n"
    "X-Probe-Change: y\r\n"
    "X-Fold: a\r\n\tb\r\n"
    "subject: two\r\n"
    "X-Probe-Body: 1\r\n"
    "\r\n"
    "Hello\r\nworld\r\n";

static void test_session(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_config(m, "{\"greeting\":\"hi\",\"nested\":{\"a\":[1,2,\"x\"]}}");
    SLUICE_EXPECT(!sluice_mock_configure(m, sluice_configure).error);
    SLUICE_EXPECT(!sluice_mock_connect(m, sluice_on_connect).error);
    SLUICE_EXPECT(!sluice_mock_helo(m, sluice_on_helo, "client.example.com").error);
    SLUICE_EXPECT(!sluice_mock_mail(m, sluice_on_mail, "sender@example.com").error);
    sluice_mock_result r = sluice_mock_rcpt(m, sluice_on_rcpt, "a@example.net");
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_CONTINUE);
    r = sluice_mock_rcpt(m, sluice_on_rcpt, "blocked@example.net");
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_REJECT);
    SLUICE_EXPECT_STR(r.reply_text, "probe blocked");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.rcpt.count"), "1");
    r = sluice_mock_rcpt(m, sluice_on_rcpt, "b@example.net");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.rcpt.count"), "1");
    SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 2);

    SLUICE_EXPECT_INT(sluice_mock_set_message_n(m, message, sizeof message - 1), 0);
    r = sluice_mock_data(m, sluice_on_data);
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_CONTINUE);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.connect"), "192.0.2.1");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.helo"), "client.example.com");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.mail"), "sender@example.com");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.headers"), "ae05b370");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.header.count"), "7");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.subject2"), "two");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.body.len"), "14");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.body.sum"), "5af6bd6b");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.config.len"), "42");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.config.sum"), "e2b35a00");
    SLUICE_EXPECT_STR(sluice_mock_message(m, NULL),
                      "X-Probe-Top: 1\r\n"
                      "Subject: one\r\n"
                      "X-8bit: caf\xe9\r\n"
                      "X-Probe-Change: changed\r\n"
                      "X-Fold: a\r\n\tb\r\n"
                      "subject: two\r\n"
                      "X-Probe-Body: 1\r\n"
                      "X-Probe: c\r\n"
                      "\r\n"
                      "replaced\r\nappended\r\n");
    sluice_mock_free(m);
}

/* A body far larger than the 64 KiB chunk buffer, and a header value larger
 * than the scratch buffer, hash as one. */
static void test_large(void) {
    static char body[200000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' : (char)('a' + i % 26);
    static char value[100001];
    memset(value, 'v', 100000);
    uint32_t h = 2166136261u, b = 2166136261u;
    const char *parts[] = {"X-Big", ":", value, "\n"};
    for (int p = 0; p < 4; p++)
        for (const char *c = parts[p]; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
    for (size_t i = 0; i < sizeof body; i++)
        b = (b ^ (unsigned char)body[i]) * 16777619u;
    char want_h[9], want_b[9];
    sluice_fmt_hex32(want_h, h);
    sluice_fmt_hex32(want_b, b);
    want_h[8] = want_b[8] = '\0';

    sluice_mock *m = sluice_mock_new();
    SLUICE_EXPECT(!sluice_mock_configure(m, sluice_configure).error);
    sluice_mock_set_envelope(m, "a@example.org", "b@example.net", NULL);
    /* The mock's parser takes one long line; the gateway would want folding. */
    static char raw[100100 + sizeof body];
    size_t n = 0;
    memcpy(raw, "X-Big: ", 7);
    n = 7;
    memcpy(raw + n, value, 100000);
    n += 100000;
    memcpy(raw + n, "\r\n\r\n", 4);
    n += 4;
    memcpy(raw + n, body, sizeof body);
    n += sizeof body;
    SLUICE_EXPECT_INT(sluice_mock_set_message_n(m, raw, n), 0);
    SLUICE_EXPECT(!sluice_mock_data(m, sluice_on_data).error);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.headers"), want_h);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.body.len"), "200000");
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.body.sum"), want_b);
    SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.config.len"), "2");
    sluice_mock_free(m);
}

static void test_mail(const char *from, int32_t verdict, int error, const char *reply) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_result r = sluice_mock_mail(m, sluice_on_mail, from);
    SLUICE_EXPECT_INT(r.error, error);
    if (!error) {
        SLUICE_EXPECT_INT(r.verdict, verdict);
        SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.mail"), from);
        SLUICE_EXPECT_STR(r.reply_code ? r.reply_text : NULL, reply);
    } else {
        SLUICE_EXPECT_STR(sluice_mock_tag(m, "probe.mail"), NULL); /* rolled back */
    }
    sluice_mock_free(m);
}

int main(void) {
    test_session();
    test_large();
    test_mail("reject@example.com", SLUICE_REJECT, 0, "probe reject");
    test_mail("tempfail@example.com", SLUICE_TEMPFAIL, 0, "probe tempfail");
    test_mail("accept@example.com", SLUICE_ACCEPT, 0, NULL);
    test_mail("discard@example.com", SLUICE_DISCARD, 0, NULL);
    test_mail("quarantine@example.com", SLUICE_QUARANTINE, 0, "probe quarantine");
    test_mail("badverdict@example.com", 0, 1, NULL);
    test_mail("badreply@example.com", 0, 1, NULL);
    test_mail("crlfreply@example.com", 0, 1, NULL);
    test_mail("mismatch@example.com", 0, 1, NULL);
    test_mail("trap@example.com", 0, 1, NULL);
    test_mail("other@example.com", SLUICE_CONTINUE, 0, NULL);
    test_mail("reject@sub@example.com", SLUICE_CONTINUE, 0, NULL);
    test_mail("", SLUICE_CONTINUE, 0, NULL);
    return sluice_mock_done();
}
