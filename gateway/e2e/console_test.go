package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// consolePolicy has a plugin that rejects at MAIL and one that rewrites the
// message, in front of a fake MTA that answers with a queue id; its console
// block keeps the headers, which the detail view shows.
const consolePolicy = `
listen   { address = "%LISTEN%" }
upstream { address = "%UPSTREAM%" }
console  { headers = true }
plugin "access" {
  wasm   = "%BIN%/plugins/access.wasm"
  config = {
    deny_senders = ["*@spam.example"]
    code         = 550
    enhanced     = "5.7.1"
    message      = "Access denied by policy"
  }
}
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" }, subject_prefix = "[tagged] " }
}
`

// browser starts Debian's chromium, headless, with a profile of its own,
// and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("chromium is not installed: run `make deps` (.ci/install-deps installs Debian's chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// waitJS waits, bounded, until the expression is true in the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, expr, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](js+"; null")); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
}

// screenshot saves the page as name.png in $SLUICE_SCREENSHOTS, or the
// test's temporary directory, and returns the file.
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	return path
}

// adminDo does one request to the admin address, with token as bearer
// token unless empty, and returns the status and body.
func adminDo(t *testing.T, method, url, token string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The console in a real browser, against the real binary: login with the
// token, live rows for mail sent over SMTP, a transaction's timeline, "try
// a message" against `sluice test --json`, a reload that fails with its
// diagnostics, and a forged cross-site reload refused.
func TestConsoleInBrowser(t *testing.T) {
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	mta := fakemta.Start(t, fakemta.On(fakemta.EndOfData, fakemta.Reply(250, "2.0.0", "Ok: queued as 4XyZ123")))
	dir := t.TempDir()
	const token = "c0ns0le-test-token-5a7e"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not loopback: every interface, so the token is required.
	port := postfixtest.FreePort(t)
	admin := fmt.Sprintf("http://127.0.0.1:%d", port)
	g := startSluice(t, consolePolicy, mta.Addr(), "--admin", fmt.Sprintf("0.0.0.0:%d", port), "--admin-token-file", tokenFile,
		"--watch=false")
	if !postfixtest.WaitPort(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second) {
		t.Fatalf("no admin server; log:\n%s", g.Log())
	}

	// Without the token: the page is a login form, the API is refused.
	if code, body := adminDo(t, "GET", admin+"/", ""); code != 401 || !strings.Contains(body, `name="token"`) || strings.Contains(body, "app.js") {
		t.Fatalf("GET / without the token: %d\n%s", code, body)
	}
	for _, path := range []string{"/api/overview", "/api/transactions", "/api/policy", "/app.js"} {
		if code, _ := adminDo(t, "GET", admin+path, ""); code != 401 {
			t.Fatalf("GET %s without the token: %d", path, code)
		}
	}
	if code, _ := adminDo(t, "POST", admin+"/api/reload", "wrong"); code != 401 {
		t.Fatalf("reload with a wrong token: %d", code)
	}

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(admin+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the login form", `!!document.getElementById("token")`)
	do(t, ctx, `document.getElementById("token").value = "wrong"; document.getElementById("login").click()`)
	waitJS(t, ctx, "the refusal", `document.body.innerText.includes("Wrong token")`)
	do(t, ctx, fmt.Sprintf(`document.getElementById("token").value = %q; document.getElementById("login").click()`, token))
	waitJS(t, ctx, "the console", `!!document.getElementById("view-overview")`)
	waitJS(t, ctx, "the overview", `document.getElementById("generation").textContent === "1"`)

	// A forged cross-site POST to reload is refused: a page of another
	// site submits a form to the admin address, with the browser's cookie.
	evilPort := postfixtest.FreePort(t)
	evil := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", evilPort), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/api/reload"></form><script>document.getElementById("f").submit()</script>`, admin)
	})}
	go evil.ListenAndServe()
	t.Cleanup(func() { evil.Close() })
	if !postfixtest.WaitPort(evil.Addr, 10*time.Second) {
		t.Fatal("the cross-site page's server did not start")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://localhost:%d/", evilPort))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the refused forged post", `location.pathname === "/api/reload" && document.body.innerText.includes("cross-origin")`)
	if _, body := adminDo(t, "GET", admin+"/api/overview", token); !strings.Contains(body, `"last_reload": null`) {
		t.Fatalf("the forged post reloaded:\n%s", body)
	}

	// Live rows: the page is open on the transactions before any mail.
	if err := chromedp.Do(ctx, chromedp.Navigate(admin+"/#/transactions")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the live stream", `document.getElementById("live").classList.contains("on")`)
	if out, err := swaks(t, g.Addr, "--from", "alice@example.org", "--to", "bob@example.net", "--header", "Subject: hello"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if out, _ := swaks(t, g.Addr, "--from", "mallory@spam.example", "--to", "bob@example.net"); !strings.Contains(out, "550 5.7.1") {
		t.Fatalf("spam sender not rejected:\n%s", out)
	}
	waitJS(t, ctx, "two live rows", `document.querySelectorAll("#tx tbody tr").length === 2`)
	rows := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll("#tx tbody tr")).map(r => r.dataset.outcome + " " + r.innerText.replace(/\s+/g, " "))`)
	if !strings.HasPrefix(rows[0], "rejected ") || !strings.Contains(rows[0], "mallory@spam.example") || !strings.Contains(rows[0], "550 5.7.1 Access denied by policy") ||
		!strings.HasPrefix(rows[1], "delivered ") || !strings.Contains(rows[1], "alice@example.org") || !strings.Contains(rows[1], "4XyZ123") {
		t.Fatalf("rows:\n%s", strings.Join(rows, "\n"))
	}
	screenshot(t, ctx, shots, "console-transactions")

	// The delivered one's detail: its steps as a timeline.
	do(t, ctx, `document.querySelector('#tx tbody tr[data-outcome="delivered"]').click()`)
	waitJS(t, ctx, "the timeline", `document.querySelectorAll("#timeline .step").length === 3`)
	steps := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll("#timeline .step")).map(s => s.dataset.plugin + "/" + s.dataset.verdict)`)
	if want := []string{"access/continue", "access/continue", "tag/continue"}; !reflect.DeepEqual(steps, want) {
		t.Fatalf("timeline %v, want %v", steps, want)
	}
	detail := evalJS[string](t, ctx, `document.getElementById("view-detail").innerText`)
	for _, want := range []string{"delivered", "4XyZ123", "alice@example.org", "client.sluice.test", "X-Sluice", "[tagged] hello"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}
	screenshot(t, ctx, shots, "console-detail")

	// Try a message: the same answer as `sluice test --json`.
	eml := "From: carol@example.org\nTo: dave@example.net\nSubject: try me\n\nHello.\n"
	emlFile := filepath.Join(dir, "try.eml")
	os.WriteFile(emlFile, []byte(eml), 0o644)
	if err := chromedp.Do(ctx, chromedp.Navigate(admin+"/#/try")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the try form", `!document.getElementById("view-try").hidden`)
	do(t, ctx, fmt.Sprintf(`document.getElementById("t-from").value = "carol@example.org";
		document.getElementById("t-rcpts").value = "dave@example.net, nobody@example.net";
		document.getElementById("t-ip").value = "192.0.2.10";
		document.getElementById("t-message").value = %q;
		document.getElementById("t-run").click()`, eml))
	waitJS(t, ctx, "the try result", `document.getElementById("try-json").textContent.length > 0`)
	var fromPage map[string]any
	if err := json.Unmarshal([]byte(evalJS[string](t, ctx, `document.getElementById("try-json").textContent`)), &fromPage); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, shots, "console-try")
	out, err := exec.Command(filepath.Join(binDir, "sluice"), "test", "--policy", g.policy, "--cache-dir", cacheDir, "--json",
		"--client-ip", "192.0.2.10", "--helo", "client.example.com", "--from", "carol@example.org",
		"--rcpt", "dave@example.net", "--rcpt", "nobody@example.net", emlFile).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("sluice test: %v", err)
	}
	var fromCLI map[string]any
	if err := json.Unmarshal(out, &fromCLI); err != nil {
		t.Fatalf("sluice test: %v\n%s", err, out)
	}
	for _, m := range []map[string]any{fromPage, fromCLI} {
		for _, s := range m["steps"].([]any) {
			delete(s.(map[string]any), "duration_ns")
		}
	}
	if !reflect.DeepEqual(fromPage, fromCLI) {
		a, _ := json.MarshalIndent(fromPage, "", "  ")
		b, _ := json.MarshalIndent(fromCLI, "", "  ")
		t.Fatalf("the console's try:\n%s\nsluice test --json:\n%s", a, b)
	}
	if fromPage["action"] != "accept" || !strings.Contains(fromPage["message"].(string), "[tagged] try me") {
		t.Fatalf("try result %v", fromPage)
	}
	if n := len(mta.Messages()); n != 1 {
		t.Fatalf("the downstream got %d messages: a try delivered", n)
	}

	// The overview: the chart and the plugins' latencies.
	if err := chromedp.Do(ctx, chromedp.Navigate(admin+"/#/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the chart and the plugin table", `!!document.querySelector("#chart canvas") && document.querySelectorAll("#plugins tbody tr").length === 2`)
	waitJS(t, ctx, "upstream health", `document.getElementById("upstream-health").textContent.startsWith("ok")`)
	screenshot(t, ctx, shots, "console-overview")

	// A reload with a broken policy shows its file:line:col diagnostics;
	// the running generation keeps serving.
	writePolicy(t, g.policy, consolePolicy+"plugin \"broken\" {\n  wasm = 42\n  bogus = true\n}\n", g)
	do(t, ctx, `document.getElementById("reload-btn").click()`)
	waitJS(t, ctx, "the confirmation", `!document.getElementById("reload-confirm").hidden`)
	do(t, ctx, `document.getElementById("reload-yes").click()`)
	waitJS(t, ctx, "the diagnostics", `document.getElementById("reload-status").textContent.includes("failed")`)
	diags := evalJS[string](t, ctx, `document.getElementById("reload-diags").textContent`)
	if !regexp.MustCompile(regexp.QuoteMeta(filepath.Base(g.policy)) + `:\d+:\d+`).MatchString(diags) {
		t.Fatalf("reload diagnostics without file:line:col:\n%s", diags)
	}
	waitJS(t, ctx, "the last reload", `document.getElementById("last-reload").textContent.startsWith("failed")`)
	screenshot(t, ctx, shots, "console-reload-failed")
	if out, err := swaks(t, g.Addr, "--from", "alice@example.org", "--to", "bob@example.net"); err != nil {
		t.Fatalf("after a failed reload: %v\n%s", err, out)
	}

	// The policy view shows the running policy, no secret.
	if err := chromedp.Do(ctx, chromedp.Navigate(admin+"/#/policy")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the policy view", `document.getElementById("p-source").textContent.includes("deny_senders")`)
}
