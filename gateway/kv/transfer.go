package kv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is one key as moved between stores by Export and Import (`sluice
// kv export` / `sluice kv import`).
type Entry struct {
	NS    string `json:"ns"`
	Key   []byte `json:"key"`   // base64 in JSON: keys are arbitrary bytes
	Value []byte `json:"value"` // base64 in JSON
	// TTLMillis is the key's remaining lifetime; 0: it does not expire.
	TTLMillis int64 `json:"ttl_ms,omitempty"`
}

// Lister is a store whose keys can be listed, for Export.
type Lister interface {
	Each(fn func(Entry) error) error
}

// Each calls fn with every unexpired key, oldest first.
func (s *Memory) Each(fn func(Entry) error) error {
	recs, _ := s.snapshot()
	now := s.now().UnixMilli()
	for _, r := range recs {
		e := Entry{NS: r.ns, Key: []byte(r.key), Value: r.val}
		if r.expires != 0 {
			if e.TTLMillis = r.expires - now; e.TTLMillis <= 0 {
				continue
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Each calls fn with every key under the store's prefix (SCAN, so keys
// written meanwhile may or may not be seen), skipping the usage counters.
func (r *Redis) Each(fn func(Entry) error) error {
	ctx := context.Background()
	iter := r.c.Scan(ctx, 0, globEscape(r.prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		full := iter.Val()
		ns, key, ok := strings.Cut(strings.TrimPrefix(full, r.prefix), ":")
		if !ok || key == "" {
			continue // a usage counter
		}
		c, cancel := context.WithTimeout(ctx, 10*r.timeout)
		pipe := r.c.Pipeline()
		get, pttl := pipe.Get(c, full), pipe.PTTL(c, full)
		_, err := pipe.Exec(c)
		cancel()
		if errors.Is(err, redis.Nil) {
			continue // expired meanwhile
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		e := Entry{NS: ns, Key: []byte(key), Value: []byte(get.Val())}
		switch d := pttl.Val(); {
		case d == -2: // PTTL's "no such key": expired meanwhile
			continue
		case d > 0:
			e.TTLMillis = max(1, d.Milliseconds())
		} // -1: no expiry
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Export writes every key of src to w as JSON lines, one Entry a line, and
// returns how many.
func Export(src Lister, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := src.Each(func(e Entry) error {
		n++
		return enc.Encode(e)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Import reads JSON lines written by Export and stores every key in dst
// with its remaining lifetime, replacing keys that exist. Quotas are not
// applied (the store's namespaces have none until a gateway sets them).
func Import(dst Store, r io.Reader) (int, error) {
	dec := json.NewDecoder(r)
	n := 0
	for {
		var e Entry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("entry %d: %w", n+1, err)
		}
		if e.NS == "" || strings.Contains(e.NS, ":") || len(e.Key) == 0 || e.TTLMillis < 0 {
			return n, fmt.Errorf("entry %d: invalid (namespace %q, key of %d bytes, ttl_ms %d)", n+1, e.NS, len(e.Key), e.TTLMillis)
		}
		if err := dst.Set(e.NS, string(e.Key), e.Value, time.Duration(e.TTLMillis)*time.Millisecond); err != nil {
			return n, fmt.Errorf("entry %d: %w", n+1, err)
		}
		n++
	}
}
