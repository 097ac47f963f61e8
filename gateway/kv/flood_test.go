package kv

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// TestFloodOfAMillionKeys performs the attack at full scale: one plugin
// writes 1,000,050 keys into a store with the default key cap and the
// default quota. It gets ErrQuota long before the cap, and another
// plugin's greylist entry survives.
func TestFloodOfAMillionKeys(t *testing.T) {
	s, _ := newTest(t, 0) // DefaultMaxKeys
	s.SetQuota("greylist", abi.KVDefaultQuota)
	s.SetQuota("flood", abi.KVDefaultQuota)
	const triplet = "gl1:p:192.0.2.0/24 alice@example.org bob@example.net"
	if err := s.Set("greylist", triplet, []byte("1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	var key [4]byte
	stored, refused := 0, 0
	for i := range 1_000_050 {
		binary.LittleEndian.PutUint32(key[:], uint32(i))
		switch err := s.Set("flood", string(key[:]), []byte("x"), 0); {
		case err == nil:
			stored++
		case errors.Is(err, ErrQuota):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.Get("greylist", triplet); !ok {
		t.Fatal("the flood evicted the greylist entry")
	}
	used, quota := s.Usage("flood")
	if refused == 0 || used > quota || s.Len() != stored+1 {
		t.Fatalf("%d stored, %d refused, %d of %d bytes, %d keys", stored, refused, used, quota, s.Len())
	}
	t.Logf("%d keys stored, %d refused with ErrQuota", stored, refused)
}
