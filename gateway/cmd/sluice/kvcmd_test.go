package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/redistest"
	"github.com/sluice-mail/sluice/gateway/kv"
)

// A site moves from the file store to Redis and back without resetting
// its greylist: `sluice kv export` of the file store, `sluice kv import`
// into Redis keeps every key (binary keys included) with its remaining
// lifetime, and the reverse move too.
func TestKVExportImportFileToRedis(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	write := func(name, kvBlock string) string {
		p := filepath.Join(dir, name)
		src := "listen { address = \"127.0.0.1:0\" }\nupstream { maildir = \"mail\" }\n" + kvBlock
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	filePolicy := write("file.hcl", `kv { path = "kv.db" }`+"\n")
	redisPolicy := write("redis.hcl", fmt.Sprintf("kv { redis = %q }\n", srv.URL))

	m, err := kv.NewMemoryFile(kv.MemoryOptions{Path: filepath.Join(dir, "kv.db")})
	if err != nil {
		t.Fatal(err)
	}
	triplet := "gl1:s:192.0.2.0/24\x00a@example.org\x00b@example.net"
	m.Set("greylist", triplet, []byte("1"), time.Hour)
	m.Set("greylist", "gl1:p:forever", []byte("1"), 0)
	m.Incr("ratelimit", "rl:sender:x", 7, time.Minute)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"kv", "export", "--policy", filePolicy}, &out, &errb); code != 0 {
		t.Fatalf("export: %d %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("export wrote %d lines:\n%s", n, out.String())
	}
	dump := filepath.Join(dir, "dump.jsonl")
	os.WriteFile(dump, out.Bytes(), 0o600)
	errb.Reset()
	if code := run([]string{"kv", "import", "--policy", redisPolicy, "--in", dump}, &out, &errb); code != 0 {
		t.Fatalf("import: %d %s", code, errb.String())
	}
	r, err := kv.NewRedis(kv.RedisOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, ok, err := r.Get("greylist", triplet); !ok || err != nil || string(v) != "1" {
		t.Fatalf("triplet in Redis: %q %v %v", v, ok, err)
	}
	if v, _, _ := r.Get("ratelimit", "rl:sender:x"); string(v) != "7" {
		t.Fatalf("counter in Redis: %q", v)
	}
	pttl, _ := srv.Do("PTTL", "sluice:greylist:"+triplet)
	if !strings.HasPrefix(pttl, ":") || pttl == ":-1" || pttl == ":-2" {
		t.Fatalf("the triplet's lifetime was not kept: PTTL %s", pttl)
	}
	if got, _ := srv.Do("PTTL", "sluice:greylist:gl1:p:forever"); got != ":-1" {
		t.Fatalf("a key without lifetime got one: PTTL %s", got)
	}

	// And back, into an empty file store.
	r.Set("greylist", "gl1:p:new-on-redis", []byte("1"), time.Hour)
	out.Reset()
	if code := run([]string{"kv", "export", "--policy", redisPolicy, "--out", dump}, &out, &errb); code != 0 {
		t.Fatalf("export from Redis: %d %s", code, errb.String())
	}
	os.Remove(filepath.Join(dir, "kv.db"))
	if code := run([]string{"kv", "import", "--policy", filePolicy, "--in", dump}, &out, &errb); code != 0 {
		t.Fatalf("import into the file: %d %s", code, errb.String())
	}
	back, err := kv.NewMemoryFile(kv.MemoryOptions{Path: filepath.Join(dir, "kv.db"), SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{triplet, "gl1:p:forever", "gl1:p:new-on-redis"} {
		if _, ok, _ := back.Get("greylist", k); !ok {
			t.Errorf("key %q lost on the way back", k)
		}
	}
	if v, _, _ := back.Get("ratelimit", "rl:sender:x"); string(v) != "7" {
		t.Errorf("counter after the way back: %q", v)
	}

	// Bad input is refused with the entry's number.
	os.WriteFile(dump, []byte(`{"ns":"a:b","key":"aw=="}`+"\n"), 0o600)
	errb.Reset()
	if code := run([]string{"kv", "import", "--policy", redisPolicy, "--in", dump}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "entry 1") {
		t.Fatalf("bad import: %d %s", code, errb.String())
	}
}
