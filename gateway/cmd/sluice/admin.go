package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// adminAccess is what protects the admin server (README "Operations"):
// a bearer token, the profiler switch, and the checks against requests a
// browser makes on a web page's behalf.
type adminAccess struct {
	// tokenSum is the SHA-256 of the token; nil when there is none.
	// Comparing sums in constant time hides the token's length too.
	tokenSum []byte
	pprof    bool
}

// maxTokenFile bounds the token file, which holds one line.
const maxTokenFile = 4096

// newAdminAccess checks the admin flags. A non-loopback admin address
// needs a token: /metrics tells an outsider about the mail flow and
// POST /reload acts on the gateway.
func newAdminAccess(addr, tokenFile string, pprof bool) (adminAccess, error) {
	a := adminAccess{pprof: pprof}
	if tokenFile != "" {
		tok, err := readToken(tokenFile)
		if err != nil {
			return a, err
		}
		sum := sha256.Sum256(tok)
		a.tokenSum = sum[:]
	}
	if addr != "" && a.tokenSum == nil && !loopbackAddress(addr) {
		return a, fmt.Errorf("admin address %q is not loopback: give --admin-token-file (clients then send Authorization: Bearer TOKEN), or listen on 127.0.0.1", addr)
	}
	return a, nil
}

// readToken reads the token file: one line, surrounding space dropped.
func readToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("admin token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("admin token file: %w", err)
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("admin token file %s: larger than %d bytes", path, maxTokenFile)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("admin token file %s: want one token (for example from `openssl rand -hex 32`) on one line", path)
	}
	return []byte(tok), nil
}

// loopbackAddress reports whether addr (host:port) listens on loopback
// only. An empty host means every interface.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// guard wraps the admin handler:
//   - requests that change state (POST /reload) made by a browser for
//     another site are refused with 403 (Sec-Fetch-Site, else Origin
//     against Host: net/http's CrossOriginProtection); curl sends neither
//     header and passes;
//   - with a token, every request but the health probes (/healthz,
//     /readyz, which reveal nothing) must carry it, else 401: as a bearer
//     token, or as the console's session cookie, which POST /login sets
//     for the right token (a browser cannot send a bearer token on its
//     own); GET / then answers 401 with the login form;
//   - without one, the Host header must be an IP address or localhost, so
//     that a web page cannot reach a loopback admin server through a DNS
//     name it rebinds to 127.0.0.1.
func (a adminAccess) guard(h http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case a.tokenSum == nil && !literalHost(r.Host):
			http.Error(w, "forbidden: use the admin address by IP or localhost\n", http.StatusForbidden)
			return
		case r.Method == http.MethodPost && r.URL.Path == "/login":
			a.login(w, r)
			return
		case a.tokenSum != nil && !healthProbe(r) && !a.authorized(r):
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			if r.Method == http.MethodGet && r.URL.Path == "/" {
				loginPage(w, "")
				return
			}
			http.Error(w, "unauthorized: send Authorization: Bearer TOKEN\n", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
	return http.NewCrossOriginProtection().Handler(inner)
}

func (a adminAccess) authorized(r *http.Request) bool {
	if c, err := r.Cookie(sessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.cookieValue())) == 1
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return a.tokenIs(strings.TrimSpace(tok))
}

func (a adminAccess) tokenIs(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum) == 1
}

// sessionCookie is the console's login: HttpOnly, SameSite=Strict, valid
// for the life of the token (changing the token file and restarting logs
// every browser out).
const sessionCookie = "sluice_admin"

// cookieValue is derived from the token, so that the cookie is not the
// token itself.
func (a adminAccess) cookieValue() string {
	m := hmac.New(sha256.New, a.tokenSum)
	m.Write([]byte("sluice console session"))
	return hex.EncodeToString(m.Sum(nil))
}

// login is POST /login, the console's login form: the right token sets
// the session cookie. Cross-site posts never get here (guard).
func (a adminAccess) login(w http.ResponseWriter, r *http.Request) {
	if a.tokenSum == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenFile+64)
	if err := r.ParseForm(); err != nil || !a.tokenIs(strings.TrimSpace(r.PostForm.Get("token"))) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		loginPage(w, "Wrong token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: a.cookieValue(), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginPage answers 401 with the console's login form.
func loginPage(w http.ResponseWriter, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice console: log in</title></head>
<body><h1>Sluice console</h1><p>This admin address needs its token (the file given to --admin-token-file).</p>
<p>%s</p><form method="post" action="/login"><input type="password" name="token" id="token" autocomplete="current-password" autofocus>
<button type="submit" id="login">Log in</button></form></body></html>
`, html.EscapeString(msg))
}

func healthProbe(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
}

// literalHost reports whether a Host header names an IP address or
// localhost (with or without a port).
func literalHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}
