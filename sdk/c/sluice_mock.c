/*
 * sluice_mock.c: the native mock host behind sluice_mock.h. It implements
 * every raw import of sluice.h and sluice_caps.h (module "sluice",
 * sdk/ABI.md §4) over an in-memory session, with the gateway's validation
 * rules.
 *
 * Build: cc -DSLUICE_MOCK -I sdk/c ... sdk/c/sluice_mock.c
 */
#ifndef SLUICE_MOCK
#define SLUICE_MOCK
#endif

#include "sluice_mock.h"
#include "sluice.h"
#include "sluice_caps.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- owned byte strings, always NUL-terminated for the accessors ---- */

typedef struct {
    char *p;
    size_t n;
} mk_bytes;

static void *mk_alloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "sluice_mock: out of memory\n");
        abort();
    }
    return p;
}

static mk_bytes mk_make(const void *p, size_t n) {
    mk_bytes b;
    b.p = (char *)mk_alloc(n + 1);
    if (n)
        memcpy(b.p, p, n);
    b.p[n] = '\0';
    b.n = n;
    return b;
}

static mk_bytes mk_cstr(const char *s) { return mk_make(s, strlen(s)); }

static void mk_drop(mk_bytes *b) {
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static int mk_eq(const mk_bytes *b, const void *p, size_t n) { return b->n == n && memcmp(b->p, p, n) == 0; }

static int mk_eq_fold(const char *a, size_t an, const char *b, size_t bn) { return sluice_equal_fold(a, an, b, bn); }

/* ---- the session state a call may change (and roll back) ---- */

typedef struct {
    mk_bytes key, val;
    int session; /* set at connect or helo: survives transactions */
} mk_tag;

typedef struct {
    mk_bytes name, value;
    int nospace; /* parsed as "Name:value", rendered back the same way */
} mk_field;

typedef struct {
    mk_bytes from;
    mk_bytes *rcpts;
    size_t nrcpts;
    mk_tag *tags;
    size_t ntags;
    mk_field *fields;
    size_t nfields;
    mk_bytes body;
} mk_state;

static mk_state mk_state_copy(const mk_state *s) {
    mk_state c;
    c.from = mk_make(s->from.p, s->from.n);
    c.nrcpts = s->nrcpts;
    c.rcpts = (mk_bytes *)mk_alloc(sizeof(mk_bytes) * s->nrcpts);
    for (size_t i = 0; i < s->nrcpts; i++)
        c.rcpts[i] = mk_make(s->rcpts[i].p, s->rcpts[i].n);
    c.ntags = s->ntags;
    c.tags = (mk_tag *)mk_alloc(sizeof(mk_tag) * s->ntags);
    for (size_t i = 0; i < s->ntags; i++) {
        c.tags[i].key = mk_make(s->tags[i].key.p, s->tags[i].key.n);
        c.tags[i].val = mk_make(s->tags[i].val.p, s->tags[i].val.n);
        c.tags[i].session = s->tags[i].session;
    }
    c.nfields = s->nfields;
    c.fields = (mk_field *)mk_alloc(sizeof(mk_field) * s->nfields);
    for (size_t i = 0; i < s->nfields; i++) {
        c.fields[i].name = mk_make(s->fields[i].name.p, s->fields[i].name.n);
        c.fields[i].value = mk_make(s->fields[i].value.p, s->fields[i].value.n);
        c.fields[i].nospace = s->fields[i].nospace;
    }
    c.body = mk_make(s->body.p, s->body.n);
    return c;
}

static void mk_state_free(mk_state *s) {
    mk_drop(&s->from);
    for (size_t i = 0; i < s->nrcpts; i++)
        mk_drop(&s->rcpts[i]);
    free(s->rcpts);
    for (size_t i = 0; i < s->ntags; i++) {
        mk_drop(&s->tags[i].key);
        mk_drop(&s->tags[i].val);
    }
    free(s->tags);
    for (size_t i = 0; i < s->nfields; i++) {
        mk_drop(&s->fields[i].name);
        mk_drop(&s->fields[i].value);
    }
    free(s->fields);
    mk_drop(&s->body);
    memset(s, 0, sizeof *s);
}

static void mk_clear_rcpts(mk_state *s) {
    for (size_t i = 0; i < s->nrcpts; i++)
        mk_drop(&s->rcpts[i]);
    s->nrcpts = 0;
}

static void mk_push_rcpt(mk_state *s, const char *p, size_t n) {
    s->rcpts = (mk_bytes *)realloc(s->rcpts, sizeof(mk_bytes) * (s->nrcpts + 1));
    if (s->rcpts == NULL)
        abort();
    s->rcpts[s->nrcpts++] = mk_make(p, n);
}

/* mk_clear_transaction drops transaction tags and the envelope. */
static void mk_clear_transaction(mk_state *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->ntags; i++) {
        if (s->tags[i].session) {
            s->tags[k++] = s->tags[i];
        } else {
            mk_drop(&s->tags[i].key);
            mk_drop(&s->tags[i].val);
        }
    }
    s->ntags = k;
    mk_clear_rcpts(s);
    mk_drop(&s->from);
    s->from = mk_make("", 0);
}

/* ---- the mock ---- */

typedef struct {
    mk_bytes key, val;
} mk_info;

typedef struct {
    int level;
    mk_bytes text;
} mk_log;

/* A key of the emulated key/value store (ABI.md §4.8). */
typedef struct {
    mk_bytes key, val;
    long long expires; /* on the mock's clock, in ms; < 0: never */
} mk_kv;

/* The answer to one DNS question (ABI.md §4.9). */
typedef struct {
    char qtype[8];  /* upper case */
    mk_bytes name;  /* lower case, without the final dot */
    mk_bytes recs;  /* joined by '\n' */
    int temporary;  /* TEMPERROR instead of recs */
} mk_dns;

struct sluice_mock {
    mk_state st;
    mk_info *info;
    size_t ninfo;
    mk_bytes config;
    mk_log *logs;
    size_t nlogs;
    mk_bytes rendered;
    int has_tx; /* a MAIL command (or set_envelope) started a transaction */

    /* capabilities (ABI.md §4.8-§4.11); the store is outside the transaction */
    mk_kv *kv;
    size_t nkv;
    long long kv_quota; /* bytes; 0: the default */
    int kv_down;        /* every kv function returns SLUICE_TEMPERROR */
    long long clock_ms;
    mk_dns *dns;
    size_t ndns;
    mk_info *auth; /* flat members of the auth_check result */
    size_t nauth;
    int auth_ran;  /* the checks of the last auth_check in this call; 0: none */
    mk_info *scans; /* scan results: key "NAME\nMEMBER"; "NAME\n" marks a granted scanner */
    size_t nscans;
    mk_info *scan_errors; /* failing scanners: key NAME, value the reason */
    size_t nscan_errors;
    char scan_last[128]; /* the scanner of the last scan in this call; "": none */

    /* per call */
    int phase; /* SLUICE_MOCK_*; SLUICE_MOCK_CONFIGURE has no session */
    jmp_buf trap;
    char reason[512];
    int reply_code;
    char reply_enh[16];
    char reply_text[401];
    int body_changed, env_changed;
};

/* The mock whose hook is running; the raw imports have no context argument. */
static sluice_mock *mk_current;

static sluice_mock *mk_cur(const char *fn) {
    if (mk_current == NULL) {
        fprintf(stderr, "sluice_mock: %s called outside a hook; run hooks with sluice_mock_*\n", fn);
        abort();
    }
    return mk_current;
}

