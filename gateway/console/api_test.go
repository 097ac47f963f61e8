package console

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// fakeGateway is a running gateway as the console sees it.
type fakeGateway struct {
	p      *policy.Policy
	reload lifecycle.Result
	tried  chan bridge.TestInput
}

func (f *fakeGateway) Ready() bool                  { return true }
func (f *fakeGateway) Generation() int              { return 3 }
func (f *fakeGateway) Policy() *policy.Policy       { return f.p }
func (f *fakeGateway) LastReload() lifecycle.Result { return f.reload }
func (f *fakeGateway) Reload(context.Context) lifecycle.Result {
	return f.reload
}
func (f *fakeGateway) TestMessage(_ context.Context, in bridge.TestInput) (*bridge.TestResult, error) {
	f.tried <- in
	return &bridge.TestResult{Action: "reject", Code: 550, Text: "no", Phase: "data", Steps: []bridge.TestStep{}}, nil
}

func startConsole(t *testing.T, gw Gateway, rec *Recorder) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	c := New(gw, rec)
	c.heartbeat = 50 * time.Millisecond
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
}

// writePolicy writes a policy with a secret in a plugin's config and a DKIM
// key, and returns it decoded as the console sees it.
func writePolicy(t *testing.T) (*policy.Policy, string) {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "dkim.pem")
	os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"), 0o600)
	mod := filepath.Join(dir, "p.wasm")
	os.WriteFile(mod, []byte("\x00asm"), 0o644)
	src := "listen { address = \"127.0.0.1:0\" }\nplugin \"p\" {\n  wasm = \"p.wasm\"\n  config = {\n    api_password = \"hunter2\"\n    Token: \"tok-123\"\n    greeting = \"hello\"\n  }\n}\n"
	path := filepath.Join(dir, "policy.hcl")
	os.WriteFile(path, []byte(src), 0o644)
	p := &policy.Policy{File: path, Hash: sha256.Sum256([]byte(src)),
		Plugins:  []policy.Plugin{{Name: "p", Wasm: mod}},
		DKIMKeys: []policy.DKIMKey{{Name: "main", KeyFile: key}}}
	p.Upstream.Address = "127.0.0.1:10025"
	return p, path
}

