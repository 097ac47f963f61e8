// Command passthrough is the naive SMTP relay bench/peers.sh measures
// Sluice against: go-smtp's server in front, go-smtp's client behind, no
// plugins, no queue. Each message is relayed while the client waits, on an
// upstream connection taken from a pool of idle ones (or dialled), and the
// upstream's reply to the data is the client's.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2727", "address to serve SMTP on")
	upstream := flag.String("upstream", "127.0.0.1:2725", "SMTP server to relay to")
	idle := flag.Int("idle", 64, "idle upstream connections kept for the next message")
	flag.Parse()
	r := &relay{upstream: *upstream, idle: make(chan *smtp.Client, *idle)}
	srv := smtp.NewServer(r)
	srv.Addr = *listen
	srv.Domain = "passthrough.bench"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	log.Fatal(srv.ListenAndServe())
}

// relay is the server's backend and holds the pool of upstream clients.
type relay struct {
	upstream string
	idle     chan *smtp.Client
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }

// client returns an idle upstream client that accepts MAIL, or a new one.
func (r *relay) client(from string) (*smtp.Client, error) {
	for {
		select {
		case c := <-r.idle:
			if c.Mail(from, nil) == nil {
				return c, nil
			}
			c.Close() // went stale while idle
			continue
		default:
		}
		c, err := smtp.Dial(r.upstream)
		if err != nil {
			return nil, err
		}
		if err := c.Hello("passthrough.bench"); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Mail(from, nil); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

func (r *relay) done(c *smtp.Client) {
	select {
	case r.idle <- c:
	default:
		c.Quit()
	}
}

// session keeps the envelope until the data arrives.
type session struct {
	r     *relay
	from  string
	rcpts []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Data(body io.Reader) error {
	defer io.Copy(io.Discard, body)
	c, err := s.r.client(s.from)
	if err != nil {
		return tempfail(err)
	}
	for _, to := range s.rcpts {
		if err := c.Rcpt(to, nil); err != nil {
			c.Close()
			return tempfail(err)
		}
	}
	w, err := c.Data()
	if err == nil {
		if _, err = io.Copy(w, body); err == nil {
			err = w.Close()
		}
	}
	if err != nil {
		c.Close()
		return tempfail(err)
	}
	s.r.done(c)
	return nil
}

// tempfail passes the upstream's SMTP error on, and turns any other failure
// into 451.
func tempfail(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 1}, Message: "upstream failed: " + err.Error()}
}
