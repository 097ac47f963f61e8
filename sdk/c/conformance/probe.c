/*
 * The C conformance probe (sdk/CONFORMANCE.md §2): every hook, every verdict
 * and every host function, reported through tags that the Go suite compares
 * byte for byte with the other languages.
 *
 * It is built freestanding (no libc, ./build.sh), so it also proves that
 * sluice.h needs nothing but the compiler.
 */
#include "sluice.h"

/* FNV-1a, 32 bits (offset basis 2166136261, prime 16777619). */
#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

static uint32_t fnv(uint32_t h, const char *p, size_t n) {
    size_t i = 0;
    /* Eight bytes per load: the same hash, with an eighth of the memory
     * accesses (each one is bounds-checked by the runtime). */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, p + i, 8); /* one i64.load; wasm is little-endian */
        for (int k = 0; k < 8; k++) {
            h ^= (uint32_t)(w & 0xff);
            h *= FNV_PRIME;
            w >>= 8;
        }
    }
    for (; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* chunk is the one fixed buffer the body is read through. */
#define CHUNK 65536
static char chunk[CHUNK];

/* scratch holds one header name or value, or an info value, at a time. It
 * starts as chunk and grows, never shrinks: it is a buffer, not state. */
static char *scratch = chunk;
static int32_t scratch_cap = CHUNK;

static void grow_scratch(int32_t n) {
    int32_t c = scratch_cap;
    while (c < n)
        c *= 2;
    char *p = (char *)sluice_alloc_permanent((size_t)c);
    if (p == NULL)
        sluice_trap();
    scratch = p;
    scratch_cap = c;
}

/* The configuration's length and hash: computed once per instance by
 * sluice_configure, the same for every message. */
static int32_t config_len;
static uint32_t config_sum;

int32_t sluice_configure(void) {
    int32_t n;
    const char *cfg = sluice_config_load(&n);
    if (cfg == NULL) {
        sluice_log_error("probe: out of memory reading the configuration");
        return 1;
    }
    config_len = n;
    config_sum = fnv(FNV_BASIS, cfg, (size_t)n);
    return 0;
}

/* tag_uint and tag_hex set a tag to a decimal number or an FNV hash. */
static void tag_uint(const char *key, uint32_t v) {
    char buf[10];
    sluice_tag_set_n(key, buf, sluice_fmt_uint(buf, v));
}

static void tag_hex(const char *key, uint32_t v) {
    char buf[8];
    sluice_fmt_hex32(buf, v);
    sluice_tag_set_n(key, buf, 8);
}

/* info_value reads an info key into scratch; a missing key reads as "". */
static int32_t info_value(const char *key) {
    int32_t n = sluice_info(key, scratch, scratch_cap);
    if (n > scratch_cap) {
        grow_scratch(n);
        n = sluice_info(key, scratch, scratch_cap);
    }
    return n < 0 ? 0 : n;
}

/* header_text reads a header name or value into scratch. */
static int32_t header_text(int32_t (*get)(int32_t, char *, int32_t), int32_t i) {
    int32_t n = get(i, scratch, scratch_cap);
    if (n > scratch_cap) {
        grow_scratch(n);
        n = get(i, scratch, scratch_cap);
    }
    if (n < 0)
        sluice_trap(); /* the field vanished while we looked at it */
    return n;
}

static int local_is(const char *addr, int32_t n, const char *want) {
    return sluice_equal(addr, sluice_local_part(addr, (size_t)n), want, sluice_strlen(want));
}

int32_t sluice_on_connect(void) {
    int32_t n = info_value(SLUICE_INFO_CLIENT_IP);
    sluice_tag_set_n("probe.connect", scratch, (size_t)n);
    return SLUICE_CONTINUE;
}

int32_t sluice_on_helo(void) {
    int32_t n = info_value(SLUICE_INFO_HELO);
    sluice_tag_set_n("probe.helo", scratch, (size_t)n);
    return SLUICE_CONTINUE;
}

int32_t sluice_on_mail(void) {
    int32_t n = info_value(SLUICE_INFO_MAIL_FROM);
    const char *from = scratch;
    sluice_tag_set_n("probe.mail", from, (size_t)n);
    if (local_is(from, n, "reject"))
        return sluice_reject(550, "5.7.1", "probe reject");
    if (local_is(from, n, "tempfail"))
        return sluice_tempfail(451, "4.7.1", "probe tempfail");
    if (local_is(from, n, "accept"))
        return SLUICE_ACCEPT;
    if (local_is(from, n, "discard"))
        return SLUICE_DISCARD;
    if (local_is(from, n, "quarantine"))
        return sluice_quarantine("probe quarantine");
    if (local_is(from, n, "badverdict"))
        return 7;
    if (local_is(from, n, "badreply")) {
        sluice_set_reply(250, "2.0.0", "ok"); /* traps */
        return SLUICE_CONTINUE;
    }
    if (local_is(from, n, "crlfreply")) {
        sluice_set_reply(550, "5.7.1", "x\r\n250 OK"); /* traps */
        return SLUICE_CONTINUE;
    }
    if (local_is(from, n, "mismatch")) {
        sluice_set_reply(451, "4.7.1", "wrong class");
        return SLUICE_REJECT; /* a plugin error */
    }
    if (local_is(from, n, "trap"))
        sluice_trap();
    return SLUICE_CONTINUE;
}

int32_t sluice_on_rcpt(void) {
    tag_uint("probe.rcpt.count", (uint32_t)sluice_rcpt_count());
    int32_t n = info_value(SLUICE_INFO_RCPT);
    if (local_is(scratch, n, "blocked"))
        return sluice_reject(550, "5.7.1", "probe blocked");
    return SLUICE_CONTINUE;
}

int32_t sluice_on_data(void) {
    /* 1. Every header field, "name:value\n", into one running hash. */
    int32_t count = sluice_header_count();
    uint32_t h = FNV_BASIS;
    for (int32_t i = 0; i < count; i++) {
        int32_t n = header_text(sluice_header_name, i);
        h = fnv(h, scratch, (size_t)n);
        h = fnv(h, ":", 1);
        n = header_text(sluice_header_value, i);
        h = fnv(h, scratch, (size_t)n);
        h = fnv(h, "\n", 1);
    }
    tag_hex("probe.headers", h);
    tag_uint("probe.header.count", (uint32_t)count);

    /* 2. The second Subject, if any. */
    int32_t s2 = sluice_header_find("subject", 1);
    if (s2 >= 0) {
        int32_t n = header_text(sluice_header_value, s2);
        sluice_tag_set_n("probe.subject2", scratch, (size_t)n);
    }

    /* 3. The body, in chunks through one fixed buffer. */
    uint32_t b = FNV_BASIS;
    int32_t off = 0, n;
    while ((n = sluice_body_read(off, chunk, CHUNK)) > 0) {
        b = fnv(b, chunk, (size_t)n);
        off += n;
    }
    tag_uint("probe.body.len", (uint32_t)off);
    tag_hex("probe.body.sum", b);

    /* 4. The configuration, as read by sluice_configure. */
    tag_uint("probe.config.len", (uint32_t)config_len);
    tag_hex("probe.config.sum", config_sum);

    /* 5. Mutations. */
    int32_t i = sluice_header_find("X-Probe-Delete", 0);
    if (i >= 0)
        sluice_header_delete(i);
    i = sluice_header_find("X-Probe-Change", 0);
    if (i >= 0)
        sluice_header_change(i, "changed");
    sluice_header_insert(0, "X-Probe-Top", "1");
    sluice_header_add("X-Probe", "c");
    if (sluice_header_find("X-Probe-Body", 0) >= 0) {
        sluice_body_replace("replaced\r\n");
        sluice_body_append("appended\r\n");
    }
    return SLUICE_CONTINUE;
}
