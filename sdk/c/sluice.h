/*
 * sluice.h: the C SDK for Sluice plugins, plugin ABI version 1.
 *
 * The normative contract is sdk/ABI.md; the names and numbers here agree with
 * sdk/abi/abi.go. This header is the whole SDK: include it and define the
 * hooks you implement. Nothing else is needed.
 *
 *     #include "sluice.h"
 *
 *     int32_t sluice_on_data(void) {
 *         sluice_header_add("X-Hello", "world");
 *         return SLUICE_CONTINUE;
 *     }
 *
 * Build modes (see README.md):
 *   wasi-libc:    clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -o p.wasm p.c
 *   freestanding: clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wl,--strip-all -o p.wasm p.c
 *   native tests: cc -DSLUICE_MOCK p.c p_test.c sluice_mock.c (see sluice_mock.h)
 *
 * The SDK calls no library function: it works without libc. Freestanding, it
 * supplies weak memcpy/memmove/memset for the copies the compiler itself
 * emits (struct assignment, array initialisation) unless bulk memory is
 * enabled (-mbulk-memory) or SLUICE_NO_MEMFUNCS is defined.
 *
 * Conventions:
 *   - Functions that take text come in two forms: NUL-terminated
 *     (sluice_header_add) and pointer plus length (sluice_header_add_n).
 *   - Functions that return text follow the ABI's (buf, cap) protocol
 *     (ABI.md §3): they return the value's full length n, or a negative
 *     SLUICE_* error; the value was copied to buf[0:n] only if n <= cap.
 *     The *_str forms NUL-terminate instead and return SLUICE_TOO_LONG when
 *     the value and its NUL do not fit.
 *   - Host misuse (an invalid header, a mutation in the wrong phase, an
 *     invalid reply) is not an error code: the host stops the hook and
 *     applies the plugin's on_error policy (ABI.md §5).
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#if defined(SLUICE_MOCK) && defined(__wasm__)
#error "SLUICE_MOCK is for native test builds; do not define it when building for wasm"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants (ABI.md §2, §4)                                                 */
/* ------------------------------------------------------------------------ */

/* SLUICE_ABI_VERSION is what sluice_abi_version returns. */
#define SLUICE_ABI_VERSION 1

/* Verdicts a hook returns (ABI.md §2.1). Any other value is a plugin error. */
#define SLUICE_CONTINUE 0   /* go on with the next plugin */
#define SLUICE_ACCEPT 1     /* skip the rest of the chain for this transaction */
#define SLUICE_REJECT 2     /* 5xx for this command; the chain stops */
#define SLUICE_TEMPFAIL 3   /* 4xx for this command; the chain stops */
#define SLUICE_DISCARD 4    /* accept but do not deliver (logged) */
#define SLUICE_QUARANTINE 5 /* deliver, marked X-Sluice-Quarantine */

/* Errors. The host returns the first four (ABI.md §4): SLUICE_NOT_FOUND
 * from any function, SLUICE_TEMPERROR, SLUICE_REFUSED and SLUICE_QUOTA only
 * from the capability functions of sluice_caps.h. The others come from the
 * SDK's own helpers and never collide with a host result. */
#define SLUICE_NOT_FOUND (-1)   /* no such item, or not in this phase */
#define SLUICE_TEMPERROR (-2)   /* no answer now (DNS timeout, SERVFAIL, a shared kv store down); retry later */
#define SLUICE_REFUSED (-3)     /* dkim_sign declined; the reason is in the buffer */
#define SLUICE_QUOTA (-4)       /* kv_set/kv_incr past the plugin's kv_quota; nothing written */
#define SLUICE_TOO_LONG (-16)   /* a *_str value and its NUL do not fit */
#define SLUICE_WRONG_TYPE (-17) /* a JSON key holds another type */
#define SLUICE_BAD_JSON (-18)   /* the JSON text is malformed */

/* Log levels (ABI.md §4.1). */
#define SLUICE_LOG_DEBUG 0
#define SLUICE_LOG_INFO 1
#define SLUICE_LOG_WARN 2
#define SLUICE_LOG_ERROR 3

/* Bits of the optional sluice_hooks export. C plugins do not need it: export
 * only the hooks you implement. */
#define SLUICE_HOOK_CONNECT (1 << 0)
#define SLUICE_HOOK_HELO (1 << 1)
#define SLUICE_HOOK_MAIL (1 << 2)
#define SLUICE_HOOK_RCPT (1 << 3)
#define SLUICE_HOOK_DATA (1 << 4)

