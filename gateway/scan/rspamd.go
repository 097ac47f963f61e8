package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxReply bounds what is read of a scanner's reply.
const maxReply = 4 << 20

// rspamd scans with rspamd's normal worker: POST /checkv2 with the envelope
// as headers and the message as the body (rspamd's "protocol" page). The
// HTTP transport keeps up to MaxConns connections alive between scans.
type rspamd struct {
	cfg    Config
	url    string
	client *http.Client
	tr     *http.Transport
}

func newRspamd(c Config) (*rspamd, error) {
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an http:// URL of rspamd's normal worker (for example \"http://127.0.0.1:11333\")", c.Address)
	}
	if !strings.HasSuffix(u.Path, "/checkv2") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/checkv2"
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c.MaxConns,
		MaxIdleConnsPerHost: c.MaxConns,
		MaxConnsPerHost:     c.MaxConns,
		IdleConnTimeout:     55 * time.Second, // under rspamd's keep-alive timeout of a minute
		DisableCompression:  true,
		TLSHandshakeTimeout: c.Timeout,
	}
	return &rspamd{cfg: c, url: u.String(), tr: tr, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

func (r *rspamd) Close() error {
	r.tr.CloseIdleConnections()
	return nil
}

func (r *rspamd) Scan(ctx context.Context, env Envelope, msg Message) (*Result, error) {
	if r.cfg.MaxSize > 0 && int64(msg.Size()) > r.cfg.MaxSize {
		return tooLarge(&r.cfg), nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	return r.scan(ctx, env, msg)
}

func (r *rspamd) scan(ctx context.Context, env Envelope, msg Message) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, nil)
	if err != nil {
		return nil, r.cfg.fail(ctx, err)
	}
	var bs bodies
	defer bs.wait()
	req.GetBody = func() (io.ReadCloser, error) { return bs.open(msg) }
	req.Body, _ = req.GetBody()
	req.ContentLength = int64(msg.Size())
	h := req.Header
	// Present but empty, so never sent: it lets the transport retry the
	// request on a fresh connection when a kept-alive one turns out to be
	// closed (net/http's Transport documents this), replaying the body
	// with GetBody. A scan has no side effects worth the name.
	h["X-Idempotency-Key"] = nil
	set := func(k, v string) {
		if v != "" {
			h[k] = append(h[k], headerSafe(v))
		}
	}
	set("IP", env.ClientIP)
	set("Helo", env.Helo)
	if env.Sender == "" && len(env.Recipients) > 0 {
		set("From", "<>") // a bounce
	} else {
		set("From", env.Sender)
	}
	for _, rc := range env.Recipients {
		set("Rcpt", rc)
	}
	set("Hostname", env.Hostname)
	set("Queue-Id", env.QueueID)
	set("User", env.User)
	set("Password", r.cfg.Password)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, r.cfg.fail(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, r.cfg.fail(ctx, err)
	}
	if len(body) > maxReply {
		return nil, r.cfg.protocolError("reply over %d bytes", maxReply)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, r.cfg.protocolError("HTTP %s: %s", resp.Status, snippet(body))
	}
	res, err := parseRspamd(body)
	if err != nil {
		return nil, r.cfg.protocolError("%v", err)
	}
	return res, nil
}

// bodies streams a message to the transport through pipes, one per attempt
// (a retry replays it), without a copy. wait closes them all and returns only
// when no goroutine reads the message any more, so that the caller may
// change the message once Scan has returned.
type bodies struct {
	mu    sync.Mutex
	pipes []*io.PipeReader
	wg    sync.WaitGroup
}

func (b *bodies) open(msg Message) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	b.mu.Lock()
	b.pipes = append(b.pipes, pr)
	b.mu.Unlock()
	b.wg.Go(func() {
		_, err := msg.WriteTo(pw)
		pw.CloseWithError(err)
	})
	return pr, nil
}

func (b *bodies) wait() {
	b.mu.Lock()
	for _, p := range b.pipes {
		p.CloseWithError(errors.New("scan over"))
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// headerSafe replaces control characters, which a header value cannot hold.
func headerSafe(v string) string {
	if strings.IndexFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) < 0 {
		return v
	}
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, v)
}

// snippet is the start of a reply, for an error message.
func snippet(b []byte) string {
	const n = 120
	if len(b) > n {
		b = b[:n]
	}
	return strconv.Quote(string(b))
}

