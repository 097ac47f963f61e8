package dns

import (
	"sync"
	"time"
)

// cacheEntry is one cached answer: records, or a negative answer (notFound).
type cacheEntry struct {
	records  []string
	notFound bool
	expires  time.Time
}

// cache is a bounded map of answers keyed by "qtype name". When full, it
// drops expired entries, then an arbitrary entry.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[string]cacheEntry
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[string]cacheEntry)}
}

func (c *cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(c.m, key)
		return cacheEntry{}, false
	}
	return e, true
}

func (c *cache) put(key string, e cacheEntry, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, v := range c.m {
			if !now.Before(v.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

// len reports the number of entries, for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
