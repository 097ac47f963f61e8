package kv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix = "sluice:"
	// DefaultRedisTimeout bounds one store call (connecting, sending and
	// the reply), far below a hook's deadline (sdk/ABI.md §5), so that a
	// plugin gets TEMPORARY while it still has time to decide.
	DefaultRedisTimeout = 250 * time.Millisecond
	// DefaultRedisProbe is how often a store that is down is probed.
	DefaultRedisProbe = 500 * time.Millisecond
	// DefaultRecount is the least time between two recounts of a
	// namespace's usage (see Redis).
	DefaultRecount = time.Minute
)

// RedisOptions configure NewRedis.
type RedisOptions struct {
	// URL is redis://[user@]host:port/db, rediss://... (TLS) or
	// unix:/path/to/socket[?db=N]. A password in the URL is refused:
	// it comes from PasswordFile.
	URL string
	// PasswordFile, if set, holds the password on its first line, or an
	// ACL user and its password separated by a space ("sluice s3cret").
	PasswordFile string
	// Prefix starts every key; "" means DefaultRedisPrefix. A key is
	// Prefix + namespace + ":" + key.
	Prefix string
	// Timeout bounds each call; 0 means DefaultRedisTimeout.
	Timeout time.Duration
	// Probe is how often a store that is down is probed; 0 means
	// DefaultRedisProbe.
	Probe time.Duration
	// PoolSize caps the connections; 0 means go-redis's default (10 per
	// CPU).
	PoolSize int
	// TLS overrides the TLS configuration of a rediss:// URL (tests use
	// it for a private CA); nil means the system roots.
	TLS *tls.Config
	// Observe, if set, is called after every call with its operation
	// (get, set, incr, delete), its duration and the kind of error: ""
	// for none, "quota" (refused by the quota), "unavailable" (down: not
	// tried), "timeout", "network" or "server".
	Observe func(op string, d time.Duration, kind string)
}

// Redis is a Store kept in a Redis or Valkey server that several gateways
// share. Set, Incr and Delete are Lua scripts, so each is atomic and one
// round trip, expiry included. The quota is approximated: each namespace
// has a usage counter (Prefix + namespace, without the ":") that the
// scripts keep in step with the costs of writes and deletes, but keys
// that expire are not subtracted until the namespace is recounted, which
// happens when a write would exceed the quota (at most once per
// DefaultRecount per namespace); so a namespace may be refused a little
// early, never allowed past its quota by its own writes.
//
// A call that fails for want of the server (refused, timed out) marks the
// store down; while it is down every call fails at once with
// ErrUnavailable, and a probe every Probe brings it back up. go-redis
// reconnects by itself.
type Redis struct {
	c       *redis.Client
	prefix  string
	timeout time.Duration
	observe func(string, time.Duration, string)

	down    atomic.Bool
	lastErr atomic.Value // error: why it went down

	mu      sync.Mutex
	quotas  map[string]int64
	recount map[string]time.Time

	stop chan struct{}
	done chan struct{}
}

// NewRedis connects to the server in opts.URL (lazily: a server that is
// down now is not an error, the store starts down) and returns the store.
func NewRedis(opts RedisOptions) (*Redis, error) {
	o, err := RedisClientOptions(opts)
	if err != nil {
		return nil, err
	}
	r := &Redis{c: redis.NewClient(o), prefix: opts.Prefix, timeout: o.ReadTimeout,
		observe: opts.Observe, quotas: map[string]int64{}, recount: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	probe := opts.Probe
	if probe <= 0 {
		probe = DefaultRedisProbe
	}
	r.Ping()
	go r.prober(probe)
	return r, nil
}

// RedisClientOptions turns opts into go-redis options: URL, credentials,
// timeouts (no retries: a call gets one try within Timeout).
func RedisClientOptions(opts RedisOptions) (*redis.Options, error) {
	u := opts.URL
	if rest, ok := strings.CutPrefix(u, "unix:"); ok && !strings.HasPrefix(rest, "//") {
		u = "unix://" + rest
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if o.Password != "" {
		return nil, errors.New("redis URL: a password does not belong in the URL; use password_file")
	}
	if opts.PasswordFile != "" {
		b, err := os.ReadFile(opts.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password_file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("redis password_file %s: the first line is empty", opts.PasswordFile)
		}
		if user, pass, ok := strings.Cut(line, " "); ok {
			o.Username, o.Password = user, pass
		} else {
			o.Password = line
		}
	}
	if opts.TLS != nil && o.TLSConfig != nil {
		o.TLSConfig = opts.TLS
	}
	t := opts.Timeout
	if t <= 0 {
		t = DefaultRedisTimeout
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = t, t, t, t
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	if opts.PoolSize > 0 {
		o.PoolSize = opts.PoolSize
	}
	return o, nil
}

// Close stops the probe and closes the connections.
func (r *Redis) Close() error {
	close(r.stop)
	<-r.done
	return r.c.Close()
}

// Err returns nil while the store is up, else why it is down.
func (r *Redis) Err() error {
	if !r.down.Load() {
		return nil
	}
	if err, _ := r.lastErr.Load().(error); err != nil {
		return err
	}
	return ErrUnavailable
}

// PoolStats returns the connection pool's counters, for metrics.
func (r *Redis) PoolStats() (total, idle uint32, timeouts uint32) {
	s := r.c.PoolStats()
	return s.TotalConns, s.IdleConns, s.Timeouts
}

// Ping checks the server now and updates the store's state.
func (r *Redis) Ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	err := r.c.Ping(ctx).Err()
	if err != nil {
		r.markDown(err)
		return err
	}
	r.down.Store(false)
	return nil
}

func (r *Redis) prober(iv time.Duration) {
	defer close(r.done)
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if r.down.Load() {
				r.Ping()
			}
		}
	}
}

