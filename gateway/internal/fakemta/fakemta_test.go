package fakemta

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

// dial connects a scripted client to m, without reading the greeting.
func dial(t *testing.T, m *MTA) *smtptest.Client {
	t.Helper()
	c := smtptest.Dial(t, m.Addr())
	c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

var modes = map[string][]Option{"go-smtp": nil, "raw": {RawMode()}}

func TestRecording(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := Start(t, append(opts, OnNth(Rcpt, 2, Reject(550, "5.1.1", "No such user")))...)
			c := dial(t, m)
			c.Reply()
			c.Cmd("EHLO client.test", "250")
			c.Cmd("MAIL FROM:<a@x.test>", "250")
			c.Cmd("RCPT TO:<b@y.test>", "250")
			c.Cmd("RCPT TO:<c@y.test>", "550")
			c.Cmd("DATA", "354")
			// Only CRLF "." CRLF ends the data; ".." is unstuffed.
			c.Write("Subject: x\r\n\r\n..dot\r\na\n.\r\nb\r\n.\r\n")
			if r := c.Reply(); !strings.HasPrefix(r, "250") {
				t.Fatalf("end of data: %q", r)
			}
			c.Cmd("RSET", "250")
			c.Cmd("MAIL FROM:<>", "250")
			c.Cmd("QUIT", "221")

			msgs := m.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			if got, want := string(msgs[0].Data), "Subject: x\r\n\r\n.dot\r\na\n.\r\nb\r\n"; got != want {
				t.Errorf("data %q, want %q", got, want)
			}
			if msgs[0].From != "a@x.test" || !slices.Equal(msgs[0].Rcpts, []string{"b@y.test"}) {
				t.Errorf("envelope %q %q", msgs[0].From, msgs[0].Rcpts)
			}
			want := []string{"EHLO client.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA", "RSET", "MAIL FROM:<>", "QUIT"}
			if got := m.Commands(); !slices.Equal(got, want) {
				t.Errorf("commands %q, want %q", got, want)
			}
			if m.Transactions() != 2 || m.Conns() != 1 {
				t.Errorf("transactions %d, conns %d", m.Transactions(), m.Conns())
			}
		})
	}
}

// A 2xx reply with custom text at end of data accepts the message, in
// both modes; a refusal does not.
func TestCustomAcceptAtEndOfData(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := Start(t, append(opts,
				OnNth(EndOfData, 1, Reply(250, "2.0.0", "Ok: queued as ABC123")),
				OnNth(EndOfData, 2, Reject(554, "5.7.1", "Spam")))...)
			c := dial(t, m)
			c.Reply()
			c.Cmd("EHLO client.test", "250")
			for i, want := range []string{"250 2.0.0 Ok: queued as ABC123", "554 5.7.1 Spam"} {
				c.Cmd("MAIL FROM:<a@x.test>", "250")
				c.Cmd("RCPT TO:<b@y.test>", "250")
				c.Cmd("DATA", "354")
				c.Write("Subject: " + string(rune('1'+i)) + "\r\n\r\nbody\r\n.\r\n")
				if r := c.Reply(); r != want {
					t.Fatalf("end of data %d: %q, want %q", i+1, r, want)
				}
			}
			msgs := m.Messages()
			if len(msgs) != 1 || string(msgs[0].Data) != "Subject: 1\r\n\r\nbody\r\n" {
				t.Fatalf("messages %+v", msgs)
			}
		})
	}
}

func TestRawFaults(t *testing.T) {
	m := Start(t,
		Extensions("8BITMIME"),
		On(Greeting, Send("220-first\r\n220 second\r\n")),
		On(Mail, Garbage()))
	c := dial(t, m)
	if r := c.Reply(); r != "220 second" {
		t.Fatalf("greeting %q", r)
	}
	c.Write("EHLO c\r\n")
	if l, _ := c.R.ReadString('\n'); l != "250-"+Hostname+"\r\n" {
		t.Fatalf("EHLO first line %q", l)
	}
	if r := c.Reply(); r != "250 8BITMIME" {
		t.Fatalf("EHLO last line %q", r)
	}
	c.Write("MAIL FROM:<a@x>\r\n")
	if l, _ := c.R.ReadString('\n'); l != "this is not an SMTP reply\r\n" {
		t.Fatalf("garbage %q", l)
	}
	c.Cmd("RCPT TO:<b@y>", "503") // the garbage did not start a transaction
	if r := m.Commands(); len(r) != 3 {
		t.Fatalf("commands %q", r)
	}
}

