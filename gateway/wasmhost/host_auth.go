package wasmhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/msgauth"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// DKIM signing (sdk/ABI.md §4.10) and message authentication (§4.11). The
// private keys stay in the host; the plugin names a granted key and the host
// signs the message as it is at that moment.

// refused is the REFUSED result (sdk/ABI.md §4) as a stack value.
var refused = api.EncodeI32(abi.ErrRefused)

// maxRefusalText bounds the reason dkim_sign writes (sdk/ABI.md §4.10).
const maxRefusalText = 256

// maxSignOpts bounds the JSON options of dkim_sign.
const maxSignOpts = 16 << 10

// signOpts is the JSON object of dkim_sign's options.
type signOpts struct {
	Headers          []string `json:"headers"`
	Canonicalization string   `json:"canonicalization"`
	Expiration       int64    `json:"expiration"`
}

// hostDKIMSign implements dkim_sign(name_ptr, name_len, opts_ptr, opts_len,
// buf, cap) -> 0 | REFUSED.
func hostDKIMSign(cs *callState, s []uint64) {
	m, err := cs.c.Message(abi.FnDKIMSign)
	cs.check(err)
	name := string(cs.read(s[0], s[1], "key name"))
	k := cs.p.dkim[name]
	if k == nil {
		cs.fail("DKIM key %q is not granted to this plugin (grants = [\"%s%s\"] and a dkim_key block)", name, abi.GrantDKIMPrefix, name)
	}
	var o signOpts
	raw := cs.read(s[2], s[3], "options")
	if len(raw) > maxSignOpts {
		cs.fail("options of %d bytes are above the limit of %d", len(raw), maxSignOpts)
	}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			cs.fail("invalid options: %v", err)
		}
	}
	if !dkimsign.ValidCanonicalization(o.Canonicalization) {
		cs.fail("unknown canonicalization %q", o.Canonicalization)
	}
	if o.Expiration < 0 || o.Expiration > 10*365*24*3600 {
		cs.fail("expiration %d is out of range", o.Expiration)
	}
	for _, h := range o.Headers {
		if err := message.ValidName([]byte(h)); err != nil {
			cs.fail("headers: %v", err)
		}
	}
	if cs.c.BodyChanged() {
		// The body this call wrote is checked when the hook returns; a
		// signature must not cover one that would then be refused.
		if err := message.ValidBody(m.Body); err != nil {
			cs.fail("the body written by this call is invalid: %v", err)
		}
	}
	// Hashing a large body is the one slow part: it stops at the call's
	// deadline, and the call then ends as a timeout.
	f, err := dkimsign.SignContext(cs.ctx, m, k, dkimsign.Options{
		Headers: o.Headers, Canonicalization: o.Canonicalization,
		Expiration: time.Duration(o.Expiration) * time.Second,
	})
	var ref *dkimsign.Refusal
	switch {
	case errors.As(err, &ref):
		s[0] = cs.refuse(s[4], s[5], ref.Reason)
		return
	case err != nil:
		stopIfDone(cs.ctx)
		cs.fail("signing failed: %v", err)
	}
	cs.check(cs.c.PrependField(abi.FnDKIMSign, f))
	s[0] = 0
}

// refuse copies as much of reason as fits into the guest buffer and returns
// REFUSED.
func (cs *callState) refuse(buf, capv uint64, reason string) uint64 {
	reason = sanitizeText(reason, maxRefusalText)
	c := min(cs.length(capv, "buffer capacity"), len(reason))
	if !cs.mem.WriteString(api.DecodeU32(buf), reason[:c]) {
		cs.fail("buffer (ptr %d, cap %d) is outside the plugin's memory (%d bytes)",
			api.DecodeU32(buf), c, cs.mem.Size())
	}
	return refused
}

// sanitizeText keeps printable ASCII, at most n bytes.
func sanitizeText(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c >= ' ' && c <= '~' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// authMargin is how long before the hook's deadline auth_check stops
// looking up, so its temperror results reach the plugin in time.
const (
	authMargin    = 50 * time.Millisecond
	authMinMargin = 5 * time.Millisecond
)

// beforeDeadline is ctx ending a margin before its deadline, so a lookup's
// or a scan's temporary error reaches the plugin while it can still
// answer: the margin is a fifth of the time left, at least minMargin and
// at most maxMargin. Without a deadline it is ctx. Like the call's own
// context it arms nothing until something waits on it (marginCtx).
func beforeDeadline(ctx context.Context, maxMargin, minMargin time.Duration) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	margin := min(maxMargin, max(minMargin, time.Until(dl)/5))
	c := &marginCtx{parent: ctx, deadline: dl.Add(-margin)}
	return c, c.stop
}

// marginCtx is context.WithDeadline(parent, deadline) made on demand.
// auth_check answered from the resolver's cache, the common case, only
// asks Err, which reads the clock and the parent; making the real context
// up front armed a timer and registered with the call's context, arming
// its timer too, on every message (RATIONALE.md, "A hook call arms no
// timer"). Done, and AfterFunc for contexts derived from this one, make
// it.
type marginCtx struct {
	parent   context.Context
	deadline time.Time

	mu      sync.Mutex
	real    context.Context // made by Done
	cancel  context.CancelFunc
	stopped bool
}

func (c *marginCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *marginCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *marginCtx) Err() error {
	c.mu.Lock()
	real, stopped := c.real, c.stopped
	c.mu.Unlock()
	switch {
	case real != nil:
		return real.Err()
	case stopped:
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *marginCtx) Done() <-chan struct{} { return c.made().Done() }

// AfterFunc registers f with the real context, so that contexts derived
// from this one need no goroutine (the context package's AfterFunc hook).
func (c *marginCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.made(), f) }