// rspamdReply is the part of /checkv2's JSON reply a Result keeps.
type rspamdReply struct {
	Action        *string  `json:"action"`
	Score         *float64 `json:"score"`
	RequiredScore float64  `json:"required_score"`
	IsSkipped     bool     `json:"is_skipped"`
	Symbols       map[string]struct {
		Name        string          `json:"name"`
		Score       float64         `json:"score"`
		Description string          `json:"description"`
		Options     json.RawMessage `json:"options"`
	} `json:"symbols"`
	Messages json.RawMessage `json:"messages"`
	Subject  string          `json:"subject"`
	Milter   *struct {
		AddHeaders    map[string]json.RawMessage `json:"add_headers"`
		RemoveHeaders map[string]json.RawMessage `json:"remove_headers"`
	} `json:"milter"`
}

// Actions rspamd may return (rspamd's "actions" configuration).
var rspamdActions = []string{"no action", "greylist", "add header", "rewrite subject", "soft reject", "reject"}

// parseRspamd decodes a /checkv2 reply.
func parseRspamd(body []byte) (*Result, error) {
	var rep rspamdReply
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a /checkv2 reply: %v", err)
	}
	if rep.Action == nil || rep.Score == nil {
		return nil, errors.New("reply without action or score")
	}
	if !slices.Contains(rspamdActions, *rep.Action) {
		return nil, fmt.Errorf("unknown action %q", *rep.Action)
	}
	res := &Result{
		Engine: EngineRspamd, Action: *rep.Action, Score: *rep.Score, RequiredScore: rep.RequiredScore,
		Spam:    *rep.Action != "no action" && *rep.Action != "greylist",
		Subject: rep.Subject,
	}
	for name, s := range rep.Symbols {
		sym := Symbol{Name: name, Score: s.Score, Description: s.Description}
		if len(s.Options) > 0 && string(s.Options) != "null" {
			if err := json.Unmarshal(s.Options, &sym.Options); err != nil {
				return nil, fmt.Errorf("symbol %q: options are not a list of strings", name)
			}
		}
		res.Symbols = append(res.Symbols, sym)
	}
	slices.SortFunc(res.Symbols, func(a, b Symbol) int { return strings.Compare(a.Name, b.Name) })
	if len(rep.Messages) > 0 && string(rep.Messages) != "null" {
		// An object of strings; smtp_message is the one meant for the client.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rep.Messages, &m); err != nil {
			return nil, errors.New("messages is not an object")
		}
		if raw, ok := m["smtp_message"]; ok {
			if err := json.Unmarshal(raw, &res.Message); err != nil {
				return nil, errors.New("messages.smtp_message is not a string")
			}
		}
	}
	if rep.Milter != nil {
		for name, raw := range rep.Milter.AddHeaders {
			hs, err := milterAdd(name, raw)
			if err != nil {
				return nil, err
			}
			res.AddHeaders = append(res.AddHeaders, hs...)
		}
		slices.SortStableFunc(res.AddHeaders, func(a, b AddHeader) int { return strings.Compare(a.Name, b.Name) })
		for name, raw := range rep.Milter.RemoveHeaders {
			var idx float64
			if err := json.Unmarshal(raw, &idx); err != nil || idx < 0 || idx != float64(int(idx)) {
				return nil, fmt.Errorf("milter.remove_headers[%q] is not a whole number", name)
			}
			res.RemoveHeaders = append(res.RemoveHeaders, RemoveHeader{Name: name, Index: int(idx)})
		}
		slices.SortFunc(res.RemoveHeaders, func(a, b RemoveHeader) int { return strings.Compare(a.Name, b.Name) })
	}
	return res, nil
}

// milterAdd decodes one add_headers member: a value, {"value", "order"}, or
// a list of either.
func milterAdd(name string, raw json.RawMessage) ([]AddHeader, error) {
	bad := fmt.Errorf("milter.add_headers[%q] is not a value, {value, order} or a list of them", name)
	one := func(raw json.RawMessage) (AddHeader, bool) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return AddHeader{Name: name, Value: s}, true
		}
		var o struct {
			Value *string `json:"value"`
			Order float64 `json:"order"`
		}
		if json.Unmarshal(raw, &o) != nil || o.Value == nil || o.Order != float64(int(o.Order)) {
			return AddHeader{}, false
		}
		return AddHeader{Name: name, Value: *o.Value, Order: int(o.Order)}, true
	}
	if h, ok := one(raw); ok {
		return []AddHeader{h}, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, bad
	}
	out := make([]AddHeader, 0, len(list))
	for _, e := range list {
		h, ok := one(e)
		if !ok {
			return nil, bad
		}
		out = append(out, h)
	}
	return out, nil
}
