package postfixtest

import (
	"bytes"
	"os/exec"
	"strings"
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

// Extra main.cf settings replace the base ones in place: a repeated
// parameter makes every Postfix process log a warning.
func TestMergeMainCF(t *testing.T) {
	got := mergeMainCF([]string{"a = 1", "mynetworks = 127.0.0.254/32", "b = 2"}, []string{
		"# a comment",
		"",
		"mynetworks = 192.0.2.0/24",
		"smtpd_relay_restrictions = permit_mynetworks,",
		"  reject_unauth_destination",
		"b = 3",
	})
	want := []string{"a = 1", "mynetworks = 192.0.2.0/24", "b = 3", "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
