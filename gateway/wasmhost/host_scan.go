package wasmhost

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// Content scanning (sdk/ABI.md §4.12): the host speaks the scanner's
// protocol (gateway/scan) and the plugin decides what the result means. A
// plugin may use only the scanners named by its "scan:NAME" grants.

// scanMemo is one scan result of the current call.
type scanMemo struct {
	json   []byte
	result *scan.Result
}

// scanMargin is how long before the hook's deadline a scan stops, so its
// TEMPERROR reaches the plugin while it can still answer.
const (
	scanMargin    = 50 * time.Millisecond
	scanMinMargin = 5 * time.Millisecond
)

// hostScan implements scan(name_ptr, name_len, buf, cap) -> len |
// NOT_FOUND | TEMPERROR.
func hostScan(cs *callState, s []uint64) {
	name := string(cs.read(s[0], s[1], "scanner name"))
	sc := cs.p.scanners[name]
	if sc == nil {
		cs.fail("scanner %q is not granted to this plugin (grants = [\"%s%s\"] and a scanner block)", name, abi.GrantScanPrefix, name)
	}
	ph, ok := cs.phase()
	if !ok || ph != filter.Data || cs.st.Msg == nil {
		s[0] = notFound
		return
	}
	if memo, ok := cs.scans[name]; ok {
		cs.scanLast, cs.scanErr = memo.result, ""
		s[0] = cs.outBytes(s[2], s[3], memo.json)
		return
	}
	ctx, cancel := beforeDeadline(cs.ctx, scanMargin, scanMinMargin)
	defer cancel()
	// The message is written to the scanner's connection straight from
	// the transaction's message: no copy (gateway/scan Message).
	r, err := sc.Scan(ctx, scanEnvelope(cs.st), cs.st.Msg)
	if err != nil {
		stopIfDone(cs.ctx)
		cs.p.log.Debug("scan failed", "scanner", name, "error", err.Error())
		cs.scanLast, cs.scanErr = nil, sanitizeText(err.Error(), maxRefusalText)
		s[0] = tempError
		return
	}
	out, err := json.Marshal(r)
	if err != nil {
		cs.fail("internal error: %v", err)
	}
	if cs.scans == nil {
		cs.scans = map[string]scanMemo{}
	}
	cs.scans[name] = scanMemo{json: out, result: r}
	cs.scanLast, cs.scanErr = r, ""
	s[0] = cs.outBytes(s[2], s[3], out)
}

// scanEnvelope is what the scanner is told besides the message
// (sdk/ABI.md §4.12): the facts rspamd takes as HTTP headers.
func scanEnvelope(st *filter.State) scan.Envelope {
	env := scan.Envelope{Sender: st.From, Recipients: st.Rcpts}
	if sess := st.Session; sess != nil {
		if sess.ClientIP.IsValid() {
			env.ClientIP = sess.ClientIP.Unmap().String()
		}
		env.Helo = sess.Helo
		env.Hostname = sess.ClientName
		env.QueueID = sess.ID
	}
	return env
}

// hostScanValue implements scan_value(key_ptr, key_len, buf, cap) -> len |
// NOT_FOUND: one member of the last scan result of this call (the paths of
// scan.Result.Value), or "error", the reason of the last TEMPERROR.
func hostScanValue(cs *callState, s []uint64) {
	key := string(cs.read(s[0], s[1], "key"))
	if key == abi.ScanKeyError {
		s[0] = cs.outOr(s[2], s[3], cs.scanErr, cs.scanErr != "")
		return
	}
	if cs.scanLast == nil {
		s[0] = notFound
		return
	}
	v, ok := cs.scanLast.Value(key)
	s[0] = cs.outOr(s[2], s[3], v, ok)
}

// isScanGrant reports whether g is a "scan:NAME" grant.
func isScanGrant(g string) bool { return strings.HasPrefix(g, abi.GrantScanPrefix) }
