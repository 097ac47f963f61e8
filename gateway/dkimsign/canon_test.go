package dkimsign

import (
	"testing"

	"github.com/sluice-mail/sluice/gateway/dkimcanon"
)

func TestParseCanonicalization(t *testing.T) {
	for in, want := range map[string][2]dkimcanon.Canon{
		"":                {dkimcanon.Relaxed, dkimcanon.Relaxed},
		"relaxed":         {dkimcanon.Relaxed, dkimcanon.Relaxed},
		"simple":          {dkimcanon.Simple, dkimcanon.Simple},
		"relaxed/simple":  {dkimcanon.Relaxed, dkimcanon.Simple},
		"simple/relaxed":  {dkimcanon.Simple, dkimcanon.Relaxed},
		"simple/simple":   {dkimcanon.Simple, dkimcanon.Simple},
		"relaxed/relaxed": {dkimcanon.Relaxed, dkimcanon.Relaxed},
	} {
		h, b, ok := parseCanonicalization(in)
		if !ok || h != want[0] || b != want[1] {
			t.Errorf("%q: %v/%v %v", in, h, b, ok)
		}
	}
	for _, in := range []string{"Relaxed", "relaxed/", "/simple", "nofws", "relaxed/relaxed/relaxed", " simple"} {
		if _, _, ok := parseCanonicalization(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestValidCanonicalization(t *testing.T) {
	for _, c := range canonicalizations {
		if !ValidCanonicalization(c) {
			t.Errorf("ValidCanonicalization(%q) = false", c)
		}
	}
	for _, c := range []string{"Relaxed", "relaxed/", "/simple", "nofws", "relaxed/relaxed/relaxed", " simple"} {
		if ValidCanonicalization(c) {
			t.Errorf("ValidCanonicalization(%q) = true", c)
		}
	}
}
