package kv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// openFile opens a store on path with a fake clock and no background
// work, and closes it (saving) at the end of the test unless the test
// closes it itself.
func openFile(t *testing.T, path string, c *clock, maxKeys int) *Memory {
	t.Helper()
	s, err := NewMemoryFile(MemoryOptions{Path: path, MaxKeys: maxKeys, SweepInterval: -1, SaveInterval: -1, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustGet(t *testing.T, s *Memory, ns, key, want string) {
	t.Helper()
	got, ok, _ := s.Get(ns, key)
	if !ok || string(got) != want {
		t.Fatalf("Get(%s, %s) = %q, %v; want %q", ns, key, got, ok, want)
	}
}

func mustMiss(t *testing.T, s *Memory, ns, key string) {
	t.Helper()
	if got, ok, _ := s.Get(ns, key); ok {
		t.Fatalf("Get(%s, %s) = %q; want absent", ns, key, got)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	c := &clock{t: time.Unix(1_700_000_000, 123_000_000)} // on a millisecond, the precision of the file
	s := openFile(t, path, c, 0)
	if s.Len() != 0 {
		t.Fatalf("a missing file gave %d keys, want an empty store", s.Len())
	}
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	s.Set("greylist", "short", []byte("s"), 10*time.Second)
	s.Set("greylist", "long", []byte("l"), time.Hour)
	s.Set("greylist", "forever", []byte("f"), 0)
	s.Set("ratelimit", "forever", binary, 0)
	s.Set("ratelimit", "empty", nil, 0)
	s.Set("ratelimit", "gone", []byte("EXPIRED-MARKER"), time.Second)
	s.Incr("ratelimit", "n", 41, time.Minute)
	c.add(5 * time.Second) // "gone" has expired: it must not be saved
	s.Incr("ratelimit", "n", 1, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("EXPIRED-MARKER")) {
		t.Fatal("an expired key was saved")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("file mode %v is readable by others", fi.Mode())
	}

	c.add(20 * time.Second) // down for 20 s: "short" expired meanwhile
	s = openFile(t, path, c, 0)
	defer s.Close()
	if s.Len() != 5 {
		t.Fatalf("reloaded store holds %d keys, want 5", s.Len())
	}
	mustMiss(t, s, "greylist", "short")
	mustMiss(t, s, "ratelimit", "gone")
	mustGet(t, s, "greylist", "forever", "f")
	mustGet(t, s, "ratelimit", "forever", string(binary))
	mustGet(t, s, "ratelimit", "empty", "")
	mustGet(t, s, "ratelimit", "n", "42")
	// The expiries are absolute: 25 s have passed of "long"'s hour and of
	// "n"'s minute.
	c.add(time.Minute - 25*time.Second - time.Millisecond)
	mustGet(t, s, "ratelimit", "n", "42")
	c.add(time.Millisecond)
	mustMiss(t, s, "ratelimit", "n")
	c.add(time.Hour - time.Minute - time.Millisecond)
	mustGet(t, s, "greylist", "long", "l")
	c.add(time.Millisecond)
	mustMiss(t, s, "greylist", "long")
	mustGet(t, s, "greylist", "forever", "f")
}

func TestPersistKeepsCreationOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := openFile(t, path, c, 3)
	for _, k := range []string{"first", "second", "third"} {
		s.Set("p", k, []byte(k), 0)
	}
	s.Set("p", "first", []byte("rewritten"), 0) // a rewrite does not make it newer
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path, c, 3)
	defer s.Close()
	s.Set("p", "fourth", nil, 0)
	mustMiss(t, s, "p", "first")
	mustGet(t, s, "p", "second", "second")
	s.Set("p", "fifth", nil, 0)
	mustMiss(t, s, "p", "second")
	mustGet(t, s, "p", "third", "third")
}

// failAfter fails writes after n bytes, like a disk filling up or a
// process dying halfway through a save.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errors.New("injected write failure")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestPersistFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.db")
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := openFile(t, path, c, 0)
	s.Set("p", "old", []byte("v1"), 0)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("p", "new", bytes.Repeat([]byte("x"), 10_000), 0)
	for _, n := range []int{0, 10, 30, 5000} {
		s.wrap = func(w io.Writer) io.Writer { return &failAfter{w: w, n: n} }
		err := s.Save()
		if err == nil || !strings.Contains(err.Error(), "injected") || !strings.Contains(err.Error(), path) {
			t.Fatalf("save failing after %d bytes: error = %v", n, err)
		}
		if err := s.Close(); err == nil {
			t.Fatal("Close with a failing save returned nil")
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Fatalf("a save failing after %d bytes changed the file", n)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("a failed save left %d files in the directory, want only kv.db", len(ents))
		}
	}
	s.wrap = nil
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path, c, 0)
	defer s.Close()
	mustGet(t, s, "p", "new", strings.Repeat("x", 10_000))
}

func TestPersistIgnoresInterruptedSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.db")
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := openFile(t, path, c, 0)
	s.Set("p", "k", []byte("good"), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash during a save leaves a partial temporary file beside the
	// real one; the real one is untouched.
	good, _ := os.ReadFile(path)
	stale := filepath.Join(dir, ".kv.db.tmp-12345")
	if err := os.WriteFile(stale, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db.tmp-1") // not ours
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path, c, 0)
	defer s.Close()
	mustGet(t, s, "p", "k", "good")
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale temporary file was not removed: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another file was removed: %v", err)
	}
}

// fileBuilder writes the file format by hand, to craft invalid files.
type fileBuilder struct{ bytes.Buffer }

func newFile(version uint32, count uint64) *fileBuilder {
	b := &fileBuilder{}
	b.WriteString(fileMagic)
	b.Write(binary.BigEndian.AppendUint32(nil, version))
	b.Write(binary.BigEndian.AppendUint64(nil, count))
	return b
}

func (b *fileBuilder) record(ns, key string, val []byte, expires int64) *fileBuilder {
	for _, s := range [][]byte{[]byte(ns), []byte(key), val} {
		b.Write(binary.AppendUvarint(nil, uint64(len(s))))
		b.Write(s)
	}
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(expires)))
	return b
}

func (b *fileBuilder) done() []byte {
	sum := crc32.Checksum(b.Bytes(), castagnoli)
	return binary.BigEndian.AppendUint32(bytes.Clone(b.Bytes()), sum)
}

func TestLoadRefusesBadFiles(t *testing.T) {
	valid := newFile(1, 2).record("p", "a", []byte("1"), 0).record("p", "b", []byte("2"), 0).done()
	flipped := bytes.Clone(valid)
	flipped[len(flipped)/2] ^= 0x01
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a sluice kv file"},
		{"other format", []byte(`{"keys": {}}` + strings.Repeat(" ", 20)), "not a sluice kv file"},
		{"newer version", newFile(2, 0).done(), "version 2"},
		{"flipped bit", flipped, "corrupt"},
		{"trailing data", append(bytes.Clone(valid), 0), "data after the checksum"},
		{"too many keys", newFile(1, 4).record("p", "a", nil, 0).record("p", "b", nil, 0).record("p", "c", nil, 0).record("p", "d", nil, 0).done(), "4 keys, more than the limit of 3"},
		{"huge count", newFile(1, 1<<63).done(), "more than the limit"},
		{"count above records", newFile(1, 3).record("p", "a", nil, 0).done(), "record 2: "},
		{"key too long", newFile(1, 1).record("p", strings.Repeat("k", abi.KVMaxKey+1), nil, 0).done(), "key of 257 bytes"},
		{"value too long", newFile(1, 1).record("p", "k", make([]byte, abi.KVMaxValue+1), 0).done(), "value of 65537 bytes"},
		{"namespace too long", newFile(1, 1).record(strings.Repeat("n", maxNamespace+1), "k", nil, 0).done(), "namespace of 1025 bytes"},
		{"duplicate key", newFile(1, 2).record("p", "a", nil, 0).record("p", "a", nil, 0).done(), "duplicate key"},
		{"negative expiry", newFile(1, 1).record("p", "a", nil, -5).done(), "negative expiry"},
		{"length overflow", append(newFile(1, 1).Bytes(), bytes.Repeat([]byte{0xff}, 12)...), "bad length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kv.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := NewMemoryFile(MemoryOptions{Path: path, MaxKeys: 3, SweepInterval: -1, SaveInterval: -1})
			if err == nil {
				s.Close()
				t.Fatalf("loaded %d keys from a bad file", s.Len())
			}
			if s != nil {
				t.Fatal("a store came back with the error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file and %q", err, tt.want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.data) {
				t.Fatal("a refused file was modified")
			}
		})
	}
	// The valid file loads; no shorter prefix of it does.
	for n := range len(valid) + 1 {
		s := newMemory(MemoryOptions{MaxKeys: 3})
		err := s.load(bufio.NewReader(bytes.NewReader(valid[:n])))
		if (err == nil) != (n == len(valid)) {
			t.Fatalf("loading %d of %d bytes: error = %v", n, len(valid), err)
		}
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir() // a directory cannot be read as a file
	if _, err := NewMemoryFile(MemoryOptions{Path: dir, SweepInterval: -1}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("loading a directory: error = %v", err)
	}
}

