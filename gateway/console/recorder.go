// Package console is the admin console (docs/console.md): a recorder that
// keeps the last transactions of the live sessions, the JSON API over it
// and the running gateway, and the page that uses that API, embedded in
// the binary.
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// DefaultSize is how many transactions the recorder keeps by default.
const DefaultSize = 1000

// MaxSize bounds the ring (--console-size, the policy's console size): an
// entry is about a kilobyte.
const MaxSize = policy.MaxConsoleSize

// Options configure a Recorder.
type Options struct {
	Size int // transactions kept; 0 means DefaultSize
	// HashAddresses shows envelope addresses as a keyed hash of the local
	// part and the domain in clear: "h-1a2b3c4d5e6f@example.com".
	HashAddresses bool
	// Headers keeps the header fields of each message (as delivered,
	// after the plugins' rewrites). Bodies are never kept.
	Headers bool
}

// OptionsOf are the options of the policy's console block (after
// `sluice serve`'s flags overrode it): its size 0 is DefaultSize.
func OptionsOf(c policy.Console) Options {
	return Options{Size: c.Size, HashAddresses: c.HashAddresses, Headers: c.Headers}
}

// Outcomes of a transaction, in the order of the overview's series.
var Outcomes = []string{"delivered", "rejected", "tempfailed", "discarded", "quarantined"}

// Entry is one recorded transaction. It is never changed once recorded.
type Entry struct {
	ID      uint64    `json:"id"`
	Time    time.Time `json:"time"`
	Session string    `json:"session"`
	Client  string    `json:"client"`
	Helo    string    `json:"helo"`
	From    string    `json:"from"`
	Rcpts   []string  `json:"rcpts"`
	Refused []string  `json:"refused_rcpts,omitempty"`
	Size    int       `json:"size"`
	Steps   []Step    `json:"steps"`
	// StepsDropped counts the steps past maxSteps that were not kept (a
	// transaction with many recipients runs the rcpt phase for each).
	StepsDropped int      `json:"steps_dropped,omitempty"`
	Outcome      string   `json:"outcome"`
	Code         int      `json:"code"`
	Reply        string   `json:"reply"`
	QueueID      string   `json:"queue_id,omitempty"`
	Headers      []Header `json:"headers,omitempty"`
	Duration     int64    `json:"duration_ns"` // from MAIL to the final reply
}

// Step is one plugin call.
type Step struct {
	Plugin   string `json:"plugin"`
	Phase    string `json:"phase"`
	Verdict  string `json:"verdict"`
	Duration int64  `json:"duration_ns"`
	Error    string `json:"error,omitempty"`
}

// Header is one header field of a recorded message.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Header fields kept per message, bytes per value and in all, with
// Options.Headers; plugin steps kept per transaction. They bound an
// entry, and so the ring: at most about 24 KiB each.
const (
	maxHeaders     = 100
	maxHeaderValue = 1000
	maxHeaderTotal = 16 << 10
	maxSteps       = 100
)

// subscriber is one live view (an /api/events stream).
type subscriber struct {
	ch   chan *Entry
	lost bool // an entry was dropped because ch was full
}

// maxSubscribers bounds the live views; each holds a goroutine and a
// buffer.
const maxSubscribers = 16

// ErrTooManyViewers is Subscribe's error past maxSubscribers.
var ErrTooManyViewers = errors.New("too many live views")

// minuteBucket counts the outcomes of one minute.
type minuteBucket struct {
	minute int64 // Unix minutes
	n      [5]int
}

// Recorder keeps the last transactions in a ring. It implements
// bridge.Recorder; Record does no more than building one Entry and, only
// while someone watches, queueing it for the live views.
type Recorder struct {
	opts    Options
	hashKey []byte
	now     func() time.Time

	mu       sync.Mutex
	ring     []*Entry
	next     int    // where the next entry goes
	seq      uint64 // the last entry's ID
	minutes  [60]minuteBucket
	faults   map[string]int // plugin faults since start
	breakers map[string]bool
	upstream UpstreamHealth
	subs     map[*subscriber]struct{}
}

// UpstreamHealth is what the recent downstream commands said.
type UpstreamHealth struct {
	LastOK    time.Time `json:"last_ok"`
	LastError time.Time `json:"last_error"`
	Error     string    `json:"error,omitempty"`
	Commands  int       `json:"commands"` // since start
	Errors    int       `json:"errors"`   // since start
}

