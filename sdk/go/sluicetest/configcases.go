package sluicetest

import (
	"strings"
	"testing"
)

// ConfigCase is one configuration for ConfigCases: its JSON, and the text
// the refusal must contain, or "" when the plugin must accept it.
type ConfigCase struct {
	Name    string // the subtest's name
	JSON    string
	WantErr string
}

// ConfigCases runs Configure on a fresh plugin from newPlugin, in a new
// Session, for each case in a subtest of its name, and fails the subtest
// when the plugin accepts a config it should refuse, refuses one it should
// accept, or refuses with an error that does not contain WantErr:
//
//	sluicetest.ConfigCases(t, func() any { return &myPlugin{} }, []sluicetest.ConfigCase{
//		{Name: "empty", JSON: `{}`},
//		{Name: "typo", JSON: `{"limt": 3}`, WantErr: "config.limt: unknown key"},
//	})
func ConfigCases(t *testing.T, newPlugin func() any, cases []ConfigCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			err := New().Configure(newPlugin(), c.JSON)
			switch {
			case c.WantErr == "" && err != nil:
				t.Fatalf("Configure(%s): %v", c.JSON, err)
			case c.WantErr != "" && (err == nil || !strings.Contains(err.Error(), c.WantErr)):
				t.Fatalf("Configure(%s) error = %v, want %q", c.JSON, err, c.WantErr)
			}
		})
	}
}
