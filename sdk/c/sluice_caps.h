/*
 * sluice_caps.h: the capability host functions of plugin ABI version 1
 * (sdk/ABI.md §4.8 to §4.11): the key/value store, DNS lookups, DKIM signing
 * and message authentication.
 *
 *     #include "sluice.h"
 *     #include "sluice_caps.h"
 *
 * Each needs a grant in the plugin's policy block: grants = ["kv"] for the
 * store, ["dns"] for dns_lookup and auth_check, ["dkim:NAME"] for signing
 * with key NAME. The gateway refuses at load a module that imports one of
 * these functions without its grant. A module imports only what it calls:
 * every helper here is static inline, so a plugin that never calls one emits
 * no import for it and needs no grant.
 *
 * Results follow sluice.h: the (buf, cap) protocol for values, negative
 * SLUICE_* errors. SLUICE_TEMPERROR and SLUICE_REFUSED are host results of
 * these functions only.
 */
#ifndef SLUICE_CAPS_H
#define SLUICE_CAPS_H

#include "sluice.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks for sluice_auth_check, OR-ed together (ABI.md §4.11). */
#define SLUICE_AUTH_SPF 1   /* from phase mail */
#define SLUICE_AUTH_DKIM 2  /* phase data only */
#define SLUICE_AUTH_DMARC 4 /* phase data only; implies SPF and DKIM */

/* The longest reason dkim_sign writes (ABI.md §4.10). */
#define SLUICE_MAX_DKIM_REASON 256

/* The raw capability imports, exact i32 signatures (ABI.md §4.8-§4.11). */
SLUICE_IMPORT("kv_get") int32_t sluice_raw_kv_get(const void *key, int32_t key_len, void *buf, int32_t cap);
SLUICE_IMPORT("kv_set") int32_t sluice_raw_kv_set(const void *key, int32_t key_len, const void *val, int32_t val_len, int32_t ttl_ms);
SLUICE_IMPORT("kv_incr") int32_t sluice_raw_kv_incr(const void *key, int32_t key_len, int32_t delta, int32_t ttl_ms);
SLUICE_IMPORT("kv_delete") int32_t sluice_raw_kv_delete(const void *key, int32_t key_len);
SLUICE_IMPORT("dns_lookup") int32_t sluice_raw_dns_lookup(const void *qtype, int32_t qtype_len, const void *name, int32_t name_len, void *buf, int32_t cap);
SLUICE_IMPORT("dkim_sign") int32_t sluice_raw_dkim_sign(const void *name, int32_t name_len, const void *opts, int32_t opts_len, void *buf, int32_t cap);
SLUICE_IMPORT("auth_check") int32_t sluice_raw_auth_check(int32_t checks, void *buf, int32_t cap);
SLUICE_IMPORT("auth_value") int32_t sluice_raw_auth_value(const void *key, int32_t key_len, void *buf, int32_t cap);
SLUICE_IMPORT("scan") int32_t sluice_raw_scan(const void *name, int32_t name_len, void *buf, int32_t cap);
SLUICE_IMPORT("scan_value") int32_t sluice_raw_scan_value(const void *key, int32_t key_len, void *buf, int32_t cap);

/* ------------------------------------------------------------------------ */
/* Key/value store (ABI.md §4.8, grant "kv")                                 */
/* ------------------------------------------------------------------------ */
/*
 * One store per plugin name, shared by all its instances and kept across
 * reloads. Keys are 1 to 256 bytes, values at most 64 KiB. ttl_ms is the
 * key's lifetime in milliseconds, 0 for none; a negative ttl traps. Every
 * phase, sluice_configure and _initialize may use it. Writes take effect at
 * once and are not undone when the call later fails.
 */

/* Every sluice_kv_* function returns SLUICE_TEMPERROR when the store could
 * not answer (a shared Redis that is down or slow, ABI.md §4.8): nothing is
 * known then, and the plugin decides whether to tempfail or go on.
 *
 * sluice_kv_get returns the value of key with the (buf, cap) protocol, or
 * SLUICE_NOT_FOUND if absent or expired, or SLUICE_TEMPERROR. */