/* mk_fail ends the running call as a plugin error. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
static void mk_fail(sluice_mock *m, const char *fn, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(m->reason, sizeof m->reason, "%s: ", fn);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof m->reason)
        vsnprintf(m->reason + n, sizeof m->reason - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(m->trap, 1);
}

void sluice_mock_trap(void) {
    sluice_mock *m = mk_cur("sluice_trap");
    mk_fail(m, "trap", "the plugin trapped (unreachable)");
}

sluice_mock *sluice_mock_new(void) {
    sluice_mock *m = (sluice_mock *)calloc(1, sizeof *m);
    if (m == NULL)
        abort();
    m->st.from = mk_make("", 0);
    m->st.body = mk_make("", 0);
    m->config = mk_cstr("{}");
    m->rendered = mk_make("", 0);
    sluice_mock_set_info(m, SLUICE_INFO_SESSION_ID, "mock-1");
    sluice_mock_set_info(m, SLUICE_INFO_CLIENT_IP, "192.0.2.1");
    sluice_mock_set_info(m, SLUICE_INFO_CLIENT_PORT, "4242");
    sluice_mock_set_info(m, SLUICE_INFO_SERVER_HOSTNAME, "mx.example.test");
    sluice_mock_set_info(m, SLUICE_INFO_PLUGIN_NAME, "test");
    m->phase = SLUICE_MOCK_CONNECT;
    return m;
}

void sluice_mock_free(sluice_mock *m) {
    if (m == NULL)
        return;
    mk_state_free(&m->st);
    for (size_t i = 0; i < m->ninfo; i++) {
        mk_drop(&m->info[i].key);
        mk_drop(&m->info[i].val);
    }
    free(m->info);
    for (size_t i = 0; i < m->nlogs; i++)
        mk_drop(&m->logs[i].text);
    free(m->logs);
    mk_drop(&m->config);
    mk_drop(&m->rendered);
    for (size_t i = 0; i < m->nkv; i++) {
        mk_drop(&m->kv[i].key);
        mk_drop(&m->kv[i].val);
    }
    free(m->kv);
    for (size_t i = 0; i < m->ndns; i++) {
        mk_drop(&m->dns[i].name);
        mk_drop(&m->dns[i].recs);
    }
    free(m->dns);
    for (size_t i = 0; i < m->nauth; i++) {
        mk_drop(&m->auth[i].key);
        mk_drop(&m->auth[i].val);
    }
    free(m->auth);
    for (size_t i = 0; i < m->nscans; i++) {
        mk_drop(&m->scans[i].key);
        mk_drop(&m->scans[i].val);
    }
    free(m->scans);
    for (size_t i = 0; i < m->nscan_errors; i++) {
        mk_drop(&m->scan_errors[i].key);
        mk_drop(&m->scan_errors[i].val);
    }
    free(m->scan_errors);
    free(m);
}

void sluice_mock_set_config(sluice_mock *m, const char *json) {
    mk_drop(&m->config);
    m->config = mk_cstr(json);
}

void sluice_mock_set_info(sluice_mock *m, const char *key, const char *value) {
    size_t kn = strlen(key);
    for (size_t i = 0; i < m->ninfo; i++) {
        if (mk_eq(&m->info[i].key, key, kn)) {
            mk_drop(&m->info[i].val);
            if (value != NULL) {
                m->info[i].val = mk_cstr(value);
            } else {
                mk_drop(&m->info[i].key);
                m->info[i] = m->info[--m->ninfo];
            }
            return;
        }
    }
    if (value == NULL)
        return;
    m->info = (mk_info *)realloc(m->info, sizeof(mk_info) * (m->ninfo + 1));
    if (m->info == NULL)
        abort();
    m->info[m->ninfo].key = mk_make(key, kn);
    m->info[m->ninfo].val = mk_cstr(value);
    m->ninfo++;
}

static const mk_bytes *mk_info_get(sluice_mock *m, const char *key, size_t kn) {
    for (size_t i = 0; i < m->ninfo; i++)
        if (mk_eq(&m->info[i].key, key, kn))
            return &m->info[i].val;
    return NULL;
}

static void mk_start_transaction(sluice_mock *m, const char *from) {
    mk_clear_transaction(&m->st);
    mk_drop(&m->st.from);
    m->st.from = mk_cstr(from);
    m->has_tx = 1;
}

void sluice_mock_set_envelope(sluice_mock *m, const char *from, ...) {
    va_list ap;
    mk_start_transaction(m, from);
    va_start(ap, from);
    for (const char *r = va_arg(ap, const char *); r != NULL; r = va_arg(ap, const char *))
        mk_push_rcpt(&m->st, r, strlen(r));
    va_end(ap);
}

int sluice_mock_set_message(sluice_mock *m, const char *raw) { return sluice_mock_set_message_n(m, raw, strlen(raw)); }

int sluice_mock_set_message_n(sluice_mock *m, const char *raw, size_t len) {
    /* LF -> CRLF where the CR is missing. */
    char *b = (char *)mk_alloc(len * 2 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
            b[n++] = '\r';
        b[n++] = raw[i];
    }
    mk_field *fields = NULL;
    size_t nf = 0, i = 0;
    int ok = 1;
    while (i < n) {
        size_t eol = i;
        while (eol + 1 < n && !(b[eol] == '\r' && b[eol + 1] == '\n'))
            eol++;
        if (eol + 1 >= n)
            eol = n; /* last line without CRLF */
        size_t next = eol < n ? eol + 2 : n;
        if (eol == i) { /* the blank line */
            i = next;
            break;
        }
        if (b[i] == ' ' || b[i] == '\t') {
            if (nf == 0) {
                ok = 0;
                break;
            }
            /* continuation: the value keeps CRLF WSP */
            mk_field *f = &fields[nf - 1];
            size_t add = 2 + (eol - i);
            char *v = (char *)mk_alloc(f->value.n + add + 1);
            memcpy(v, f->value.p, f->value.n);
            memcpy(v + f->value.n, "\r\n", 2);
            memcpy(v + f->value.n + 2, b + i, eol - i);
            v[f->value.n + add] = '\0';
            free(f->value.p);
            f->value.p = v;
            f->value.n += add;
        } else {
            size_t c = i;
            while (c < eol && b[c] != ':')
                c++;
            if (c == eol || c == i) {
                ok = 0;
                break;
            }
            fields = (mk_field *)realloc(fields, sizeof(mk_field) * (nf + 1));
            if (fields == NULL)
                abort();
            mk_field *f = &fields[nf++];
            f->name = mk_make(b + i, c - i);
            size_t vs = c + 1;
            f->nospace = !(vs < eol && b[vs] == ' ');
            if (!f->nospace)
                vs++;
            f->value = mk_make(b + vs, eol - vs);
        }
        i = next;
    }
    if (!ok) {
        for (size_t k = 0; k < nf; k++) {
            mk_drop(&fields[k].name);
            mk_drop(&fields[k].value);
        }
        free(fields);
        free(b);
        return -1;
    }
    for (size_t k = 0; k < m->st.nfields; k++) {
        mk_drop(&m->st.fields[k].name);
        mk_drop(&m->st.fields[k].value);
    }
    free(m->st.fields);
    m->st.fields = fields;
    m->st.nfields = nf;
    mk_drop(&m->st.body);
    m->st.body = mk_make(b + (i < n ? i : n), i < n ? n - i : 0);
    free(b);
    return 0;
}

/* ---- validation, as in the gateway (sdk/ABI.md §4) ---- */

static void mk_need_phase(sluice_mock *m, const char *fn, int a, int b) {
    if (m->phase != a && m->phase != b)
        mk_fail(m, fn, "not allowed in this phase (%d)", m->phase);
}

static int32_t mk_cap(sluice_mock *m, const char *fn, int32_t cap) {
    if (cap < 0)
        mk_fail(m, fn, "buffer capacity %d is negative", cap);
    return cap;
}

static void mk_check_len(sluice_mock *m, const char *fn, const void *p, int32_t len) {
    if (len < 0 || (p == NULL && len > 0))
        mk_fail(m, fn, "pointer/length pair is outside memory (len %d)", len);
}

/* mk_out is the (buf, cap) protocol: copy only if the whole value fits. */
static int32_t mk_out(sluice_mock *m, const char *fn, void *buf, int32_t cap, const char *v, size_t n) {
    mk_cap(m, fn, cap);
    if (n <= (size_t)cap && n > 0) {
        if (buf == NULL)
            mk_fail(m, fn, "buffer is NULL");
        memcpy(buf, v, n);
    }
    return (int32_t)n;
}

static void mk_valid_name(sluice_mock *m, const char *fn, const char *p, size_t n) {
    if (n == 0 || n > 76)
        mk_fail(m, fn, "header name must be 1 to 76 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 33 || c > 126 || c == ':')
            mk_fail(m, fn, "header name contains byte 0x%02x", c);
    }
}

static int mk_only_wsp(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r')
            return 1;
        if (p[i] != ' ' && p[i] != '\t')
            return 0;
    }
    return 1;
}

/* Length is no error: the host folds (mk_fold). */
static void mk_valid_value(sluice_mock *m, const char *fn, const char *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '\0')
            mk_fail(m, fn, "header value contains NUL");
        if (c == '\r') {
            if (i + 2 >= n || v[i + 1] != '\n' || (v[i + 2] != ' ' && v[i + 2] != '\t'))
                mk_fail(m, fn, "header value contains CR or LF that is not folding");
            i++;
            if (mk_only_wsp(v + i + 1, n - i - 1))
                mk_fail(m, fn, "header value ends in a whitespace-only continuation line");
            continue;
        }
        if (c == '\n')
            mk_fail(m, fn, "header value contains CR or LF that is not folding");
    }
}

static int mk_wsp(char c) { return c == ' ' || c == '\t'; }

/* sdk/ABI.md §4.4, "the 998-byte line rule": a CRLF goes before the space or
 * tab that keeps a line of "Name: value" within 998 bytes (else the first one
 * after it); whitespace that starts or ends a line is no fold point, and a
 * line without one stays long. The unfolded value is unchanged. */
