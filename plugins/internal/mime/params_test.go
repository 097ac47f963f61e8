package mime

import (
	"slices"
	"testing"
)

func TestFilenames(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want []string
	}{
		{"disposition filename", Header{{"Content-Disposition", ` attachment; filename="report.pdf"`}}, []string{"report.pdf"}},
		{"content-type name", Header{{"Content-Type", ` application/octet-stream; name=setup.exe`}}, []string{"setup.exe"}},
		{"both, different", Header{
			{"Content-Type", ` application/octet-stream; name="a.exe"`},
			{"Content-Disposition", ` attachment; filename="a.txt"`},
		}, []string{"a.exe", "a.txt"}},
		{"RFC 2231 utf-8", Header{{"Content-Disposition", ` attachment; filename*=UTF-8''%E2%82%AC%20rate.exe`}}, []string{"€ rate.exe"}},
		{"RFC 2231 charset the standard library drops", Header{{"Content-Disposition", ` attachment; filename*=iso-8859-1'en'caf%E9.exe`}}, []string{"caf\xe9.exe"}},
		{"RFC 2231 continuations", Header{{"Content-Disposition", ` attachment; filename*0*=UTF-8''in%76oice; filename*1=".pdf"; filename*2=.exe`}}, []string{"invoice.pdf.exe"}},
		// The strict parser drops the section in a charset it does not know.
		{"RFC 2231 continuations out of order, foreign charset", Header{{"Content-Disposition", ` attachment; filename*1=.exe; filename*0*=koi8-r''x`}}, []string{"x.exe", ".exe"}},
		{"RFC 2047 encoded-word", Header{{"Content-Type", ` application/octet-stream; name="=?UTF-8?B?ZXZpbC5leGU=?="`}}, []string{"evil.exe"}},
		{"RFC 2047 unknown charset", Header{{"Content-Type", ` application/octet-stream; name="=?x-unknown?Q?evil=2Eexe?="`}}, []string{"evil.exe"}},
		{"duplicate parameter (strict parser refuses)", Header{{"Content-Disposition", ` attachment; filename=a.txt; filename=b.exe`}}, []string{"a.txt", "b.exe"}},
		{"broken disposition type", Header{{"Content-Disposition", ` attachment filename; filename=x.exe`}}, []string{"x.exe"}},
		{"quoted with escapes and semicolon", Header{{"Content-Disposition", ` attachment; filename="a\"b;c.exe"`}}, []string{`a"b;c.exe`}},
		{"folded", Header{{"Content-Disposition", " attachment;\r\n filename=\"x.js\""}}, []string{"x.js"}},
		{"none", Header{{"Content-Type", ` text/plain; charset=utf-8`}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Filenames(tt.h); !slices.Equal(got, tt.want) {
				t.Fatalf("Filenames = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLenientParams(t *testing.T) {
	got := LenientParams(`text/plain; Charset="utf-8" ; format=flowed; junk; a*1=y; a*0=x; b*=''%41%zz`)
	want := []Param{{"charset", "utf-8"}, {"format", "flowed"}, {"a", "xy"}, {"b", "A%zz"}}
	if !slices.Equal(got, want) {
		t.Fatalf("LenientParams = %q, want %q", got, want)
	}
	if got := LenientParams("text/plain"); got != nil {
		t.Fatalf("no parameters: %q", got)
	}
}

func TestParseValue(t *testing.T) {
	typ, params := ParseValue(`Text/HTML; charset="UTF-8"`)
	if typ != "text/html" || params["charset"] != "UTF-8" {
		t.Fatalf("%q %q", typ, params)
	}
	// The strict parser refuses duplicates with different values; the
	// fallback keeps the first.
	typ, params = ParseValue(`multipart/mixed; boundary=a; boundary=b`)
	if typ != "multipart/mixed" || params["boundary"] != "a" {
		t.Fatalf("%q %q", typ, params)
	}
}

func TestDecodeWords(t *testing.T) {
	tests := map[string]string{
		"plain":                    "plain",
		"=?utf-8?q?a=20b?=":        "a b",
		"=?iso-8859-1?q?caf=E9?=":  "café",
		"=?utf-8?b?not base64!?=":  "=?utf-8?b?not base64!?=",
		"x =?us-ascii?q?y?= z.exe": "x y z.exe",
	}
	for in, want := range tests {
		if got := DecodeWords(in); got != want {
			t.Errorf("DecodeWords(%q) = %q, want %q", in, got, want)
		}
	}
}
