package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// rawMsg is a message given as bytes.
type rawMsg []byte

func (m rawMsg) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m)
	return int64(n), err
}

// brokenMsg writes part of a message, then fails like a spool read error.
type brokenMsg []byte

func (m brokenMsg) WriteTo(w io.Writer) (int64, error) {
	n, _ := w.Write(m)
	return int64(n), errors.New("spool read failed")
}

const shortTimeout = 500 * time.Millisecond

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestSMTP(addr string, timeout time.Duration) *SMTP {
	return NewSMTP(SMTPConfig{
		Address:        addr,
		Helo:           "gw.test",
		ConnectTimeout: timeout,
		CommandTimeout: timeout,
		DataTimeout:    timeout,
	})
}

func open(t *testing.T, m *fakemta.MTA, timeout time.Duration) Conn {
	t.Helper()
	c, err := newTestSMTP(m.Addr(), timeout).Open(testCtx(t), Identity{SessionID: t.Name()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one whole transaction.
func send(ctx context.Context, c Conn, from string, to []string, msg io.WriterTo) error {
	if err := c.Mail(ctx, from, ""); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(ctx, r, ""); err != nil {
			return err
		}
	}
	return c.Data(ctx, msg)
}

// Both of the MTA's modes must receive the message byte for byte: go-smtp's
// unstuffing is an independent check of ours.
var modes = map[string][]fakemta.Option{"go-smtp": nil, "raw": {fakemta.RawMode()}}

func TestDeliverByteExact(t *testing.T) {
	raw := "From: a@example.org\r\nSubject: dots\r\n\r\n" +
		".\r\n..\r\n.leading dot\r\n...three\r\nmiddle . dot\r\n.\r\n" +
		strings.Repeat("y", 990) + "\r\n" +
		"last line without CRLF"
	msg, err := message.Parse([]byte(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opts...)
			c := open(t, m, 5*time.Second)
			ctx := testCtx(t)
			if err := send(ctx, c, "a@example.org", []string{"b@example.net", "c@example.net"}, msg); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := m.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			if want := raw + "\r\n"; string(got[0].Data) != want {
				t.Errorf("data:\n got %q\nwant %q", got[0].Data, want)
			}
			if got[0].From != "a@example.org" || !slices.Equal(got[0].Rcpts, []string{"b@example.net", "c@example.net"}) {
				t.Errorf("envelope %q %q", got[0].From, got[0].Rcpts)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			cmds := m.Commands()
			want := []string{"EHLO gw.test", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>", "RCPT TO:<c@example.net>", "DATA", "QUIT"}
			if !slices.Equal(cmds, want) {
				t.Errorf("commands %q, want %q", cmds, want)
			}
		})
	}
}

func TestDeliverLarge(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		if i%7 == 0 {
			b.WriteString(".")
		}
		fmt.Fprintf(&b, "%0*d\r\n", i%200, i)
	}
	m := fakemta.Start(t)
	c := open(t, m, 5*time.Second)
	if err := send(testCtx(t), c, "", []string{"b@example.net"}, rawMsg(b.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := m.Messages()
	if len(got) != 1 || !bytes.Equal(got[0].Data, b.Bytes()) {
		t.Fatal("large message not received byte for byte")
	}
	if !slices.Contains(m.Commands(), "MAIL FROM:<>") {
		t.Errorf("null sender not sent as <>: %q", m.Commands())
	}
}

func TestSeveralTransactions(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 2, fakemta.Reject(550, "5.7.1", "not this one")))
	c := open(t, m, 5*time.Second)
	ctx := testCtx(t)
	if err := send(ctx, c, "a@x.test", []string{"1@y.test"}, rawMsg("one\r\n")); err != nil {
		t.Fatal(err)
	}
	err := c.Mail(ctx, "a@x.test", "")
	var r *smtp.Reply
	if !errors.As(err, &r) || r.Code != 550 {
		t.Fatalf("second MAIL: %v", err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(ctx, "3@y.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := send(ctx, c, "a@x.test", []string{"4@y.test"}, rawMsg("four\r\n")); err != nil {
		t.Fatal(err)
	}
	msgs := m.Messages()
	if len(msgs) != 2 || string(msgs[0].Data) != "one\r\n" || string(msgs[1].Data) != "four\r\n" || msgs[1].Rcpts[0] != "4@y.test" {
		t.Fatalf("messages %+v", msgs)
	}
	if m.Transactions() != 4 || m.Conns() != 1 {
		t.Errorf("transactions %d, conns %d", m.Transactions(), m.Conns())
	}
}

func TestConcurrentOpens(t *testing.T) {
	m := fakemta.Start(t)
	up := newTestSMTP(m.Addr(), 5*time.Second)
	ctx := testCtx(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := up.Open(ctx, Identity{SessionID: fmt.Sprint(i)})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- send(ctx, c, fmt.Sprintf("s%d@x.test", i), []string{"r@y.test"}, rawMsg(fmt.Sprintf("message %d\r\n", i)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	msgs := m.Messages()
	if len(msgs) != n || m.Conns() != n {
		t.Fatalf("%d messages on %d connections", len(msgs), m.Conns())
	}
	for _, msg := range msgs {
		if want := fmt.Sprintf("message %s\r\n", strings.TrimSuffix(strings.TrimPrefix(msg.From, "s"), "@x.test")); string(msg.Data) != want {
			t.Errorf("from %s: %q", msg.From, msg.Data)
		}
	}
}

// outcome is the kind of error a call gives.
type outcome int

const (
	ok          outcome = iota
	unreachable         // wraps ErrUnreachable
	reply               // a *smtp.Reply
	lost                // a plain error: the connection is gone
	confused            // ErrUnreachable and a *smtp.Reply at once
)

func classify(err error) outcome {
	var r *smtp.Reply
	switch {
	case err == nil:
		return ok
	case errors.Is(err, ErrUnreachable):
		if errors.As(err, &r) {
			return confused // must not look like a downstream answer
		}
		return unreachable
	case errors.As(err, &r):
		return reply
	}
	return lost
}

func (o outcome) String() string {
	return [...]string{"ok", "unreachable", "reply", "lost", "confused"}[o]
}

// TestFaults runs every fault at every step and checks the error kind, the
// step it surfaces at, and that it does so within the deadline.
func TestFaults(t *testing.T) {
	type fault struct {
		name     string
		action   fakemta.Action
		code     int // for reply outcomes
		enhanced string
	}
	faults := []fault{
		{"reject", fakemta.Reject(554, "5.7.1", "Go away"), 554, "5.7.1"},
		{"tempfail", fakemta.Tempfail(451, "4.3.0", "Later"), 451, "4.3.0"},
		{"shutdown", fakemta.Shutdown(), 421, "4.3.2"},
		{"hang", fakemta.Hang(), 0, ""},
		{"drop", fakemta.Drop(), 0, ""},
		{"garbage", fakemta.Garbage(), 0, ""},
		{"endless", fakemta.Endless(), 0, ""},
		{"long line", fakemta.Send("250 " + strings.Repeat("x", 5000) + "\r\n"), 0, ""},
		{"extra reply", fakemta.Send("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"), 0, ""},
	}
	steps := []fakemta.Step{fakemta.Greeting, fakemta.Ehlo, fakemta.Mail, fakemta.Rcpt, fakemta.DataCmd, fakemta.EndOfData}
	for _, step := range steps {
		for _, f := range faults {
			t.Run(step.String()+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				wantStep := step
				want := lost
				switch {
				case step == fakemta.Greeting || step == fakemta.Ehlo:
					want = unreachable
				case f.code != 0:
					want = reply
				}
				if step == fakemta.Ehlo && f.name == "reject" {
					want = ok // falls back to HELO
				}
				m := fakemta.Start(t, fakemta.On(step, f.action))
				ctx := testCtx(t)
				start := time.Now()
				up := newTestSMTP(m.Addr(), shortTimeout)
				gotStep := fakemta.Greeting
				c, err := up.Open(ctx, Identity{})
				if err == nil {
					defer c.Close()
					gotStep, err = fakemta.Mail, c.Mail(ctx, "a@x.test", "")
					if err == nil {
						gotStep, err = fakemta.Rcpt, c.Rcpt(ctx, "b@y.test", "")
					}
					if err == nil {
						gotStep, err = fakemta.DataCmd, c.Data(ctx, rawMsg("hello\r\n"))
						if step == fakemta.EndOfData {
							wantStep = fakemta.DataCmd // both surface from Data
						}
					}
				} else if step == fakemta.Ehlo {
					wantStep = fakemta.Greeting // surfaces from Open
				}
				if elapsed := time.Since(start); elapsed > 4*shortTimeout {
					t.Errorf("took %v", elapsed)
				}
				if got := classify(err); got != want {
					t.Fatalf("got %v (%v), want %v", got, err, want)
				}
				if want == ok {
					if len(m.Messages()) != 1 || !slices.Contains(m.Commands(), "HELO gw.test") {
						t.Errorf("no delivery after HELO: %q", m.Commands())
					}
					return
				}
				if gotStep != wantStep {
					t.Errorf("failed at %v, want %v", gotStep, wantStep)
				}
				if want == unreachable {
					if f.code != 0 && !strings.Contains(err.Error(), fmt.Sprint(f.code)) {
						t.Errorf("error %q does not show the reply", err)
					}
					return
				}
				if len(m.Messages()) != 0 {
					t.Errorf("message accepted downstream")
				}
				if want == reply {
					var r *smtp.Reply
					errors.As(err, &r)
					if r.Code != f.code || r.Enhanced != f.enhanced {
						t.Errorf("reply %d %s", r.Code, r.Enhanced)
					}
				}
				// A lost connection, or one closed by a 421, fails fast
				// without writing; other replies leave it usable.
				n := len(m.Commands())
				err = c.Reset(ctx)
				if want == lost || f.code == 421 {
					if classify(err) != lost {
						t.Errorf("call after the connection ended: %v", err)
					}
					if len(m.Commands()) != n {
						t.Errorf("wrote to an ended connection: %q", m.Commands()[n:])
					}
				} else if err != nil {
					t.Errorf("RSET after a %d: %v", f.code, err)
				}
			})
		}
	}
}
