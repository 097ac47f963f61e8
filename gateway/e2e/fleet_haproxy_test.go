package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/redistest"
	"github.com/sluice-mail/sluice/gateway/internal/syncbuf"
)

// haproxyFleetPolicy: a gateway behind HAProxy (PROXY v2 from 127.0.0.1
// only), forwarding to Postfix with XCLIENT, kv in the shared Redis.
func haproxyFleetPolicy(redisURL, postfixAddr string) string {
	return fmt.Sprintf(`listen {
  address        = "%%LISTEN%%"
  hostname       = "sluice.sluice.test"
  proxy_protocol = true
  proxy_trusted  = ["127.0.0.1/32"]
}
upstream {
  address = %q
  xclient = true
}
kv { redis = %q }
plugin "tag" {
  wasm   = "%%BIN%%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "checked" } }
}
`, postfixAddr, redisURL)
}

// startHAProxy runs Debian's haproxy with examples/haproxy/haproxy.cfg in
// front of the gateways and returns its address.
func startHAProxy(t *testing.T, gws []fleetGateway) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/haproxy"); err != nil {
			t.Fatalf("haproxy is not installed (run .ci/install-deps): %v", err)
		}
	}
	cfg := filepath.Join(repoRoot(), "examples", "haproxy", "haproxy.cfg")
	lb := loopback(t)
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Env = append(os.Environ(), "SLUICE_LB_LISTEN="+lb)
	for i, g := range gws {
		_, port, _ := net.SplitHostPort(g.admin)
		cmd.Env = append(cmd.Env, fmt.Sprintf("SLUICE_GW%d=%s", i+1, g.Addr), fmt.Sprintf("SLUICE_GW%d_ADMIN_PORT=%s", i+1, port))
	}
	var log syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("haproxy:\n%s", log.String())
		}
	})
	if !postfixtest.WaitPort(lb, 20*time.Second) {
		t.Fatalf("haproxy did not listen on %s:\n%s", lb, log.String())
	}
	return lb
}

// sendOnce runs one SMTP transaction from clientIP through addr and
// reports whether the message was accepted (250 after DATA). Any 4xx, a
// dropped connection or a timeout is a failure the client retries.
func sendOnce(addr, subject string) (bool, string) {
	s, err := openSession(addr)
	if err != nil {
		return false, err.Error()
	}
	defer s.c.Close()
	return s.run(subject, 0, false)
}

// session is a client SMTP session from clientIP.
type session struct {
	c net.Conn
	r *bufio.Reader
}

func openSession(addr string) (*session, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &session{c: c, r: bufio.NewReader(c)}, nil
}

