package contract

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

func dataState(t *testing.T) *filter.State {
	t.Helper()
	m, err := message.Parse([]byte("Subject: x\r\n\r\nbody\r\n"), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st := filter.NewState(&filter.Session{Tags: filter.Tags{}})
	st.Phase, st.Msg, st.From, st.Rcpts = filter.Data, m, "a@b.example", []string{"c@d.example"}
	return st
}

// misuseOf asserts err is a *Misuse of fn whose reason contains want.
func misuseOf(t *testing.T, err error, fn, want string) {
	t.Helper()
	var m *Misuse
	if !errors.As(err, &m) || m.Func != fn || !strings.Contains(m.Reason, want) {
		t.Fatalf("error %v; want a %s misuse containing %q", err, fn, want)
	}
}

// TestLimits: every limit comes from sdk/abi, at its edge.
func TestLimits(t *testing.T) {
	st := dataState(t)
	c := Begin(&Plugin{Name: "p"}, st, abi.HookData)
	if err := c.SetTag([]byte(strings.Repeat("k", abi.MaxTagKey)), []byte(strings.Repeat("v", abi.MaxTagValue))); err != nil {
		t.Fatal(err)
	}
	misuseOf(t, c.SetTag([]byte(strings.Repeat("k", abi.MaxTagKey+1)), nil), abi.FnTagSet, "1 to 64 bytes")
	misuseOf(t, c.SetTag([]byte("k"), []byte(strings.Repeat("v", abi.MaxTagValue+1))), abi.FnTagSet, "at most 1024")
	misuseOf(t, c.SetTag([]byte("k"), []byte("a\nb")), abi.FnTagSet, "CR, LF or NUL")
	_, _, err := c.Tag([]byte("bad key"))
	misuseOf(t, err, abi.FnTagGet, "tag key")

	if err := c.SetReply(550, nil, []byte(strings.Repeat("x", abi.MaxReplyText))); err != nil {
		t.Fatal(err)
	}
	if st.Reply.Enhanced != "5.0.0" {
		t.Fatalf("default enhanced code %q", st.Reply.Enhanced)
	}
	misuseOf(t, c.SetReply(550, nil, []byte(strings.Repeat("x", abi.MaxReplyText+1))), abi.FnSetReply, "1 to 400")
	misuseOf(t, c.SetReply(250, nil, []byte("ok")), abi.FnSetReply, "not between 400 and 599")
	misuseOf(t, c.SetReply(550, []byte("4.1.1"), []byte("no")), abi.FnSetReply, "class 5")
	misuseOf(t, c.SetReply(550, nil, []byte("tab\there")), abi.FnSetReply, "0x09")

	long := strings.Repeat("l", abi.MaxAddress-len("@d.example")) + "@d.example"
	if err := c.AddRcpt([]byte(long)); err != nil {
		t.Fatal(err)
	}
	misuseOf(t, c.AddRcpt([]byte("x"+long)), abi.FnRcptAdd, "at most 254")
	misuseOf(t, c.AddRcpt([]byte("<a@b>")), abi.FnRcptAdd, "angle bracket")
	misuseOf(t, c.AddRcpt([]byte("nodomain@")), abi.FnRcptAdd, "local@domain")
	misuseOf(t, c.AddRcpt(nil), abi.FnRcptAdd, "local@domain")
	if err := c.SetMailFrom(nil); err != nil || st.From != "" {
		t.Fatalf("null sender: %v %q", err, st.From)
	}
	for len(st.Rcpts) < abi.MaxRcpts {
		if err := c.AddRcpt([]byte("r" + strconv.Itoa(len(st.Rcpts)) + "@d.example")); err != nil {
			t.Fatal(err)
		}
	}
	misuseOf(t, c.AddRcpt([]byte("one-more@d.example")), abi.FnRcptAdd, "already has 1000")
}

// TestPhases: changes outside their phase are misuse naming the phase;
// reads find nothing.
func TestPhases(t *testing.T) {
	st := dataState(t)
	st.Phase = filter.Rcpt
	c := Begin(&Plugin{Name: "p"}, st, abi.HookRcpt)
	misuseOf(t, c.AddHeader([]byte("X-A"), []byte("1")), abi.FnHeaderAdd, "not allowed in rcpt phase (only in the data phase)")
	misuseOf(t, c.SetMailFrom([]byte("a@b")), abi.FnMailSet, "only in the mail and data phase")
	misuseOf(t, c.ReplaceBody([]byte("x\r\n")), abi.FnBodyReplace, "rcpt phase")
	if _, ok := c.HeaderCount(); ok {
		t.Fatal("header_count outside data")
	}
	if _, ok := c.Info(abi.InfoRcpt); !ok {
		t.Fatal("rcpt info in rcpt phase")
	}
	conf := Begin(&Plugin{Name: "p", DKIMKeys: "k d s ed25519-sha256"}, nil, abi.ExportConfigure)
	misuseOf(t, conf.SetTag([]byte("k"), []byte("v")), abi.FnTagSet, "not allowed in sluice_configure")
	misuseOf(t, conf.SetReply(550, nil, []byte("no")), abi.FnSetReply, "sluice_configure")
	if v, ok := conf.Info(abi.InfoPlugin); !ok || v != "p" {
		t.Fatalf("plugin.name in configure: %q %v", v, ok)
	}
	if _, ok := conf.Info(abi.InfoDKIMKeys); !ok {
		t.Fatal("dkim.keys in configure")
	}
	if _, ok := conf.Info(abi.InfoSessionID); ok {
		t.Fatal("session.id in configure")
	}
}

// TestRollbackWithoutTouch: every change saves the state by itself, so a
// rollback after a failed call restores tags, envelope and message.
func TestRollbackWithoutTouch(t *testing.T) {
	st := dataState(t)
	before := string(st.Msg.Bytes())
	c := Begin(&Plugin{Name: "p"}, st, abi.HookData)
	for _, err := range []error{
		c.SetTag([]byte("k"), []byte("v")),
		c.AddHeader([]byte("X-A"), []byte("1")),
		c.AppendBody([]byte("more\r\n")),
		c.AddRcpt([]byte("e@f.example")),
		c.SetMailFrom([]byte("z@y.example")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteHeader(0); err != nil {
		t.Fatal(err)
	}
	st.Rollback()
	if got := string(st.Msg.Bytes()); got != before || st.From != "a@b.example" || len(st.Rcpts) != 1 || len(st.Tags) != 0 || st.EnvelopeChanged {
		t.Fatalf("not rolled back: %q from %q rcpts %v tags %v changed %v", got, st.From, st.Rcpts, st.Tags, st.EnvelopeChanged)
	}
}

// TestResult: the verdict and reply class are checked here, and only here
// (filter.Chain trusts it).
func TestResult(t *testing.T) {
	cases := []struct {
		v     filter.Verdict
		reply *smtp.Reply
		want  string // "" = accepted
	}{
		{filter.Reject, smtp.NewReply(550, "5.7.1", "no"), ""},
		{filter.Reject, smtp.NewReply(451, "4.7.1", "no"), "a reject needs a 5xx reply"},
		{filter.Tempfail, smtp.NewReply(550, "5.7.1", "no"), "a tempfail needs a 4xx reply"},
		{filter.Tempfail, smtp.NewReply(421, "4.7.0", "later"), ""},
		{filter.Quarantine, smtp.NewReply(550, "5.7.1", "reason"), ""},
		{filter.Verdict(9), nil, "returned 9, which is not a verdict"},
	}
	for _, tc := range cases {
		st := dataState(t)
		st.Reply = tc.reply
		err := Begin(&Plugin{}, st, abi.HookData).Result(tc.v)
		var re *ResultError
		if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &re) || !strings.Contains(re.Reason, tc.want)) {
			t.Errorf("verdict %v reply %v: %v; want %q", tc.v, tc.reply, err, tc.want)
		}
	}

	st := dataState(t)
	c := Begin(&Plugin{}, st, abi.HookData)
	if ok, err := c.RemoveRcpt([]byte("C@D.example")); !ok || err != nil {
		t.Fatalf("remove: %v %v", ok, err)
	}
	if err := c.Result(filter.Continue); err == nil || !strings.Contains(err.Error(), "every recipient") {
		t.Fatalf("no recipient left: %v", err)
	}
	st = dataState(t)
	c = Begin(&Plugin{}, st, abi.HookData)
	if err := c.ReplaceBody([]byte("bare\nlf")); err != nil {
		t.Fatal(err)
	}
	if err := c.Result(filter.Continue); err == nil || !strings.Contains(err.Error(), "body is invalid") {
		t.Fatalf("invalid body: %v", err)
	}
}

// TestHeaderGrowthAndSize: one call may add at most abi.MaxHeaderGrowth
// bytes of fields, and may not leave a message past the size limit.
func TestHeaderGrowthAndSize(t *testing.T) {
	st := dataState(t)
	c := Begin(&Plugin{}, st, abi.HookData)
	v := []byte(strings.Repeat("v", 900))
	var err error
	for i := 0; err == nil && i < abi.MaxHeaderGrowth/900+2; i++ {
		err = c.AddHeader([]byte("X-Grow"), v)
	}
	misuseOf(t, err, abi.FnHeaderAdd, "more than 262144 bytes")

	st = dataState(t)
	c = Begin(&Plugin{MaxMessageSize: 1 << 10}, st, abi.HookData)
	limit := st.Msg.ReceivedSize() + abi.MessageGrowthAllowance
	misuseOf(t, c.AppendBody(make([]byte, limit)), abi.FnBodyAppend, "max_message_size")
}
