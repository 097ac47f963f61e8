// Command latency measures single-session SMTP latency: it sends messages
// one after the other, each on a new connection (connect, EHLO, MAIL, RCPT,
// DATA, QUIT), and prints the p50 and p99 time from connect to the final
// reply. bench.sh runs it against smtp-sink alone and through Sluice; the
// difference is the latency Sluice adds (docs/DESIGN.md §6).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server")
	n := flag.Int("n", 500, "messages (bounded)")
	size := flag.Int("size", 10240, "message size in bytes")
	flag.Parse()
	if *n <= 0 || *n > 100000 {
		fmt.Fprintln(os.Stderr, "latency: -n must be 1..100000")
		os.Exit(2)
	}
	msg := makeMessage(*size)
	var lat []time.Duration
	for i := 0; i < *n; i++ {
		d, err := one(*addr, msg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "latency: message %d: %v\n", i, err)
			os.Exit(1)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("p50=%.3fms p99=%.3fms n=%d\n", ms(p(0.5)), ms(p(0.99)), len(lat))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func makeMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: bench@example.com\r\nTo: rcpt@example.net\r\nSubject: latency\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	b.WriteString(".\r\n")
	return []byte(b.String())
}

// one runs a whole session and returns the time to the final reply.
func one(addr string, msg []byte) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	expect := func(code string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) < 4 || line[3] != '-' {
				if !strings.HasPrefix(line, code) {
					return fmt.Errorf("got %q, want %s", strings.TrimSpace(line), code)
				}
				return nil
			}
		}
	}
	steps := []struct{ send, want string }{
		{"", "220"}, {"EHLO latency.example\r\n", "250"}, {"MAIL FROM:<bench@example.com>\r\n", "250"},
		{"RCPT TO:<rcpt@example.net>\r\n", "250"}, {"DATA\r\n", "354"},
	}
	for _, s := range steps {
		if s.send != "" {
			if _, err := c.Write([]byte(s.send)); err != nil {
				return 0, err
			}
		}
		if err := expect(s.want); err != nil {
			return 0, err
		}
	}
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if err := expect("250"); err != nil {
		return 0, err
	}
	d := time.Since(start)
	c.Write([]byte("QUIT\r\n"))
	return d, nil
}
