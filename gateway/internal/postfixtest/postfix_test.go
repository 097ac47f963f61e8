package postfixtest

import (
	"bytes"
	"os/exec"
	"testing"
	"time"
)

// The harness itself: a message sent straight to the instance is delivered
// to its Maildir, and relaying to a foreign domain is refused.
func TestPostfixDelivers(t *testing.T) {
	p := Start(t, Options{})
	out, err := exec.Command("swaks", "--server", p.Addr, "--from", "a@sender.test", "--to", "user@"+Domain,
		"--header", "Subject: harness", "--body", "hello harness", "--timeout", "20").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	got := p.WaitDelivered(1, 20*time.Second)
	if len(got) != 1 || !bytes.Contains(got[0], []byte("hello harness")) {
		t.Fatalf("delivered %d messages; log:\n%s", len(got), p.Log())
	}
	out, err = exec.Command("swaks", "--server", p.Addr, "--from", "a@sender.test", "--to", "user@foreign.test",
		"--timeout", "20").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("554 5.7.1")) {
		t.Fatalf("relay to a foreign domain was not refused: %v\n%s", err, out)
	}
}
