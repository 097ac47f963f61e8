package kv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// The file format of a saved store, version 1. All integers are big-endian.
//
//	magic    8 bytes  "SLUICEKV"
//	version  uint32   1
//	count    uint64   number of records
//	count records, oldest first:
//	  uvarint length + namespace   (at most maxNamespace bytes)
//	  uvarint length + key         (at most abi.KVMaxKey bytes)
//	  uvarint length + value       (at most abi.KVMaxValue bytes)
//	  int64    expiry, absolute Unix milliseconds; 0: never
//	checksum uint32   CRC-32C (Castagnoli) of every byte before it
//
// Nothing follows the checksum. The order of the records is the order in
// which the keys were created, so eviction of the oldest key survives a
// restart.
const (
	fileMagic   = "SLUICEKV"
	fileVersion = 1
	// maxNamespace bounds a namespace (a plugin name) in a file.
	maxNamespace = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewMemoryFile is NewMemory with opts.Path loaded first. A missing file
// is an empty store; an unreadable or corrupt file is an error (the caller
// reports it; the gateway does not silently start empty over data). Keys
// that expired while the gateway was down are dropped. Without a Path it
// is NewMemory.
func NewMemoryFile(opts MemoryOptions) (*Memory, error) {
	if opts.Path == "" {
		return NewMemory(opts), nil
	}
	if err := CheckPath(opts.Path); err != nil {
		return nil, err
	}
	s := newMemory(opts)
	f, err := os.Open(opts.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("kv: load %s: %w", opts.Path, err)
	default:
		err = s.load(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("kv: load %s: %w", opts.Path, err)
		}
	}
	removeStaleTemps(opts.Path)
	s.start(opts)
	return s, nil
}

// CheckPath reports whether the store can live at path: its directory
// exists and takes new files (each save writes a temporary file there and
// renames it over path), and path, if it exists, is a regular file. A
// store that cannot be saved would lose its state at every restart, so
// `sluice check` and start-up refuse it.
func CheckPath(path string) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("kv: directory %s: %w", dir, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("kv: %s is not a directory", dir)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("kv: %s is not a regular file", path)
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"check-*")
	if err != nil {
		return fmt.Errorf("kv: directory %s is not writable: %w", dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Save writes the store to opts.Path now (no-op without a Path). The file
// is replaced atomically: a failed or interrupted save leaves the previous
// file in place.
func (s *Memory) Save() error {
	if s.path == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	recs, changes := s.snapshot()
	err := writeAtomic(s.path, func(w io.Writer) error {
		if s.wrap != nil {
			w = s.wrap(w)
		}
		return encode(w, recs)
	})
	if err != nil {
		return fmt.Errorf("kv: save %s: %w", s.path, err)
	}
	s.mu.Lock()
	s.saved = changes
	s.mu.Unlock()
	return nil
}

// saveChanged saves the store when it changed since it was last saved:
// the saver's tick.
func (s *Memory) saveChanged() {
	s.mu.Lock()
	dirty := s.changes != s.saved
	s.mu.Unlock()
	if !dirty {
		return
	}
	if err := s.Save(); err != nil && s.onSaveError != nil {
		s.onSaveError(err)
	}
}

// record is one key as saved.
type record struct {
	ns, key string
	val     []byte
	expires int64 // Unix milliseconds; 0: never
	seq     uint64
}

// snapshot copies the unexpired keys, oldest first, with the change count
// they reflect.
func (s *Memory) snapshot() ([]record, uint64) {
	s.mu.Lock()
	now := s.now()
	recs := make([]record, 0, len(s.m))
	for k, e := range s.m {
		if e.expired(now) {
			continue
		}
		r := record{ns: k.ns, key: k.key, val: bytes.Clone(e.val), seq: e.seq}
		if !e.expires.IsZero() {
			// Round up, so a key never expires earlier after a restart,
			// and never store 0 ("never") for a real expiry.
			r.expires = max(1, e.expires.Add(time.Millisecond-1).UnixMilli())
		}
		recs = append(recs, r)
	}
	changes := s.changes
	s.mu.Unlock()
	slices.SortFunc(recs, func(a, b record) int { return cmpUint(a.seq, b.seq) })
	return recs, changes
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// encode writes recs in the file format.
func encode(w io.Writer, recs []record) error {
	h := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, h))
	var buf [binary.MaxVarintLen64 + 12]byte
	bw.WriteString(fileMagic)
	bw.Write(binary.BigEndian.AppendUint32(buf[:0], fileVersion))
	bw.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(len(recs))))
	for _, r := range recs {
		if err := checkLimits(r); err != nil {
			return err
		}
		for _, b := range [][]byte{[]byte(r.ns), []byte(r.key), r.val} {
			bw.Write(binary.AppendUvarint(buf[:0], uint64(len(b))))
			bw.Write(b)
		}
		bw.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(r.expires)))
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.BigEndian.AppendUint32(buf[:0], h.Sum32()))
	return err
}