// made returns the real context, making it on first use.
func (c *marginCtx) made() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real == nil {
		c.real, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.stopped {
			c.cancel()
		}
	}
	return c.real
}

// stop is the CancelFunc.
func (c *marginCtx) stop() {
	c.mu.Lock()
	c.stopped = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// hostAuthCheck implements auth_check(checks, buf, cap) -> len | NOT_FOUND.
func hostAuthCheck(cs *callState, s []uint64) {
	checks := api.DecodeI32(s[0])
	all := abi.AuthSPF | abi.AuthDKIM | abi.AuthDMARC
	if checks == 0 || checks&^all != 0 {
		cs.fail("invalid checks %d (1 SPF, 2 DKIM, 4 DMARC)", checks)
	}
	ph, ok := cs.phase()
	if !ok || ph < filter.Mail || (checks&^abi.AuthSPF != 0 && ph != filter.Data) {
		s[0] = notFound
		return
	}
	if memo, ok := cs.auth[checks]; ok {
		cs.authLast = memo.result
		s[0] = cs.outBytes(s[1], s[2], memo.json)
		return
	}
	st := cs.st
	in := msgauth.Input{Helo: st.Session.Helo, MailFrom: st.From}
	if st.Session.ClientIP.IsValid() {
		in.ClientIP = net.IP(st.Session.ClientIP.Unmap().AsSlice())
	}
	if ph == filter.Data {
		in.Message = st.Msg
	}
	ctx, cancel := beforeDeadline(cs.ctx, authMargin, authMinMargin)
	defer cancel()
	r := msgauth.Evaluate(ctx, in, msgauth.Checks(checks), msgauth.Options{Resolver: cs.p.dns})
	out, err := json.Marshal(r)
	if err != nil {
		cs.fail("internal error: %v", err)
	}
	if cs.auth == nil {
		cs.auth = map[int32]authMemo{}
	}
	cs.auth[checks] = authMemo{json: out, result: &r}
	cs.authLast = &r
	s[0] = cs.outBytes(s[1], s[2], out)
}

// authMemo is one auth_check result of the current call.
type authMemo struct {
	json   []byte
	result *msgauth.Result
}

// hostAuthValue implements auth_value(key_ptr, key_len, buf, cap) -> len |
// NOT_FOUND: one member of the last auth_check result of this call, so a
// plugin need not parse JSON (byte loops are costly in a guest).
func hostAuthValue(cs *callState, s []uint64) {
	key := string(cs.read(s[0], s[1], "key"))
	if cs.authLast == nil {
		s[0] = notFound
		return
	}
	v, ok := authField(cs.authLast, key)
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.out(s[2], s[3], v)
}

// authField returns the member of r named by a key of sdk/ABI.md §4.11
// (the abi.AuthKey* and member constants).
func authField(r *msgauth.Result, key string) (string, bool) {
	switch {
	case key == abi.AuthKeyResInfo:
		return r.ResInfo, true
	case key == abi.AuthKeyDKIMCount:
		if r.DKIM == nil {
			return "", false
		}
		return strconv.Itoa(len(r.DKIM)), true
	case strings.HasPrefix(key, abi.AuthKeySPF):
		if r.SPF == nil {
			return "", false
		}
		return member(key[len(abi.AuthKeySPF):], map[string]string{
			abi.AuthResult: r.SPF.Result, abi.AuthIdentity: r.SPF.Identity, abi.AuthDomain: r.SPF.Domain,
			abi.AuthSender: r.SPF.Sender, abi.AuthReason: r.SPF.Reason,
		})
	case strings.HasPrefix(key, abi.AuthKeyDKIM):
		idx, m, _ := strings.Cut(key[len(abi.AuthKeyDKIM):], ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(r.DKIM) || idx != strconv.Itoa(i) {
			return "", false
		}
		d := r.DKIM[i]
		return member(m, map[string]string{
			abi.AuthResult: d.Result, abi.AuthDomain: d.Domain, abi.AuthSelector: d.Selector,
			abi.AuthIdentifier: d.Identifier, abi.AuthAlgorithm: d.Algorithm, abi.AuthSignature: d.Signature,
			abi.AuthReason: d.Reason,
		})
	case strings.HasPrefix(key, abi.AuthKeyDMARC):
		d := r.DMARC
		if d == nil {
			return "", false
		}
		return member(key[len(abi.AuthKeyDMARC):], map[string]string{
			abi.AuthResult: d.Result, abi.AuthFromDomain: d.FromDomain, abi.AuthPolicyDomain: d.PolicyDomain,
			abi.AuthPolicy: d.Policy, abi.AuthPercent: strconv.Itoa(d.Percent),
			abi.AuthSPFAligned: strconv.FormatBool(d.SPFAligned), abi.AuthDKIMAligned: strconv.FormatBool(d.DKIMAligned),
			abi.AuthReason: d.Reason,
		})
	}
	return "", false
}

// member looks a member up.
func member(name string, members map[string]string) (string, bool) {
	v, ok := members[name]
	return v, ok
}

// dkimKeyList is the value of info "dkim.keys" (sdk/ABI.md §4.2).
func (p *Plugin) dkimKeyList() string {
	names := make([]string, 0, len(p.dkim))
	for n := range p.dkim {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		k := p.dkim[n]
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Join([]string{k.Name, k.Domain, k.Selector, k.Algorithm}, " "))
	}
	return b.String()
}