static mk_bytes mk_fold(size_t name_len, const char *v, size_t n) {
    mk_bytes b;
    size_t o = 0, copied = 0, start = 0, prefix = name_len + 2;
    b.p = (char *)mk_alloc(2 * n + 1); /* at most one fold per two bytes */
    for (;;) {
        size_t end = start;
        while (end < n && !(v[end] == '\r' && end + 1 < n && v[end + 1] == '\n'))
            end++;
        while (prefix + end - start > 998) {
            size_t first = start, last = end, best = 0, i;
            int found = 0;
            while (first < end && mk_wsp(v[first]))
                first++;
            while (last > first && mk_wsp(v[last - 1]))
                last--;
            for (i = first + 1; last > 0 && i < last - 1; i++) {
                if (!mk_wsp(v[i]))
                    continue;
                if (prefix + i - start > 998) {
                    if (!found)
                        best = i, found = 1;
                    break;
                }
                best = i, found = 1;
            }
            if (!found)
                break;
            memcpy(b.p + o, v + copied, best - copied);
            o += best - copied;
            b.p[o++] = '\r';
            b.p[o++] = '\n';
            copied = start = best;
            prefix = 0;
        }
        if (end >= n)
            break;
        start = end + 2;
        prefix = 0;
    }
    memcpy(b.p + o, v + copied, n - copied);
    o += n - copied;
    b.p[o] = '\0';
    b.n = o;
    return b;
}

static const char *mk_body_error(const char *b, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\0')
            return "body contains NUL";
        if (b[i] == '\r') {
            if (i + 1 >= n || b[i + 1] != '\n')
                return "body contains a bare CR";
            if (i - start > 998)
                return "body line longer than 998 bytes";
            i++;
            start = i + 1;
        } else if (b[i] == '\n') {
            return "body contains a bare LF";
        }
    }
    if (n - start > 998)
        return "body line longer than 998 bytes";
    return NULL;
}

static void mk_valid_tag_key(sluice_mock *m, const char *fn, const char *k, int32_t n) {
    mk_check_len(m, fn, k, n);
    if (n < 1 || n > 64)
        mk_fail(m, fn, "tag key must be 1 to 64 bytes of A-Z a-z 0-9 _ . -");
    for (int32_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            mk_fail(m, fn, "tag key must be 1 to 64 bytes of A-Z a-z 0-9 _ . -");
    }
}

static void mk_valid_address(sluice_mock *m, const char *fn, const char *a, int32_t n, int allow_empty) {
    mk_check_len(m, fn, a, n);
    if (n == 0 && allow_empty)
        return;
    if (n > SLUICE_MAX_ADDRESS)
        mk_fail(m, fn, "address is %d bytes; at most %d are allowed", n, SLUICE_MAX_ADDRESS);
    for (int32_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
            mk_fail(m, fn, "address contains a space, control character or angle bracket");
    }
    size_t at = sluice_local_part(a, (size_t)n);
    if (at == 0 || at >= (size_t)n - 1)
        mk_fail(m, fn, "address is not local@domain");
}

/* mk_valid_enhanced checks class.subject.detail with the class of code
 * (RFC 3463 §2). */
static int mk_valid_enhanced(const char *s, size_t n, int code) {
    int part = 0;
    size_t plen = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (plen == 0 || plen > 3 || (part == 0 && plen != 1))
                return 0;
            part++;
            plen = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return 0;
        plen++;
    }
    return part == 3 && s[0] - '0' == code / 100;
}

/* ---- the raw imports ---- */

void sluice_raw_log(int32_t level, const void *ptr, int32_t len) {
    sluice_mock *m = mk_cur("log");
    if (level < 0 || level > 3)
        mk_fail(m, "log", "log level %d is not 0 (debug), 1 (info), 2 (warn) or 3 (error)", level);
    mk_check_len(m, "log", ptr, len);
    if (len > 4096)
        len = 4096;
    m->logs = (mk_log *)realloc(m->logs, sizeof(mk_log) * (m->nlogs + 1));
    if (m->logs == NULL)
        abort();
    m->logs[m->nlogs].level = level;
    m->logs[m->nlogs].text = mk_make(ptr, (size_t)len);
    m->nlogs++;
}

int32_t sluice_raw_config(void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("config");
    return mk_out(m, "config", buf, cap, m->config.p, m->config.n);
}

int32_t sluice_raw_info(const void *key, int32_t key_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("info");
    mk_check_len(m, "info", key, key_len);
    const char *k = (const char *)key;
    size_t kn = (size_t)key_len;
#define MK_KEY(s) sluice_equal(k, kn, s, sizeof(s) - 1)
    if (!MK_KEY(SLUICE_INFO_PLUGIN_NAME) && m->phase == SLUICE_MOCK_CONFIGURE)
        return SLUICE_NOT_FOUND;
    static const char *phases[] = {"connect", "helo", "mail", "rcpt", "data"};
    if (MK_KEY(SLUICE_INFO_PHASE))
        return mk_out(m, "info", buf, cap, phases[m->phase], strlen(phases[m->phase]));
    if (MK_KEY(SLUICE_INFO_MAIL_FROM)) {
        if (m->phase < SLUICE_MOCK_MAIL || !m->has_tx)
            return SLUICE_NOT_FOUND;
        return mk_out(m, "info", buf, cap, m->st.from.p, m->st.from.n);
    }
    if ((MK_KEY(SLUICE_INFO_HELO) && m->phase < SLUICE_MOCK_HELO) ||
        (MK_KEY(SLUICE_INFO_MAIL_PARAMS) && m->phase < SLUICE_MOCK_MAIL) ||
        ((MK_KEY(SLUICE_INFO_RCPT) || MK_KEY(SLUICE_INFO_RCPT_PARAMS)) && m->phase != SLUICE_MOCK_RCPT))
        return SLUICE_NOT_FOUND;
#undef MK_KEY
    const mk_bytes *v = mk_info_get(m, k, kn);
    if (v == NULL)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "info", buf, cap, v->p, v->n);
}

int32_t sluice_raw_set_reply(int32_t code, const void *enh, int32_t enh_len, const void *text, int32_t text_len) {
    sluice_mock *m = mk_cur("set_reply");
    if (m->phase == SLUICE_MOCK_CONFIGURE)
        mk_fail(m, "set_reply", "not allowed in sluice_configure");
    if (code < 400 || code > 599)
        mk_fail(m, "set_reply", "reply code %d is not between 400 and 599", code);
    mk_check_len(m, "set_reply", enh, enh_len);
    mk_check_len(m, "set_reply", text, text_len);
    char e[16];
    if (enh_len == 0) {
        snprintf(e, sizeof e, "%d.0.0", code / 100);
    } else {
        if (enh_len > 11 || !mk_valid_enhanced((const char *)enh, (size_t)enh_len, code))
            mk_fail(m, "set_reply", "enhanced status code is not class.subject.detail with class %d (RFC 3463)", code / 100);
        memcpy(e, enh, (size_t)enh_len);
        e[enh_len] = '\0';
    }
    if (text_len < 1 || text_len > SLUICE_MAX_REPLY_TEXT)
        mk_fail(m, "set_reply", "reply text is %d bytes; it must be 1 to %d", text_len, SLUICE_MAX_REPLY_TEXT);
    for (int32_t i = 0; i < text_len; i++) {
        unsigned char c = ((const unsigned char *)text)[i];
        if (c < 0x20 || c > 0x7e)
            mk_fail(m, "set_reply", "reply text contains byte 0x%02x; only printable ASCII and space are allowed", c);
    }
    m->reply_code = code;
    memcpy(m->reply_enh, e, sizeof e);
    memcpy(m->reply_text, text, (size_t)text_len);
    m->reply_text[text_len] = '\0';
    return 0;
}

static mk_tag *mk_find_tag(sluice_mock *m, const char *k, size_t n) {
    for (size_t i = 0; i < m->st.ntags; i++)
        if (mk_eq(&m->st.tags[i].key, k, n))
            return &m->st.tags[i];
    return NULL;
}

int32_t sluice_raw_tag_get(const void *key, int32_t key_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("tag_get");
    mk_valid_tag_key(m, "tag_get", (const char *)key, key_len);
    if (m->phase == SLUICE_MOCK_CONFIGURE)
        return SLUICE_NOT_FOUND;
    mk_tag *t = mk_find_tag(m, (const char *)key, (size_t)key_len);
    if (t == NULL)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "tag_get", buf, cap, t->val.p, t->val.n);
}

