package boundedfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Devices, FIFOs and directories are refused without reading (or, for a
// FIFO, without waiting for a writer); a file over the limit is refused
// before it is read, a file at the limit is read.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64<<20 + 1) // sparse: costs no disk
	f.Close()
	exact := filepath.Join(dir, "exact")
	os.WriteFile(exact, []byte("0123456789"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(exact, link)

	for _, tc := range []struct {
		path  string
		limit int64
		want  string // error text; "" = read
	}{
		{"/dev/zero", 64 << 20, "not a regular file (a character device)"},
		{"/dev/urandom", 64 << 20, "not a regular file (a character device)"},
		{fifo, 64 << 20, "not a regular file (a FIFO)"},
		{dir, 64 << 20, "not a regular file (a directory)"},
		{big, 64 << 20, "file is larger than 64 MiB"},
		{exact, 9, "file is larger than 9 bytes"},
		{exact, 10, ""},
		{link, 10, ""},
		{filepath.Join(dir, "missing"), 10, "no such file"},
	} {
		start := time.Now()
		b, err := Read(tc.path, tc.limit)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: took %v", tc.path, el)
		}
		switch {
		case tc.want == "" && (err != nil || string(b) != "0123456789"):
			t.Errorf("%s: %q, %v", tc.path, b, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path)):
			t.Errorf("%s: error %v, want one naming the path and %q", tc.path, err, tc.want)
		}
	}
}