// NewRecorder returns an empty recorder.
func NewRecorder(opts Options) *Recorder {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.Size > MaxSize {
		opts.Size = MaxSize
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &Recorder{opts: opts, hashKey: key, now: time.Now, ring: make([]*Entry, opts.Size),
		faults: map[string]int{}, breakers: map[string]bool{}, subs: map[*subscriber]struct{}{}}
}

// Size is the ring's capacity.
func (r *Recorder) Size() int { return r.opts.Size }

// Record implements bridge.Recorder.
func (r *Recorder) Record(t *bridge.Transaction) {
	now := r.now()
	e := &Entry{Time: t.Start, Session: t.Session, Helo: t.Helo, From: r.address(t.From),
		Rcpts: r.addresses(t.Rcpts), Refused: r.addresses(t.Refused), Size: t.Size, Outcome: t.Outcome, QueueID: t.QueueID}
	if e.Rcpts == nil {
		e.Rcpts = []string{} // JSON [] (a zero-size allocation is free)
	}
	if t.ClientIP.IsValid() {
		e.Client = t.ClientIP.String()
	}
	if t.Start.IsZero() {
		e.Time = now
	} else {
		e.Duration = int64(now.Sub(t.Start))
	}
	if t.Reply != nil {
		e.Code, e.Reply = t.Reply.Code, replyText(t.Reply)
	}
	steps := t.Steps
	if len(steps) > maxSteps {
		e.StepsDropped = len(steps) - maxSteps
		steps = steps[:maxSteps]
	}
	e.Steps = make([]Step, len(steps))
	faults := 0
	for i, s := range steps {
		e.Steps[i] = Step{Plugin: s.Plugin, Phase: s.Phase.String(), Verdict: s.Verdict.String(), Duration: int64(s.Duration)}
		if s.Err != nil {
			e.Steps[i].Error = s.Err.Error()
			faults++
		}
	}
	if r.opts.Headers && t.Msg != nil {
		n := min(len(t.Msg.Fields), maxHeaders)
		e.Headers = make([]Header, 0, n)
		total := 0
		for _, f := range t.Msg.Fields[:n] {
			v := f.Value()
			if len(v) > maxHeaderValue {
				v = v[:maxHeaderValue]
			}
			if total += len(f.Name) + len(v); total > maxHeaderTotal {
				break
			}
			e.Headers = append(e.Headers, Header{Name: f.Name, Value: strings.ToValidUTF8(string(v), "?")})
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.ID = r.seq
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	r.count(e.Outcome, now)
	if faults > 0 {
		for _, s := range e.Steps {
			if s.Error != "" {
				r.faults[s.Plugin]++
			}
		}
	}
	for s := range r.subs {
		select {
		case s.ch <- e:
		default:
			s.lost = true
		}
	}
}

// replyText is a reply on one line: "550 5.7.1 text / more text".
func replyText(r *smtp.Reply) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Code))
	if r.Enhanced != "" {
		b.WriteByte(' ')
		b.WriteString(r.Enhanced)
	}
	for i, l := range r.Lines {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(" / ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// count adds an outcome to the minute it ended in; with r.mu held.
func (r *Recorder) count(outcome string, t time.Time) {
	k := -1
	for i, o := range Outcomes {
		if o == outcome {
			k = i
		}
	}
	if k < 0 {
		return
	}
	m := t.Unix() / 60
	b := &r.minutes[m%60]
	switch {
	case b.minute > m: // a clock stepped back: never clobber a newer minute
		return
	case b.minute < m:
		*b = minuteBucket{minute: m}
	}
	b.n[k]++
}

func (r *Recorder) addresses(as []string) []string {
	if len(as) == 0 {
		return nil
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = r.address(a)
	}
	return out
}

// address is a as shown: hashed if the operator asked for it.
func (r *Recorder) address(a string) string {
	if !r.opts.HashAddresses || a == "" {
		return a
	}
	local, domain := a, ""
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		local, domain = a[:i], a[i:]
	}
	m := hmac.New(sha256.New, r.hashKey)
	m.Write([]byte(strings.ToLower(local)))
	return "h-" + hex.EncodeToString(m.Sum(nil)[:6]) + strings.ToLower(domain)
}

// PluginBreaker is told when a plugin's circuit breaker opens or closes.
func (r *Recorder) PluginBreaker(plugin string, open bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if open {
		r.breakers[plugin] = true
	} else {
		delete(r.breakers, plugin)
	}
}

// Upstream is told every downstream command's result (a bridge.Observer's
// method).
func (r *Recorder) Upstream(op string, d time.Duration, err error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.upstream.Commands++
	if err != nil {
		r.upstream.Errors++
		r.upstream.LastError, r.upstream.Error = now, op+": "+err.Error()
		return
	}
	r.upstream.LastOK = now
}

// Filter selects transactions: every non-empty field must match.
type Filter struct {
	// Address matches the sender or a recipient: a substring, case
	// insensitive; with hashed addresses, a whole address is hashed first.
	Address string
	Outcome string // delivered, rejected, tempfailed, discarded, quarantined
	QueueID string // exact, case insensitive
}

// Match reports whether e passes f.
func (r *Recorder) Match(f Filter, e *Entry) bool {
	if f.Outcome != "" && f.Outcome != e.Outcome {
		return false
	}
	if f.QueueID != "" && !strings.EqualFold(f.QueueID, e.QueueID) {
		return false
	}
	if f.Address == "" {
		return true
	}
	q := strings.ToLower(f.Address)
	if r.opts.HashAddresses && strings.Contains(q, "@") && !strings.HasPrefix(q, "h-") {
		q = r.address(q)
	}
	if strings.Contains(strings.ToLower(e.From), q) {
		return true
	}
	for _, list := range [][]string{e.Rcpts, e.Refused} {
		for _, a := range list {
			if strings.Contains(strings.ToLower(a), q) {
				return true
			}
		}
	}
	return false
}

// List returns up to limit transactions matching f, newest first, older
// than before (an ID; 0 for the newest).
func (r *Recorder) List(f Filter, before uint64, limit int) []*Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []*Entry{}
	n := len(r.ring)
	for i := 1; i <= n && len(out) < limit; i++ {
		e := r.ring[(r.next-i+n)%n]
		if e == nil {
			break
		}
		if before != 0 && e.ID >= before {
			continue
		}
		if r.Match(f, e) {
			out = append(out, e)
		}
	}
	return out
}

// Get returns the transaction with id, if it is still kept.
func (r *Recorder) Get(id uint64) *Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == 0 || id > r.seq || r.seq-id >= uint64(len(r.ring)) {
		return nil
	}
	// Entries are in ID order around the ring: the newest is at next-1.
	n := len(r.ring)
	e := r.ring[(r.next-1-int(r.seq-id)+n*2)%n]
	if e == nil || e.ID != id {
		return nil
	}
	return e
}