/* Keys for sluice_info (ABI.md §4.2), with the first phase they exist in. */
#define SLUICE_INFO_SESSION_ID "session.id"       /* connect */
#define SLUICE_INFO_CLIENT_IP "client.ip"         /* connect */
#define SLUICE_INFO_CLIENT_PORT "client.port"     /* connect */
#define SLUICE_INFO_CLIENT_NAME "client.name"     /* connect; verified PTR */
#define SLUICE_INFO_HELO "helo"                   /* helo */
#define SLUICE_INFO_TLS "tls"                     /* connect; TLS only */
#define SLUICE_INFO_TLS_CIPHER "tls.cipher"       /* connect; TLS only */
#define SLUICE_INFO_SERVER_HOSTNAME "server.hostname" /* connect */
#define SLUICE_INFO_PHASE "phase"                 /* connect */
#define SLUICE_INFO_PLUGIN_NAME "plugin.name"     /* always */
#define SLUICE_INFO_MAIL_FROM "mail.from"         /* mail; "" = null sender */
#define SLUICE_INFO_MAIL_PARAMS "mail.params"     /* mail */
#define SLUICE_INFO_RCPT "rcpt"                   /* rcpt only */
#define SLUICE_INFO_RCPT_PARAMS "rcpt.params"     /* rcpt only */
#define SLUICE_INFO_QUEUE_ID "queue_id"           /* mail; milter mode only */
#define SLUICE_INFO_AUTH_USER "auth.user"         /* mail; milter mode, after AUTH */
#define SLUICE_INFO_DKIM_KEYS "dkim.keys"         /* connect; see sluice_caps.h */

/* Sizes that bound what the host accepts; handy for buffers. */
#define SLUICE_MAX_ADDRESS 254   /* ABI.md §4.6 */
#define SLUICE_MAX_TAG_VALUE 1024 /* ABI.md §4.3 */
#define SLUICE_MAX_REPLY_TEXT 400 /* ABI.md §4.7 */

/* ------------------------------------------------------------------------ */
/* Exports and imports                                                       */
/* ------------------------------------------------------------------------ */

#if defined(__wasm__)
#define SLUICE_EXPORT(name) __attribute__((export_name(name)))
#define SLUICE_IMPORT(name) __attribute__((import_module("sluice"), import_name(name)))
#else
#define SLUICE_EXPORT(name)
#define SLUICE_IMPORT(name)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_INLINE static inline __attribute__((unused))
#define SLUICE_NORETURN __attribute__((noreturn))
#else
#define SLUICE_INLINE static inline
#define SLUICE_NORETURN
#endif

/*
 * The exports a plugin may define (ABI.md §2). Define only those you need,
 * with exactly these names and types; the declarations carry the export
 * attribute, so a plain definition is exported, and a wrong signature is a
 * compile error. Each hook returns a verdict; sluice_configure returns 0 to
 * accept the configuration (log why first if it refuses).
 */
SLUICE_EXPORT("sluice_configure") int32_t sluice_configure(void);
SLUICE_EXPORT("sluice_on_connect") int32_t sluice_on_connect(void);
SLUICE_EXPORT("sluice_on_helo") int32_t sluice_on_helo(void);
SLUICE_EXPORT("sluice_on_mail") int32_t sluice_on_mail(void);
SLUICE_EXPORT("sluice_on_rcpt") int32_t sluice_on_rcpt(void);
SLUICE_EXPORT("sluice_on_data") int32_t sluice_on_data(void);

/* sluice_abi_version is required. It is a weak definition, so every file of
 * a plugin may include this header and the linker keeps one copy. */
SLUICE_EXPORT("sluice_abi_version") int32_t sluice_abi_version(void);
SLUICE_EXPORT("sluice_abi_version") __attribute__((weak)) int32_t sluice_abi_version(void) {
    return SLUICE_ABI_VERSION;
}

/*
 * The raw host functions (ABI.md §4), one declaration per import of module
 * "sluice". Every parameter and result is an i32 on wasm32: pointers and
 * int32_t. Prefer the helpers below; these are here for what they do not
 * cover. Under SLUICE_MOCK they are ordinary functions that sluice_mock.c
 * implements.
 */
SLUICE_IMPORT("log") void sluice_raw_log(int32_t level, const void *ptr, int32_t len);
SLUICE_IMPORT("config") int32_t sluice_raw_config(void *buf, int32_t cap);
SLUICE_IMPORT("info") int32_t sluice_raw_info(const void *key, int32_t key_len, void *buf, int32_t cap);
SLUICE_IMPORT("set_reply") int32_t sluice_raw_set_reply(int32_t code, const void *enh, int32_t enh_len, const void *text, int32_t text_len);
SLUICE_IMPORT("tag_get") int32_t sluice_raw_tag_get(const void *key, int32_t key_len, void *buf, int32_t cap);
SLUICE_IMPORT("tag_set") int32_t sluice_raw_tag_set(const void *key, int32_t key_len, const void *val, int32_t val_len);
SLUICE_IMPORT("rcpt_count") int32_t sluice_raw_rcpt_count(void);
SLUICE_IMPORT("rcpt_get") int32_t sluice_raw_rcpt_get(int32_t index, void *buf, int32_t cap);
SLUICE_IMPORT("mail_set") int32_t sluice_raw_mail_set(const void *addr, int32_t len);
SLUICE_IMPORT("rcpt_add") int32_t sluice_raw_rcpt_add(const void *addr, int32_t len);
SLUICE_IMPORT("rcpt_remove") int32_t sluice_raw_rcpt_remove(const void *addr, int32_t len);
SLUICE_IMPORT("header_count") int32_t sluice_raw_header_count(void);
SLUICE_IMPORT("header_name") int32_t sluice_raw_header_name(int32_t index, void *buf, int32_t cap);
SLUICE_IMPORT("header_value") int32_t sluice_raw_header_value(int32_t index, void *buf, int32_t cap);
SLUICE_IMPORT("header_find") int32_t sluice_raw_header_find(const void *name, int32_t name_len, int32_t nth);
SLUICE_IMPORT("header_add") int32_t sluice_raw_header_add(const void *name, int32_t name_len, const void *val, int32_t val_len);
SLUICE_IMPORT("header_insert") int32_t sluice_raw_header_insert(int32_t index, const void *name, int32_t name_len, const void *val, int32_t val_len);
SLUICE_IMPORT("header_change") int32_t sluice_raw_header_change(int32_t index, const void *val, int32_t val_len);
SLUICE_IMPORT("header_delete") int32_t sluice_raw_header_delete(int32_t index);
SLUICE_IMPORT("body_size") int32_t sluice_raw_body_size(void);
SLUICE_IMPORT("body_read") int32_t sluice_raw_body_read(int32_t offset, void *buf, int32_t cap);
SLUICE_IMPORT("body_replace") int32_t sluice_raw_body_replace(const void *ptr, int32_t len);
SLUICE_IMPORT("body_append") int32_t sluice_raw_body_append(const void *ptr, int32_t len);

