package sluice_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// wordBody is n bytes of 6-byte words ("word" + space or CRLF), 78-byte
// lines: wordBody's word count is n/6.
func wordBody(n int) []byte {
	line := strings.Repeat("word ", 15) + "word\r\n" // 15*5 + 6 = 81 bytes, 16 words
	var b strings.Builder
	b.WriteString("Subject: words\r\n\r\n")
	for b.Len() < n {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// wordCounter runs the wordcount plugin (sdk/go/testdata/wordcount) with
// one loop through the real host, gateway/wasmhost.
type wordCounter struct {
	t    *testing.T
	e    *wasmhost.Engine
	wasm []byte
}

// count calls the data hook attempts times on msg and returns X-Word-Count
// and the fastest call; err is the last call's error if none succeeded.
func (w wordCounter) count(msg []byte, loop string, timeout time.Duration, attempts int) (string, time.Duration, error) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	p, err := w.e.Load(ctx, wasmhost.Spec{Name: "wordcount", Wasm: w.wasm, Config: []byte(`{"loop":"` + loop + `"}`), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	sess := &filter.Session{ID: "loopcost", Tags: filter.Tags{}}
	best, header := time.Duration(-1), ""
	for range attempts {
		m, err := message.Parse(msg, message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := filter.NewState(sess)
		st.Phase, st.From, st.Rcpts, st.Msg = filter.Data, "a@example.org", []string{"b@example.net"}, m
		start := time.Now()
		_, err = p.Call(ctx, st)
		d := time.Since(start)
		if err != nil {
			if best < 0 {
				return "", d, err
			}
			continue
		}
		if best < 0 || d < best {
			best = d
		}
		_, v, _ := strings.Cut(string(st.Msg.Bytes()), "X-Word-Count: ")
		header, _, _ = strings.Cut(v, "\r\n")
	}
	return header, best, nil
}

// TestWordCountLoopCost checks sdk/go/README.md §6: its word-count loop
// and its bodyContains handle a 5 MiB body within the default 200 ms
// timeout through the real host (25 to 40 ms and about 60 ms on the loaded
// 2-core build machine), where a loop of one step per byte takes 35 to 140
// ns a byte, a bufio.Scanner line loop about 110 and bufio.ScanWords 420 to
// 620 (-v prints the figures).
func TestWordCountLoopCost(t *testing.T) {
	e, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	w := wordCounter{t: t, e: e, wasm: buildWasm(t, "testdata/wordcount")}
	for _, tc := range []struct {
		loop     string
		size     int
		timeout  time.Duration
		attempts int
	}{
		// The promise: the default timeout, a few tries for a loaded machine.
		{"words", 5 << 20, 200 * time.Millisecond, 3},
		// For comparison, generously bounded.
		{"bytes", 1 << 20, 10 * time.Second, 1},
		{"scanner", 1 << 20, 10 * time.Second, 1},
		{"lines", 5 << 20, 10 * time.Second, 1},
		{"contains", 5 << 20, 200 * time.Millisecond, 3},
	} {
		msg := wordBody(tc.size)
		body := msg[len("Subject: words\r\n\r\n"):]
		got, d, err := w.count(msg, tc.loop, tc.timeout, tc.attempts)
		if err != nil {
			t.Fatalf("%s on %d KiB: %v", tc.loop, len(body)>>10, err)
		}
		want := strconv.Itoa(len(strings.Fields(string(body))))
		switch tc.loop {
		case "lines":
			want = strconv.Itoa(strings.Count(string(body), "\n"))
		case "contains":
			want = "0"
		}
		if got != want {
			t.Errorf("%s: X-Word-Count %s, want %s", tc.loop, got, want)
		}
		t.Logf("%-8s %5d KiB body: %v (%.1f ns/byte)", tc.loop, len(body)>>10, d, float64(d.Nanoseconds())/float64(len(body)))
	}
	// bodyContains finds a match that spans two of its 32 KiB reads.
	for _, at := range []int{0, 32<<10 - 3, 32<<10 - 7, 32 << 10, 64<<10 - 6 - 3} {
		msg := wordBody(100 << 10)
		hdr := len("Subject: words\r\n\r\n")
		copy(msg[hdr+at:], "BUY NOW")
		if got, _, err := w.count(msg, "contains", 10*time.Second, 1); err != nil || got != "1" {
			t.Errorf("BUY NOW at body offset %d: found %q, %v", at, got, err)
		}
	}
}
