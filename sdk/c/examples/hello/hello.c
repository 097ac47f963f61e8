/*
 * hello: the plugin the C SDK tutorial (sdk/c/README.md) builds.
 *   - config: header (the X-Hello value, default "world"), deny (a sender);
 *   - mail: rejects the denied sender with its own reply;
 *   - data: tags the subject, adds X-Hello, quarantines "BUY NOW" bodies.
 */
#include "sluice.h"

/* What sluice_configure parsed: the only state kept between calls. */
static const char *header;
static char header_buf[256];
static char deny[SLUICE_MAX_ADDRESS + 1];

int32_t sluice_configure(void) {
    header = "world"; /* the default */
    int32_t len;
    const char *cfg = sluice_config_load(&len);
    if (cfg == NULL)
        return 1;

    int32_t n = sluice_json_string_str(cfg, (size_t)len, "header", header_buf, sizeof header_buf);
    if (n >= 0) {
        header = header_buf;
    } else if (n != SLUICE_NOT_FOUND) {
        sluice_log_error("header: must be a string of at most 255 bytes");
        return 1;
    }
    for (int32_t i = 0; i < n; i++) {
        if (header_buf[i] == '\r' || header_buf[i] == '\n') {
            sluice_log_error("header: must not contain CR or LF");
            return 1;
        }
    }

    n = sluice_json_string_str(cfg, (size_t)len, "deny", deny, sizeof deny);
    if (n < 0 && n != SLUICE_NOT_FOUND) {
        sluice_log_error("deny: must be an address");
        return 1;
    }
    return 0;
}

int32_t sluice_on_mail(void) {
    char from[SLUICE_MAX_ADDRESS + 1];
    int32_t n = sluice_info_str(SLUICE_INFO_MAIL_FROM, from, sizeof from);
    if (n > 0 && deny[0] != '\0' && sluice_equal_fold(from, (size_t)n, deny, sluice_strlen(deny)))
        return sluice_reject(550, "5.7.1", "Sender not welcome here");
    return SLUICE_CONTINUE;
}

int32_t sluice_on_data(void) {
    /* Prefix the subject unless it is already tagged. The value is read
     * right after the prefix, so the new value is already in place. */
    static char subject[1024] = "[EXT] ";
    char *value = subject + 6;
    int32_t cap = (int32_t)sizeof subject - 6;
    int32_t i = sluice_header_find("Subject", 0);
    if (i >= 0) {
        int32_t n = sluice_header_value(i, value, cap);
        if (n >= 0 && n <= cap && !sluice_has_prefix(value, (size_t)n, "[EXT] "))
            sluice_header_change_n(i, subject, (size_t)n + 6);
    }
    sluice_header_add("X-Hello", header);

    /* Quarantine a shouting sales pitch, wherever it is in the body. */
    static char chunk[16384];
    if (sluice_body_find("BUY NOW", chunk, sizeof chunk) >= 0)
        return sluice_quarantine("shouting sales pitch");
    return SLUICE_CONTINUE;
}