// checkLimits refuses a record the loader would refuse, so that Save never
// writes a file that cannot be loaded.
func checkLimits(r record) error {
	switch {
	case len(r.ns) > maxNamespace:
		return fmt.Errorf("namespace of %d bytes, above the limit of %d", len(r.ns), maxNamespace)
	case len(r.key) > abi.KVMaxKey:
		return fmt.Errorf("key of %d bytes in namespace %q, above the limit of %d", len(r.key), r.ns, abi.KVMaxKey)
	case len(r.val) > abi.KVMaxValue:
		return fmt.Errorf("value of %d bytes in namespace %q, above the limit of %d", len(r.val), r.ns, abi.KVMaxValue)
	case r.expires < 0:
		return fmt.Errorf("expiry %d before 1970", r.expires)
	}
	return nil
}

// errTruncated is the error of a file that ends too early.
var errTruncated = errors.New("file is truncated (an interrupted copy?)")

// decoder reads the file format and checksums what it reads.
type decoder struct {
	r   *bufio.Reader
	sum hash.Hash32
}

func (d *decoder) full(p []byte) error {
	if _, err := io.ReadFull(d.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errTruncated
		}
		return err
	}
	d.sum.Write(p)
	return nil
}

func (d *decoder) uint64() (uint64, error) {
	var b [8]byte
	err := d.full(b[:])
	return binary.BigEndian.Uint64(b[:]), err
}

// bytes reads a uvarint length, refused above limit, then that many bytes.
func (d *decoder) bytes(what string, limit int) ([]byte, error) {
	var lb []byte
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errTruncated
			}
			return nil, err
		}
		if lb = append(lb, c); c < 0x80 || len(lb) == binary.MaxVarintLen64 {
			break
		}
	}
	n, k := binary.Uvarint(lb)
	if k <= 0 {
		return nil, fmt.Errorf("bad length of a %s", what)
	}
	d.sum.Write(lb)
	if n > uint64(limit) {
		return nil, fmt.Errorf("%s of %d bytes, above the limit of %d", what, n, limit)
	}
	b := make([]byte, n)
	return b, d.full(b)
}

// load reads a saved store into s, which must be empty and not started.
// Nothing is kept unless the whole file is valid.
func (s *Memory) load(r *bufio.Reader) error {
	d := &decoder{r: r, sum: crc32.New(castagnoli)}
	var head [12]byte
	magic := head[:len(fileMagic)]
	if err := d.full(magic); err != nil && !errors.Is(err, errTruncated) {
		return err
	} else if err != nil || string(magic) != fileMagic {
		return errors.New("not a sluice kv file (no SLUICEKV header)")
	}
	if err := d.full(head[:4]); err != nil {
		return err
	}
	if v := binary.BigEndian.Uint32(head[:4]); v != fileVersion {
		return fmt.Errorf("file format version %d; this build reads version %d", v, fileVersion)
	}
	count, err := d.uint64()
	if err != nil {
		return err
	}
	if count > uint64(s.maxKeys) {
		return fmt.Errorf("file holds %d keys, more than the limit of %d", count, s.maxKeys)
	}
	now := s.now()
	m := make(map[entryKey]*entry, min(count, 1<<12))
	var order []created
	for i := range count {
		ns, err := d.bytes("namespace", maxNamespace)
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		key, err := d.bytes("key", abi.KVMaxKey)
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		val, err := d.bytes("value", abi.KVMaxValue)
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		exp, err := d.uint64()
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		if int64(exp) < 0 {
			return fmt.Errorf("record %d: negative expiry", i+1)
		}
		k := entryKey{string(ns), string(key)}
		if _, dup := m[k]; dup {
			return fmt.Errorf("record %d: duplicate key in namespace %q", i+1, k.ns)
		}
		e := &entry{val: val, seq: i + 1}
		if exp != 0 {
			e.expires = time.UnixMilli(int64(exp))
		}
		m[k] = e
		order = append(order, created{k, e.seq})
	}
	want := d.sum.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return errTruncated
	}
	if binary.BigEndian.Uint32(tail[:]) != want {
		return errors.New("checksum mismatch: the file is corrupt")
	}
	if _, err := r.ReadByte(); err == nil {
		return errors.New("data after the checksum: the file is corrupt")
	}
	// Drop what expired while the store was down.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
	for _, c := range order {
		e := m[c.k]
		if e.expired(now) {
			delete(m, c.k)
			continue
		}
		// Quota accounting is rebuilt from the keys, so a namespace
		// near its quota before a restart is as near after it.
		sp := s.space(c.k.ns)
		sp.used += cost(c.k.key, e.val)
		sp.keys++
		sp.order = append(sp.order, c)
	}
	s.seq = count
	return nil
}

// writeAtomic replaces path with what write produces: it writes a
// temporary file in the same directory, fsyncs it, renames it over path
// and fsyncs the directory, so path holds the old or the new content,
// never a mix, even across a crash.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves the new file in place, so it is not reported.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// tempPrefix is the name prefix of the temporary files of a save to a
// file named base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeStaleTemps removes temporary files left by saves that a crash
// interrupted. They never hold the only copy of anything: the rename that
// would have published them did not happen.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), tempPrefix(base)) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
