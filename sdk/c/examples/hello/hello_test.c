/*
 * Unit tests of hello.c against the mock host:
 *   cc -DSLUICE_MOCK -I../.. -o hello_test hello.c hello_test.c ../../sluice_mock.c && ./hello_test
 */
#include "sluice.h"
#include "sluice_mock.h"

int main(void) {
    sluice_mock *m = sluice_mock_new();
    sluice_mock_set_config(m, "{\"header\": \"hi\", \"deny\": \"bad@example.com\"}");
    sluice_mock_result r = sluice_mock_configure(m, sluice_configure);
    SLUICE_EXPECT(!r.error);

    /* MAIL: the denied sender gets our reply, in any case. */
    r = sluice_mock_mail(m, sluice_on_mail, "BAD@example.com");
    SLUICE_EXPECT_INT(r.verdict, SLUICE_REJECT);
    SLUICE_EXPECT_INT(r.reply_code, 550);
    SLUICE_EXPECT_STR(r.reply_text, "Sender not welcome here");

    /* DATA: "\n" becomes CRLF; the subject is tagged once, X-Hello added. */
    sluice_mock_set_envelope(m, "alice@example.org", "bob@example.net", NULL);
    sluice_mock_set_message(m, "Subject: test\n\nHello\n");
    r = sluice_mock_data(m, sluice_on_data);
    SLUICE_EXPECT(!r.error && r.verdict == SLUICE_CONTINUE);
    SLUICE_EXPECT_STR(sluice_mock_header(m, "Subject", 0), "[EXT] test");
    SLUICE_EXPECT_STR(sluice_mock_header(m, "X-Hello", 0), "hi");
    r = sluice_mock_data(m, sluice_on_data);
    SLUICE_EXPECT_STR(sluice_mock_header(m, "Subject", 0), "[EXT] test");

    /* A sales pitch is quarantined, with the reason. */
    sluice_mock_set_message(m, "Subject: offer\n\nplease\nBUY NOW\n");
    r = sluice_mock_data(m, sluice_on_data);
    SLUICE_EXPECT_INT(r.verdict, SLUICE_QUARANTINE);
    SLUICE_EXPECT_STR(r.reply_text, "shouting sales pitch");

    /* A typo'd type refuses the configuration. */
    sluice_mock_set_config(m, "{\"header\": 42}");
    r = sluice_mock_configure(m, sluice_configure);
    SLUICE_EXPECT(r.error);
    SLUICE_EXPECT_STR(sluice_mock_log_text(m, 0), "header: must be a string of at most 255 bytes");

    sluice_mock_free(m);
    return sluice_mock_done();
}