int32_t sluice_raw_tag_set(const void *key, int32_t key_len, const void *val, int32_t val_len) {
    sluice_mock *m = mk_cur("tag_set");
    if (m->phase == SLUICE_MOCK_CONFIGURE)
        mk_fail(m, "tag_set", "not allowed in sluice_configure (there is no session yet)");
    mk_valid_tag_key(m, "tag_set", (const char *)key, key_len);
    mk_check_len(m, "tag_set", val, val_len);
    if (val_len > SLUICE_MAX_TAG_VALUE)
        mk_fail(m, "tag_set", "tag value is %d bytes; at most %d are allowed", val_len, SLUICE_MAX_TAG_VALUE);
    for (int32_t i = 0; i < val_len; i++) {
        char c = ((const char *)val)[i];
        if (c == '\r' || c == '\n' || c == '\0')
            mk_fail(m, "tag_set", "tag value contains CR, LF or NUL");
    }
    mk_tag *t = mk_find_tag(m, (const char *)key, (size_t)key_len);
    if (t == NULL) {
        m->st.tags = (mk_tag *)realloc(m->st.tags, sizeof(mk_tag) * (m->st.ntags + 1));
        if (m->st.tags == NULL)
            abort();
        t = &m->st.tags[m->st.ntags++];
        t->key = mk_make(key, (size_t)key_len);
    } else {
        mk_drop(&t->val);
    }
    t->val = mk_make(val, (size_t)val_len);
    t->session = m->phase <= SLUICE_MOCK_HELO;
    return 0;
}

int32_t sluice_raw_rcpt_count(void) {
    sluice_mock *m = mk_cur("rcpt_count");
    if (m->phase == SLUICE_MOCK_CONFIGURE)
        return SLUICE_NOT_FOUND;
    return (int32_t)m->st.nrcpts;
}

int32_t sluice_raw_rcpt_get(int32_t index, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("rcpt_get");
    if (m->phase == SLUICE_MOCK_CONFIGURE || index < 0 || (size_t)index >= m->st.nrcpts)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "rcpt_get", buf, cap, m->st.rcpts[index].p, m->st.rcpts[index].n);
}

int32_t sluice_raw_mail_set(const void *addr, int32_t len) {
    sluice_mock *m = mk_cur("mail_set");
    mk_need_phase(m, "mail_set", SLUICE_MOCK_MAIL, SLUICE_MOCK_DATA);
    mk_valid_address(m, "mail_set", (const char *)addr, len, 1);
    mk_drop(&m->st.from);
    m->st.from = mk_make(addr, (size_t)len);
    m->env_changed = 1;
    return 0;
}

int32_t sluice_raw_rcpt_add(const void *addr, int32_t len) {
    sluice_mock *m = mk_cur("rcpt_add");
    mk_need_phase(m, "rcpt_add", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_valid_address(m, "rcpt_add", (const char *)addr, len, 0);
    for (size_t i = 0; i < m->st.nrcpts; i++)
        if (mk_eq_fold(m->st.rcpts[i].p, m->st.rcpts[i].n, (const char *)addr, (size_t)len))
            return 0;
    mk_push_rcpt(&m->st, (const char *)addr, (size_t)len);
    m->env_changed = 1;
    return 0;
}

int32_t sluice_raw_rcpt_remove(const void *addr, int32_t len) {
    sluice_mock *m = mk_cur("rcpt_remove");
    mk_need_phase(m, "rcpt_remove", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_valid_address(m, "rcpt_remove", (const char *)addr, len, 0);
    size_t k = 0;
    for (size_t i = 0; i < m->st.nrcpts; i++) {
        if (mk_eq_fold(m->st.rcpts[i].p, m->st.rcpts[i].n, (const char *)addr, (size_t)len))
            mk_drop(&m->st.rcpts[i]);
        else
            m->st.rcpts[k++] = m->st.rcpts[i];
    }
    if (k == m->st.nrcpts)
        return SLUICE_NOT_FOUND;
    m->st.nrcpts = k;
    m->env_changed = 1;
    return 0;
}

/* mk_msg reports whether header and body reads see a message. */
static int mk_msg(sluice_mock *m) { return m->phase == SLUICE_MOCK_DATA; }

int32_t sluice_raw_header_count(void) {
    sluice_mock *m = mk_cur("header_count");
    return mk_msg(m) ? (int32_t)m->st.nfields : SLUICE_NOT_FOUND;
}

int32_t sluice_raw_header_name(int32_t index, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("header_name");
    if (!mk_msg(m) || index < 0 || (size_t)index >= m->st.nfields)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "header_name", buf, cap, m->st.fields[index].name.p, m->st.fields[index].name.n);
}

int32_t sluice_raw_header_value(int32_t index, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("header_value");
    if (!mk_msg(m) || index < 0 || (size_t)index >= m->st.nfields)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "header_value", buf, cap, m->st.fields[index].value.p, m->st.fields[index].value.n);
}

int32_t sluice_raw_header_find(const void *name, int32_t name_len, int32_t nth) {
    sluice_mock *m = mk_cur("header_find");
    mk_check_len(m, "header_find", name, name_len);
    if (!mk_msg(m) || nth < 0)
        return SLUICE_NOT_FOUND;
    for (size_t i = 0; i < m->st.nfields; i++) {
        const mk_bytes *f = &m->st.fields[i].name;
        if (mk_eq_fold(f->p, f->n, (const char *)name, (size_t)name_len) && nth-- == 0)
            return (int32_t)i;
    }
    return SLUICE_NOT_FOUND;
}

static void mk_insert_field(sluice_mock *m, size_t at, const char *name, int32_t nlen, const char *val, int32_t vlen) {
    m->st.fields = (mk_field *)realloc(m->st.fields, sizeof(mk_field) * (m->st.nfields + 1));
    if (m->st.fields == NULL)
        abort();
    memmove(&m->st.fields[at + 1], &m->st.fields[at], sizeof(mk_field) * (m->st.nfields - at));
    m->st.fields[at].name = mk_make(name, (size_t)nlen);
    m->st.fields[at].value = mk_fold((size_t)nlen, val, (size_t)vlen);
    m->st.fields[at].nospace = 0;
    m->st.nfields++;
}

static void mk_check_field(sluice_mock *m, const char *fn, const void *name, int32_t nlen, const void *val, int32_t vlen) {
    mk_check_len(m, fn, name, nlen);
    mk_check_len(m, fn, val, vlen);
    mk_valid_name(m, fn, (const char *)name, (size_t)nlen);
    mk_valid_value(m, fn, (const char *)val, (size_t)vlen);
}