// run runs the transaction's steps from step `from` on (stopping after
// RCPT if hold); it reports whether the message was accepted (or held)
// and, if not, the reply or error.
func (s *session) run(subject string, from int, hold bool) (bool, string) {
	c, r := s.c, s.r
	reply := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "error: " + err.Error()
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimSpace(line)
			}
		}
	}
	steps := []struct{ send, want string }{
		{"", "220"}, {"EHLO client.sluice.test", "250"}, {"MAIL FROM:<alice@sender.test>", "250"},
		{"RCPT TO:<bob@" + postfixtest.Domain + ">", "250"}, {"DATA", "354"},
		{"Subject: " + subject + "\r\n\r\nload\r\n.", "250"},
	}
	for i, st := range steps {
		if i < from {
			continue
		}
		if st.send != "" {
			if _, err := fmt.Fprintf(c, "%s\r\n", st.send); err != nil {
				return false, err.Error()
			}
		}
		if got := reply(); !strings.HasPrefix(got, st.want) {
			return false, got
		}
		if i == heldStep && hold {
			return true, "" // held open after RCPT
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	return true, ""
}

// heldStep is the RCPT step: a held session stops after it.
const heldStep = 3

// retry sends the message until it is accepted (at most 40 tries).
func retry(addr, subject string) (int, string) {
	for tries := 1; ; tries++ {
		ok, why := sendOnce(addr, subject)
		if ok {
			return tries, ""
		}
		if tries >= 40 {
			return tries, why
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// HAProxy with send-proxy-v2 in front of two gateways: Postfix sees the
// original client (PROXY v2 to Sluice, XCLIENT to Postfix); killing one
// gateway mid-load loses no message, since the client gets a 4xx or a
// dropped connection and retries, through HAProxy, on the other.
func TestFleetHAProxy(t *testing.T) {
	srv := redistest.Start(t)
	pfAddr := loopback(t)
	pf := postfixtest.Start(t, postfixtest.Options{
		Addr:     pfAddr,
		MainCF:   append(postfixtest.Snippet(t, "mx-front/main.cf", map[string]string{"MYNETWORKS": "127.0.0.254/32"}), "defer_transports = smtp"),
		MasterCF: postfixtest.Snippet(t, "mx-front/master.cf", map[string]string{"POSTFIX_ADDR": pfAddr, "SLUICE_IP": "127.0.0.1"}),
	})
	var gws []fleetGateway
	for range 2 {
		admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
		g := startSluice(t, haproxyFleetPolicy(srv.URL, pfAddr), "", "--admin", admin, "--watch=false")
		gws = append(gws, fleetGateway{gateway: g, admin: admin})
	}
	lb := startHAProxy(t, gws)

	// The original client reaches Postfix.
	var ok bool
	var why string
	for deadline := time.Now().Add(20 * time.Second); !ok && time.Now().Before(deadline); {
		if ok, why = sendOnce(lb, "first"); !ok {
			time.Sleep(100 * time.Millisecond) // HAProxy's first health checks
		}
	}
	if !ok {
		t.Fatalf("through haproxy: %s\nmaillog:\n%s", why, pf.Log())
	}
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s", len(got), pf.Log())
	}
	received := regexp.MustCompile(`Received: from client\.sluice\.test \(unknown \[127\.0\.0\.2\]\)\s+by postfix\.sluice\.test`)
	if !received.Match(got[0]) || !strings.Contains(string(got[0]), "X-Sluice: checked") {
		t.Fatalf("Postfix did not see the original client through HAProxy and Sluice:\n%s", got[0])
	}

	// Load, and one gateway killed in the middle of it.
	const clients, each = 4, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	retried, failures := 0, []string{}
	sent := make(chan struct{}, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				subject := "load-" + strconv.Itoa(c) + "-" + strconv.Itoa(i)
				attempts := 0
				for {
					attempts++
					if ok, why := sendOnce(lb, subject); ok {
						break
					} else if attempts >= 40 {
						mu.Lock()
						failures = append(failures, subject+": "+why)
						mu.Unlock()
						return
					}
					mu.Lock()
					retried++
					mu.Unlock()
					time.Sleep(300 * time.Millisecond) // HAProxy marks a dead gateway down within about 3 s
				}
				sent <- struct{}{}
			}
		}()
	}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()
	for range clients * each / 3 {
		select {
		case <-sent:
		case <-loadDone:
		}
	}
	mu.Lock()
	if len(failures) > 0 {
		t.Fatalf("messages never accepted before the kill: %v", failures)
	}
	mu.Unlock()
	// Sessions held open in the middle of a transaction, some on each
	// gateway.
	var held []*session
	for i := range 8 { // leastconn puts some on each gateway: at most 4 load sessions are open
		h, err := openSession(lb)
		if err != nil {
			t.Fatal(err)
		}
		defer h.c.Close()
		if ok, why := h.run("held-"+strconv.Itoa(i), 0, true); !ok {
			t.Fatalf("held session %d: %s", i, why)
		}
		held = append(held, h)
	}
	before := []int{strings.Count(gws[0].Log(), "message delivered"), strings.Count(gws[1].Log(), "message delivered")}
	gws[0].cmd.Process.Kill() // mid-load: sessions on it drop
	dropped := 0
	for i, h := range held {
		subject := "held-" + strconv.Itoa(i)
		if ok, _ := h.run(subject, heldStep+1, false); ok {
			continue
		}
		dropped++ // the client saw a 4xx or a dropped connection: it retries
		if tries, why := retry(lb, subject); why != "" {
			t.Fatalf("%s never accepted after %d tries: %s", subject, tries, why)
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("messages never accepted: %v", failures)
	}
	// Every accepted message must arrive; retries may add duplicates, so
	// wait for the subjects, not for a count.
	want := []string{}
	for i := range held {
		want = append(want, "held-"+strconv.Itoa(i))
	}
	for c := range clients {
		for i := range each {
			want = append(want, "load-"+strconv.Itoa(c)+"-"+strconv.Itoa(i))
		}
	}
	subject := regexp.MustCompile(`Subject: ((load|held)-\d+(-\d+)?)`)
	var delivered [][]byte
	seen := map[string]bool{}
	missing := want
	for deadline := time.Now().Add(60 * time.Second); len(missing) > 0 && time.Now().Before(deadline); {
		delivered = pf.WaitDelivered(len(want)+1, 200*time.Millisecond)
		for _, m := range delivered {
			if s := subject.FindSubmatch(m); s != nil {
				seen[string(s[1])] = true
			}
		}
		missing = missing[:0:0]
		for _, s := range want {
			if !seen[s] {
				missing = append(missing, s)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("messages accepted but never delivered: %v", missing)
	}
	if before[0] == 0 || before[1] == 0 {
		t.Errorf("HAProxy did not use both gateways before the kill: %v messages", before)
	}
	if dropped == 0 {
		t.Errorf("no held session was on the killed gateway: the kill was not tested")
	}
	t.Logf("delivered through gw1, gw2 before the kill: %v", before)
	if t.Failed() {
		t.Logf("maillog:\n%s", pf.Log())
	}
	t.Logf("%d messages, %d held sessions dropped by the kill, %d retries, %d deliveries (duplicates are retries of messages whose 250 was lost)", clients*each+len(held), dropped, retried, len(delivered)-1)
}
