package upstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Maildir delivers into a local Maildir (development mode, docs/DESIGN.md §1 deployment
// mode c). A message is written to tmp/, synced, and renamed into new/, so
// a reader never sees a partial file. It is safe for concurrent use.
type Maildir struct {
	dir     string
	host    string
	pid     int
	counter atomic.Uint64
}

var _ Upstream = (*Maildir)(nil)

// NewMaildir creates dir/tmp, dir/new and dir/cur (mode 0700) if missing.
func NewMaildir(dir string) (*Maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// The host part must not contain '/' or ':' (Maildir spec).
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &Maildir{dir: dir, host: host, pid: os.Getpid()}, nil
}

// Open returns a connection that records the envelope and delivers on Data.
func (m *Maildir) Open(ctx context.Context, id Identity) (Conn, error) {
	return &maildirConn{m: m}, nil
}

// uniqueName returns a file name unique on this host:
// "<seconds>.M<microseconds>P<pid>Q<counter>.<host>".
func (m *Maildir) uniqueName() string {
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, m.pid, m.counter.Add(1), m.host)
}

// maildirConn is one Maildir "connection": an envelope and nothing else. It
// is used by one goroutine at a time, like every Conn.
type maildirConn struct {
	m       *Maildir
	from    string
	hasMail bool
	rcpts   []string
	last    *smtp.Reply // see LastReply
}

// The replies an SMTP server would have given, for LastReply (RFC 3463
// §3.2 and §3.3 for the enhanced codes).
var (
	replyMailOK  = smtp.NewReply(250, "2.1.0", "Ok")
	replyRcptOK  = smtp.NewReply(250, "2.1.5", "Ok")
	replyResetOK = smtp.NewReply(250, "2.0.0", "Ok")
)

func (c *maildirConn) Mail(ctx context.Context, from, params string) error {
	c.last = nil
	if !cleanArg(from) {
		return replyBadChars
	}
	c.from, c.hasMail, c.rcpts = from, true, nil
	c.last = replyMailOK
	return nil
}

func (c *maildirConn) Rcpt(ctx context.Context, to, params string) error {
	c.last = nil
	if !c.hasMail {
		return smtp.NewReply(503, "5.5.1", "Need MAIL before RCPT")
	}
	c.rcpts = append(c.rcpts, to)
	c.last = replyRcptOK
	return nil
}

func (c *maildirConn) Reset(ctx context.Context) error {
	c.from, c.hasMail, c.rcpts = "", false, nil
	c.last = replyResetOK
	return nil
}

// LastReply returns the reply the last call would have had from an SMTP
// server, or nil when it failed. After Data it names the file delivered in
// new/, as a queue id: "250 2.0.0 Ok: delivered to maildir as <name>".
func (c *maildirConn) LastReply() *smtp.Reply { return c.last }

func (c *maildirConn) Close() error { return nil }

// Data writes "Return-Path: <from>" and the message to tmp/, fsyncs it,
// renames it into new/ and fsyncs new/. On any failure nothing is left in
// tmp/ or new/ and a plain error is returned.
func (c *maildirConn) Data(ctx context.Context, msg io.WriterTo) error {
	c.last = nil
	if !c.hasMail || len(c.rcpts) == 0 {
		return smtp.NewReply(503, "5.5.1", "Need MAIL and RCPT before DATA")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	name, err := c.m.deliver(c.from, msg)
	c.from, c.hasMail, c.rcpts = "", false, nil
	if err == nil {
		c.last = smtp.NewReply(250, "2.0.0", "Ok: delivered to maildir as "+name)
	}
	return err
}

// deliver writes the message under a new unique name, which it returns.
func (m *Maildir) deliver(from string, msg io.WriterTo) (name string, err error) {
	name = m.uniqueName()
	tmp := filepath.Join(m.dir, "tmp", name)
	dst := filepath.Join(m.dir, "new", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("maildir: %w", err)
		}
	}()
	w := bufio.NewWriterSize(f, 32<<10)
	if _, err = fmt.Fprintf(w, "Return-Path: <%s>\r\n", from); err != nil {
		return "", err
	}
	if _, err = msg.WriteTo(w); err != nil {
		return "", err
	}
	if err = w.Flush(); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	if err = os.Rename(tmp, dst); err != nil {
		return "", err
	}
	if err = syncDir(filepath.Join(m.dir, "new")); err != nil {
		// Not known to be durable: take it back so that the retry the
		// client will make does not deliver twice.
		os.Remove(dst)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
