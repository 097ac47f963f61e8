package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/redistest"
)

// fleetPolicy is the policy every gateway of the fleet runs: greylist at
// RCPT (except for rl@ recipients) and a rate limit of `limit` messages
// per minute per sender, both in the shared Redis.
func fleetPolicy(redisURL, maildir string, limit int) string {
	return fmt.Sprintf(`listen   { address = "%%LISTEN%%" }
upstream { maildir = %q }
kv {
  redis   = %q
  timeout = "200ms"
}
plugin "ratelimit" {
  wasm   = "%%BIN%%/plugins/ratelimit.wasm"
  grants = ["kv"]
  config = { rules = [{ key = "sender", limit = %d, window = "1m" }] }
}
plugin "greylist" {
  wasm   = "%%BIN%%/plugins/greylist.wasm"
  grants = ["kv"]
  config = { delay = "1s", allow_recipients = ["rl@*"] }
}
`, maildir, redisURL, limit)
}

// fleetGateway runs one gateway of the fleet with its admin endpoint.
type fleetGateway struct {
	*gateway
	admin, maildir string
}

func startFleet(t *testing.T, srv *redistest.Server, n, limit int) []fleetGateway {
	var out []fleetGateway
	for i := range n {
		md := filepath.Join(t.TempDir(), fmt.Sprintf("mail%d", i))
		admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
		g := startSluice(t, fleetPolicy(srv.URL, md, limit), "", "--admin", admin, "--watch=false")
		out = append(out, fleetGateway{g, admin, md})
	}
	return out
}

// transaction sends one message through addr and returns the reply to
// the first command that was not accepted ("" when the message was
// accepted with 250 after DATA).
func transaction(t *testing.T, addr, from, to string) string {
	t.Helper()
	c := dialSMTP(t, addr)
	defer c.Conn.Close()
	step := func(line string) string {
		c.Write(line + "\r\n")
		return c.Expect("")
	}
	for _, l := range []string{"MAIL FROM:<" + from + ">", "RCPT TO:<" + to + ">"} {
		if r := step(l); !strings.HasPrefix(r, "250") {
			step("QUIT")
			return strings.TrimSpace(r)
		}
	}
	if r := step("DATA"); !strings.HasPrefix(r, "354") {
		return strings.TrimSpace(r)
	}
	r := step("Subject: fleet\r\n\r\nhello\r\n.")
	step("QUIT")
	if !strings.HasPrefix(r, "250") {
		return strings.TrimSpace(r)
	}
	return ""
}

func delivered(t *testing.T, gws []fleetGateway) int {
	n := 0
	for _, g := range gws {
		n += len(maildirMessages(t, g.maildir))
	}
	return n
}

func readyz(t *testing.T, g fleetGateway, query string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + g.admin + "/readyz" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Two gateways share one Redis: a triplet greylisted on A passes on B
// after the delay; a rate limit of N per minute allows N in total; with
// Redis killed greylist tempfails and ratelimit goes on, /readyz says so,
// no accepted message is lost, and both recover when Redis is back.
func TestFleetSharedRedis(t *testing.T) {
	srv := redistest.Start(t)
	const limit = 3
	gws := startFleet(t, srv, 2, limit)
	a, b := gws[0], gws[1]

	// Greylisting across gateways.
	if r := transaction(t, a.Addr, "s@example.org", "u@example.net"); !strings.HasPrefix(r, "451 4.7.1") {
		t.Fatalf("first sight on A: %q, want 451 4.7.1", r)
	}
	waitCond(t, "the greylist delay", func() bool {
		got, _ := srv.Do("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "sluice:greylist:gl1:w:*")
		return got == ":0"
	})
	if r := transaction(t, b.Addr, "s@example.org", "u@example.net"); r != "" {
		t.Fatalf("retry on B after the delay: %q, want accepted", r)
	}
	if n := delivered(t, gws); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}

	// A rate limit of 3 per minute across both gateways.
	accepted := 0
	for i := range 6 {
		g := gws[i%2]
		switch r := transaction(t, g.Addr, "bulk@example.org", "rl@example.net"); {
		case r == "":
			accepted++
		case !strings.HasPrefix(r, "451 4.7.1"):
			t.Fatalf("message %d: %q", i, r)
		}
	}
	if accepted != limit {
		t.Fatalf("%d messages accepted across A and B, want %d", accepted, limit)
	}
	if n := delivered(t, gws); n != 1+limit {
		t.Fatalf("%d messages delivered, want %d", n, 1+limit)
	}

	// Redis dies.
	srv.Kill()
	for _, g := range gws {
		if r := transaction(t, g.Addr, "new@example.org", "v@example.net"); !strings.HasPrefix(r, "451 4.3.0") {
			t.Fatalf("greylist with Redis down: %q, want 451 4.3.0", r)
		}
		if r := transaction(t, g.Addr, "bulk@example.org", "rl@example.net"); r != "" {
			t.Fatalf("ratelimit with Redis down: %q, want accepted (on_kv_error = continue)", r)
		}
		code, body := readyz(t, g, "")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "key/value store down") {
			t.Fatalf("/readyz with Redis down: %d %q", code, body)
		}
		if code, body := readyz(t, g, "?kv=optional"); code != http.StatusOK {
			t.Fatalf("/readyz?kv=optional with Redis down: %d %q", code, body)
		}
	}
	if n := delivered(t, gws); n != 1+limit+2 {
		t.Fatalf("%d messages delivered, want %d: an accepted message was lost", n, 1+limit+2)
	}

	// Redis comes back: both gateways recover on their own.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, g := range gws {
		waitCond(t, "/readyz to recover", func() bool { c, _ := readyz(t, g, ""); return c == http.StatusOK })
	}
	if r := transaction(t, a.Addr, "new@example.org", "v@example.net"); !strings.HasPrefix(r, "451 4.7.1") {
		t.Fatalf("greylist after Redis came back: %q, want 451 4.7.1 (greylisted)", r)
	}
	for i := range limit + 1 { // the restarted Redis is empty: counting starts over
		r := transaction(t, gws[i%2].Addr, "again@example.org", "rl@example.net")
		if (i < limit) != (r == "") {
			t.Fatalf("rate-limited message %d after recovery: %q", i, r)
		}
	}
	metrics := httpGet(t, "http://"+a.admin+"/metrics")
	for _, m := range []string{`sluice_kv_errors_total{kind=`, "sluice_kv_seconds_bucket", "sluice_kv_pool_connections", "sluice_kv_up 1"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	_, body := httpDo(t, http.MethodGet, url)
	return body
}
