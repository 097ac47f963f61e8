package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// startAdmin serves the admin endpoints of a gateway whose policy never
// changes (POST /reload answers "unchanged") with the given access rules,
// and returns the address.
func startAdmin(t *testing.T, access adminAccess) string {
	t.Helper()
	dir := t.TempDir()
	path := writePolicy(t, dir, "listen { address = \"127.0.0.1:0\" }\nupstream { maildir = \"mail\" }\n")
	log := slog.New(slog.DiscardHandler)
	p, diags := policy.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	backend := bridge.NewBackend(nil, log)
	g := fakeTarget{lifecycle.NewReloader(path, p, lifecycle.ReloaderOptions{Logger: log,
		Build: func(context.Context, *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "not built in this test"}}
		},
		Swap: backend.Swap})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := serveAdmin(addr, access, g, metrics.New(), log, nil); err != nil {
		t.Fatal(err)
	}
	return addr
}

// fakeTarget is a gateway whose generation is never built.
type fakeTarget struct{ r *lifecycle.Reloader }

func (fakeTarget) Ready() bool  { return false }
func (fakeTarget) KVErr() error { return nil }
func (f fakeTarget) Reload(ctx context.Context) lifecycle.Result {
	return f.r.Reload(ctx)
}

// raw sends one HTTP/1.1 request written by hand (headers as given, Host
// first unless given) and returns the status code.
func raw(t *testing.T, addr, method, path string, headers ...string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	hasHost := false
	for _, h := range headers {
		hasHost = hasHost || strings.HasPrefix(strings.ToLower(h), "host:")
	}
	if !hasHost {
		fmt.Fprintf(&b, "Host: %s\r\n", addr)
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\nConnection: close\r\n\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A loopback admin server without a token: pprof is off unless asked for;
// POST /reload is refused to a browser page of another site (Origin or
// Sec-Fetch-Site), but not to curl, which sends neither; and a request
// whose Host is a DNS name (a rebinding page) is refused.
func TestAdminLoopbackNoToken(t *testing.T) {
	addr := startAdmin(t, adminAccess{})
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		want               int
	}{
		{"pprof off by default", "GET", "/debug/pprof/", nil, 404},
		{"pprof profile off by default", "GET", "/debug/pprof/profile?seconds=1", nil, 404},
		{"curl reload", "POST", "/reload", nil, 200},
		{"curl metrics", "GET", "/metrics", nil, 200},
		{"forged origin", "POST", "/reload", []string{"Origin: https://evil.example"}, 403},
		{"null origin", "POST", "/reload", []string{"Origin: null"}, 403},
		{"cross-site fetch", "POST", "/reload", []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}, 403},
		{"same-site fetch (another port)", "POST", "/reload", []string{"Sec-Fetch-Site: same-site", "Origin: http://127.0.0.1:1"}, 403},
		{"same-origin fetch", "POST", "/reload", []string{"Sec-Fetch-Site: same-origin", "Origin: http://" + addr}, 200},
		{"rebound DNS name", "GET", "/metrics", []string{"Host: evil.example"}, 403},
		{"rebound DNS name, reload", "POST", "/reload", []string{"Host: evil.example:80"}, 403},
		{"localhost", "GET", "/healthz", []string{"Host: localhost"}, 200},
	} {
		if got := raw(t, addr, tc.method, tc.path, tc.headers...); got != tc.want {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, got, tc.want)
		}
	}

	on := startAdmin(t, adminAccess{pprof: true})
	if got := raw(t, on, "GET", "/debug/pprof/"); got != 200 {
		t.Errorf("with --pprof: GET /debug/pprof/ = %d, want 200", got)
	}
}

// With a token every request but the health probes needs it, compared in
// full; a forged cross-site POST is refused even with it.
func TestAdminToken(t *testing.T) {
	addr := startTokenAdmin(t)
	good := "Authorization: Bearer s3cret-token-0123456789"
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		want               int
	}{
		{"no token", "GET", "/metrics", nil, 401},
		{"no token, reload", "POST", "/reload", nil, 401},
		{"wrong token", "GET", "/metrics", []string{"Authorization: Bearer s3cret-token-012345678"}, 401},
		{"token prefix", "GET", "/metrics", []string{"Authorization: Bearer s3cret"}, 401},
		{"basic scheme", "GET", "/metrics", []string{"Authorization: Basic czNjcmV0LXRva2VuLTAxMjM0NTY3ODk="}, 401},
		{"token", "GET", "/metrics", []string{good}, 200},
		{"token, reload", "POST", "/reload", []string{good}, 200},
		{"token, forged origin", "POST", "/reload", []string{good, "Origin: https://evil.example"}, 403},
		{"token, any host name", "GET", "/metrics", []string{good, "Host: admin.example.org"}, 200},
		{"health probe", "GET", "/healthz", nil, 200},
		{"readiness probe", "GET", "/readyz", nil, 503}, // no generation in this test: reached, not ready
		{"pprof off", "GET", "/debug/pprof/", []string{good}, 404},
	} {
		if got := raw(t, addr, tc.method, tc.path, tc.headers...); got != tc.want {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, got, tc.want)
		}
	}
}

// A non-loopback admin address without a token does not start; loopback
// ones do.
func TestAdminAddressNeedsToken(t *testing.T) {
	for addr, ok := range map[string]bool{
		":9100": false, "0.0.0.0:9100": false, "[::]:9100": false, "192.0.2.1:9100": false, "admin.example:9100": false,
		"127.0.0.1:9100": true, "127.0.0.2:9100": true, "[::1]:9100": true, "localhost:9100": true,
	} {
		_, err := newAdminAccess(addr, "", false)
		if (err == nil) != ok {
			t.Errorf("newAdminAccess(%q) error = %v, want ok=%v", addr, err, ok)
		}
	}
	// The command refuses to start, before it loads anything.
	code, _, stderr := runCLI("serve", "--policy", "/nonexistent/policy.hcl", "--admin", ":9100")
	if code == 0 || !strings.Contains(stderr, "--admin-token-file") {
		t.Errorf("serve --admin :9100 = %d, %q; want a refusal naming --admin-token-file", code, stderr)
	}
	empty := filepath.Join(t.TempDir(), "token")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := newAdminAccess(":9100", empty, false); err == nil {
		t.Error("an empty token file was accepted")
	}
}

// The console's login: GET / without the token is a login form (401); the
// right token posted to /login sets a cookie that then stands for the
// token; a wrong one, a forged cookie or a cross-site login does not.
func TestAdminConsoleLogin(t *testing.T) {
	addr := startTokenAdmin(t)
	noRedirect := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(token string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/login", strings.NewReader("token="+token))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(path string, cookie *http.Cookie) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/", nil); code != 401 || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("GET / without the token: %d %s", code, body)
	}
	if resp := login("wrong"); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp := login("s3cret-token-0123456789", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site login: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp := login("s3cret-token-0123456789")
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, "s3cret") {
		t.Fatalf("cookie %+v", c)
	}
	if code, _ := get("/metrics", c); code != 200 {
		t.Fatalf("with the cookie: %d", code)
	}
	forged := &http.Cookie{Name: c.Name, Value: strings.Repeat("0", len(c.Value))}
	if code, _ := get("/metrics", forged); code != 401 {
		t.Fatalf("with a forged cookie: %d", code)
	}
}

// startTokenAdmin starts an admin server on a wildcard address whose token
// file holds "s3cret-token-0123456789".
func startTokenAdmin(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("s3cret-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	access, err := newAdminAccess("0.0.0.0:9", file, false)
	if err != nil {
		t.Fatal(err)
	}
	return startAdmin(t, access)
}
