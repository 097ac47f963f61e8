package kv_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/kv"
)

// BenchmarkStore measures one kv call on each backend, the latency a
// plugin's kv call adds: the in-process store against Redis on loopback.
// greylist makes 2-4 calls per RCPT, ratelimit 1 per rule.
func BenchmarkStore(b *testing.B) {
	stores := map[string]kv.Store{"memory": kv.NewMemory(kv.MemoryOptions{})}
	r, err := kv.NewRedis(kv.RedisOptions{URL: sharedRedis(b).URL})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	stores["redis"] = r
	for _, name := range []string{"memory", "redis"} {
		s := stores[name]
		b.Run(name+"/get", func(b *testing.B) {
			s.Set("bench", "k", []byte("1"), time.Hour)
			for b.Loop() {
				s.Get("bench", "k")
			}
		})
		b.Run(name+"/set", func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				s.Set("bench", "s"+strconv.Itoa(i%1000), []byte("1"), time.Hour)
			}
		})
		b.Run(name+"/incr", func(b *testing.B) {
			for b.Loop() {
				s.Incr("bench", "ctr", 1, time.Hour)
			}
		})
	}
}