func TestSaveRefusesWhatLoadWould(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := openFile(t, path, c, 0)
	s.Set("p", "ok", nil, 0)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	s.Set("p", strings.Repeat("k", abi.KVMaxKey+1), nil, 0) // only through the Go API
	if err := s.Save(); err == nil || !strings.Contains(err.Error(), "key of 257 bytes") {
		t.Fatalf("saving an over-long key: error = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused save changed the file")
	}
	s.Delete("p", strings.Repeat("k", abi.KVMaxKey+1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoPathNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.db")
	// NewMemory ignores Path: it did not load the file, so it must not
	// overwrite it.
	s := NewMemory(MemoryOptions{Path: path, SweepInterval: -1, SaveInterval: time.Millisecond})
	s.Set("p", "k", nil, 0)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("NewMemory wrote %d files", len(ents))
	}
	s, err := NewMemoryFile(MemoryOptions{SweepInterval: -1})
	if err != nil || s.Save() != nil || s.Close() != nil {
		t.Fatalf("a store without a Path failed: %v", err)
	}
}

// waitFor polls cond until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// fileHas reports whether the file at path loads and holds ns/key = want.
// It reads the file without NewMemoryFile, which would remove the
// temporary file of a save in progress.
func fileHas(path, ns, key, want string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	s := newMemory(MemoryOptions{})
	if s.load(bufio.NewReader(f)) != nil {
		return false
	}
	v, ok, _ := s.Get(ns, key)
	return ok && string(v) == want
}

func TestPeriodicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.db")
	errs := make(chan error, 100)
	s, err := NewMemoryFile(MemoryOptions{
		Path: path, SweepInterval: -1, SaveInterval: 5 * time.Millisecond,
		OnSaveError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Set("p", "k", []byte("one"), 0)
	waitFor(t, "the first periodic save", func() bool { return fileHas(path, "p", "k", "one") })
	s.Set("p", "k", []byte("two"), 0)
	waitFor(t, "the second periodic save", func() bool { return fileHas(path, "p", "k", "two") })

	// A failing periodic save is reported and leaves the file alone.
	before, _ := os.ReadFile(path)
	s.saveMu.Lock()
	s.wrap = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 3} }
	s.saveMu.Unlock()
	s.Set("p", "k", []byte("three"), 0)
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "injected") {
			t.Fatalf("OnSaveError got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failing periodic save was not reported")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a failed periodic save changed the file")
	}
	s.saveMu.Lock()
	s.wrap = nil
	s.saveMu.Unlock()
	waitFor(t, "a save after the failure", func() bool { return fileHas(path, "p", "k", "three") })
}

func TestSaveOnlyOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := NewMemoryFile(MemoryOptions{Path: path, SweepInterval: -1, SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Set("p", "k", []byte("v"), 0)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file exists before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !fileHas(path, "p", "k", "v") {
		t.Fatal("Close did not save")
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must not panic, and
// what it accepts must save and load back to the same keys.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add(newFile(1, 0).done())
	f.Add(newFile(1, 2).record("p", "a", []byte("1"), 0).record("q", "b", []byte("2"), 4_000_000_000_000).done())
	f.Add(newFile(1, 1).record("p", "a", []byte("1"), 1).done())
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &clock{t: time.Unix(1_000_000, 0)}
		s := newMemory(MemoryOptions{MaxKeys: 100, Now: c.now})
		if err := s.load(bufio.NewReader(bytes.NewReader(data))); err != nil {
			return
		}
		recs, _ := s.snapshot()
		var buf bytes.Buffer
		if err := encode(&buf, recs); err != nil {
			t.Fatalf("an accepted file does not save: %v", err)
		}
		s2 := newMemory(MemoryOptions{MaxKeys: 100, Now: c.now})
		if err := s2.load(bufio.NewReader(&buf)); err != nil {
			t.Fatalf("a saved file does not load: %v", err)
		}
		if s.Len() != s2.Len() {
			t.Fatalf("round trip changed the key count: %d, then %d", s.Len(), s2.Len())
		}
		for k, e := range s.m {
			e2, ok := s2.m[k]
			if !ok || !bytes.Equal(e.val, e2.val) || !e.expires.Equal(e2.expires) {
				t.Fatalf("round trip changed %q/%q", k.ns, k.key)
			}
		}
	})
}

func TestPersistRoundsExpiryUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	c := &clock{t: time.Unix(1_000_000, 500_000)} // half a millisecond
	s := openFile(t, path, c, 0)
	s.Set("p", "k", []byte("v"), time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path, c, 0)
	defer s.Close()
	c.add(time.Second - time.Microsecond) // still live before the reload
	mustGet(t, s, "p", "k", "v")
	c.add(time.Millisecond) // past the rounded-up millisecond
	mustMiss(t, s, "p", "k")
}

// A store whose file could never be saved is refused when it is opened,
// not at the first save: its directory is missing or takes no new files.
func TestNewMemoryFileRefusesUnsavablePath(t *testing.T) {
	for _, path := range []string{filepath.Join(t.TempDir(), "missing", "kv.db"), "/sys/kv.db"} {
		if m, err := NewMemoryFile(MemoryOptions{Path: path}); err == nil {
			m.Close()
			t.Errorf("NewMemoryFile(%s) accepted a path it cannot save to", path)
		}
	}
}
