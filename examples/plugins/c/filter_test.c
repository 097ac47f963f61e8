/*
 * Native tests of the example filter against the mock host. Run ./test.sh,
 * which compiles:
 *   cc -DSLUICE_MOCK -I../../../sdk/c filter.c filter_test.c ../../../sdk/c/sluice_mock.c
 */
#include "sluice.h"
#include "sluice_mock.h"

/* data adds the two fields at the end, with the configured greeting. */
static void test_data(const char *config, const char *greeting) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_config(m, config);
    sluice_mock_result r = sluice_mock_configure(m, sluice_configure);
    SLUICE_EXPECT(!r.error && r.verdict == 0);

    sluice_mock_set_envelope(m, "alice@example.org", "bob@example.net", NULL);
    sluice_mock_set_message(m, "Subject: hi\n\nHello\n");
    r = sluice_mock_data(m, sluice_on_data);
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_CONTINUE);
    SLUICE_EXPECT_INT(sluice_mock_header_count(m), 3);
    SLUICE_EXPECT_STR(sluice_mock_header_name_at(m, 1), "X-Example-Lang");
    SLUICE_EXPECT_STR(sluice_mock_header_value_at(m, 1), "c");
    SLUICE_EXPECT_STR(sluice_mock_header_name_at(m, 2), "X-Example-Greeting");
    SLUICE_EXPECT_STR(sluice_mock_header_value_at(m, 2), greeting);
    SLUICE_EXPECT_STR(sluice_mock_body(m, NULL), "Hello\r\n");
    sluice_mock_free(m);
}

/* A greeting that is not a short string refuses the configuration. */
static void test_bad_config(const char *config) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_config(m, config);
    sluice_mock_result r = sluice_mock_configure(m, sluice_configure);
    SLUICE_EXPECT(r.error && r.verdict == 1);
    SLUICE_EXPECT_INT(sluice_mock_log_count(m), 1);
    SLUICE_EXPECT_INT(sluice_mock_log_level(m, 0), SLUICE_LOG_ERROR);
    sluice_mock_free(m);
}

/* rcpt rejects exactly the local part "blocked". */
static void test_rcpt(const char *to, int32_t verdict) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_mail(m, NULL, "alice@example.org");
    sluice_mock_result r = sluice_mock_rcpt(m, sluice_on_rcpt, to);
    SLUICE_EXPECT(!r.error);
    SLUICE_EXPECT_INT(r.verdict, verdict);
    if (verdict == SLUICE_REJECT) {
        SLUICE_EXPECT_INT(r.reply_code, 550);
        SLUICE_EXPECT_STR(r.reply_enh, "5.7.1");
        SLUICE_EXPECT_STR(r.reply_text, "Recipient blocked by the c example");
        SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 0);
    } else {
        SLUICE_EXPECT_INT(r.reply_code, 0);
        SLUICE_EXPECT_INT(sluice_mock_rcpt_count(m), 1);
    }
    sluice_mock_free(m);
}

int main(void) {
    test_data("{}", "hello");
    test_data("{\"greeting\": \"hi there\", \"other\": {\"greeting\": \"no\"}}", "hi there");
    test_data("{\"other\": [\"greeting\"]}", "hello");
    test_bad_config("{\"greeting\": 5}");
    test_bad_config("{\"greeting\": {\"text\": \"hi\"}}");
    {
        char big[600] = "{\"greeting\": \"";
        size_t n = sluice_strlen(big);
        while (n < 590)
            big[n++] = 'x';
        big[n++] = '"';
        big[n++] = '}';
        big[n] = '\0';
        test_bad_config(big);
    }
    test_rcpt("blocked@example.net", SLUICE_REJECT);
    test_rcpt("blocked@sub@example.net", SLUICE_CONTINUE); /* local part "blocked@sub" */
    test_rcpt("Blocked@example.net", SLUICE_CONTINUE);     /* exact bytes */
    test_rcpt("notblocked@example.net", SLUICE_CONTINUE);
    test_rcpt("bob@blocked", SLUICE_CONTINUE);
    return sluice_mock_done();
}