SLUICE_INLINE int32_t sluice_kv_get_n(const char *key, size_t klen, char *buf, int32_t cap) {
    return sluice_raw_kv_get(key, (int32_t)klen, buf, cap);
}
SLUICE_INLINE int32_t sluice_kv_get(const char *key, char *buf, int32_t cap) {
    return sluice_kv_get_n(key, sluice_strlen(key), buf, cap);
}
SLUICE_INLINE int32_t sluice_kv_get_str(const char *key, char *buf, size_t size) {
    return sluice__str(sluice_kv_get(key, buf, sluice__cap(size)), buf, size);
}

/* sluice_kv_set stores val under key for ttl_ms, replacing any value and
 * lifetime: 0, or SLUICE_QUOTA when that would take the plugin's store past
 * its kv_quota (nothing was written; ABI.md §4.8). */
SLUICE_INLINE int32_t sluice_kv_set_n(const char *key, size_t klen, const void *val, size_t vlen, int32_t ttl_ms) {
    return sluice_raw_kv_set(key, (int32_t)klen, val, (int32_t)vlen, ttl_ms);
}
SLUICE_INLINE int32_t sluice_kv_set(const char *key, const char *val, int32_t ttl_ms) {
    return sluice_kv_set_n(key, sluice_strlen(key), val, sluice_strlen(val), ttl_ms);
}

/* sluice_kv_incr atomically adds delta to the decimal counter under key and
 * returns the new value, saturated to the int32_t range. A missing key
 * starts at 0 and lives ttl_ms; an existing key keeps its lifetime (a fixed
 * window). A value that is not a decimal integer counts as 0. Creating the
 * key past the quota returns SLUICE_QUOTA and creates nothing; since a
 * counter can be -4 too, after SLUICE_QUOTA the key exists (sluice_kv_get)
 * if and only if it was counted; likewise after SLUICE_TEMPERROR (-2),
 * sluice_kv_get returns the value if and only if it was counted. */
SLUICE_INLINE int32_t sluice_kv_incr_n(const char *key, size_t klen, int32_t delta, int32_t ttl_ms) {
    return sluice_raw_kv_incr(key, (int32_t)klen, delta, ttl_ms);
}
SLUICE_INLINE int32_t sluice_kv_incr(const char *key, int32_t delta, int32_t ttl_ms) {
    return sluice_kv_incr_n(key, sluice_strlen(key), delta, ttl_ms);
}

/* sluice_kv_delete removes key: 0, or SLUICE_NOT_FOUND if it was absent. */
SLUICE_INLINE int32_t sluice_kv_delete_n(const char *key, size_t klen) {
    return sluice_raw_kv_delete(key, (int32_t)klen);
}
SLUICE_INLINE int32_t sluice_kv_delete(const char *key) { return sluice_kv_delete_n(key, sluice_strlen(key)); }

/* ------------------------------------------------------------------------ */
/* DNS lookups (ABI.md §4.9, grant "dns")                                    */
/* ------------------------------------------------------------------------ */

/* sluice_dns_lookup looks up the records of type qtype ("A", "AAAA", "TXT",
 * "MX", "PTR", "NS", "CNAME"; any other traps) for name through the
 * gateway's resolver and returns them joined by '\n' with the (buf, cap)
 * protocol; SLUICE_NOT_FOUND when the name or the type does not exist;
 * SLUICE_TEMPERROR on a timeout or server failure (answer 4xx, not 5xx).
 * Split the result with sluice_record_next. The lookup runs under the
 * hook's timeout. */
SLUICE_INLINE int32_t sluice_dns_lookup_n(const char *qtype, const char *name, size_t nlen, char *buf, int32_t cap) {
    return sluice_raw_dns_lookup(qtype, (int32_t)sluice_strlen(qtype), name, (int32_t)nlen, buf, cap);
}
SLUICE_INLINE int32_t sluice_dns_lookup(const char *qtype, const char *name, char *buf, int32_t cap) {
    return sluice_dns_lookup_n(qtype, name, sluice_strlen(name), buf, cap);
}
SLUICE_INLINE int32_t sluice_dns_lookup_str(const char *qtype, const char *name, char *buf, size_t size) {
    return sluice__str(sluice_dns_lookup(qtype, name, buf, sluice__cap(size)), buf, size);
}

/* sluice_record_next returns the next record of recs[0:len] (records joined
 * by '\n') from *pos, stores its length in *rlen and moves *pos past it; NULL
 * when there is none left. Start with *pos = 0:
 *
 *     size_t pos = 0, rlen;
 *     const char *r;
 *     while ((r = sluice_record_next(buf, (size_t)n, &pos, &rlen)) != NULL) { ... r[0:rlen] ... }
 */
