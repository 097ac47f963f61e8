package sluice

import (
	"encoding/json"
	"testing"
)

func TestDKIMOptionsMarshal(t *testing.T) {
	for _, o := range []DKIMOptions{
		{},
		{Headers: []string{"From", `X-"Odd"\Name`, "To"}},
		{Canonicalization: "simple/relaxed", Expiration: 86400},
		{Headers: []string{"From"}, Canonicalization: "relaxed", Expiration: -1},
		{Headers: []string{}},
	} {
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.marshal(); string(got) != string(want) {
			t.Errorf("marshal(%+v) = %s, want %s", o, got, want)
		}
	}
}
