/*
 * sluice_mock.h: a native, in-memory Sluice host for unit tests.
 *
 * Compile the plugin natively with -DSLUICE_MOCK and link sluice_mock.c: the
 * raw imports of sluice.h then become ordinary functions backed by a mock
 * session, and the hooks are plain C functions your test calls through
 * sluice_mock_*. No WebAssembly is involved.
 *
 *     cc -DSLUICE_MOCK -I sdk/c -o plugin_test plugin.c plugin_test.c sdk/c/sluice_mock.c
 *     ./plugin_test
 *
 * The mock enforces the host's rules (sdk/ABI.md): it validates header names
 * and values, tags, addresses and replies; refuses mutations in the wrong
 * phase; checks the body when the hook returns; checks that the verdict
 * matches the reply. Misuse, sluice_trap() and an invalid verdict end the
 * call as a plugin error: the result has error = 1 and a reason, and every
 * change the call made is rolled back, as in the gateway.
 *
 * One mock runs one call at a time; the raw imports find it through a
 * pointer that is set only while a hook runs. Calling a host function
 * outside sluice_mock_* aborts the test with a message.
 */
#ifndef SLUICE_MOCK_H
#define SLUICE_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_mock sluice_mock;

/* A hook or sluice_configure; NULL means the plugin does not export it. */
typedef int32_t (*sluice_mock_fn)(void);

/* Phases for sluice_mock_run. */
enum {
    SLUICE_MOCK_CONFIGURE = -1,
    SLUICE_MOCK_CONNECT = 0,
    SLUICE_MOCK_HELO = 1,
    SLUICE_MOCK_MAIL = 2,
    SLUICE_MOCK_RCPT = 3,
    SLUICE_MOCK_DATA = 4
};

/* The outcome of one call. */
typedef struct {
    int called;        /* 0 if fn was NULL (verdict is then SLUICE_CONTINUE) */
    int32_t verdict;   /* what the hook returned; -1 if it trapped */
    int error;         /* 1 if the call was a plugin error; see reason */
    char reason[512];  /* why the call was a plugin error */
    int reply_code;    /* the reply set with set_reply, 0 if none (or error) */
    char reply_enh[16];
    char reply_text[401];
} sluice_mock_result;

/* sluice_mock_new returns a session from 192.0.2.1 port 4242 to
 * mx.example.test, session id "mock-1", for a plugin named "test", with
 * config "{}" and no transaction. Free it with sluice_mock_free. */
sluice_mock *sluice_mock_new(void);
void sluice_mock_free(sluice_mock *m);

/* Setting up. */
void sluice_mock_set_config(sluice_mock *m, const char *json);
/* sluice_mock_set_info sets an info key (SLUICE_INFO_*); NULL removes it. */
void sluice_mock_set_info(sluice_mock *m, const char *key, const char *value);
/* sluice_mock_set_envelope starts a transaction without calling any hook:
 * sender, then recipients, then NULL. */
void sluice_mock_set_envelope(sluice_mock *m, const char *from, ...);
/* sluice_mock_set_message sets the message data sees. A bare "\n" becomes
 * CRLF, so test messages can be written with "\n". Returns 0, or -1 if the
 * header is malformed. */
int sluice_mock_set_message(sluice_mock *m, const char *raw);
int sluice_mock_set_message_n(sluice_mock *m, const char *raw, size_t len);

/* Capabilities (sdk/ABI.md §4.8 to §4.11, sluice_caps.h). Grants are not
 * emulated: everything is available, except that dkim_sign knows only the
 * keys added with sluice_mock_add_dkim_key. */
/* sluice_mock_set_kv stores a key of the plugin's key/value store as kv_set
 * would; sluice_mock_kv returns a key's value as the plugin would read it
 * now, or NULL. The store keeps the writes of a failed call. */
void sluice_mock_set_kv(sluice_mock *m, const char *key, const char *val, int32_t ttl_ms);
const char *sluice_mock_kv(sluice_mock *m, const char *key);
/* sluice_mock_set_kv_quota sets the store's quota in bytes, as kv_quota in
 * the policy would (default 64 MiB): kv_set and kv_incr past it return
 * SLUICE_QUOTA. A key counts 128 bytes + its length + its value's length,
 * the value at least 20 (ABI.md §4.8); sluice_mock_kv_usage sums that. */
void sluice_mock_set_kv_quota(sluice_mock *m, long long bytes);
long long sluice_mock_kv_usage(sluice_mock *m);
/* sluice_mock_set_kv_down makes every kv function return SLUICE_TEMPERROR
 * while down is nonzero, as a shared store that is down does (ABI.md §4.8). */
void sluice_mock_set_kv_down(sluice_mock *m, int down);
/* sluice_mock_advance_ms moves the store's clock, which starts at 0 and
 * moves only when a test calls this: keys whose lifetime passed are gone. */
