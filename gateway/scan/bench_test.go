package scan

import (
	"context"
	"net"
	"strings"
	"testing"
)

// The cost of a scan of a plain 10 KiB message against each real daemon, and
// of the connection a clamd or spamd scan opens (dial, one PING, close), to
// weigh a connection per scan against IDSESSION (RATIONALE.md, "Scanners:
// connections").
func benchScan(b *testing.B, engine string) {
	s := scanner(b, engine)
	msg := mail("minutes", strings.Repeat(plainBody+"\r\n", 30))
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Scan(context.Background(), testEnv, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRspamdScan(b *testing.B) { benchScan(b, EngineRspamd) }
func BenchmarkClamdScan(b *testing.B)  { benchScan(b, EngineClamd) }
func BenchmarkSpamdScan(b *testing.B)  { benchScan(b, EngineSpamd) }

func BenchmarkClamdConnect(b *testing.B) {
	addr := strings.TrimPrefix(daemon(b, EngineClamd).Address, "tcp://")
	buf := make([]byte, 16)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write([]byte("zPING\x00")); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
