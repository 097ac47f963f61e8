package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/internal/boundedfile"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// Gateway is what the console reads of, and does to, the running gateway
// (lifecycle.Gateway).
type Gateway interface {
	Ready() bool
	Generation() int
	Policy() *policy.Policy
	LastReload() lifecycle.Result
	Reload(ctx context.Context) lifecycle.Result
	TestMessage(ctx context.Context, in bridge.TestInput) (*bridge.TestResult, error)
}

// Console serves the page and the JSON API (docs/console.md). Access
// control (the admin token, cross-site requests) is the admin server's.
type Console struct {
	gw      Gateway
	rec     *Recorder
	started time.Time
	// heartbeat is how often an idle event stream gets a comment line.
	heartbeat time.Duration
	// trying holds a token while a try runs: each builds a generation of
	// the policy (every plugin instantiated), so they run one at a time.
	trying chan struct{}
}

// tryTimeout bounds one try, the wait for another included.
const tryTimeout = 2 * time.Minute

// New returns the console of gw, showing rec's transactions.
func New(gw Gateway, rec *Recorder) *Console {
	return &Console{gw: gw, rec: rec, started: time.Now(), heartbeat: 15 * time.Second, trying: make(chan struct{}, 1)}
}

// Register adds the console's routes to mux: the page at / and the API
// under /api/.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("GET /", c.page())
	mux.HandleFunc("GET /api/overview", c.overview)
	mux.HandleFunc("GET /api/transactions", c.transactions)
	mux.HandleFunc("GET /api/transactions/{id}", c.transaction)
	mux.HandleFunc("GET /api/events", c.events)
	mux.HandleFunc("POST /api/try", c.try)
	mux.HandleFunc("POST /api/reload", c.reload)
	mux.HandleFunc("GET /api/policy", c.policy)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// Overview is GET /api/overview.
type Overview struct {
	Now        time.Time `json:"now"`
	Started    time.Time `json:"started"`
	Ready      bool      `json:"ready"`
	Generation int       `json:"generation"`
	Policy     string    `json:"policy"`
	LastReload *Reload   `json:"last_reload"` // null before the first
	Upstream   string    `json:"upstream"`    // smtp:HOST:PORT or maildir:DIR
	Stats
}

// Reload is a reload's result (POST /api/reload, and the overview's last
// one).
type Reload struct {
	Status      string    `json:"status"` // ok, unchanged, failed
	Generation  int       `json:"generation"`
	Diagnostics string    `json:"diagnostics"`
	Time        time.Time `json:"time,omitzero"`
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	o := Overview{Now: time.Now(), Started: c.started, Ready: c.gw.Ready(), Generation: c.gw.Generation(), Stats: c.rec.Stats()}
	if p := c.gw.Policy(); p != nil {
		o.Policy = p.File
		o.Upstream = "smtp:" + p.Upstream.Address
		if p.Upstream.Maildir != "" {
			o.Upstream = "maildir:" + p.Upstream.Maildir
		}
	}
	if lr := c.gw.LastReload(); lr.Status != "" {
		o.LastReload = &Reload{Status: lr.Status, Generation: lr.Generation, Diagnostics: lr.Diagnostics}
	}
	writeJSON(w, http.StatusOK, o)
}

// filterOf reads the filter query parameters.
func filterOf(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	f := Filter{Address: q.Get("address"), Outcome: q.Get("verdict"), QueueID: q.Get("queue_id")}
	if f.Outcome != "" && !validOutcome(f.Outcome) {
		return f, fmt.Errorf("verdict must be one of %s", strings.Join(Outcomes, ", "))
	}
	return f, nil
}

func validOutcome(o string) bool {
	for _, v := range Outcomes {
		if v == o {
			return true
		}
	}
	return false
}

// Transactions is GET /api/transactions.
type Transactions struct {
	Transactions []*Entry `json:"transactions"`
	Capacity     int      `json:"capacity"`
}

