package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

const testUsage = "usage: sluice test --policy FILE [--from ADDR] [--rcpt ADDR]... [--client-ip IP] [--helo NAME] [--dns-file ZONE] [--json] MESSAGE.eml"

// Exit statuses of `sluice test` (README "Command line"): one per final
// action, so that a script can assert what a message gets. Only a clean
// accept is 0; quarantine has its own status (RATIONALE.md "`sluice test`
// exits with the action").
const (
	exitAccept     = 0
	exitError      = 1 // the policy, the message or the zone file did not load
	exitUsage      = 2
	exitReject     = 3
	exitTempfail   = 4
	exitDiscard    = 5
	exitQuarantine = 6
)

const testExitHelp = `
Exit status: 0 accepted, 3 rejected (5xx), 4 tempfailed (4xx), 5 discarded,
6 quarantined (delivered, marked), 1 the policy, message or zone file did not
load, 2 usage error.
`

// exitStatus maps a final action to its exit status.
func exitStatus(action string) int {
	switch action {
	case "accept":
		return exitAccept
	case "reject":
		return exitReject
	case "tempfail":
		return exitTempfail
	case "discard":
		return exitDiscard
	case "quarantine":
		return exitQuarantine
	}
	return exitError
}

// loadFailure is what `sluice test --json` prints when it cannot run: the
// error and, for a policy that does not load, every diagnostic.
type loadFailure struct {
	Action      string       `json:"action"` // always "error"
	Error       string       `json:"error"`
	Diagnostics []diagnostic `json:"diagnostics"`
}

// diagnostic is one policy diagnostic in JSON.
type diagnostic struct {
	Severity string `json:"severity"` // error or warning
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Text     string `json:"text"` // the line sluice check prints
}

func jsonDiagnostics(diags hcl.Diagnostics) []diagnostic {
	out := []diagnostic{}
	for _, d := range diags {
		jd := diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail, Text: policy.FormatDiagnostic(d)}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if s := d.Subject; s != nil {
			jd.File, jd.Line, jd.Column = s.Filename, s.Start.Line, s.Start.Column
		}
		out = append(out, jd)
	}
	return out
}

// cmdTest runs one message through a policy offline and prints each plugin's
// verdict, the final action and the rewritten message. Its exit status is
// the action (exitStatus).
func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs, lf := newLoadFlagSet("test", stderr)
	var rcpts listFlag
	policyPath := fs.String("policy", "", "policy file")
	from := fs.String("from", "sender@example.com", "envelope sender")
	fs.Var(&rcpts, "rcpt", "envelope recipient (repeatable)")
	clientIP := fs.String("client-ip", "127.0.0.1", "client IP address")
	helo := fs.String("helo", "client.example.com", "HELO name")
	asJSON := fs.Bool("json", false, "print one JSON object")
	dnsFile := fs.String("dns-file", "", "answer DNS lookups from this zone file (RFC 1035 master format); without it every lookup is NOT_FOUND")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), testUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), testExitHelp)
	}
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitUsage
	}
	if *policyPath == "" || len(pos) != 1 {
		fmt.Fprintln(stderr, testUsage)
		return exitUsage
	}
	// fail reports an error that stops the run, as JSON too with --json.
	fail := func(err error, diags hcl.Diagnostics) int {
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
		}
		if *asJSON {
			lf := loadFailure{Action: "error", Diagnostics: jsonDiagnostics(diags)}
			if err != nil {
				lf.Error = err.Error()
			} else {
				lf.Error = *policyPath + ": policy has errors"
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(lf)
		}
		return exitError
	}
	if len(rcpts) == 0 {
		rcpts = listFlag{"recipient@example.net"}
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return fail(err, nil)
	}
	// Offline: no lookup leaves the machine (docs/DESIGN.md §2).
	zone, err := loadZone(*dnsFile)
	if err != nil {
		return fail(err, nil)
	}
	ctx := context.Background()
	log := lf.logger(stderr)
	eng, err := lf.engine(ctx, log, nil)
	if err != nil {
		return fail(err, nil)
	}
	defer eng.Close(ctx)
	gen, diags := (&lifecycle.Loader{Engine: eng, Logger: log, Resolver: zone}).Load(ctx, *policyPath)
	policy.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		return fail(nil, diags)
	}
	defer gen.Release()
	res := bridge.RunTest(ctx, gen, bridge.TestInput{ClientIP: *clientIP, Helo: *helo, From: *from, Rcpts: rcpts, Message: raw})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return exitStatus(res.Action)
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
	for _, r := range res.RcptReplies {
		fmt.Fprintf(stdout, "rcpt: %s %s (%d %s %s)\n", r.Rcpt, r.Action, r.Code, r.Enhanced, r.Text)
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
	return exitStatus(res.Action)
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
