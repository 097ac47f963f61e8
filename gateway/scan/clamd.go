package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// clamd scans with ClamAV's daemon: zINSTREAM, the message in chunks each
// preceded by its length (4 bytes, big-endian), a zero-length terminator,
// and a NUL-terminated reply (clamd(8), "INSTREAM"). One connection per
// scan, at most MaxConns at once (see RATIONALE.md, "Scanners: connections").
type clamd struct {
	cfg  Config
	dial *dialer
}

// clamdChunk is the size of the chunks sent: large enough that the 4-byte
// prefixes cost nothing, small enough to stay under any StreamMaxLength.
const clamdChunk = 64 << 10

func newClamd(c Config) (*clamd, error) {
	d, err := newDialer(c.Address, c.MaxConns)
	if err != nil {
		return nil, err
	}
	return &clamd{cfg: c, dial: d}, nil
}

func (c *clamd) Close() error { return nil }

func (c *clamd) Scan(ctx context.Context, _ Envelope, msg Message) (*Result, error) {
	if c.cfg.MaxSize > 0 && int64(msg.Size()) > c.cfg.MaxSize {
		return tooLarge(&c.cfg), nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	conn, release, err := c.dial.dial(ctx)
	if err != nil {
		return nil, c.cfg.fail(ctx, err)
	}
	defer release()
	defer conn.Close()
	werr := c.send(conn, msg)
	// clamd answers before the end of the stream when it refuses it (the
	// size limit), so a failed write still reads the reply.
	reply, rerr := readReply(conn, 0)
	if rerr != nil || (len(reply) == 0 && werr != nil) {
		if rerr == nil {
			rerr = werr
		}
		return nil, c.cfg.fail(ctx, rerr)
	}
	res, err := parseClamd(reply)
	if errors.Is(err, errClamdTooLarge) {
		return tooLarge(&c.cfg), nil
	}
	if err != nil {
		return nil, c.cfg.protocolError("%v", err)
	}
	return res, nil
}

// send writes the INSTREAM command, the chunks and the terminator.
func (c *clamd) send(conn net.Conn, msg Message) error {
	w := &chunker{w: conn, buf: make([]byte, 4, 4+clamdChunk)}
	if _, err := io.WriteString(conn, "zINSTREAM\x00"); err != nil {
		return err
	}
	if _, err := msg.WriteTo(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	_, err := conn.Write([]byte{0, 0, 0, 0})
	return err
}

// chunker frames what is written to it as INSTREAM chunks.
type chunker struct {
	w   io.Writer
	buf []byte // 4 bytes of length, then up to clamdChunk of data
}

func (c *chunker) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), clamdChunk-(len(c.buf)-4))
		c.buf = append(c.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(c.buf)-4 == clamdChunk {
			if err := c.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (c *chunker) flush() error {
	if len(c.buf) == 4 {
		return nil
	}
	binary.BigEndian.PutUint32(c.buf, uint32(len(c.buf)-4))
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:4]
	return err
}

// readReply reads a reply up to its terminating NUL (term 0) or the end of
// the connection, at most maxReply bytes. A reply cut off by a broken
// connection is returned as read, with no error, when it is not empty: the
// parser judges it.
func readReply(conn net.Conn, term int) ([]byte, error) {
	var b []byte
	buf := make([]byte, 4096)
	for len(b) <= maxReply {
		n, err := conn.Read(buf)
		b = append(b, buf[:n]...)
		if term == 0 {
			if i := bytes.IndexByte(b, 0); i >= 0 {
				return b[:i], nil
			}
		}
		if err == io.EOF {
			if len(b) == 0 {
				return nil, io.ErrUnexpectedEOF // closed without a word
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

var errClamdTooLarge = errors.New("INSTREAM size limit exceeded")

// parseClamd decodes an INSTREAM reply: "stream: OK", "stream: NAME FOUND"
// or "MESSAGE ERROR".
func parseClamd(reply []byte) (*Result, error) {
	s := strings.TrimRight(string(reply), "\n")
	if !isPrint(s) || s == "" {
		return nil, fmt.Errorf("not an INSTREAM reply: %s", snippet(reply))
	}
	if rest, ok := strings.CutSuffix(s, " ERROR"); ok {
		if strings.HasPrefix(rest, "INSTREAM size limit exceeded") {
			return nil, errClamdTooLarge
		}
		return nil, fmt.Errorf("clamd: %s", s)
	}
	rest, ok := strings.CutPrefix(s, "stream: ")
	if !ok {
		return nil, fmt.Errorf("not an INSTREAM reply: %s", snippet(reply))
	}
	if rest == "OK" {
		return &Result{Engine: EngineClamd}, nil
	}
	if name, ok := strings.CutSuffix(rest, " FOUND"); ok && name != "" && !strings.ContainsAny(name, " \t") {
		return &Result{Engine: EngineClamd, Infected: true, Virus: name}, nil
	}
	return nil, fmt.Errorf("not an INSTREAM reply: %s", snippet(reply))
}

// isPrint reports whether s is printable ASCII.
func isPrint(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