func (r *Redis) markDown(err error) {
	r.lastErr.Store(err)
	r.down.Store(true)
}

// errKind classifies err for metrics: nil, a server's error reply (the
// server answered), a timeout, or any other failure to talk to it.
func errKind(err error) string {
	var re redis.Error
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, redis.Nil):
		return ""
	case errors.Is(err, ErrQuota):
		return "quota"
	case errors.As(err, &re):
		return "server"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "network"
}

// call runs fn within the timeout, unless the store is down. Any error
// but a script's QUOTA is returned wrapped in ErrUnavailable; a timeout
// or network error marks the store down.
func (r *Redis) call(op string, fn func(ctx context.Context) error) error {
	start := time.Now()
	var err error
	kind := "unavailable"
	if !r.down.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err = fn(ctx)
		cancel()
		kind = errKind(err)
		if kind == "timeout" || kind == "network" {
			r.markDown(err)
		}
	} else {
		err = r.Err()
	}
	if r.observe != nil {
		r.observe(op, time.Since(start), kind)
	}
	switch kind {
	case "":
		return nil
	case "quota":
		return ErrQuota
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (r *Redis) key(ns, key string) string { return r.prefix + ns + ":" + key }

// usageKey is the namespace's usage counter: never a data key, which has
// a ":" and at least one byte after the namespace (plugin names have no
// ":").
func (r *Redis) usageKey(ns string) string { return r.prefix + ns }

// Get implements Store.
func (r *Redis) Get(ns, key string) ([]byte, bool, error) {
	var v []byte
	found := false
	err := r.call("get", func(ctx context.Context) error {
		b, err := r.c.Get(ctx, r.key(ns, key)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		v, found = b, err == nil
		return err
	})
	return v, found, err
}

// The scripts' common arguments: ARGV[1] the quota (0: none), ARGV[2]
// what a key costs beyond its value (EntryOverhead + key length), ARGV[3]
// minValueCost. KEYS[1] is the data key, KEYS[2] the usage counter.
var (
	setScript = redis.NewScript(`
local quota, base, minv = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local oldc = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  oldc = base + math.max(redis.call('STRLEN', KEYS[1]), minv)
end
local grow = base + math.max(#ARGV[4], minv) - oldc
local used = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if quota > 0 and grow > 0 and used + grow > quota then
  return redis.error_reply("SLUICE_QUOTA")
end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[4])
end
if grow ~= 0 then redis.call('INCRBY', KEYS[2], grow) end
return 1
`)
	incrScript = redis.NewScript(`
local quota, base, minv = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local delta, ttl = ARGV[4], tonumber(ARGV[5])
local oldc = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  oldc = base + math.max(redis.call('STRLEN', KEYS[1]), minv)
else
  local used = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  if quota > 0 and used + base + minv > quota then
    return redis.error_reply("SLUICE_QUOTA")
  end
  redis.call('SET', KEYS[1], '0')
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
local ok, res = pcall(redis.call, 'INCRBY', KEYS[1], delta)
if not ok then
  local msg = tostring(res.err or res)
  local n = delta
  if string.find(msg, 'overflow') then
    if tonumber(delta) > 0 then n = '9223372036854775807' else n = '-9223372036854775808' end
  end
  redis.call('SET', KEYS[1], n, 'KEEPTTL')
end
local v = redis.call('GET', KEYS[1])
local grow = base + math.max(#v, minv) - oldc
if grow ~= 0 then redis.call('INCRBY', KEYS[2], grow) end
return v
`)
	deleteScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local c = tonumber(ARGV[2]) + math.max(redis.call('STRLEN', KEYS[1]), tonumber(ARGV[3]))
redis.call('DEL', KEYS[1])
redis.call('DECRBY', KEYS[2], c)
return 1
`)
)

func (r *Redis) quota(ns string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.quotas[ns]
}

// args are the scripts' common arguments for key in ns.
func (r *Redis) args(ns, key string, more ...any) []any {
	return append([]any{r.quota(ns), EntryOverhead + int64(len(key)), minValueCost}, more...)
}

// isQuota reports whether err is a script's QUOTA error reply.
func isQuota(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(re.Error(), "SLUICE_QUOTA")
}

// Set implements Store.
func (r *Redis) Set(ns, key string, val []byte, ttl time.Duration) error {
	return r.retryQuota(ns, "set", func(ctx context.Context) error {
		return setScript.Run(ctx, r.c, []string{r.key(ns, key), r.usageKey(ns)},
			r.args(ns, key, val, ttl.Milliseconds())...).Err()
	})
}

// Incr implements Store. The sum saturates at the int64 range.
func (r *Redis) Incr(ns, key string, delta int64, ttl time.Duration) (int64, error) {
	var n int64
	err := r.retryQuota(ns, "incr", func(ctx context.Context) error {
		s, err := incrScript.Run(ctx, r.c, []string{r.key(ns, key), r.usageKey(ns)},
			r.args(ns, key, delta, ttl.Milliseconds())...).Text()
		if err == nil {
			n, _ = strconv.ParseInt(s, 10, 64)
		}
		return err
	})
	return n, err
}

// Delete implements Store.
func (r *Redis) Delete(ns, key string) (bool, error) {
	var gone bool
	err := r.call("delete", func(ctx context.Context) error {
		n, err := deleteScript.Run(ctx, r.c, []string{r.key(ns, key), r.usageKey(ns)},
			r.args(ns, key)...).Int()
		gone = n == 1
		return err
	})
	return gone, err
}

// retryQuota runs a write; when the script refuses it for the quota, the
// namespace is recounted (at most once per DefaultRecount) and the write
// tried again, since expired keys may have left the counter high.
func (r *Redis) retryQuota(ns, op string, fn func(ctx context.Context) error) error {
	quota := func(ctx context.Context) error {
		if err := fn(ctx); isQuota(err) {
			return ErrQuota
		} else {
			return err
		}
	}
	err := r.call(op, quota)
	if !errors.Is(err, ErrQuota) || !r.dueRecount(ns) {
		return err
	}
	if err := r.Recount(ns); err != nil {
		return ErrQuota
	}
	return r.call(op, quota)
}

func (r *Redis) dueRecount(ns string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.recount[ns]; ok && time.Since(t) < DefaultRecount {
		return false
	}
	r.recount[ns] = time.Now()
	return true
}

// Recount sets the usage counter of ns to the cost of its live keys. It
// scans the namespace, so it is for a refused write and for tests; writes
// running at the same time may be miscounted by their own cost.
func (r *Redis) Recount(ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*r.timeout+time.Second)
	defer cancel()
	var used int64
	pattern := globEscape(r.prefix+ns+":") + "*"
	iter := r.c.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		pipe := r.c.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.StrLen(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i, k := range keys {
			if n, err := cmds[i].Result(); err == nil {
				used += EntryOverhead + int64(len(k)-len(r.prefix)-len(ns)-1) + max(n, minValueCost)
			}
		}
		keys = keys[:0]
		return nil
	}
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return r.c.Set(ctx, r.usageKey(ns), used, 0).Err()
}

// Usage returns the usage counter of ns and its quota.
func (r *Redis) Usage(ns string) (used, quota int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	used, err = r.c.Get(ctx, r.usageKey(ns)).Int64()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return used, r.quota(ns), err
}

// SetQuota implements Store.
func (r *Redis) SetQuota(ns string, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.quotas[ns] = max(bytes, 0)
}

// globEscape escapes the glob characters of a SCAN pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
