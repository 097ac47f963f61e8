package wasmhost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/msgauth"
)

// authWAT exercises sdk/ABI.md §4.10 and §4.11: connect puts info
// "dkim.keys" in tag k (line breaks as '|'); helo calls dkim_sign (misuse:
// not in data); mail puts auth_check(SPF) in tag a and auth_value
// "spf.result" in tag v; rcpt asks auth_check(DKIM) (NOT_FOUND
// before data, tag a = "e1"); data signs with key "main" and simple/simple
// and puts "ok", or "e3" followed by the refusal reason, in tag r.
const authWAT = `(module
  (import "sluice" "dkim_sign" (func $sign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "auth_check" (func $auth (param i32 i32 i32) (result i32)))
  (import "sluice" "auth_value" (func $value (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "main")
  (data (i32.const 16) "dkim.keys")
  (data (i32.const 32) "rkav")
  (data (i32.const 40) "spf.result")
  (data (i32.const 52) "dmarc.pct")
  (data (i32.const 64) "{\"canonicalization\":\"simple/simple\"}")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $err (param $n i32) (param $key i32)
    (i32.store8 (i32.const 256) (i32.const 101))
    (i32.store8 (i32.const 257) (i32.sub (i32.const 48) (local.get $n)))
    (drop (call $tag_set (local.get $key) (i32.const 1) (i32.const 256) (i32.const 2))))
  (func $fetch (param $n i32) (param $key i32)
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $err (local.get $n) (local.get $key)))
      (else (drop (call $tag_set (local.get $key) (i32.const 1) (i32.const 256) (local.get $n))))))
  (func (export "sluice_on_connect") (result i32)
    (local $n i32) (local $i i32)
    (local.set $n (call $info (i32.const 16) (i32.const 9) (i32.const 256) (i32.const 1024)))
    ;; a tag holds no LF: show the key list's line breaks as '|'
    (local.set $i (i32.const 256))
    (block $done (loop $scan
      (br_if $done (i32.ge_s (local.get $i) (i32.add (i32.const 256) (local.get $n))))
      (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 10))
        (then (i32.store8 (local.get $i) (i32.const 124))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scan)))
    (call $fetch (local.get $n) (i32.const 33))
    (i32.const 0))
  (func (export "sluice_on_helo") (result i32)
    (drop (call $sign (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 256)))
    (i32.const 0))
  (func (export "sluice_on_mail") (result i32)
    ;; auth_value before any auth_check is NOT_FOUND: tag v = "e1"
    (call $fetch (call $value (i32.const 40) (i32.const 10) (i32.const 256) (i32.const 64)) (i32.const 35))
    (call $fetch (call $auth (i32.const 1) (i32.const 256) (i32.const 1024)) (i32.const 34))
    ;; then spf.result; dmarc.pct was not asked for and stays NOT_FOUND
    (call $fetch (call $value (i32.const 40) (i32.const 10) (i32.const 256) (i32.const 64)) (i32.const 35))
    (if (i32.ne (call $value (i32.const 52) (i32.const 9) (i32.const 256) (i32.const 64)) (i32.const -1))
      (then unreachable))
    (i32.const 0))
  (func (export "sluice_on_rcpt") (result i32)
    (call $fetch (call $auth (i32.const 2) (i32.const 256) (i32.const 1024)) (i32.const 34))
    (i32.const 0))
  (func (export "sluice_on_data") (result i32)
    (local $n i32) (local $i i32)
    (local.set $n (call $sign (i32.const 0) (i32.const 4) (i32.const 64) (i32.const 36) (i32.const 258) (i32.const 200)))
    (if (i32.eqz (local.get $n))
      (then
        (i32.store16 (i32.const 256) (i32.const 0x6b6f))
        (drop (call $tag_set (i32.const 32) (i32.const 1) (i32.const 256) (i32.const 2))))
      (else
        (i32.store8 (i32.const 256) (i32.const 101))
        (i32.store8 (i32.const 257) (i32.sub (i32.const 48) (local.get $n)))
        (local.set $i (i32.const 258))
        (block $done (loop $scan
          (br_if $done (i32.eqz (i32.load8_u (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $scan)))
        (drop (call $tag_set (i32.const 32) (i32.const 1) (i32.const 256) (i32.sub (local.get $i) (i32.const 256))))))
    (i32.const 0)))`

func testDKIMKey(t *testing.T, name string) (*dkimsign.Key, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dkimsign.Key{Name: name, Domain: "example.org", Selector: "s1", Signer: priv, Algorithm: "ed25519-sha256"}, pub
}

