package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
)

// cmdKeygen writes a new DKIM private key for a dkim_key block and prints
// the DNS record to publish, like opendkim-genkey. It never overwrites a
// key: a lost key means re-publishing DNS.
func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dkim-keygen", flag.ContinueOnError)
	fset.SetOutput(stderr)
	alg := fset.String("algorithm", "ed25519", "key algorithm: ed25519 or rsa (2048 bits)")
	out := fset.String("out", "", "file to write the PKCS#8 PEM private key to (mode 0600; never overwritten)")
	selector := fset.String("selector", "sluice", "selector, for the DNS record printed")
	domain := fset.String("domain", "example.org", "signing domain, for the DNS record printed")
	ifMissing := fset.Bool("if-missing", false, "do nothing and exit 0 when --out already exists")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return 2
	}
	if *out == "" || len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: sluice dkim-keygen [--algorithm ed25519|rsa] [--selector S] [--domain D] [--if-missing] --out KEY.pem")
		return 2
	}
	if _, err := os.Stat(*out); err == nil {
		if *ifMissing {
			return 0
		}
		fmt.Fprintf(stderr, "sluice: %s exists; not overwriting a DKIM key\n", *out)
		return 1
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	pemBytes, txt, err := dkimsign.GenerateKey(*alg)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(pemBytes)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(*out)
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "; DKIM key written to %s; publish this record:\n%s._domainkey.%s. IN TXT %s\n",
		*out, *selector, strings.TrimSuffix(*domain, "."), zoneStrings(txt))
	return 0
}

// zoneStrings renders s as zone-file character strings of at most 255
// bytes each (RFC 1035 §3.3.14), so a 2048-bit RSA key fits one record.
func zoneStrings(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, `"`+s[:255]+`"`)
		s = s[255:]
	}
	parts = append(parts, `"`+s+`"`)
	return strings.Join(parts, " ")
}