func TestShutdownAndTempfail(t *testing.T) {
	m := Start(t, OnNth(Rcpt, 1, Tempfail(452, "4.5.3", "Too many")), On(Rcpt, Shutdown()))
	c := dial(t, m)
	c.Reply()
	c.Cmd("EHLO c", "250")
	c.Cmd("MAIL FROM:<a@x>", "250")
	c.Cmd("RCPT TO:<b@y>", "452 4.5.3 Too many")
	c.Cmd("RCPT TO:<b@y>", "421 4.3.2")
	if _, err := c.R.ReadByte(); err == nil {
		t.Fatal("connection still open after 421")
	}
}

func TestEndless(t *testing.T) {
	m := Start(t, On(Ehlo, Endless()))
	c := dial(t, m)
	c.Reply()
	c.Write("EHLO c\r\n")
	for range 1000 {
		l, err := c.R.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "250-") {
			t.Fatalf("line %q, %v", l, err)
		}
	}
}

func TestDrop(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := Start(t, append(opts, On(Mail, Drop()))...)
			c := dial(t, m)
			c.Reply()
			c.Cmd("EHLO c", "250")
			c.Write("MAIL FROM:<a@x>\r\n")
			if l, err := c.R.ReadString('\n'); err == nil {
				t.Fatalf("got %q after drop", l)
			}
		})
	}
}

// Hung steps are released when the test ends: the subtests' cleanups must
// return, or they report that goroutines did not stop.
func TestHangReleasedAtCleanup(t *testing.T) {
	for _, step := range []Step{Greeting, Mail, EndOfData} {
		for name, opts := range modes {
			t.Run(step.String()+"/"+name, func(t *testing.T) {
				m := Start(t, append(opts, On(step, Hang()))...)
				c := dial(t, m)
				if step != Greeting {
					c.Reply()
					c.Cmd("EHLO c", "250")
					c.Write("MAIL FROM:<a@x>\r\n")
				}
				if step == EndOfData {
					c.Reply()
					c.Cmd("RCPT TO:<b@y>", "250")
					c.Cmd("DATA", "354")
					c.Write("x\r\n.\r\n")
				}
				select {
				case <-m.Reached(step):
				case <-time.After(10 * time.Second):
					t.Fatal("step not reached")
				}
				c.Conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if l, err := c.R.ReadString('\n'); err == nil {
					t.Fatalf("hung step answered %q", l)
				}
			})
		}
	}
}

func TestNeedsRaw(t *testing.T) {
	cases := []struct {
		opts []Option
		raw  bool
	}{
		{nil, false},
		{[]Option{On(Mail, Reject(550, "", "x")), On(Rcpt, Hang()), On(EndOfData, Drop())}, false},
		{[]Option{On(Greeting, Reject(554, "", "x"))}, true},
		{[]Option{On(DataCmd, Tempfail(451, "", "x"))}, true},
		{[]Option{OnNth(Mail, 3, Shutdown())}, true},
		{[]Option{On(EndOfData, Garbage())}, true},
		{[]Option{Extensions()}, true},
		{[]Option{TLS(&tls.Config{})}, true},
	}
	for i, c := range cases {
		cfg := config{on: map[Step]Action{}, nth: map[Step]map[int]Action{}}
		for _, o := range c.opts {
			o(&cfg)
		}
		if got := (&MTA{cfg: cfg}).needsRaw(); got != c.raw {
			t.Errorf("case %d: raw %v, want %v", i, got, c.raw)
		}
	}
}