func authEngine(t *testing.T) *Engine {
	t.Helper()
	res := fakeResolver{"TXT example.org": {"v=spf1 ip4:192.0.2.0/24 -all"}}
	e, err := NewEngine(context.Background(), EngineOptions{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func TestDKIMSignAndAuthCheck(t *testing.T) {
	e := authEngine(t)
	key, pub := testDKIMKey(t, "main")
	other, _ := testDKIMKey(t, "other")
	other.Domain = "example.net"
	p := load(t, e, Spec{Name: "auth", Wasm: watModule(t, authWAT), Grants: []string{"dns", "dkim:main", "dkim:other"},
		DKIMKeys: []*dkimsign.Key{key, other}})

	if got, want := callTag(t, p, filter.Connect, "k"), "main example.org s1 ed25519-sha256|other example.net s1 ed25519-sha256"; got != want {
		t.Errorf("info dkim.keys = %q, want %q", got, want)
	}
	var spf struct {
		SPF struct{ Result, Identity, Domain string }
	}
	if err := json.Unmarshal([]byte(callTag(t, p, filter.Mail, "a")), &spf); err != nil ||
		spf.SPF.Result != "pass" || spf.SPF.Identity != "mailfrom" || spf.SPF.Domain != "example.org" {
		t.Errorf("auth_check(SPF) at mail = %+v, %v; want pass for example.org", spf, err)
	}
	if got := callTag(t, p, filter.Mail, "v"); got != "pass" {
		t.Errorf("auth_value spf.result = %q, want pass", got)
	}
	if got := callTag(t, p, filter.Rcpt, "a"); got != "e1" {
		t.Errorf("auth_check(DKIM) at rcpt = %q, want NOT_FOUND", got)
	}
	_, err := p.Call(context.Background(), stateAt(t, filter.Helo))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindABI || !strings.Contains(ce.Reason, "only in the data phase") {
		t.Errorf("dkim_sign at helo: %v; want ABI misuse", err)
	}

	st := stateAt(t, filter.Data)
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("data: %v, %v", v, err)
	}
	if r, _ := st.Tag("r"); r != "ok" {
		t.Fatalf("dkim_sign result tag = %q, want ok", r)
	}
	if st.Msg.Fields[0].Name != "DKIM-Signature" {
		t.Fatalf("first field is %q, want the new DKIM-Signature", st.Msg.Fields[0].Name)
	}
	v := verifyOne(t, st.Msg.Bytes(), pub)
	if v.Err != nil || v.Domain != "example.org" {
		t.Errorf("go-msgauth verification: domain %q, err %v", v.Domain, v.Err)
	}
	if sig := string(st.Msg.Fields[0].Raw); !strings.Contains(sig, "c=simple/simple") {
		t.Errorf("options not applied: %s", sig)
	}
}

// verifyOne verifies the single signature of raw against pub.
func verifyOne(t *testing.T, raw []byte, pub ed25519.PublicKey) *msgdkim.Verification {
	t.Helper()
	txt := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(raw), &msgdkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
	})
	if err != nil || len(vs) != 1 {
		t.Fatalf("Verify: %d verifications, %v", len(vs), err)
	}
	return vs[0]
}

func TestDKIMSignRefusedAndNotGranted(t *testing.T) {
	e := authEngine(t)
	key, _ := testDKIMKey(t, "main")
	p := load(t, e, Spec{Name: "auth", Wasm: watModule(t, authWAT), Grants: []string{"dns", "dkim:main"}, DKIMKeys: []*dkimsign.Key{key}})

	st := stateAt(t, filter.Data)
	m, err := message.Parse([]byte("From: a@example.org\r\nFrom: b@example.org\r\n\r\nbody\r\n"), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st.Msg = m
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("data: %v, %v", v, err)
	}
	r, _ := st.Tag("r")
	if !strings.HasPrefix(r, "e3") || !strings.Contains(r, "From") {
		t.Errorf("refusal tag = %q, want e3 and a reason naming From", r)
	}
	if len(st.Msg.Fields) != 2 {
		t.Errorf("a refused signature changed the message: %d fields", len(st.Msg.Fields))
	}

	// A plugin granted another key cannot sign with "main".
	other, _ := testDKIMKey(t, "other")
	q := load(t, e, Spec{Name: "q", Wasm: watModule(t, authWAT), Grants: []string{"dns", "dkim:other"}, DKIMKeys: []*dkimsign.Key{other}})
	_, err = q.Call(context.Background(), stateAt(t, filter.Data))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindABI || !strings.Contains(ce.Reason, `DKIM key "main" is not granted`) {
		t.Errorf("signing with an ungranted key: %v; want ABI misuse", err)
	}
}

func TestDKIMSignNeedsGrant(t *testing.T) {
	e := authEngine(t)
	_, err := e.Load(context.Background(), Spec{Name: "auth", Wasm: watModule(t, authWAT), Grants: []string{"dns"}})
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Msg, `imports sluice.dkim_sign, which needs a DKIM key`) {
		t.Errorf("Load without a dkim grant: %v", err)
	}
	_, err = e.Load(context.Background(), Spec{Name: "auth", Wasm: watModule(t, authWAT), Grants: []string{"dkim:x"}})
	if !errors.As(err, &le) || !strings.Contains(le.Msg, `imports sluice.auth_check, which needs the "dns" grant`) {
		t.Errorf("Load without the dns grant: %v", err)
	}
}

