package main

import (
	"flag"
	"io"
	"reflect"
	"testing"

	"github.com/sluice-mail/sluice/gateway/console"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// A console flag given on the command line wins over the policy's console
// block; one not given leaves the block's value, even where the flag's own
// default differs from it.
func TestConsoleFlagsOverrideThePolicy(t *testing.T) {
	block := policy.Console{Enabled: true, Size: 50, HashAddresses: true, Headers: true}
	for _, tc := range []struct {
		name string
		args []string
		want policy.Console
	}{
		{"none given", nil, block},
		{"every one given", []string{"--console=false", "--console-size", "7", "--console-hash-addresses=false", "--console-headers=false"},
			policy.Console{Size: 7}},
		{"one given", []string{"--console-hash-addresses=false"}, policy.Console{Enabled: true, Size: 50, Headers: true}},
		{"a flag at its default is still given", []string{"--console-size=1000"}, policy.Console{Enabled: true, Size: 1000, HashAddresses: true, Headers: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var cf consoleFlags
			cf.register(fs)
			if _, err := parseArgs(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			c := block
			cf.override(fs, &c)
			if !reflect.DeepEqual(c, tc.want) {
				t.Errorf("console %+v, want %+v", c, tc.want)
			}
		})
	}

	// A policy without size gets the recorder's default spelled out.
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cf consoleFlags
	cf.register(fs)
	c := policy.Console{Enabled: true}
	cf.override(fs, &c)
	if c.Size != console.DefaultSize {
		t.Errorf("size %d, want DefaultSize", c.Size)
	}
}
