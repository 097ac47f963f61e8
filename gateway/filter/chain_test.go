package filter

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

// fakePlugin runs fn as its hook for every phase in phases.
type fakePlugin struct {
	phases map[Phase]bool
	fn     func(st *State) (Verdict, error)
	calls  int
}

func (f *fakePlugin) Has(p Phase) bool { return f.phases[p] }
func (f *fakePlugin) Call(_ context.Context, st *State) (Verdict, error) {
	f.calls++
	return f.fn(st)
}

func on(p Phase, fn func(st *State) (Verdict, error)) *fakePlugin {
	return &fakePlugin{phases: map[Phase]bool{p: true}, fn: fn}
}

func dataState(t *testing.T) *State {
	t.Helper()
	m, err := message.Parse([]byte("Subject: x\r\n\r\nbody\r\n"), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st := NewState(&Session{Tags: Tags{}})
	st.Phase, st.Msg, st.From, st.Rcpts = Data, m, "a@b", []string{"c@d"}
	return st
}

func addHeader(st *State) {
	st.Touch()
	f, _ := message.Render([]byte("X-Added"), []byte("1"))
	st.Msg.Insert(0, f)
	st.Rcpts = append(st.Rcpts, "e@f")
	st.SetTag("k", "v")
}

func TestChainOrderAndStop(t *testing.T) {
	var order []string
	mk := func(name string, v Verdict) Entry {
		return Entry{Name: name, Plugin: on(Data, func(*State) (Verdict, error) { order = append(order, name); return v, nil })}
	}
	c := &Chain{Entries: []Entry{mk("a", Continue), mk("b", Quarantine), mk("c", Accept), mk("d", Continue)}}
	st := dataState(t)
	out := c.Run(context.Background(), st)
	if out.Verdict != Accept || len(order) != 3 || order[2] != "c" {
		t.Fatalf("verdict %v order %v", out.Verdict, order)
	}
	if len(st.Quarantined) != 1 || !st.Accepted {
		t.Fatalf("quarantine %v accepted %v", st.Quarantined, st.Accepted)
	}
	// An accepted transaction runs nothing more.
	if out := c.Run(context.Background(), st); len(out.Steps) != 0 {
		t.Fatalf("accepted transaction ran %d steps", len(out.Steps))
	}
}

func TestChainPluginErrorRollsBack(t *testing.T) {
	for _, tc := range []struct {
		onErr   OnError
		verdict Verdict
		code    int
	}{
		{OnErrorTempfail, Tempfail, 451},
		{OnErrorReject, Reject, 550},
		{OnErrorContinue, Continue, 0},
	} {
		bad := on(Data, func(st *State) (Verdict, error) { addHeader(st); return Continue, errors.New("trap") })
		next := on(Data, func(*State) (Verdict, error) { return Continue, nil })
		c := &Chain{Entries: []Entry{{Name: "bad", Plugin: bad, OnError: tc.onErr}, {Name: "next", Plugin: next}}}
		st := dataState(t)
		out := c.Run(context.Background(), st)
		faults := 0
		for _, s := range out.Steps {
			if s.Err != nil {
				faults++
			}
		}
		if out.Verdict != tc.verdict || faults != 1 {
			t.Fatalf("on_error %v: verdict %v faults %d", tc.onErr, out.Verdict, faults)
		}
		if tc.code != 0 && out.Reply.Code != tc.code {
			t.Errorf("on_error %v: code %d", tc.onErr, out.Reply.Code)
		}
		if len(st.Msg.Fields) != 1 || len(st.Rcpts) != 1 || len(st.Tags) != 0 || st.Msg.Changed() {
			t.Errorf("on_error %v: changes of a faulting call survived: %d fields %v rcpts %v tags", tc.onErr, len(st.Msg.Fields), st.Rcpts, st.Tags)
		}
		if (tc.onErr == OnErrorContinue) != (next.calls == 1) {
			t.Errorf("on_error %v: next plugin calls = %d", tc.onErr, next.calls)
		}
	}
}

func TestChainCommitsGoodCalls(t *testing.T) {
	good := on(Data, func(st *State) (Verdict, error) { addHeader(st); return Continue, nil })
	bad := on(Data, func(st *State) (Verdict, error) { st.Touch(); st.Msg.Delete(0); return Continue, errors.New("trap") })
	c := &Chain{Entries: []Entry{{Name: "good", Plugin: good}, {Name: "bad", Plugin: bad, OnError: OnErrorContinue}}}
	st := dataState(t)
	c.Run(context.Background(), st)
	if len(st.Msg.Fields) != 2 || st.Msg.Fields[0].Name != "X-Added" || st.Tags["k"] != "v" {
		t.Fatalf("good call's changes lost: %+v %v", st.Msg.Fields, st.Tags)
	}
}

func TestSessionTagsAndDiscard(t *testing.T) {
	sess := &Session{}
	p := on(Connect, func(st *State) (Verdict, error) { st.SetTag("conn", "1"); return Discard, nil })
	c := &Chain{Entries: []Entry{{Name: "p", Plugin: p}}}
	st := NewState(sess)
	st.Phase = Connect
	c.Run(context.Background(), st)
	if sess.Tags["conn"] != "1" || !sess.Discarded {
		t.Fatalf("session tags %v discarded %v", sess.Tags, sess.Discarded)
	}
	tx := NewState(sess)
	if v, ok := tx.Tag("conn"); !ok || v != "1" {
		t.Fatal("transaction does not see session tags")
	}
	// One flag: a transaction of a discarded session starts discarded, and
	// the chain runs nothing for it.
	tx.Phase = Mail
	p.phases[Mail] = true
	calls := p.calls
	if out := c.Run(context.Background(), tx); !tx.Discarded || p.calls != calls || out.Verdict != Continue {
		t.Fatalf("transaction of a discarded session: discarded %v, calls %d, verdict %v", tx.Discarded, p.calls-calls, out.Verdict)
	}
}
