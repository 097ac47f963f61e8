package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/proxy"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// cmdTest runs one message through a policy offline and prints each plugin's
// verdict, the final action and the rewritten message.
func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf loadFlags
	lf.register(fs)
	var rcpts listFlag
	policyPath := fs.String("policy", "", "policy file")
	from := fs.String("from", "sender@example.com", "envelope sender")
	fs.Var(&rcpts, "rcpt", "envelope recipient (repeatable)")
	clientIP := fs.String("client-ip", "127.0.0.1", "client IP address")
	helo := fs.String("helo", "client.example.com", "HELO name")
	asJSON := fs.Bool("json", false, "print one JSON object")
	dnsFile := fs.String("dns-file", "", "answer DNS lookups from this zone file (RFC 1035 master format); without it every lookup is NOT_FOUND")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if *policyPath == "" || len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: sluice test --policy FILE [--from ADDR] [--rcpt ADDR]... [--client-ip IP] [--helo NAME] [--dns-file ZONE] [--json] MESSAGE.eml")
		return 2
	}
	if len(rcpts) == 0 {
		rcpts = listFlag{"recipient@example.net"}
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	// Offline: no lookup leaves the machine (SPEC §2).
	zone, err := loadZone(*dnsFile)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	ctx := context.Background()
	log := lf.logger(stderr)
	eng, err := lf.engine(ctx, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	defer eng.Close(ctx)
	gen, diags := build(ctx, *policyPath, eng, log, nil, nil, zone)
	policy.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		return 1
	}
	defer gen.Release()
	res := proxy.RunTest(ctx, gen, proxy.TestInput{ClientIP: *clientIP, Helo: *helo, From: *from, Rcpts: rcpts, Message: raw})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return 0
	}
	for _, s := range res.Steps {
		line := fmt.Sprintf("%-8s %-16s %-10s %8s", s.Phase, s.Plugin, s.Verdict, s.Duration)
		if s.Rcpt != "" {
			line += " rcpt=" + s.Rcpt
		}
		if s.Error != "" {
			line += " error: " + s.Error
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "action: %s (%d %s %s) at %s\n", res.Action, res.Code, res.Enhanced, res.Text, res.Phase)
	keys := make([]string, 0, len(res.Tags))
	for k := range res.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "tag: %s=%s\n", k, res.Tags[k])
	}
	if res.Message != "" {
		fmt.Fprintln(stdout, "--- message ---")
		fmt.Fprint(stdout, strings.ReplaceAll(res.Message, "\r\n", "\n"))
	}
	return 0
}

// loadZone reads the --dns-file zone; "" gives an empty zone, in which every
// name is NOT_FOUND.
func loadZone(path string) (*dns.Zone, error) {
	if path == "" {
		return dns.ParseZone(strings.NewReader(""), "empty", "")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return dns.ParseZone(f, path, "")
}