func (c *Console) transactions(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, before := 100, uint64(0)
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, MaxSize)
	}
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, "before must be a transaction id")
			return
		}
		before = n
	}
	writeJSON(w, http.StatusOK, Transactions{Transactions: c.rec.List(f, before, limit), Capacity: c.rec.Size()})
}

func (c *Console) transaction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "not a transaction id")
		return
	}
	e := c.rec.Get(id)
	if e == nil {
		fail(w, http.StatusNotFound, "no such transaction (the console keeps the last "+strconv.Itoa(c.rec.Size())+")")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// events streams every new transaction matching the filter as a
// Server-Sent Event "transaction" (data: the Entry); "resync" when some
// were dropped because the client did not keep up.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ch, lost, cancel, err := c.rec.Subscribe()
	if err != nil {
		fail(w, http.StatusTooManyRequests, err.Error())
		return
	}
	defer cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A client that stops reading is dropped after writeTimeout.
	const writeTimeout = 10 * time.Second
	write := func(s string) bool {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := io.WriteString(w, s)
		return err == nil
	}
	send := func(s string) bool { return write(s) && rc.Flush() == nil }
	if !send(": sluice console\nretry: 3000\n\n") {
		return
	}
	tick := time.NewTicker(c.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if !send(": heartbeat\n\n") {
				return
			}
		case e := <-ch:
			// Under load, the entries already queued go out with one
			// flush (one write to the socket) rather than one each.
			for n := 0; ; n++ {
				if c.rec.Match(f, e) {
					b, _ := json.Marshal(e)
					if !write("event: transaction\ndata: " + string(b) + "\n\n") {
						return
					}
				}
				if n == 255 || len(ch) == 0 {
					break
				}
				e = <-ch
			}
			if lost() && !write("event: resync\ndata: {}\n\n") {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

// TryRequest is POST /api/try's body: the envelope and the message, as
// `sluice test` takes them.
type TryRequest struct {
	ClientIP string   `json:"client_ip"`
	Helo     string   `json:"helo"`
	From     string   `json:"from"`
	Rcpts    []string `json:"rcpts"`
	Message  string   `json:"message"` // the .eml, CRLF or LF line endings
}

// servingPolicy is the policy being served, or nil after a 503 reply when
// none is.
func (c *Console) servingPolicy(w http.ResponseWriter) *policy.Policy {
	p := c.gw.Policy()
	if p == nil {
		fail(w, http.StatusServiceUnavailable, "the gateway is not serving")
	}
	return p
}

// maxTry bounds POST /api/try's body when the policy sets no message size.
const maxTry = 64 << 20

func (c *Console) try(w http.ResponseWriter, r *http.Request) {
	p := c.servingPolicy(w)
	if p == nil {
		return
	}
	limit := int64(maxTry)
	if m := p.Listen.MaxMessageSize; m > 0 {
		limit = min(limit, 2*m+4096) // JSON escapes
	}
	var req TryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "want a JSON object {client_ip, helo, from, rcpts, message}: "+err.Error())
		return
	}
	// `sluice test`'s defaults.
	if req.ClientIP == "" {
		req.ClientIP = "127.0.0.1"
	}
	if _, err := netip.ParseAddr(req.ClientIP); err != nil {
		fail(w, http.StatusBadRequest, "client_ip: "+err.Error())
		return
	}
	if req.Helo == "" {
		req.Helo = "client.example.com"
	}
	if len(req.Rcpts) == 0 {
		req.Rcpts = []string{"recipient@example.net"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), tryTimeout)
	defer cancel()
	select {
	case c.trying <- struct{}{}:
		defer func() { <-c.trying }()
	case <-ctx.Done():
		fail(w, http.StatusServiceUnavailable, "another try is still running")
		return
	}
	res, err := c.gw.TestMessage(ctx, bridge.TestInput{ClientIP: req.ClientIP, Helo: req.Helo, From: req.From,
		Rcpts: req.Rcpts, Message: []byte(req.Message)})
	if err != nil {
		fail(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (c *Console) reload(w http.ResponseWriter, r *http.Request) {
	res := c.gw.Reload(r.Context())
	status := http.StatusOK
	if res.Status == "failed" {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, Reload{Status: res.Status, Generation: res.Generation, Diagnostics: res.Diagnostics, Time: time.Now()})
}

// PolicyView is GET /api/policy: the running policy's source and the files
// it names. Only the policy file's text is shown, with the values of
// attributes whose name says they hold a secret hidden; of the other files
// (plugin modules, certificates, keys, password files) only the path, the
// size and, for those that are not secret, the SHA-256.
type PolicyView struct {
	Generation int    `json:"generation"`
	File       string `json:"file"`
	Source     string `json:"source"`
	// ChangedOnDisk is true when the file on disk is not what the running
	// generation was built from (a reload failed or is pending): Source
	// is then the file on disk.
	ChangedOnDisk bool         `json:"changed_on_disk"`
	Files         []PolicyFile `json:"files"`
}

// PolicyFile is a file the policy names.
type PolicyFile struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Secret bool   `json:"secret"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Error  string `json:"error,omitempty"`
}

// maxPolicySource bounds the policy file shown.
const maxPolicySource = 1 << 20

func (c *Console) policy(w http.ResponseWriter, r *http.Request) {
	p := c.servingPolicy(w)
	if p == nil {
		return
	}
	v := PolicyView{Generation: c.gw.Generation(), File: p.File, Files: []PolicyFile{}}
	src, err := boundedfile.Read(p.File, maxPolicySource)
	if err != nil {
		v.Source = "(cannot read the policy file: " + err.Error() + ")"
	} else {
		v.ChangedOnDisk = sha256.Sum256(src) != p.Hash
		v.Source = redact(string(src))
	}
	add := func(path, kind string, secret bool) {
		if path == "" {
			return
		}
		f := PolicyFile{Path: path, Kind: kind, Secret: secret}
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			f.Error = err.Error()
		case !fi.Mode().IsRegular():
			f.Error = "not a regular file"
		default:
			f.Size = fi.Size()
			if !secret {
				f.SHA256 = fileSum(path)
			}
		}
		v.Files = append(v.Files, f)
	}
	for _, pl := range p.Plugins {
		add(pl.Wasm, "plugin "+pl.Name, false)
	}
	if t := p.Listen.TLS; t != nil {
		add(t.CertFile, "TLS certificate", false)
		add(t.KeyFile, "TLS private key", true)
	}
	add(p.Upstream.TLSCAFile, "downstream CA", false)
	for _, k := range p.DKIMKeys {
		add(k.KeyFile, "DKIM key "+k.Name, true)
	}
	for _, s := range p.Scanners {
		add(s.PasswordFile, "scanner "+s.Name+" password", true)
	}
	writeJSON(w, http.StatusOK, v)
}

func fileSum(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, 256<<20)); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// secretAttr matches an HCL attribute or object key whose name says it
// holds a secret, up to the end of its line: its value is hidden in the
// policy view.
var secretAttr = regexp.MustCompile(`(?im)^(\s*"?([a-z0-9_-]*(?:password|passwd|secret|token|api_key|apikey|credential)[a-z0-9_-]*)"?\s*[=:]\s*)(.*)$`)

// redact hides the values of secret-looking attributes (a plugin's
// config may carry one). The *_file attributes name files, which are not
// shown anyway, so their paths stay.
func redact(src string) string {
	return secretAttr.ReplaceAllStringFunc(src, func(line string) string {
		m := secretAttr.FindStringSubmatch(line)
		if strings.HasSuffix(strings.ToLower(m[2]), "_file") {
			return line
		}
		return m[1] + `"(hidden)"`
	})
}