SLUICE_INLINE const char *sluice_record_next(const char *recs, size_t len, size_t *pos, size_t *rlen) {
    size_t i = *pos;
    if (i >= len)
        return NULL;
    size_t end = i;
    while (end < len && recs[end] != '\n')
        end++;
    *rlen = end - i;
    *pos = end + 1;
    return recs + i;
}

/* ------------------------------------------------------------------------ */
/* Message authentication (ABI.md §4.11, grant "dns")                        */
/* ------------------------------------------------------------------------ */

/* sluice_auth_check has the host evaluate the SLUICE_AUTH_* checks and keep
 * the result for the rest of this hook call; it returns 1, or 0 when a check
 * was asked for too early (SPF before mail, DKIM and DMARC before data). DNS
 * failures are temperror results, not errors. Read the result with
 * sluice_auth_value. */
SLUICE_INLINE int sluice_auth_check(int32_t checks) { return sluice_raw_auth_check(checks, NULL, 0) >= 0; }

/* sluice_auth_check_json is sluice_auth_check returning the whole result as
 * JSON with the (buf, cap) protocol, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_auth_check_json(int32_t checks, char *buf, int32_t cap) {
    return sluice_raw_auth_check(checks, buf, cap);
}

/* sluice_auth_value returns one member of the last sluice_auth_check of this
 * call as text ("spf.result", "dkim.count", "dkim.0.domain", "dmarc.pct",
 * "dmarc.spf_aligned", ...) with the (buf, cap) protocol; SLUICE_NOT_FOUND
 * before any check in this call, for a check not asked for, and for an
 * unknown key. */
SLUICE_INLINE int32_t sluice_auth_value(const char *key, char *buf, int32_t cap) {
    return sluice_raw_auth_value(key, (int32_t)sluice_strlen(key), buf, cap);
}
SLUICE_INLINE int32_t sluice_auth_value_str(const char *key, char *buf, size_t size) {
    return sluice__str(sluice_auth_value(key, buf, sluice__cap(size)), buf, size);
}

/* sluice_auth_is reports whether member key equals want:
 *     if (sluice_auth_is("dmarc.result", "fail")) ... */
SLUICE_INLINE int sluice_auth_is(const char *key, const char *want) {
    char v[64];
    int32_t n = sluice_auth_value(key, v, (int32_t)sizeof v);
    return n >= 0 && (size_t)n <= sizeof v && sluice_equal(v, (size_t)n, want, sluice_strlen(want));
}

/* ------------------------------------------------------------------------ */
/* Content scanning (ABI.md §4.12, grant "scan:NAME")                        */
/* ------------------------------------------------------------------------ */

/* sluice_scan has the host send the message as it is now to the scanner
 * name (a scanner block; an ungranted name traps) and keep the result for
 * the rest of this hook call. It returns 0, SLUICE_NOT_FOUND outside phase
 * data, or SLUICE_TEMPERROR when the scanner was unreachable, timed out or
 * answered garbage (sluice_scan_value("error") says why): defer the message
 * then, do not pass it unscanned. Read the result with sluice_scan_value. */
SLUICE_INLINE int32_t sluice_scan(const char *name) {
    int32_t n = sluice_raw_scan(name, (int32_t)sluice_strlen(name), NULL, 0);
    return n < 0 ? n : 0;
}

/* sluice_scan_json is sluice_scan returning the whole result as JSON with
 * the (buf, cap) protocol, or an error code. */
SLUICE_INLINE int32_t sluice_scan_json(const char *name, char *buf, int32_t cap) {
    return sluice_raw_scan(name, (int32_t)sluice_strlen(name), buf, cap);
}

/* sluice_scan_value returns one member of the last sluice_scan of this call
 * as text ("action", "score", "required_score", "symbols.count",
 * "symbols.0.name", "infected", "virus", ...; "error" after a failed scan)
 * with the (buf, cap) protocol; SLUICE_NOT_FOUND before any scan in this
 * call and for an unknown key. */
SLUICE_INLINE int32_t sluice_scan_value(const char *key, char *buf, int32_t cap) {
    return sluice_raw_scan_value(key, (int32_t)sluice_strlen(key), buf, cap);
}
SLUICE_INLINE int32_t sluice_scan_value_str(const char *key, char *buf, size_t size) {
    return sluice__str(sluice_scan_value(key, buf, sluice__cap(size)), buf, size);
}

