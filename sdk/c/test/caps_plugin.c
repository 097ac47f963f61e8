/*
 * A plugin that calls every capability helper of sluice_caps.h, built for
 * wasm by test.sh to check that the header compiles there and that only a
 * module calling these helpers imports the capability functions. Not an
 * example to copy.
 */
#include "sluice.h"
#include "sluice_caps.h"

int32_t sluice_on_data(void) {
    static char buf[1024];
    static sluice_dkim_key keys[4];
    char reason[SLUICE_MAX_DKIM_REASON + 1];
    if (sluice_kv_incr("n", 1, 60000) > 100)
        return SLUICE_TEMPFAIL;
    if (sluice_kv_get_str("k", buf, sizeof buf) == SLUICE_NOT_FOUND)
        sluice_kv_set("k", "v", 0);
    sluice_kv_delete("old");
    int32_t n = sluice_dns_lookup("TXT", "example.org", buf, sizeof buf);
    if (n == SLUICE_TEMPERROR)
        return SLUICE_TEMPFAIL;
    if (sluice_auth_check(SLUICE_AUTH_DMARC) && sluice_auth_is("dmarc.result", "fail"))
        return SLUICE_REJECT;
    if (sluice_dkim_keys(buf, sizeof buf, keys, 4) > 0 &&
        sluice_dkim_sign(keys[0].name, NULL, reason, sizeof reason) == SLUICE_REFUSED)
        sluice_log_warn(reason);
    if (sluice_scan("spam") == SLUICE_TEMPERROR)
        return SLUICE_TEMPFAIL;
    if (sluice_scan_is("action", "reject"))
        return SLUICE_REJECT;
    return SLUICE_CONTINUE;
}