func TestAPI(t *testing.T) {
	p, path := writePolicy(t)
	gw := &fakeGateway{p: p, tried: make(chan bridge.TestInput, 1),
		reload: lifecycle.Result{Status: "failed", Generation: 3, Diagnostics: "policy.hcl:3:10: error: Unsupported argument\n"}}
	rec := NewRecorder(Options{})
	rec.Record(txn("alice@example.org", "delivered"))
	srv := startConsole(t, gw, rec)

	var o Overview
	getJSON(t, srv.URL+"/api/overview", 200, &o)
	if o.Generation != 3 || o.LastReload == nil || o.LastReload.Status != "failed" || !strings.Contains(o.LastReload.Diagnostics, "policy.hcl:3:10") ||
		o.Upstream != "smtp:127.0.0.1:10025" || o.Recorded != 1 || len(o.Series.Counts["delivered"]) != 60 {
		t.Fatalf("overview %+v", o)
	}
	var list Transactions
	getJSON(t, srv.URL+"/api/transactions?verdict=delivered&address=alice", 200, &list)
	if len(list.Transactions) != 1 || list.Capacity != DefaultSize {
		t.Fatalf("list %+v", list)
	}
	getJSON(t, srv.URL+"/api/transactions?verdict=rejected", 200, &list)
	if len(list.Transactions) != 0 {
		t.Fatalf("list %+v", list)
	}
	getJSON(t, srv.URL+"/api/transactions?verdict=bogus", 400, nil)
	getJSON(t, srv.URL+"/api/transactions?limit=-1", 400, nil)
	var e Entry
	getJSON(t, srv.URL+"/api/transactions/1", 200, &e)
	if e.From != "alice@example.org" || e.QueueID != "Q1" {
		t.Fatalf("entry %+v", e)
	}
	getJSON(t, srv.URL+"/api/transactions/2", 404, nil)
	getJSON(t, srv.URL+"/api/transactions/x", 400, nil)

	// Reload: a failure is 422 with its diagnostics.
	resp, err := http.Post(srv.URL+"/api/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rl Reload
	json.NewDecoder(resp.Body).Decode(&rl)
	resp.Body.Close()
	if resp.StatusCode != 422 || rl.Status != "failed" || !strings.Contains(rl.Diagnostics, "policy.hcl:3:10: error") {
		t.Fatalf("reload %d %+v", resp.StatusCode, rl)
	}

	// Try: `sluice test`'s defaults, and bad input refused.
	resp, err = http.Post(srv.URL+"/api/try", "application/json", strings.NewReader(`{"from":"a@example.org","message":"Subject: x\n\nhi\n"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tr bridge.TestResult
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	in := <-gw.tried
	if resp.StatusCode != 200 || tr.Action != "reject" || in.ClientIP != "127.0.0.1" || in.Helo != "client.example.com" ||
		len(in.Rcpts) != 1 || in.Rcpts[0] != "recipient@example.net" || string(in.Message) != "Subject: x\n\nhi\n" {
		t.Fatalf("try %d %+v with %+v", resp.StatusCode, tr, in)
	}
	for _, body := range []string{`{"client_ip":"not an ip"}`, `{"unknown":1}`, `not json`} {
		resp, err := http.Post(srv.URL+"/api/try", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("try %s: %d", body, resp.StatusCode)
		}
	}

	// The policy view hides secrets.
	var pv PolicyView
	getJSON(t, srv.URL+"/api/policy", 200, &pv)
	raw, _ := json.Marshal(pv)
	for _, secret := range []string{"hunter2", "tok-123", "SECRETKEYMATERIAL"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("policy view shows %q: %s", secret, raw)
		}
	}
	if !strings.Contains(pv.Source, `greeting = "hello"`) || pv.ChangedOnDisk || len(pv.Files) != 2 ||
		pv.Files[0].SHA256 == "" || !pv.Files[1].Secret || pv.Files[1].SHA256 != "" || pv.Files[1].Size == 0 {
		t.Fatalf("policy view %+v", pv)
	}
	os.WriteFile(path, []byte("# changed\n"), 0o644)
	getJSON(t, srv.URL+"/api/policy", 200, &pv)
	if !pv.ChangedOnDisk {
		t.Fatal("a changed file is not reported")
	}
}

// Every transaction recorded while a client listens arrives as an event;
// the filter applies.
func TestEvents(t *testing.T) {
	p, _ := writePolicy(t)
	rec := NewRecorder(Options{})
	srv := startConsole(t, &fakeGateway{p: p}, rec)
	resp, err := http.Get(srv.URL + "/api/events?verdict=rejected")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rec.Record(txn("a@example.org", "delivered"))
	rec.Record(txn("b@example.org", "rejected"))
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			events <- sc.Text()
		}
		close(events)
	}()
	deadline := time.After(10 * time.Second)
	heartbeat := false
	for {
		select {
		case line := <-events:
			heartbeat = heartbeat || line == ": heartbeat"
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"id"`) {
				var e Entry
				if err := json.Unmarshal([]byte(line[6:]), &e); err != nil || e.ID != 2 || e.Outcome != "rejected" {
					t.Fatalf("event %q: %v", line, err)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no event (heartbeat seen: %v)", heartbeat)
		}
	}
}

// The page is served with a policy that keeps it to its own origin, and
// names nothing on the network.
func TestPage(t *testing.T) {
	p, _ := writePolicy(t)
	srv := startConsole(t, &fakeGateway{p: p}, NewRecorder(Options{}))
	for _, path := range []string{"/", "/app.js", "/app.css", "/vendor/uPlot.iife.min.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		if path != "/vendor/uPlot.iife.min.js" {
			if u := regexp.MustCompile(`(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(string(b)); u != "" {
				t.Errorf("%s names %s", path, u)
			}
		}
	}
	resp, err := http.Get(srv.URL + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}
