package zaikio

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache maps exact bearer token values to their verification, so that
// a token's signature is checked once per process rather than once per
// request. Entries are keyed by a keyed 64-bit hash (a random seed per
// process, so callers cannot aim at collisions) and hold the raw value,
// which a hit compares in full: a colliding token is simply a miss. It is
// bounded: a full shard first drops its expired entries, and if that is not
// enough it is emptied (those tokens are verified again on their next use).
type tokenCache struct {
	seed     maphash.Seed
	shardMax int // 0: the cache is off
	shards   [32]tokenShard
}

type tokenShard struct {
	mu sync.RWMutex // guards m
	m  map[uint64]*cachedToken
}

// cachedToken is one verified token. It never changes once cached.
type cachedToken struct {
	raw    string
	tok    *AccessToken
	keyGen uint64 // the key set's dropGen when verified
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed()}
	if size <= 0 {
		return c
	}
	c.shardMax = max(1, size/len(c.shards))
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cachedToken)
	}
	return c
}

func (c *tokenCache) locate(raw string) (*tokenShard, uint64) {
	h := maphash.String(c.seed, raw)
	return &c.shards[h%uint64(len(c.shards))], h
}

// get returns the entry for raw, or nil.
func (c *tokenCache) get(raw string) *cachedToken {
	if c.shardMax == 0 {
		return nil
	}
	sh, h := c.locate(raw)
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	if e == nil || e.raw != raw {
		return nil
	}
	return e
}

func (c *tokenCache) put(e *cachedToken, now time.Time) {
	if c.shardMax == 0 {
		return
	}
	sh, h := c.locate(e.raw)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.shardMax {
		for k, old := range sh.m {
			if !now.Before(old.tok.Expiry) {
				delete(sh.m, k)
			}
		}
		if len(sh.m) >= c.shardMax {
			clear(sh.m)
		}
	}
	sh.m[h] = e
}

// drop forgets raw's entry.
func (c *tokenCache) drop(raw string) {
	if c.shardMax == 0 {
		return
	}
	sh, h := c.locate(raw)
	sh.mu.Lock()
	if e := sh.m[h]; e != nil && e.raw == raw {
		delete(sh.m, h)
	}
	sh.mu.Unlock()
}