// Subscribe starts a live view: ch gets every entry recorded from now on.
// The caller must call cancel. lost reports (and clears) whether entries
// were dropped because the view did not keep up.
func (r *Recorder) Subscribe() (ch <-chan *Entry, lost func() bool, cancel func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.subs) >= maxSubscribers {
		return nil, nil, nil, ErrTooManyViewers
	}
	s := &subscriber{ch: make(chan *Entry, 256)}
	r.subs[s] = struct{}{}
	lost = func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		l := s.lost
		s.lost = false
		return l
	}
	cancel = func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, s)
	}
	return s.ch, lost, cancel, nil
}

// Series is messages per minute over the last hour, oldest first.
type Series struct {
	Minutes []int64          `json:"minutes"` // Unix seconds of each minute's start
	Counts  map[string][]int `json:"counts"`  // by outcome, one per minute
}

// PluginStats are a plugin's calls among the kept transactions.
type PluginStats struct {
	Plugin      string `json:"plugin"`
	Calls       int    `json:"calls"`
	P50         int64  `json:"p50_ns"`
	P99         int64  `json:"p99_ns"`
	Faults      int    `json:"faults"`       // among the kept transactions
	FaultsTotal int    `json:"faults_total"` // since start
}

// Stats is what the overview shows of the recorder.
type Stats struct {
	Series       Series         `json:"series"`
	Plugins      []PluginStats  `json:"plugins"`
	OpenBreakers []string       `json:"open_breakers"`
	Upstream     UpstreamHealth `json:"upstream_health"`
	Kept         int            `json:"kept"`
	Capacity     int            `json:"capacity"`
	Recorded     uint64         `json:"recorded"`
}

// Stats computes the overview's figures.
func (r *Recorder) Stats() Stats {
	now := r.now().Unix() / 60
	r.mu.Lock()
	st := Stats{Series: Series{Counts: map[string][]int{}}, OpenBreakers: []string{}, Upstream: r.upstream,
		Capacity: len(r.ring), Recorded: r.seq}
	for _, o := range Outcomes {
		st.Series.Counts[o] = make([]int, 60)
	}
	for i := range 60 {
		m := now - 59 + int64(i)
		st.Series.Minutes = append(st.Series.Minutes, m*60)
		if b := r.minutes[m%60]; b.minute == m {
			for k, o := range Outcomes {
				st.Series.Counts[o][i] = b.n[k]
			}
		}
	}
	for p := range r.breakers {
		st.OpenBreakers = append(st.OpenBreakers, p)
	}
	durs := map[string][]int64{}
	faults := map[string]int{}
	for _, e := range r.ring {
		if e == nil {
			continue
		}
		st.Kept++
		for _, s := range e.Steps {
			durs[s.Plugin] = append(durs[s.Plugin], s.Duration)
			if s.Error != "" {
				faults[s.Plugin]++
			}
		}
	}
	total := map[string]int{}
	for p, n := range r.faults {
		total[p] = n
	}
	r.mu.Unlock()
	sort.Strings(st.OpenBreakers)
	for p, d := range durs {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		st.Plugins = append(st.Plugins, PluginStats{Plugin: p, Calls: len(d), P50: quantile(d, 0.50), P99: quantile(d, 0.99),
			Faults: faults[p], FaultsTotal: total[p]})
	}
	for p, n := range total {
		if _, ok := durs[p]; !ok {
			st.Plugins = append(st.Plugins, PluginStats{Plugin: p, FaultsTotal: n})
		}
	}
	sort.Slice(st.Plugins, func(i, j int) bool { return st.Plugins[i].Plugin < st.Plugins[j].Plugin })
	if st.Plugins == nil {
		st.Plugins = []PluginStats{}
	}
	return st
}

// quantile of sorted d (nearest rank).
func quantile(d []int64, q float64) int64 {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}