void sluice_mock_advance_ms(sluice_mock *m, long long ms);
/* sluice_mock_set_dns sets the answer to dns_lookup(qtype, name): the
 * records joined by '\n' ("" or none set: NOT_FOUND). Names compare
 * case-insensitively, with or without the final dot. */
void sluice_mock_set_dns(sluice_mock *m, const char *qtype, const char *name, const char *records);
/* sluice_mock_set_dns_temporary makes that lookup return SLUICE_TEMPERROR. */
void sluice_mock_set_dns_temporary(sluice_mock *m, const char *qtype, const char *name);
/* sluice_mock_set_auth sets one member of the auth_check result by its
 * auth_value key ("spf.result", "dkim.count", "dkim.0.domain",
 * "dmarc.pct", ...). The mock evaluates nothing: members come back as set,
 * for the checks asked for, in the phases the ABI allows. */
void sluice_mock_set_auth(sluice_mock *m, const char *key, const char *value);
/* sluice_mock_set_scan grants the scanner name and sets one member of its
 * result by scan_value key ("engine", "action", "score", "symbols.count",
 * "virus", ...). The mock scans nothing: members come back as set, in phase
 * data. */
void sluice_mock_set_scan(sluice_mock *m, const char *name, const char *key, const char *value);
/* sluice_mock_set_scan_error grants the scanner name and makes it fail as
 * an unreachable or timed-out scanner does: sluice_scan returns
 * SLUICE_TEMPERROR and scan_value "error" gives reason. */
void sluice_mock_set_scan_error(sluice_mock *m, const char *name, const char *reason);
/* sluice_mock_add_dkim_key grants key name (listed in info "dkim.keys").
 * dkim_sign with it inserts a pretend DKIM-Signature field at the top, or
 * refuses like the host when the message has no From field or several, or
 * the "headers" option lacks From. */
void sluice_mock_add_dkim_key(sluice_mock *m, const char *name, const char *domain, const char *selector, const char *algorithm);

/* Running the plugin's functions as the gateway would. */
sluice_mock_result sluice_mock_configure(sluice_mock *m, sluice_mock_fn fn);
sluice_mock_result sluice_mock_connect(sluice_mock *m, sluice_mock_fn fn);
sluice_mock_result sluice_mock_helo(sluice_mock *m, sluice_mock_fn fn, const char *name);
/* sluice_mock_mail starts a new transaction with this sender. */
sluice_mock_result sluice_mock_mail(sluice_mock *m, sluice_mock_fn fn, const char *from);
/* sluice_mock_rcpt checks one recipient and adds it unless the call was a
 * plugin error or returned reject or tempfail. */
sluice_mock_result sluice_mock_rcpt(sluice_mock *m, sluice_mock_fn fn, const char *to);
sluice_mock_result sluice_mock_data(sluice_mock *m, sluice_mock_fn fn);
/* sluice_mock_run calls fn as a hook of phase in the current state: use it
 * to test a helper of yours, or a second plugin in the same phase. */
sluice_mock_result sluice_mock_run(sluice_mock *m, int phase, sluice_mock_fn fn);

/* The state after the calls. Strings belong to the mock and stay valid until
 * the next call or change. */
const char *sluice_mock_tag(sluice_mock *m, const char *key);           /* NULL if unset */
const char *sluice_mock_header(sluice_mock *m, const char *name, int nth); /* value or NULL */
int sluice_mock_header_count(sluice_mock *m);
const char *sluice_mock_header_name_at(sluice_mock *m, int i);
const char *sluice_mock_header_value_at(sluice_mock *m, int i);
const char *sluice_mock_body(sluice_mock *m, size_t *len);
/* sluice_mock_message renders the whole message: header fields, a blank
 * line, the body. */
const char *sluice_mock_message(sluice_mock *m, size_t *len);
const char *sluice_mock_mail_from(sluice_mock *m);
int sluice_mock_rcpt_count(sluice_mock *m);
const char *sluice_mock_rcpt_at(sluice_mock *m, int i);
int sluice_mock_log_count(sluice_mock *m);
const char *sluice_mock_log_text(sluice_mock *m, int i);
int sluice_mock_log_level(sluice_mock *m, int i);

/* Checks for tests: each prints file:line and the values when it fails, and
 * counts. End main with "return sluice_mock_done();". */
void sluice_mock_check(int ok, const char *file, int line, const char *what);
void sluice_mock_check_str(const char *got, const char *want, const char *file, int line, const char *what);
void sluice_mock_check_int(long long got, long long want, const char *file, int line, const char *what);
/* sluice_mock_done prints a summary and returns 0 if every check passed,
 * 1 otherwise. */
int sluice_mock_done(void);

#define SLUICE_EXPECT(cond) sluice_mock_check(!!(cond), __FILE__, __LINE__, #cond)
#define SLUICE_EXPECT_STR(got, want) sluice_mock_check_str((got), (want), __FILE__, __LINE__, #got)
#define SLUICE_EXPECT_INT(got, want) sluice_mock_check_int((long long)(got), (long long)(want), __FILE__, __LINE__, #got)

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_MOCK_H */