// Every path of auth_value (sdk/ABI.md §4.11) names the JSON member of the
// same name; anything else is NOT_FOUND.
func TestAuthField(t *testing.T) {
	r := &msgauth.Result{
		SPF:     &msgauth.SPFResult{Result: "pass", Identity: "mailfrom", Domain: "example.org", Sender: "a@example.org", Reason: "r"},
		DKIM:    []msgauth.DKIMResult{{Result: "fail"}, {Result: "pass", Domain: "example.org", Selector: "s1", Identifier: "@example.org", Algorithm: "rsa-sha256", Signature: "abc", Reason: "ok"}},
		DMARC:   &msgauth.DMARCResult{Result: "pass", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 30, SPFAligned: true},
		ResInfo: "dkim=fail",
	}
	for key, want := range map[string]string{
		"spf.result": "pass", "spf.identity": "mailfrom", "spf.domain": "example.org", "spf.sender": "a@example.org", "spf.reason": "r",
		"dkim.count": "2", "dkim.0.result": "fail", "dkim.1.domain": "example.org", "dkim.1.selector": "s1",
		"dkim.1.identifier": "@example.org", "dkim.1.algorithm": "rsa-sha256", "dkim.1.b": "abc", "dkim.1.reason": "ok",
		"dmarc.result": "pass", "dmarc.from_domain": "example.org", "dmarc.policy_domain": "example.org", "dmarc.policy": "reject",
		"dmarc.pct": "30", "dmarc.spf_aligned": "true", "dmarc.dkim_aligned": "false", "dmarc.reason": "",
		"resinfo": "dkim=fail",
	} {
		if got, ok := authField(r, key); !ok || got != want {
			t.Errorf("authField(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	for _, key := range []string{"", "spf", "spf.nope", "dkim.2.result", "dkim.-1.result", "dkim.01.result", "dkim.x.result", "dkim.0", "dmarc.pct.x", "arc.result"} {
		if got, ok := authField(r, key); ok {
			t.Errorf("authField(%q) = %q; want NOT_FOUND", key, got)
		}
	}
	if _, ok := authField(&msgauth.Result{}, "spf.result"); ok {
		t.Error("spf.result without an SPF check: want NOT_FOUND")
	}
}

// keysAtConfigureWAT refuses its configuration unless info "dkim.keys" is
// there during sluice_configure (sdk/ABI.md §4.2), so a plugin can read its
// keys once.
const keysAtConfigureWAT = `(module
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "dkim_sign" (func $sign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "dkim.keys")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_configure") (result i32)
    (i32.lt_s (call $info (i32.const 0) (i32.const 9) (i32.const 64) (i32.const 256)) (i32.const 0))))`

func TestDKIMKeysAtConfigure(t *testing.T) {
	e := authEngine(t)
	key, _ := testDKIMKey(t, "main")
	load(t, e, Spec{Name: "k", Wasm: watModule(t, keysAtConfigureWAT), Grants: []string{"dkim:main"}, DKIMKeys: []*dkimsign.Key{key}})
	_, err := e.Load(context.Background(), Spec{Name: "k", Wasm: watModule(t, keysAtConfigureWAT), Grants: []string{"dkim:main"}})
	if err == nil {
		t.Error("a plugin without keys found info dkim.keys at configure")
	}
}

// blockingResolver answers nothing until the lookup's context ends.
type blockingResolver struct{}

func (blockingResolver) Lookup(ctx context.Context, _, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, dns.ErrTemporary
}

// A resolver that never answers makes auth_check return temperror results
// before the hook's deadline, not a timed-out plugin (sdk/ABI.md §4.11).
func TestAuthCheckStopsBeforeDeadline(t *testing.T) {
	e, err := NewEngine(context.Background(), EngineOptions{Resolver: blockingResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	key, _ := testDKIMKey(t, "main")
	p := load(t, e, Spec{Name: "auth", Wasm: watModule(t, authWAT), Grants: []string{"dns", "dkim:main"},
		DKIMKeys: []*dkimsign.Key{key}, Timeout: 300 * time.Millisecond})
	// callTag fails the test unless the hook returned continue: a call
	// stopped at its deadline would be a plugin error.
	var spf struct{ SPF struct{ Result string } }
	if err := json.Unmarshal([]byte(callTag(t, p, filter.Mail, "a")), &spf); err != nil || spf.SPF.Result != "temperror" {
		t.Errorf("auth_check with a silent resolver = %+v, %v; want temperror", spf, err)
	}
}