#ifdef SLUICE_MOCK
/* Implemented by sluice_mock.c: ends the hook the way a trap would. */
SLUICE_NORETURN void sluice_mock_trap(void);
#endif

/* sluice_trap stops the hook with a trap: a plugin error (ABI.md §5). The
 * host discards the call's changes and applies on_error. */
SLUICE_INLINE SLUICE_NORETURN void sluice_trap(void) {
#ifdef SLUICE_MOCK
    sluice_mock_trap();
#else
    __builtin_trap();
#endif
}

/* ------------------------------------------------------------------------ */
/* Byte strings (no libc needed)                                             */
/* ------------------------------------------------------------------------ */

/* sluice_strlen is strlen, for builds without libc. */
SLUICE_INLINE size_t sluice_strlen(const char *s) {
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

/* sluice_equal reports whether a[0:alen] and b[0:blen] are the same bytes. */
SLUICE_INLINE int sluice_equal(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* sluice_equal_fold is sluice_equal with ASCII letters compared
 * case-insensitively (header names, domains). */
SLUICE_INLINE int sluice_equal_fold(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* sluice_has_prefix reports whether s[0:len] starts with the NUL-terminated
 * prefix. */
SLUICE_INLINE int sluice_has_prefix(const char *s, size_t len, const char *prefix) {
    size_t n = sluice_strlen(prefix);
    return n <= len && sluice_equal(s, n, prefix, n);
}

/* sluice_local_part returns the length of the local part of an address: the
 * bytes before the last '@', or len if there is none. */
SLUICE_INLINE size_t sluice_local_part(const char *addr, size_t len) {
    for (size_t i = len; i > 0; i--)
        if (addr[i - 1] == '@')
            return i - 1;
    return len;
}

/* sluice_domain returns the domain of an address (the bytes after the last
 * '@') and stores its length in *dlen; an address without '@' has an empty
 * domain. */
SLUICE_INLINE const char *sluice_domain(const char *addr, size_t len, size_t *dlen) {
    size_t at = sluice_local_part(addr, len);
    if (at == len) {
        *dlen = 0;
        return addr + len;
    }
    *dlen = len - at - 1;
    return addr + at + 1;
}

/* sluice_fmt_uint writes v in decimal (no leading zeros, no NUL) to buf,
 * which needs room for 10 bytes, and returns the length. */
SLUICE_INLINE size_t sluice_fmt_uint(char *buf, uint32_t v) {
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* sluice_fmt_hex32 writes v as 8 lowercase hex digits (no NUL) to buf. */
SLUICE_INLINE void sluice_fmt_hex32(char *buf, uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) {
        buf[i] = digits[v & 15];
        v >>= 4;
    }
}

/* ------------------------------------------------------------------------ */
/* Turning a (buf, cap) result into a C string                               */
/* ------------------------------------------------------------------------ */

/* sluice__cap is the capacity a *_str call passes to the host: room for the
 * NUL, and never more than an i32 holds. */
SLUICE_INLINE int32_t sluice__cap(size_t size) {
    if (size == 0)
        return 0;
    return size - 1 > (size_t)INT32_MAX ? INT32_MAX : (int32_t)(size - 1);
}

/* sluice__str finishes a *_str call: r is what the (buf, sluice__cap(size))
 * call returned. */
SLUICE_INLINE int32_t sluice__str(int32_t r, char *buf, size_t size) {
    if (size == 0)
        return r < 0 ? r : SLUICE_TOO_LONG;
    if (r < 0) {
        buf[0] = '\0';
        return r;
    }
    if ((size_t)r >= size) {
        buf[0] = '\0';
        return SLUICE_TOO_LONG;
    }
    buf[r] = '\0';
    return r;
}

/* ------------------------------------------------------------------------ */
/* Logging and configuration (ABI.md §4.1)                                   */
/* ------------------------------------------------------------------------ */

/* sluice_log_n writes msg[0:len] to the gateway log at level (SLUICE_LOG_*),
 * tagged with the plugin, phase and session. At most 4096 bytes are kept. */
SLUICE_INLINE void sluice_log_n(int32_t level, const char *msg, size_t len) {
    sluice_raw_log(level, msg, (int32_t)len);
}

/* sluice_log writes a NUL-terminated message to the gateway log. */
SLUICE_INLINE void sluice_log(int32_t level, const char *msg) {
    sluice_log_n(level, msg, sluice_strlen(msg));
}

SLUICE_INLINE void sluice_log_debug(const char *msg) { sluice_log(SLUICE_LOG_DEBUG, msg); }
SLUICE_INLINE void sluice_log_info(const char *msg) { sluice_log(SLUICE_LOG_INFO, msg); }
SLUICE_INLINE void sluice_log_warn(const char *msg) { sluice_log(SLUICE_LOG_WARN, msg); }
SLUICE_INLINE void sluice_log_error(const char *msg) { sluice_log(SLUICE_LOG_ERROR, msg); }

/* sluice_config copies the plugin's configuration, as JSON, with the (buf,
 * cap) protocol: it returns the length n and copied only if n <= cap. A
 * plugin without config gets "{}". */
SLUICE_INLINE int32_t sluice_config(char *buf, int32_t cap) {
    return sluice_raw_config(buf, cap);
}

#if defined(SLUICE_MOCK) || defined(__wasi__)
void *malloc(size_t size);
#endif

/* sluice_alloc_permanent returns n bytes that are never freed, or NULL. Use it
 * only for data that lives as long as the instance (what sluice_configure
 * parses), never per message. With wasi-libc it is malloc; freestanding it
 * grows linear memory by whole 64 KiB pages. */
SLUICE_INLINE void *sluice_alloc_permanent(size_t n) {
#if defined(SLUICE_MOCK) || defined(__wasi__)
    return malloc(n);
#elif defined(__wasm__)
    size_t pages = (n + 65535) / 65536;
    size_t old = __builtin_wasm_memory_grow(0, pages);
    if (old == (size_t)-1)
        return NULL;
    return (void *)(old * 65536);
#else
    (void)n;
    return NULL;
#endif
}

/* sluice_config_load returns the whole configuration and stores its length
 * in *len. Call it from sluice_configure, once: up to 4 KiB it lives in a
 * static buffer, beyond that in sluice_alloc_permanent memory. It returns
 * NULL (and *len = 0) if memory runs out. */
SLUICE_INLINE const char *sluice_config_load(int32_t *len) {
    static char small[4096];
    int32_t n = sluice_config(small, (int32_t)sizeof small);
    if (n >= 0 && n <= (int32_t)sizeof small) {
        *len = n;
        return small;
    }
    char *big = (char *)sluice_alloc_permanent((size_t)n);
    if (big == NULL || sluice_config(big, n) != n) {
        *len = 0;
        return NULL;
    }
    *len = n;
    return big;
}

/* ------------------------------------------------------------------------ */
/* A tiny JSON reader for the configuration                                  */
/* ------------------------------------------------------------------------ */
/*
 * Limits, on purpose: it looks up one key of the top-level object only (no
 * paths; nested objects and arrays are skipped, not searched); keys are
 * compared byte for byte, so a key written with escapes does not match; a
 * duplicate key yields its first occurrence; it checks the syntax only as far
 * as it reads. Numbers are integers that fit int64_t. For anything richer,
 * parse the text from sluice_config_load yourself.
 */

SLUICE_INLINE size_t sluice__json_ws(const char *j, size_t n, size_t i) {
    while (i < n && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r'))
        i++;
    return i;
}

/* sluice__json_skip_string returns the index after the string that starts at
 * j[i] == '"', or n + 1 if it is unterminated. */
SLUICE_INLINE size_t sluice__json_skip_string(const char *j, size_t n, size_t i) {
    for (i++; i < n; i++) {
        if (j[i] == '\\')
            i++;
        else if (j[i] == '"')
            return i + 1;
    }
    return n + 1;
}

/* sluice__json_skip_value returns the index after the value at j[i], or n + 1
 * if it is malformed. Nested containers are matched by bracket depth. */
SLUICE_INLINE size_t sluice__json_skip_value(const char *j, size_t n, size_t i) {
    if (i >= n)
        return n + 1;
    if (j[i] == '"')
        return sluice__json_skip_string(j, n, i);
    if (j[i] == '{' || j[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char c = j[i];
            if (c == '"') {
                i = sluice__json_skip_string(j, n, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
            i++;
        }
        return n + 1;
    }
    size_t start = i;
    while (i < n && j[i] != ',' && j[i] != '}' && j[i] != ']' && j[i] != ' ' &&
           j[i] != '\t' && j[i] != '\n' && j[i] != '\r')
        i++;
    return i > start ? i : n + 1;
}

/* sluice_json_find looks up key in the top-level object of json[0:len]. It
 * returns the length of the value's raw text (a string keeps its quotes) and
 * stores where it starts in *start; or SLUICE_NOT_FOUND, or SLUICE_BAD_JSON. */
SLUICE_INLINE int32_t sluice_json_find(const char *json, size_t len, const char *key, size_t *start) {
    size_t klen = sluice_strlen(key);
    size_t i = sluice__json_ws(json, len, 0);
    if (i >= len || json[i] != '{')
        return SLUICE_BAD_JSON;
    i = sluice__json_ws(json, len, i + 1);
    if (i < len && json[i] == '}')
        return SLUICE_NOT_FOUND;
    while (i < len) {
        if (json[i] != '"')
            return SLUICE_BAD_JSON;
        size_t kend = sluice__json_skip_string(json, len, i);
        if (kend > len)
            return SLUICE_BAD_JSON;
        int match = sluice_equal(json + i + 1, kend - i - 2, key, klen);
        i = sluice__json_ws(json, len, kend);
        if (i >= len || json[i] != ':')
            return SLUICE_BAD_JSON;
        i = sluice__json_ws(json, len, i + 1);
        size_t vend = sluice__json_skip_value(json, len, i);
        if (vend > len)
            return SLUICE_BAD_JSON;
        if (match) {
            *start = i;
            return (int32_t)(vend - i);
        }
        i = sluice__json_ws(json, len, vend);
        if (i < len && json[i] == '}')
            return SLUICE_NOT_FOUND;
        if (i >= len || json[i] != ',')
            return SLUICE_BAD_JSON;
        i = sluice__json_ws(json, len, i + 1);
    }
    return SLUICE_BAD_JSON;
}

SLUICE_INLINE int sluice__hex(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* sluice__json_u4 reads the 4 hex digits at s, or returns -1. */
SLUICE_INLINE int32_t sluice__json_u4(const char *s) {
    int32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = sluice__hex(s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* sluice_json_string decodes the string value of key (escapes included,
 * \uXXXX to UTF-8) with the (buf, cap) protocol: it returns the decoded
 * length n and copied only if n <= cap. Errors: SLUICE_NOT_FOUND,
 * SLUICE_WRONG_TYPE (not a string), SLUICE_BAD_JSON. */
SLUICE_INLINE int32_t sluice_json_string(const char *json, size_t len, const char *key, char *buf, int32_t cap) {
    size_t at;
    int32_t vlen = sluice_json_find(json, len, key, &at);
    if (vlen < 0)
        return vlen;
    if (json[at] != '"')
        return SLUICE_WRONG_TYPE;
    const char *s = json + at + 1;
    size_t n = (size_t)vlen - 2, out = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && out > (size_t)cap)
            break;
        out = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t c = (unsigned char)s[i];
            if (c < 0x20)
                return SLUICE_BAD_JSON;
            if (c == '\\') {
                if (++i >= n)
                    return SLUICE_BAD_JSON;
                switch (s[i]) {
                case '"': c = '"'; break;
                case '\\': c = '\\'; break;
                case '/': c = '/'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                case 'u': {
                    int32_t u = i + 4 < n ? sluice__json_u4(s + i + 1) : -1;
                    if (u < 0)
                        return SLUICE_BAD_JSON;
                    i += 4;
                    c = (uint32_t)u;
                    if (c >= 0xD800 && c < 0xDC00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                        int32_t lo = sluice__json_u4(s + i + 3);
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            c = 0x10000 + ((c - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                            i += 6;
                        }
                    }
                    if (c >= 0xD800 && c < 0xE000)
                        c = 0xFFFD; /* a lone surrogate */
                    /* encode as UTF-8 */
                    char u8[4];
                    size_t k = 0;
                    if (c < 0x80) {
                        u8[k++] = (char)c;
                    } else if (c < 0x800) {
                        u8[k++] = (char)(0xC0 | (c >> 6));
                        u8[k++] = (char)(0x80 | (c & 0x3F));
                    } else if (c < 0x10000) {
                        u8[k++] = (char)(0xE0 | (c >> 12));
                        u8[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
                        u8[k++] = (char)(0x80 | (c & 0x3F));
                    } else {
                        u8[k++] = (char)(0xF0 | (c >> 18));
                        u8[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
                        u8[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
                        u8[k++] = (char)(0x80 | (c & 0x3F));
                    }
                    for (size_t m = 0; m < k; m++, out++)
                        if (pass == 1)
                            buf[out] = u8[m];
                    continue;
                }
                default:
                    return SLUICE_BAD_JSON;
                }
            }
            if (pass == 1)
                buf[out] = (char)c;
            out++;
        }
    }
    return (int32_t)out;
}

/* sluice_json_string_str is sluice_json_string into a NUL-terminated buffer
 * of size bytes; SLUICE_TOO_LONG if it does not fit. */
SLUICE_INLINE int32_t sluice_json_string_str(const char *json, size_t len, const char *key, char *buf, size_t size) {
    return sluice__str(sluice_json_string(json, len, key, buf, sluice__cap(size)), buf, size);
}

/* sluice_json_int reads the integer value of key into *out. Errors:
 * SLUICE_NOT_FOUND, SLUICE_WRONG_TYPE (not an integer, or out of range),
 * SLUICE_BAD_JSON. */
SLUICE_INLINE int32_t sluice_json_int(const char *json, size_t len, const char *key, int64_t *out) {
    size_t at;
    int32_t vlen = sluice_json_find(json, len, key, &at);
    if (vlen < 0)
        return vlen;
    const char *s = json + at;
    int32_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= vlen)
        return SLUICE_WRONG_TYPE;
    uint64_t v = 0;
    for (; i < vlen; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SLUICE_WRONG_TYPE;
        if (v > (UINT64_C(9223372036854775808) - (uint64_t)(s[i] - '0')) / 10)
            return SLUICE_WRONG_TYPE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return SLUICE_WRONG_TYPE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* sluice_json_bool reads true or false into *out (1 or 0). Errors as for
 * sluice_json_int. */
SLUICE_INLINE int32_t sluice_json_bool(const char *json, size_t len, const char *key, int *out) {
    size_t at;
    int32_t vlen = sluice_json_find(json, len, key, &at);
    if (vlen < 0)
        return vlen;
    if (sluice_equal(json + at, (size_t)vlen, "true", 4)) {
        *out = 1;
        return 0;
    }
    if (sluice_equal(json + at, (size_t)vlen, "false", 5)) {
        *out = 0;
        return 0;
    }
    return SLUICE_WRONG_TYPE;
}

/* ------------------------------------------------------------------------ */
/* Session and envelope information (ABI.md §4.2)                            */
/* ------------------------------------------------------------------------ */

/* sluice_info returns the value of key (SLUICE_INFO_*) with the (buf, cap)
 * protocol, or SLUICE_NOT_FOUND if it does not exist in this phase. */
SLUICE_INLINE int32_t sluice_info(const char *key, char *buf, int32_t cap) {
    return sluice_raw_info(key, (int32_t)sluice_strlen(key), buf, cap);
}

/* sluice_info_str is sluice_info into a NUL-terminated buffer of size bytes
 * (size >= 1); SLUICE_TOO_LONG if it does not fit. */
SLUICE_INLINE int32_t sluice_info_str(const char *key, char *buf, size_t size) {
    return sluice__str(sluice_info(key, buf, sluice__cap(size)), buf, size);
}

/* sluice_rcpt_count is the number of recipients accepted so far (in rcpt, the
 * one being checked is not counted). */
SLUICE_INLINE int32_t sluice_rcpt_count(void) { return sluice_raw_rcpt_count(); }

/* sluice_rcpt_get returns recipient index (0-based) with the (buf, cap)
 * protocol, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_rcpt_get(int32_t index, char *buf, int32_t cap) {
    return sluice_raw_rcpt_get(index, buf, cap);
}

SLUICE_INLINE int32_t sluice_rcpt_get_str(int32_t index, char *buf, size_t size) {
    return sluice__str(sluice_rcpt_get(index, buf, sluice__cap(size)), buf, size);
}

/* ------------------------------------------------------------------------ */
/* Envelope changes (ABI.md §4.6)                                            */
/* ------------------------------------------------------------------------ */

/* sluice_mail_set sets the reverse path (phases mail and data); "" is the
 * null sender. */
SLUICE_INLINE void sluice_mail_set_n(const char *addr, size_t len) { sluice_raw_mail_set(addr, (int32_t)len); }
SLUICE_INLINE void sluice_mail_set(const char *addr) { sluice_mail_set_n(addr, sluice_strlen(addr)); }

/* sluice_rcpt_add adds a recipient (phase data). */
SLUICE_INLINE void sluice_rcpt_add_n(const char *addr, size_t len) { sluice_raw_rcpt_add(addr, (int32_t)len); }
SLUICE_INLINE void sluice_rcpt_add(const char *addr) { sluice_rcpt_add_n(addr, sluice_strlen(addr)); }

/* sluice_rcpt_remove removes a recipient (phase data), compared
 * case-insensitively: 0, or SLUICE_NOT_FOUND. Removing every recipient is a
 * plugin error: return SLUICE_DISCARD instead. */
SLUICE_INLINE int32_t sluice_rcpt_remove_n(const char *addr, size_t len) { return sluice_raw_rcpt_remove(addr, (int32_t)len); }
SLUICE_INLINE int32_t sluice_rcpt_remove(const char *addr) { return sluice_rcpt_remove_n(addr, sluice_strlen(addr)); }

/* ------------------------------------------------------------------------ */
/* Tags (ABI.md §4.3)                                                        */
/* ------------------------------------------------------------------------ */

/* sluice_tag_get returns tag key with the (buf, cap) protocol, or
 * SLUICE_NOT_FOUND. Keys are 1 to 64 bytes of [A-Za-z0-9_.-]. */
SLUICE_INLINE int32_t sluice_tag_get(const char *key, char *buf, int32_t cap) {
    return sluice_raw_tag_get(key, (int32_t)sluice_strlen(key), buf, cap);
}

SLUICE_INLINE int32_t sluice_tag_get_str(const char *key, char *buf, size_t size) {
    return sluice__str(sluice_tag_get(key, buf, sluice__cap(size)), buf, size);
}

/* sluice_tag_set sets tag key. Values are at most 1024 bytes without CR, LF
 * or NUL. Tags set at connect or helo live for the session, later ones for
 * the transaction. */
SLUICE_INLINE void sluice_tag_set_n(const char *key, const char *val, size_t len) {
    sluice_raw_tag_set(key, (int32_t)sluice_strlen(key), val, (int32_t)len);
}
SLUICE_INLINE void sluice_tag_set(const char *key, const char *val) {
    sluice_tag_set_n(key, val, sluice_strlen(val));
}

/* ------------------------------------------------------------------------ */
/* Header fields (ABI.md §4.4, phase data)                                   */
/* ------------------------------------------------------------------------ */

/* sluice_header_count is the number of fields, or SLUICE_NOT_FOUND outside
 * data. */
SLUICE_INLINE int32_t sluice_header_count(void) { return sluice_raw_header_count(); }

/* sluice_header_name and sluice_header_value return field index's name or
 * value with the (buf, cap) protocol, or SLUICE_NOT_FOUND. A value is the
 * bytes after the colon, one leading space removed, folding (CRLF WSP)
 * kept. */
SLUICE_INLINE int32_t sluice_header_name(int32_t index, char *buf, int32_t cap) {
    return sluice_raw_header_name(index, buf, cap);
}
SLUICE_INLINE int32_t sluice_header_value(int32_t index, char *buf, int32_t cap) {
    return sluice_raw_header_value(index, buf, cap);
}
SLUICE_INLINE int32_t sluice_header_name_str(int32_t index, char *buf, size_t size) {
    return sluice__str(sluice_header_name(index, buf, sluice__cap(size)), buf, size);
}
SLUICE_INLINE int32_t sluice_header_value_str(int32_t index, char *buf, size_t size) {
    return sluice__str(sluice_header_value(index, buf, sluice__cap(size)), buf, size);
}

/* sluice_header_find returns the index of the nth (0-based) field called name,
 * compared case-insensitively, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_header_find_n(const char *name, size_t len, int32_t nth) {
    return sluice_raw_header_find(name, (int32_t)len, nth);
}
SLUICE_INLINE int32_t sluice_header_find(const char *name, int32_t nth) {
    return sluice_header_find_n(name, sluice_strlen(name), nth);
}

/* sluice_header_get returns the value of the first field called name with
 * the (buf, cap) protocol, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_header_get(const char *name, char *buf, int32_t cap) {
    int32_t i = sluice_header_find(name, 0);
    return i < 0 ? i : sluice_header_value(i, buf, cap);
}
SLUICE_INLINE int32_t sluice_header_get_str(const char *name, char *buf, size_t size) {
    return sluice__str(sluice_header_get(name, buf, sluice__cap(size)), buf, size);
}

/* sluice_header_add appends a field at the end of the header. */
SLUICE_INLINE void sluice_header_add_n(const char *name, size_t nlen, const char *val, size_t vlen) {
    sluice_raw_header_add(name, (int32_t)nlen, val, (int32_t)vlen);
}
SLUICE_INLINE void sluice_header_add(const char *name, const char *val) {
    sluice_header_add_n(name, sluice_strlen(name), val, sluice_strlen(val));
}

/* sluice_header_insert inserts a field before index (0 = top,
 * sluice_header_count() = end): 0, or SLUICE_NOT_FOUND if out of range. */
SLUICE_INLINE int32_t sluice_header_insert_n(int32_t index, const char *name, size_t nlen, const char *val, size_t vlen) {
    return sluice_raw_header_insert(index, name, (int32_t)nlen, val, (int32_t)vlen);
}
SLUICE_INLINE int32_t sluice_header_insert(int32_t index, const char *name, const char *val) {
    return sluice_header_insert_n(index, name, sluice_strlen(name), val, sluice_strlen(val));
}

/* sluice_header_change replaces the value of field index, keeping its name:
 * 0, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_header_change_n(int32_t index, const char *val, size_t vlen) {
    return sluice_raw_header_change(index, val, (int32_t)vlen);
}
SLUICE_INLINE int32_t sluice_header_change(int32_t index, const char *val) {
    return sluice_header_change_n(index, val, sluice_strlen(val));
}

/* sluice_header_delete removes field index: 0, or SLUICE_NOT_FOUND. */
SLUICE_INLINE int32_t sluice_header_delete(int32_t index) { return sluice_raw_header_delete(index); }

/* sluice_header_delete_all removes every field called name and returns how
 * many it removed. */
SLUICE_INLINE int32_t sluice_header_delete_all(const char *name) {
    int32_t n = 0, i;
    while ((i = sluice_header_find(name, 0)) >= 0) {
        sluice_header_delete(i);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Body (ABI.md §4.5, phase data)                                            */
/* ------------------------------------------------------------------------ */

/* sluice_body_size is the body's length in bytes, or SLUICE_NOT_FOUND
 * outside data. */
SLUICE_INLINE int32_t sluice_body_size(void) { return sluice_raw_body_size(); }

/* sluice_body_read copies up to cap bytes from offset into buf and returns
 * the count: 0 at the end, SLUICE_NOT_FOUND past it. Read in chunks:
 *
 *     static char chunk[16384];
 *     int32_t off = 0, n;
 *     while ((n = sluice_body_read(off, chunk, sizeof chunk)) > 0) {
 *         ... chunk[0:n] ...
 *         off += n;
 *     }
 */
SLUICE_INLINE int32_t sluice_body_read(int32_t offset, char *buf, int32_t cap) {
    return sluice_raw_body_read(offset, buf, cap);
}

/* sluice_body_find_n returns the offset of the first occurrence of
 * needle[0:len] in the body, or SLUICE_NOT_FOUND. It reads the body through
 * buf in chunks that overlap by len - 1 bytes, so a match across two chunks
 * is found; cap must exceed len (else SLUICE_TOO_LONG). Bytes are compared
 * exactly. */
SLUICE_INLINE int32_t sluice_body_find_n(const char *needle, size_t len, char *buf, int32_t cap) {
    if (cap < 1 || (size_t)cap <= len)
        return SLUICE_TOO_LONG;
    int32_t off = 0, n;
    while ((n = sluice_body_read(off, buf, cap)) >= (int32_t)len) {
        for (int32_t i = 0; i + (int32_t)len <= n; i++)
            if (sluice_equal(buf + i, len, needle, len))
                return off + i;
        if (n < cap)
            break; /* that was the end of the body */
        off += n - (int32_t)len + 1;
    }
    return SLUICE_NOT_FOUND;
}

SLUICE_INLINE int32_t sluice_body_find(const char *needle, char *buf, int32_t cap) {
    return sluice_body_find_n(needle, sluice_strlen(needle), buf, cap);
}

/* sluice_body_replace replaces the body; sluice_body_append appends to it.
 * Write a large body as one replace and several appends. CRLF line endings,
 * no NUL, lines of at most 998 bytes: checked when the hook returns. */
SLUICE_INLINE void sluice_body_replace_n(const char *p, size_t len) { sluice_raw_body_replace(p, (int32_t)len); }
SLUICE_INLINE void sluice_body_replace(const char *s) { sluice_body_replace_n(s, sluice_strlen(s)); }
SLUICE_INLINE void sluice_body_append_n(const char *p, size_t len) { sluice_raw_body_append(p, (int32_t)len); }
SLUICE_INLINE void sluice_body_append(const char *s) { sluice_body_append_n(s, sluice_strlen(s)); }

/* ------------------------------------------------------------------------ */
/* Replies and verdicts (ABI.md §2.1, §4.7)                                  */
/* ------------------------------------------------------------------------ */

/* sluice_set_reply sets the reply used with SLUICE_REJECT (5xx) or
 * SLUICE_TEMPFAIL (4xx). enh is "class.subject.detail" with the class of
 * code, or "" for the host's X.0.0; text is 1 to 400 bytes of printable
 * ASCII. Anything else traps. The last call wins. */
SLUICE_INLINE void sluice_set_reply_n(int32_t code, const char *enh, size_t enh_len, const char *text, size_t text_len) {
    sluice_raw_set_reply(code, enh, (int32_t)enh_len, text, (int32_t)text_len);
}
SLUICE_INLINE void sluice_set_reply(int32_t code, const char *enh, const char *text) {
    sluice_set_reply_n(code, enh, sluice_strlen(enh), text, sluice_strlen(text));
}

/* sluice_reject sets a 5xx reply and returns SLUICE_REJECT:
 *     return sluice_reject(550, "5.7.1", "Sender not welcome here"); */
SLUICE_INLINE int32_t sluice_reject(int32_t code, const char *enh, const char *text) {
    sluice_set_reply(code, enh, text);
    return SLUICE_REJECT;
}

/* sluice_tempfail sets a 4xx reply and returns SLUICE_TEMPFAIL. */
SLUICE_INLINE int32_t sluice_tempfail(int32_t code, const char *enh, const char *text) {
    sluice_set_reply(code, enh, text);
    return SLUICE_TEMPFAIL;
}

/* sluice_refuse sets the reply and returns SLUICE_TEMPFAIL for a 4xx code,
 * SLUICE_REJECT otherwise: use it when the code comes from configuration. */
SLUICE_INLINE int32_t sluice_refuse(int32_t code, const char *enh, const char *text) {
    sluice_set_reply(code, enh, text);
    return code / 100 == 4 ? SLUICE_TEMPFAIL : SLUICE_REJECT;
}

/* sluice_quarantine returns SLUICE_QUARANTINE with reason (printable ASCII,
 * 1 to 400 bytes) as the text of the X-Sluice-Quarantine header. */
SLUICE_INLINE int32_t sluice_quarantine(const char *reason) {
    sluice_set_reply(550, "5.7.1", reason);
    return SLUICE_QUARANTINE;
}

/* ------------------------------------------------------------------------ */
/* memcpy/memmove/memset for freestanding builds                             */
/* ------------------------------------------------------------------------ */
/*
 * Without libc and without bulk memory, clang still emits calls to memcpy,
 * memmove and memset for struct copies and array initialisation. These weak
 * definitions satisfy them; a strong definition elsewhere wins. no_builtin
 * stops the optimiser from turning the loops back into calls to themselves.
 */
#if defined(__wasm__) && !defined(__wasi__) && !defined(__wasm_bulk_memory__) && !defined(SLUICE_NO_MEMFUNCS)
__attribute__((weak, no_builtin("memcpy", "memmove", "memset"))) void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--)
        *d++ = *s++;
    return dst;
}
__attribute__((weak, no_builtin("memcpy", "memmove", "memset"))) void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}
__attribute__((weak, no_builtin("memcpy", "memmove", "memset"))) void *memset(void *dst, int c, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