int32_t sluice_raw_header_add(const void *name, int32_t name_len, const void *val, int32_t val_len) {
    sluice_mock *m = mk_cur("header_add");
    mk_need_phase(m, "header_add", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_check_field(m, "header_add", name, name_len, val, val_len);
    mk_insert_field(m, m->st.nfields, (const char *)name, name_len, (const char *)val, val_len);
    return 0;
}

int32_t sluice_raw_header_insert(int32_t index, const void *name, int32_t name_len, const void *val, int32_t val_len) {
    sluice_mock *m = mk_cur("header_insert");
    mk_need_phase(m, "header_insert", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_check_field(m, "header_insert", name, name_len, val, val_len);
    if (index < 0 || (size_t)index > m->st.nfields)
        return SLUICE_NOT_FOUND;
    mk_insert_field(m, (size_t)index, (const char *)name, name_len, (const char *)val, val_len);
    return 0;
}

int32_t sluice_raw_header_change(int32_t index, const void *val, int32_t val_len) {
    sluice_mock *m = mk_cur("header_change");
    mk_need_phase(m, "header_change", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_check_len(m, "header_change", val, val_len);
    if (index < 0 || (size_t)index >= m->st.nfields)
        return SLUICE_NOT_FOUND;
    mk_field *f = &m->st.fields[index];
    mk_valid_value(m, "header_change", (const char *)val, (size_t)val_len);
    mk_drop(&f->value);
    f->value = mk_fold(f->name.n, (const char *)val, (size_t)val_len);
    f->nospace = 0;
    return 0;
}

int32_t sluice_raw_header_delete(int32_t index) {
    sluice_mock *m = mk_cur("header_delete");
    mk_need_phase(m, "header_delete", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    if (index < 0 || (size_t)index >= m->st.nfields)
        return SLUICE_NOT_FOUND;
    mk_drop(&m->st.fields[index].name);
    mk_drop(&m->st.fields[index].value);
    memmove(&m->st.fields[index], &m->st.fields[index + 1], sizeof(mk_field) * (m->st.nfields - (size_t)index - 1));
    m->st.nfields--;
    return 0;
}

int32_t sluice_raw_body_size(void) {
    sluice_mock *m = mk_cur("body_size");
    return mk_msg(m) ? (int32_t)m->st.body.n : SLUICE_NOT_FOUND;
}

int32_t sluice_raw_body_read(int32_t offset, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("body_read");
    if (!mk_msg(m) || offset < 0 || (size_t)offset > m->st.body.n)
        return SLUICE_NOT_FOUND;
    mk_cap(m, "body_read", cap);
    size_t n = m->st.body.n - (size_t)offset;
    if (n > (size_t)cap)
        n = (size_t)cap;
    if (n > 0) {
        if (buf == NULL)
            mk_fail(m, "body_read", "buffer is NULL");
        memcpy(buf, m->st.body.p + offset, n);
    }
    return (int32_t)n;
}

int32_t sluice_raw_body_replace(const void *ptr, int32_t len) {
    sluice_mock *m = mk_cur("body_replace");
    mk_need_phase(m, "body_replace", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_check_len(m, "body_replace", ptr, len);
    mk_drop(&m->st.body);
    m->st.body = mk_make(ptr, (size_t)len);
    m->body_changed = 1;
    return 0;
}

int32_t sluice_raw_body_append(const void *ptr, int32_t len) {
    sluice_mock *m = mk_cur("body_append");
    mk_need_phase(m, "body_append", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    mk_check_len(m, "body_append", ptr, len);
    size_t n = m->st.body.n + (size_t)len;
    char *b = (char *)mk_alloc(n + 1);
    memcpy(b, m->st.body.p, m->st.body.n);
    if (len > 0)
        memcpy(b + m->st.body.n, ptr, (size_t)len);
    b[n] = '\0';
    free(m->st.body.p);
    m->st.body.p = b;
    m->st.body.n = n;
    m->body_changed = 1;
    return 0;
}

/* ---- capabilities (sdk/ABI.md §4.8 to §4.11) ----
 *
 * Grants are not emulated: every capability is available, as if the policy
 * granted it, except that dkim_sign knows only the keys the test added with
 * sluice_mock_add_dkim_key. The key/value store lives outside the session
 * state, so a failed call keeps its writes, as in the gateway. */

static void *mk_grow(void *p, size_t size, size_t n) {
    p = realloc(p, size * (n + 1));
    if (p == NULL)
        abort();
    return p;
}

/* mk_kv_live returns the live entry of key, dropping it if it expired. */
static mk_kv *mk_kv_live(sluice_mock *m, const char *key, size_t kn) {
    for (size_t i = 0; i < m->nkv; i++) {
        if (!mk_eq(&m->kv[i].key, key, kn))
            continue;
        if (m->kv[i].expires >= 0 && m->clock_ms >= m->kv[i].expires) {
            mk_drop(&m->kv[i].key);
            mk_drop(&m->kv[i].val);
            m->kv[i] = m->kv[--m->nkv];
            return NULL;
        }
        return &m->kv[i];
    }
    return NULL;
}

static mk_kv *mk_kv_put(sluice_mock *m, const char *key, size_t kn, const char *val, size_t vn, int32_t ttl_ms) {
    mk_kv *e = mk_kv_live(m, key, kn);
    if (e == NULL) {
        m->kv = (mk_kv *)mk_grow(m->kv, sizeof(mk_kv), m->nkv);
        e = &m->kv[m->nkv++];
        e->key = mk_make(key, kn);
    } else {
        mk_drop(&e->val);
    }
    e->val = mk_make(val, vn);
    e->expires = ttl_ms > 0 ? m->clock_ms + ttl_ms : -1;
    return e;
}

void sluice_mock_set_kv(sluice_mock *m, const char *key, const char *val, int32_t ttl_ms) {
    mk_kv_put(m, key, strlen(key), val, strlen(val), ttl_ms);
}

const char *sluice_mock_kv(sluice_mock *m, const char *key) {
    mk_kv *e = mk_kv_live(m, key, strlen(key));
    return e ? e->val.p : NULL;
}

void sluice_mock_advance_ms(sluice_mock *m, long long ms) { m->clock_ms += ms; }

/* mk_dns_name is the lookup form of a name: lower case, no final dot. */
static mk_bytes mk_dns_name(const char *p, size_t n) {
    if (n > 0 && p[n - 1] == '.')
        n--;
    mk_bytes b = mk_make(p, n);
    for (size_t i = 0; i < n; i++)
        if (b.p[i] >= 'A' && b.p[i] <= 'Z')
            b.p[i] = (char)(b.p[i] + 32);
    return b;
}

static void mk_set_dns(sluice_mock *m, const char *qtype, const char *name, const char *recs, int temporary) {
    m->dns = (mk_dns *)mk_grow(m->dns, sizeof(mk_dns), m->ndns);
    mk_dns *d = &m->dns[m->ndns++];
    memset(d->qtype, 0, sizeof d->qtype);
    for (size_t i = 0; qtype[i] != '\0' && i < sizeof d->qtype - 1; i++)
        d->qtype[i] = (char)(qtype[i] >= 'a' && qtype[i] <= 'z' ? qtype[i] - 32 : qtype[i]);
    d->name = mk_dns_name(name, strlen(name));
    d->recs = mk_cstr(recs ? recs : "");
    d->temporary = temporary;
}

void sluice_mock_set_dns(sluice_mock *m, const char *qtype, const char *name, const char *records) {
    mk_set_dns(m, qtype, name, records, 0);
}

void sluice_mock_set_dns_temporary(sluice_mock *m, const char *qtype, const char *name) {
    mk_set_dns(m, qtype, name, "", 1);
}

void sluice_mock_set_auth(sluice_mock *m, const char *key, const char *value) {
    m->auth = (mk_info *)mk_grow(m->auth, sizeof(mk_info), m->nauth);
    m->auth[m->nauth].key = mk_cstr(key);
    m->auth[m->nauth].val = mk_cstr(value);
    m->nauth++;
}

void sluice_mock_add_dkim_key(sluice_mock *m, const char *name, const char *domain, const char *selector, const char *algorithm) {
    const mk_bytes *old = mk_info_get(m, SLUICE_INFO_DKIM_KEYS, strlen(SLUICE_INFO_DKIM_KEYS));
    size_t n = (old ? old->n + 1 : 0) + strlen(name) + strlen(domain) + strlen(selector) + strlen(algorithm) + 4;
    char *v = (char *)mk_alloc(n);
    snprintf(v, n, "%s%s%s %s %s %s", old ? old->p : "", old ? "\n" : "", name, domain, selector, algorithm);
    sluice_mock_set_info(m, SLUICE_INFO_DKIM_KEYS, v);
    free(v);
}

static void mk_kv_key(sluice_mock *m, const char *fn, const void *key, int32_t kn) {
    mk_check_len(m, fn, key, kn);
    if (kn < 1 || kn > 256)
        mk_fail(m, fn, "key length %d is outside 1-256 bytes", kn);
}

static void mk_kv_ttl(sluice_mock *m, const char *fn, int32_t ttl_ms) {
    if (ttl_ms < 0)
        mk_fail(m, fn, "negative ttl_ms %d", ttl_ms);
}

int32_t sluice_raw_kv_get(const void *key, int32_t key_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("kv_get");
    mk_kv_key(m, "kv_get", key, key_len);
    if (m->kv_down) return SLUICE_TEMPERROR;
    mk_kv *e = mk_kv_live(m, (const char *)key, (size_t)key_len);
    return e ? mk_out(m, "kv_get", buf, cap, e->val.p, e->val.n) : SLUICE_NOT_FOUND;
}

/* mk_kv_cost is what one key counts against the quota (ABI.md §4.8). */
static long long mk_kv_cost(size_t kn, size_t vn) { return 128 + (long long)kn + (long long)(vn < 20 ? 20 : vn); }

void sluice_mock_set_kv_quota(sluice_mock *m, long long bytes) { m->kv_quota = bytes; }
void sluice_mock_set_kv_down(sluice_mock *m, int down) { m->kv_down = down; }

long long sluice_mock_kv_usage(sluice_mock *m) {
    long long n = 0;
    for (size_t i = 0; i < m->nkv; i++)
        n += mk_kv_cost(m->kv[i].key.n, m->kv[i].val.n);
    return n;
}

/* mk_kv_fits reports whether the store may grow by grow bytes, dropping
 * expired keys first when it may not. */
static int mk_kv_fits(sluice_mock *m, long long grow) {
    long long quota = m->kv_quota > 0 ? m->kv_quota : 64LL << 20;
    if (grow <= 0 || sluice_mock_kv_usage(m) + grow <= quota)
        return 1;
    for (size_t i = 0; i < m->nkv;) {
        if (m->kv[i].expires >= 0 && m->clock_ms >= m->kv[i].expires) {
            mk_drop(&m->kv[i].key);
            mk_drop(&m->kv[i].val);
            m->kv[i] = m->kv[--m->nkv];
        } else {
            i++;
        }
    }
    return sluice_mock_kv_usage(m) + grow <= quota;
}

int32_t sluice_raw_kv_set(const void *key, int32_t key_len, const void *val, int32_t val_len, int32_t ttl_ms) {
    sluice_mock *m = mk_cur("kv_set");
    mk_kv_key(m, "kv_set", key, key_len);
    mk_check_len(m, "kv_set", val, val_len);
    mk_kv_ttl(m, "kv_set", ttl_ms);
    if (val_len > 65536)
        mk_fail(m, "kv_set", "value of %d bytes is above the limit of 65536", val_len);
    if (m->kv_down) return SLUICE_TEMPERROR;
    mk_kv *old = mk_kv_live(m, (const char *)key, (size_t)key_len);
    long long grow = mk_kv_cost((size_t)key_len, (size_t)val_len) - (old ? mk_kv_cost(old->key.n, old->val.n) : 0);
    if (!mk_kv_fits(m, grow))
        return SLUICE_QUOTA;
    mk_kv_put(m, (const char *)key, (size_t)key_len, (const char *)val, (size_t)val_len, ttl_ms);
    return 0;
}

int32_t sluice_raw_kv_incr(const void *key, int32_t key_len, int32_t delta, int32_t ttl_ms) {
    sluice_mock *m = mk_cur("kv_incr");
    mk_kv_key(m, "kv_incr", key, key_len);
    mk_kv_ttl(m, "kv_incr", ttl_ms);
    if (m->kv_down) return SLUICE_TEMPERROR;
    mk_kv *e = mk_kv_live(m, (const char *)key, (size_t)key_len);
    if (e == NULL) {
        if (!mk_kv_fits(m, mk_kv_cost((size_t)key_len, 0)))
            return SLUICE_QUOTA;
        e = mk_kv_put(m, (const char *)key, (size_t)key_len, "", 0, ttl_ms);
    }
    /* A decimal integer (int64 range), else 0; the sum saturates at int64. */
    long long cur = 0;
    char *end;
    if (e->val.n > 0) {
        cur = strtoll(e->val.p, &end, 10);
        if (*end != '\0' || e->val.p[0] == ' ' || e->val.p[0] == '+')
            cur = 0;
    }
    long long n;
    if (delta > 0 && cur > LLONG_MAX - delta)
        n = LLONG_MAX;
    else if (delta < 0 && cur < LLONG_MIN - delta)
        n = LLONG_MIN;
    else
        n = cur + delta;
    char text[24];
    snprintf(text, sizeof text, "%lld", n);
    mk_drop(&e->val);
    e->val = mk_cstr(text);
    return n > INT32_MAX ? INT32_MAX : n < INT32_MIN ? INT32_MIN : (int32_t)n;
}

int32_t sluice_raw_kv_delete(const void *key, int32_t key_len) {
    sluice_mock *m = mk_cur("kv_delete");
    mk_kv_key(m, "kv_delete", key, key_len);
    if (m->kv_down) return SLUICE_TEMPERROR;
    mk_kv *e = mk_kv_live(m, (const char *)key, (size_t)key_len);
    if (e == NULL)
        return SLUICE_NOT_FOUND;
    mk_drop(&e->key);
    mk_drop(&e->val);
    *e = m->kv[--m->nkv];
    return 0;
}

int32_t sluice_raw_dns_lookup(const void *qtype, int32_t qtype_len, const void *name, int32_t name_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("dns_lookup");
    mk_check_len(m, "dns_lookup", qtype, qtype_len);
    mk_check_len(m, "dns_lookup", name, name_len);
    static const char *types[] = {"A", "AAAA", "TXT", "MX", "PTR", "NS", "CNAME"};
    const char *q = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (mk_eq_fold((const char *)qtype, (size_t)qtype_len, types[i], strlen(types[i])))
            q = types[i];
    if (q == NULL)
        mk_fail(m, "dns_lookup", "unsupported query type \"%.*s\"", (int)(qtype_len > 16 ? 16 : qtype_len), (const char *)qtype);
    if (name_len > 255)
        return SLUICE_NOT_FOUND;
    mk_bytes key = mk_dns_name((const char *)name, (size_t)name_len);
    int32_t r = SLUICE_NOT_FOUND;
    for (size_t i = m->ndns; i > 0; i--) { /* the last answer set wins */
        mk_dns *d = &m->dns[i - 1];
        if (strcmp(d->qtype, q) != 0 || !mk_eq(&d->name, key.p, key.n))
            continue;
        if (d->temporary)
            r = SLUICE_TEMPERROR;
        else if (d->recs.n > 0)
            r = mk_out(m, "dns_lookup", buf, cap, d->recs.p, d->recs.n);
        break;
    }
    mk_drop(&key);
    return r;
}

/* A growing text buffer for the auth_check JSON. */
typedef struct {
    char *p;
    size_t n;
} mk_text;

static void mk_text_add(mk_text *t, const char *s, size_t n) {
    t->p = (char *)realloc(t->p, t->n + n + 1);
    if (t->p == NULL)
        abort();
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void mk_text_json(mk_text *t, const char *s, size_t n) {
    mk_text_add(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        if (s[i] == '"' || s[i] == '\\') {
            esc[0] = '\\';
            esc[1] = s[i];
            mk_text_add(t, esc, 2);
        } else if ((unsigned char)s[i] < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[i]);
            mk_text_add(t, esc, 6);
        } else {
            mk_text_add(t, s + i, 1);
        }
    }
    mk_text_add(t, "\"", 1);
}

/* mk_auth_object writes the members prefix.M as a JSON object; pct is a
 * number and *_aligned are booleans. */
static void mk_auth_object(sluice_mock *m, mk_text *t, const char *prefix) {
    size_t pn = strlen(prefix);
    int first = 1;
    mk_text_add(t, "{", 1);
    for (size_t i = 0; i < m->nauth; i++) {
        const mk_bytes *k = &m->auth[i].key, *v = &m->auth[i].val;
        if (k->n <= pn || memcmp(k->p, prefix, pn) != 0 || memchr(k->p + pn, '.', k->n - pn) != NULL)
            continue;
        if (!first)
            mk_text_add(t, ",", 1);
        first = 0;
        const char *mem = k->p + pn;
        size_t mn = k->n - pn;
        mk_text_json(t, mem, mn);
        mk_text_add(t, ":", 1);
        if (strcmp(mem, "pct") == 0 || (mn > 8 && strcmp(mem + mn - 8, "_aligned") == 0))
            mk_text_add(t, v->p, v->n);
        else
            mk_text_json(t, v->p, v->n);
    }
    mk_text_add(t, "}", 1);
}

static const mk_bytes *mk_auth_get(sluice_mock *m, const char *key, size_t kn) {
    for (size_t i = m->nauth; i > 0; i--)
        if (mk_eq(&m->auth[i - 1].key, key, kn))
            return &m->auth[i - 1].val;
    return NULL;
}

int32_t sluice_raw_auth_check(int32_t checks, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("auth_check");
    if (checks == 0 || (checks & ~7) != 0)
        mk_fail(m, "auth_check", "invalid checks %d", checks);
    if (m->phase < SLUICE_MOCK_MAIL || ((checks & ~SLUICE_AUTH_SPF) != 0 && m->phase != SLUICE_MOCK_DATA))
        return SLUICE_NOT_FOUND;
    m->auth_ran = (checks & SLUICE_AUTH_DMARC) ? 7 : checks;
    mk_text t = {NULL, 0};
    mk_text_add(&t, "{", 1);
    if (m->auth_ran & SLUICE_AUTH_SPF) {
        mk_text_add(&t, "\"spf\":", 6);
        mk_auth_object(m, &t, "spf.");
    }
    if (m->auth_ran & SLUICE_AUTH_DKIM) {
        const mk_bytes *c = mk_auth_get(m, "dkim.count", 10);
        long count = c ? strtol(c->p, NULL, 10) : 0;
        if (t.n > 1)
            mk_text_add(&t, ",", 1);
        mk_text_add(&t, "\"dkim\":[", 8);
        for (long i = 0; i < count; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "dkim.%ld.", i);
            if (i > 0)
                mk_text_add(&t, ",", 1);
            mk_auth_object(m, &t, prefix);
        }
        mk_text_add(&t, "]", 1);
    }
    if (m->auth_ran & SLUICE_AUTH_DMARC) {
        if (t.n > 1)
            mk_text_add(&t, ",", 1);
        mk_text_add(&t, "\"dmarc\":", 8);
        mk_auth_object(m, &t, "dmarc.");
    }
    mk_text_add(&t, "}", 1);
    int32_t r = mk_out(m, "auth_check", buf, cap, t.p, t.n);
    free(t.p);
    return r;
}

int32_t sluice_raw_auth_value(const void *key, int32_t key_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("auth_value");
    mk_check_len(m, "auth_value", key, key_len);
    const char *k = (const char *)key;
    size_t kn = (size_t)key_len;
    int bit = sluice_has_prefix(k, kn, "spf.") ? SLUICE_AUTH_SPF
              : sluice_has_prefix(k, kn, "dkim.") ? SLUICE_AUTH_DKIM
              : sluice_has_prefix(k, kn, "dmarc.") ? SLUICE_AUTH_DMARC
                                                   : 0;
    const mk_bytes *v = mk_auth_get(m, k, kn);
    if ((m->auth_ran & bit) == 0 || v == NULL)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "auth_value", buf, cap, v->p, v->n);
}

/* mk_dkim_key finds the line of key name in info dkim.keys; 1 if found, with
 * its algorithm, domain and selector in alg, dom and sel (each 128 bytes). */
static int mk_dkim_key(sluice_mock *m, const char *name, size_t nn, char *dom, char *sel, char *alg) {
    const mk_bytes *keys = mk_info_get(m, SLUICE_INFO_DKIM_KEYS, strlen(SLUICE_INFO_DKIM_KEYS));
    if (keys == NULL)
        return 0;
    char *copy = (char *)mk_alloc(keys->n + 1);
    memcpy(copy, keys->p, keys->n + 1);
    sluice_dkim_key list[64];
    int32_t n = sluice_dkim_parse_keys(copy, list, 64), found = 0;
    for (int32_t i = 0; i < n && !found; i++) {
        if (sluice_equal(list[i].name, strlen(list[i].name), name, nn)) {
            snprintf(dom, 128, "%s", list[i].domain);
            snprintf(sel, 128, "%s", list[i].selector);
            snprintf(alg, 128, "%s", list[i].algorithm);
            found = 1;
        }
    }
    free(copy);
    return found;
}

/* mk_dkim_refusal is why the host would refuse to sign, or NULL. */
static const char *mk_dkim_refusal(sluice_mock *m, const char *opts, size_t on) {
    size_t froms = 0;
    for (size_t i = 0; i < m->st.nfields; i++)
        if (mk_eq_fold(m->st.fields[i].name.p, m->st.fields[i].name.n, "From", 4))
            froms++;
    if (froms == 0)
        return "the message has no From field";
    if (froms > 1)
        return "the message has more than one From field";
    size_t at;
    int32_t hl = on > 0 ? sluice_json_find(opts, on, "headers", &at) : SLUICE_NOT_FOUND;
    if (hl >= 0) {
        for (size_t i = at; i + 6 <= at + (size_t)hl; i++)
            if (mk_eq_fold(opts + i, 6, "\"from\"", 6))
                return NULL;
        return "headers does not include From";
    }
    return NULL;
}

int32_t sluice_raw_dkim_sign(const void *name, int32_t name_len, const void *opts, int32_t opts_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("dkim_sign");
    mk_check_len(m, "dkim_sign", name, name_len);
    mk_check_len(m, "dkim_sign", opts, opts_len);
    mk_cap(m, "dkim_sign", cap);
    mk_need_phase(m, "dkim_sign", SLUICE_MOCK_DATA, SLUICE_MOCK_DATA);
    char dom[128], sel[128], alg[128];
    if (!mk_dkim_key(m, (const char *)name, (size_t)name_len, dom, sel, alg))
        mk_fail(m, "dkim_sign", "key \"%.*s\" is not granted to this plugin", (int)name_len, (const char *)name);
    const char *o = (const char *)opts;
    size_t on = (size_t)opts_len, a = 0, b = on;
    while (a < b && (o[a] == ' ' || o[a] == '\t' || o[a] == '\r' || o[a] == '\n'))
        a++;
    while (b > a && (o[b - 1] == ' ' || o[b - 1] == '\t' || o[b - 1] == '\r' || o[b - 1] == '\n'))
        b--;
    if (on > 0 && (b - a < 2 || o[a] != '{' || o[b - 1] != '}'))
        mk_fail(m, "dkim_sign", "options are not a JSON object");
    const char *why = mk_dkim_refusal(m, o, on);
    if (why != NULL) {
        size_t n = strlen(why);
        if (n > (size_t)cap)
            n = (size_t)cap;
        if (n > 0)
            memcpy(buf, why, n);
        return SLUICE_REFUSED;
    }
    char value[512];
    int vn = snprintf(value, sizeof value, "v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s; h=From; bh=mock; b=mock", alg, dom, sel);
    mk_insert_field(m, 0, "DKIM-Signature", 14, value, vn);
    return 0;
}

/* ---- running hooks ---- */

sluice_mock_result sluice_mock_run(sluice_mock *m, int phase, sluice_mock_fn fn) {
    sluice_mock_result r;
    memset(&r, 0, sizeof r);
    if (fn == NULL) {
        r.verdict = SLUICE_CONTINUE;
        return r;
    }
    if (mk_current != NULL) {
        fprintf(stderr, "sluice_mock: a hook called sluice_mock_run\n");
        abort();
    }
    mk_state snapshot = mk_state_copy(&m->st);
    m->phase = phase;
    m->reason[0] = '\0';
    m->reply_code = 0;
    m->auth_ran = 0; /* auth_check results last one call */
    m->scan_last[0] = '\0'; /* so do scan results */
    m->body_changed = m->env_changed = 0;
    r.called = 1;
    r.verdict = -1;
    mk_current = m;
    if (setjmp(m->trap) == 0) {
        int32_t v = fn();
        mk_current = NULL;
        r.verdict = v;
        if (phase == SLUICE_MOCK_CONFIGURE) {
            if (v != 0)
                snprintf(m->reason, sizeof m->reason, "sluice_configure returned %d: the configuration is refused", v);
        } else if (v < SLUICE_CONTINUE || v > SLUICE_QUARANTINE) {
            snprintf(m->reason, sizeof m->reason,
                     "returned %d, which is not a verdict (0 continue, 1 accept, 2 reject, 3 tempfail, 4 discard, 5 quarantine)", v);
        } else if (m->body_changed && mk_body_error(m->st.body.p, m->st.body.n) != NULL) {
            snprintf(m->reason, sizeof m->reason, "the new body is invalid: %s", mk_body_error(m->st.body.p, m->st.body.n));
        } else if (m->env_changed && phase == SLUICE_MOCK_DATA && m->st.nrcpts == 0) {
            snprintf(m->reason, sizeof m->reason, "removed every recipient; return the discard verdict instead");
        } else if (v == SLUICE_REJECT && m->reply_code != 0 && m->reply_code / 100 != 5) {
            snprintf(m->reason, sizeof m->reason, "reject verdict with a non-5xx reply");
        } else if (v == SLUICE_TEMPFAIL && m->reply_code != 0 && m->reply_code / 100 != 4) {
            snprintf(m->reason, sizeof m->reason, "tempfail verdict with a non-4xx reply");
        }
    }
    mk_current = NULL;
    if (m->reason[0] != '\0') {
        r.error = 1;
        snprintf(r.reason, sizeof r.reason, "%s", m->reason);
        mk_state_free(&m->st);
        m->st = snapshot;
        return r;
    }
    mk_state_free(&snapshot);
    r.reply_code = m->reply_code;
    if (m->reply_code != 0) {
        snprintf(r.reply_enh, sizeof r.reply_enh, "%s", m->reply_enh);
        snprintf(r.reply_text, sizeof r.reply_text, "%s", m->reply_text);
    }
    return r;
}

sluice_mock_result sluice_mock_configure(sluice_mock *m, sluice_mock_fn fn) {
    return sluice_mock_run(m, SLUICE_MOCK_CONFIGURE, fn);
}

sluice_mock_result sluice_mock_connect(sluice_mock *m, sluice_mock_fn fn) {
    return sluice_mock_run(m, SLUICE_MOCK_CONNECT, fn);
}

sluice_mock_result sluice_mock_helo(sluice_mock *m, sluice_mock_fn fn, const char *name) {
    sluice_mock_set_info(m, SLUICE_INFO_HELO, name);
    return sluice_mock_run(m, SLUICE_MOCK_HELO, fn);
}

sluice_mock_result sluice_mock_mail(sluice_mock *m, sluice_mock_fn fn, const char *from) {
    mk_start_transaction(m, from);
    if (mk_info_get(m, SLUICE_INFO_MAIL_PARAMS, strlen(SLUICE_INFO_MAIL_PARAMS)) == NULL)
        sluice_mock_set_info(m, SLUICE_INFO_MAIL_PARAMS, "");
    return sluice_mock_run(m, SLUICE_MOCK_MAIL, fn);
}

sluice_mock_result sluice_mock_rcpt(sluice_mock *m, sluice_mock_fn fn, const char *to) {
    sluice_mock_set_info(m, SLUICE_INFO_RCPT, to);
    if (mk_info_get(m, SLUICE_INFO_RCPT_PARAMS, strlen(SLUICE_INFO_RCPT_PARAMS)) == NULL)
        sluice_mock_set_info(m, SLUICE_INFO_RCPT_PARAMS, "");
    sluice_mock_result r = sluice_mock_run(m, SLUICE_MOCK_RCPT, fn);
    if (!r.error && r.verdict != SLUICE_REJECT && r.verdict != SLUICE_TEMPFAIL)
        mk_push_rcpt(&m->st, to, strlen(to));
    return r;
}

sluice_mock_result sluice_mock_data(sluice_mock *m, sluice_mock_fn fn) {
    return sluice_mock_run(m, SLUICE_MOCK_DATA, fn);
}

/* ---- reading the state ---- */

const char *sluice_mock_tag(sluice_mock *m, const char *key) {
    mk_tag *t = mk_find_tag(m, key, strlen(key));
    return t ? t->val.p : NULL;
}

const char *sluice_mock_header(sluice_mock *m, const char *name, int nth) {
    size_t n = strlen(name);
    for (size_t i = 0; i < m->st.nfields; i++) {
        const mk_bytes *f = &m->st.fields[i].name;
        if (mk_eq_fold(f->p, f->n, name, n) && nth-- == 0)
            return m->st.fields[i].value.p;
    }
    return NULL;
}

int sluice_mock_header_count(sluice_mock *m) { return (int)m->st.nfields; }

const char *sluice_mock_header_name_at(sluice_mock *m, int i) {
    return i >= 0 && (size_t)i < m->st.nfields ? m->st.fields[i].name.p : NULL;
}

const char *sluice_mock_header_value_at(sluice_mock *m, int i) {
    return i >= 0 && (size_t)i < m->st.nfields ? m->st.fields[i].value.p : NULL;
}

const char *sluice_mock_body(sluice_mock *m, size_t *len) {
    if (len)
        *len = m->st.body.n;
    return m->st.body.p;
}

const char *sluice_mock_message(sluice_mock *m, size_t *len) {
    size_t n = m->st.body.n + 2;
    for (size_t i = 0; i < m->st.nfields; i++)
        n += m->st.fields[i].name.n + m->st.fields[i].value.n + 4;
    char *b = (char *)mk_alloc(n + 1), *p = b;
    for (size_t i = 0; i < m->st.nfields; i++) {
        const mk_field *f = &m->st.fields[i];
        memcpy(p, f->name.p, f->name.n);
        p += f->name.n;
        *p++ = ':';
        if (!f->nospace)
            *p++ = ' ';
        memcpy(p, f->value.p, f->value.n);
        p += f->value.n;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, m->st.body.p, m->st.body.n);
    p += m->st.body.n;
    *p = '\0';
    mk_drop(&m->rendered);
    m->rendered.p = b;
    m->rendered.n = (size_t)(p - b);
    if (len)
        *len = m->rendered.n;
    return b;
}

const char *sluice_mock_mail_from(sluice_mock *m) { return m->st.from.p; }

int sluice_mock_rcpt_count(sluice_mock *m) { return (int)m->st.nrcpts; }

const char *sluice_mock_rcpt_at(sluice_mock *m, int i) {
    return i >= 0 && (size_t)i < m->st.nrcpts ? m->st.rcpts[i].p : NULL;
}

int sluice_mock_log_count(sluice_mock *m) { return (int)m->nlogs; }

const char *sluice_mock_log_text(sluice_mock *m, int i) {
    return i >= 0 && (size_t)i < m->nlogs ? m->logs[i].text.p : NULL;
}

int sluice_mock_log_level(sluice_mock *m, int i) {
    return i >= 0 && (size_t)i < m->nlogs ? m->logs[i].level : -1;
}

/* ---- checks ---- */

static int mk_checks, mk_failures;

void sluice_mock_check(int ok, const char *file, int line, const char *what) {
    mk_checks++;
    if (!ok) {
        mk_failures++;
        fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, what);
    }
}

void sluice_mock_check_str(const char *got, const char *want, const char *file, int line, const char *what) {
    mk_checks++;
    if ((got == NULL) != (want == NULL) || (got != NULL && strcmp(got, want) != 0)) {
        mk_failures++;
        fprintf(stderr, "%s:%d: FAIL: %s = %s%s%s, want %s%s%s\n", file, line, what,
                got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
                want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    }
}

void sluice_mock_check_int(long long got, long long want, const char *file, int line, const char *what) {
    mk_checks++;
    if (got != want) {
        mk_failures++;
        fprintf(stderr, "%s:%d: FAIL: %s = %lld, want %lld\n", file, line, what, got, want);
    }
}

int sluice_mock_done(void) {
    if (mk_failures != 0) {
        fprintf(stderr, "FAIL: %d of %d checks failed\n", mk_failures, mk_checks);
        return 1;
    }
    printf("ok: %d checks passed\n", mk_checks);
    return 0;
}

/* ---- content scanning (ABI.md §4.12) ---- */

static void mk_scan_put(sluice_mock *m, const char *name, const char *key, const char *value) {
    size_t nn = strlen(name), kn = strlen(key);
    char *k = (char *)mk_alloc(nn + 1 + kn + 1);
    memcpy(k, name, nn);
    k[nn] = '\n';
    memcpy(k + nn + 1, key, kn + 1);
    m->scans = (mk_info *)mk_grow(m->scans, sizeof(mk_info), m->nscans);
    m->scans[m->nscans].key = mk_cstr(k);
    m->scans[m->nscans].val = mk_cstr(value);
    m->nscans++;
    free(k);
}

/* mk_scan_get returns the member of scanner name (the newest set), or NULL. */
static const mk_bytes *mk_scan_get(sluice_mock *m, const char *name, const char *key, size_t kn) {
    size_t nn = strlen(name);
    for (size_t i = m->nscans; i > 0; i--) {
        const mk_bytes *k = &m->scans[i - 1].key;
        if (k->n == nn + 1 + kn && memcmp(k->p, name, nn) == 0 && k->p[nn] == '\n' && memcmp(k->p + nn + 1, key, kn) == 0)
            return &m->scans[i - 1].val;
    }
    return NULL;
}

static const mk_bytes *mk_scan_error(sluice_mock *m, const char *name) {
    for (size_t i = m->nscan_errors; i > 0; i--)
        if (mk_eq(&m->scan_errors[i - 1].key, name, strlen(name)))
            return &m->scan_errors[i - 1].val;
    return NULL;
}

void sluice_mock_set_scan(sluice_mock *m, const char *name, const char *key, const char *value) {
    mk_scan_put(m, name, "", "");
    mk_scan_put(m, name, key, value);
}

void sluice_mock_set_scan_error(sluice_mock *m, const char *name, const char *reason) {
    m->scan_errors = (mk_info *)mk_grow(m->scan_errors, sizeof(mk_info), m->nscan_errors);
    m->scan_errors[m->nscan_errors].key = mk_cstr(name);
    m->scan_errors[m->nscan_errors].val = mk_cstr(reason);
    m->nscan_errors++;
}

int32_t sluice_raw_scan(const void *name, int32_t name_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("scan");
    mk_check_len(m, "scan", name, name_len);
    char n[128];
    if ((size_t)name_len >= sizeof n)
        mk_fail(m, "scan", "scanner name of %d bytes", name_len);
    memcpy(n, name, (size_t)name_len);
    n[name_len] = '\0';
    const mk_bytes *fail = mk_scan_error(m, n);
    if (fail == NULL && mk_scan_get(m, n, "", 0) == NULL)
        mk_fail(m, "scan", "scanner \"%s\" is not granted to this plugin", n);
    m->scan_last[0] = '\0';
    if (m->phase != SLUICE_MOCK_DATA)
        return SLUICE_NOT_FOUND;
    memcpy(m->scan_last, n, (size_t)name_len + 1);
    if (fail != NULL)
        return SLUICE_TEMPERROR;
    mk_text t = {0};
    mk_text_add(&t, "{", 1);
    size_t nn = strlen(n);
    int first = 1;
    for (size_t i = 0; i < m->nscans; i++) {
        const mk_bytes *k = &m->scans[i].key;
        if (k->n <= nn + 1 || memcmp(k->p, n, nn) != 0 || k->p[nn] != '\n')
            continue;
        if (!first)
            mk_text_add(&t, ",", 1);
        first = 0;
        mk_text_json(&t, k->p + nn + 1, k->n - nn - 1);
        mk_text_add(&t, ":", 1);
        mk_text_json(&t, m->scans[i].val.p, m->scans[i].val.n);
    }
    mk_text_add(&t, "}", 1);
    int32_t r = mk_out(m, "scan", buf, cap, t.p, t.n);
    free(t.p);
    return r;
}

int32_t sluice_raw_scan_value(const void *key, int32_t key_len, void *buf, int32_t cap) {
    sluice_mock *m = mk_cur("scan_value");
    mk_check_len(m, "scan_value", key, key_len);
    if (m->scan_last[0] == '\0')
        return SLUICE_NOT_FOUND;
    const mk_bytes *fail = mk_scan_error(m, m->scan_last);
    if (fail != NULL) {
        if (key_len == 5 && memcmp(key, "error", 5) == 0)
            return mk_out(m, "scan_value", buf, cap, fail->p, fail->n);
        return SLUICE_NOT_FOUND;
    }
    if (key_len == 0)
        return SLUICE_NOT_FOUND;
    const mk_bytes *v = mk_scan_get(m, m->scan_last, (const char *)key, (size_t)key_len);
    if (v == NULL)
        return SLUICE_NOT_FOUND;
    return mk_out(m, "scan_value", buf, cap, v->p, v->n);
}