/* sluice_scan_is reports whether member key equals want:
 *     if (sluice_scan_is("action", "reject")) ... */
SLUICE_INLINE int sluice_scan_is(const char *key, const char *want) {
    char v[64];
    int32_t n = sluice_scan_value(key, v, (int32_t)sizeof v);
    return n >= 0 && (size_t)n <= sizeof v && sluice_equal(v, (size_t)n, want, sluice_strlen(want));
}

/* ------------------------------------------------------------------------ */
/* DKIM signing (ABI.md §4.10, grant "dkim:NAME")                            */
/* ------------------------------------------------------------------------ */

/* A key the plugin may sign with: NUL-terminated fields that point into the
 * buffer given to sluice_dkim_keys or sluice_dkim_parse_keys. */
typedef struct {
    const char *name;      /* the dkim_key block's name, for sluice_dkim_sign */
    const char *domain;    /* d= */
    const char *selector;  /* s= */
    const char *algorithm; /* rsa-sha256 or ed25519-sha256 */
} sluice_dkim_key;

SLUICE_INLINE int sluice__space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* sluice_dkim_parse_keys parses the NUL-terminated value of info
 * "dkim.keys" in place (one key per line, "name domain selector
 * algorithm"; other lines are skipped) into at most max keys, and returns
 * how many it stored. It writes NULs into text. */
SLUICE_INLINE int32_t sluice_dkim_parse_keys(char *text, sluice_dkim_key *keys, int32_t max) {
    int32_t n = 0;
    size_t i = 0;
    while (text[i] != '\0' && n < max) {
        size_t end = i;
        while (text[end] != '\0' && text[end] != '\n')
            end++;
        int last = text[end] == '\0';
        /* Count the fields of text[i:end] before changing anything. */
        size_t start[5];
        int nf = 0;
        for (size_t j = i; j < end && nf < 5;) {
            while (j < end && sluice__space(text[j]))
                j++;
            if (j == end)
                break;
            start[nf++] = j;
            while (j < end && !sluice__space(text[j]))
                j++;
        }
        if (nf == 4) {
            for (int f = 0; f < 4; f++) {
                size_t j = start[f];
                while (j < end && !sluice__space(text[j]))
                    j++;
                text[j] = '\0'; /* a separator, the '\n' or the final NUL */
            }
            keys[n].name = text + start[0];
            keys[n].domain = text + start[1];
            keys[n].selector = text + start[2];
            keys[n].algorithm = text + start[3];
            n++;
        }
        if (last)
            break;
        i = end + 1;
    }
    return n;
}

/* sluice_dkim_keys reads info "dkim.keys" into buf (size bytes) and parses it
 * into at most max keys: the number of keys (0 when the plugin has none), or
 * SLUICE_TOO_LONG if buf is too small. */
SLUICE_INLINE int32_t sluice_dkim_keys(char *buf, size_t size, sluice_dkim_key *keys, int32_t max) {
    int32_t r = sluice_info_str(SLUICE_INFO_DKIM_KEYS, buf, size);
    if (r == SLUICE_NOT_FOUND)
        return 0;
    if (r < 0)
        return r;
    return sluice_dkim_parse_keys(buf, keys, max);
}

/* sluice_dkim_sign has the host sign the message as it is now with key name
 * and insert the DKIM-Signature field at the top (phase data; sign last).
 * opts is a JSON object with any of "headers" (array of field names, must
 * include From), "canonicalization" and "expiration" (seconds), or NULL or
 * "" for the defaults; an unknown member traps, as does a key that was not
 * granted. Returns 0 when signed, or SLUICE_REFUSED when the message cannot
 * be signed (no From field or more than one, or headers without From): the
 * message is unchanged and reason (size bytes, may be NULL with size 0)
 * holds the host's NUL-terminated reason. */
SLUICE_INLINE int32_t sluice_dkim_sign(const char *name, const char *opts, char *reason, size_t size) {
    for (size_t i = 0; i < size; i++)
        reason[i] = '\0';
    size_t olen = opts == NULL ? 0 : sluice_strlen(opts);
    return sluice_raw_dkim_sign(name, (int32_t)sluice_strlen(name), opts, (int32_t)olen, reason, sluice__cap(size));
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_CAPS_H */
