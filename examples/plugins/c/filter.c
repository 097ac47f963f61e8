/*
 * The C example filter (sdk/CONFORMANCE.md §1): at data it adds
 * X-Example-Lang and X-Example-Greeting (from the config key "greeting",
 * "hello" if absent); at rcpt it rejects the local part "blocked".
 *
 * Build: ./build.sh filter.wasm   (clang + wasi-libc, reactor)
 * Test:  ./test.sh                 (natively, against the mock host)
 */
#include "sluice.h"

/* The greeting, set by sluice_configure. Configuration is the only state a
 * plugin may keep in globals: it is the same for every call of an instance. */
static const char *greeting = "hello";
static char greeting_buf[512];

int32_t sluice_configure(void) {
    greeting = "hello"; /* the default */
    int32_t len;
    const char *cfg = sluice_config_load(&len);
    if (cfg == NULL) {
        sluice_log_error("out of memory reading the configuration");
        return 1;
    }
    int32_t n = sluice_json_string_str(cfg, (size_t)len, "greeting", greeting_buf, sizeof greeting_buf);
    if (n == SLUICE_NOT_FOUND)
        return 0; /* keep "hello" */
    if (n == SLUICE_TOO_LONG) {
        sluice_log_error("greeting: at most 511 bytes");
        return 1;
    }
    if (n < 0) {
        sluice_log_error("greeting: must be a string");
        return 1;
    }
    greeting = greeting_buf;
    return 0;
}

int32_t sluice_on_data(void) {
    sluice_header_add("X-Example-Lang", "c");
    sluice_header_add("X-Example-Greeting", greeting);
    return SLUICE_CONTINUE;
}

int32_t sluice_on_rcpt(void) {
    char rcpt[SLUICE_MAX_ADDRESS + 1];
    int32_t n = sluice_info(SLUICE_INFO_RCPT, rcpt, (int32_t)sizeof rcpt);
    if (n < 0 || n > (int32_t)sizeof rcpt)
        return SLUICE_CONTINUE;
    size_t local = sluice_local_part(rcpt, (size_t)n);
    if (sluice_equal(rcpt, local, "blocked", 7))
        return sluice_reject(550, "5.7.1", "Recipient blocked by the c example");
    return SLUICE_CONTINUE;
}
