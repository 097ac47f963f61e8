package upstream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

func newTestMaildir(t *testing.T) (*Maildir, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Maildir")
	m, err := NewMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func entries(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

var maildirName = regexp.MustCompile(`^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.[^/:]+$`)

func TestMaildirDeliver(t *testing.T) {
	m, dir := newTestMaildir(t)
	for _, sub := range []string{"tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", sub, fi.Mode(), err)
		}
	}
	ctx := testCtx(t)
	c, err := m.Open(ctx, Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "Subject: hi\r\n\r\n.dot\r\nbody\r\n"
	if err := send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg(msg)); err != nil {
		t.Fatal(err)
	}
	if n := len(entries(t, filepath.Join(dir, "tmp"))); n != 0 {
		t.Errorf("%d files left in tmp", n)
	}
	es := entries(t, filepath.Join(dir, "new"))
	if len(es) != 1 {
		t.Fatalf("%d files in new", len(es))
	}
	if !maildirName.MatchString(es[0].Name()) {
		t.Errorf("name %q", es[0].Name())
	}
	got, err := os.ReadFile(filepath.Join(dir, "new", es[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Return-Path: <a@x.test>\r\n" + msg; string(got) != want {
		t.Errorf("content %q, want %q", got, want)
	}
}

func TestMaildirEnvelope(t *testing.T) {
	m, dir := newTestMaildir(t)
	ctx := testCtx(t)
	c, _ := m.Open(ctx, Identity{})
	wantReply(t, c.Rcpt(ctx, "b@y.test", ""), 503, "5.5.1")
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Data(ctx, rawMsg("x\r\n")), 503, "5.5.1")
	if err := c.Rcpt(ctx, "b@y.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Data(ctx, rawMsg("x\r\n")), 503, "5.5.1")
	// Two transactions on one connection; the null sender.
	for range 2 {
		if err := send(ctx, c, "", []string{"b@y.test"}, rawMsg("x\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	es := entries(t, filepath.Join(dir, "new"))
	if len(es) != 2 {
		t.Fatalf("%d files", len(es))
	}
	got, _ := os.ReadFile(filepath.Join(dir, "new", es[0].Name()))
	if string(got) != "Return-Path: <>\r\nx\r\n" {
		t.Errorf("content %q", got)
	}
}

// A failed write leaves nothing behind, neither in new/ nor in tmp/.
func TestMaildirFailedWrite(t *testing.T) {
	m, dir := newTestMaildir(t)
	ctx := testCtx(t)
	c, _ := m.Open(ctx, Identity{})
	err := send(ctx, c, "a@x.test", []string{"b@y.test"}, brokenMsg("Subject: half\r\n"))
	if classify(err) != lost {
		t.Fatalf("got %v", err)
	}
	for _, sub := range []string{"tmp", "new"} {
		if n := len(entries(t, filepath.Join(dir, sub))); n != 0 {
			t.Errorf("%d files in %s", n, sub)
		}
	}

	// tmp/ gone: the file cannot even be created.
	if err := os.Remove(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	err = send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n"))
	if classify(err) != lost || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	if n := len(entries(t, filepath.Join(dir, "new"))); n != 0 {
		t.Errorf("%d files in new", n)
	}

	// new/ replaced by a file: the rename fails and tmp/ is cleaned.
	os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	os.Remove(filepath.Join(dir, "new"))
	os.WriteFile(filepath.Join(dir, "new"), nil, 0o600)
	err = send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n"))
	if classify(err) != lost {
		t.Fatalf("got %v", err)
	}
	if n := len(entries(t, filepath.Join(dir, "tmp"))); n != 0 {
		t.Errorf("%d files in tmp", n)
	}
}

func TestMaildirConcurrentUniqueNames(t *testing.T) {
	m, dir := newTestMaildir(t)
	ctx := testCtx(t)
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, _ := m.Open(ctx, Identity{})
			defer c.Close()
			if err := send(ctx, c, fmt.Sprintf("s%d@x.test", i), []string{"b@y.test"}, rawMsg(fmt.Sprintf("m%d\r\n", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	es := entries(t, filepath.Join(dir, "new"))
	if len(es) != n {
		t.Fatalf("%d files, want %d", len(es), n)
	}
	seen := map[string]bool{}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var i int
		if _, err := fmt.Sscanf(string(b), "Return-Path: <s%d@x.test>\r\n", &i); err != nil || string(b) != fmt.Sprintf("Return-Path: <s%d@x.test>\r\nm%d\r\n", i, i) {
			t.Errorf("content %q", b)
		}
		seen[string(b)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages", len(seen))
	}
}
