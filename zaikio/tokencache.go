package zaikio

import (
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache maps exact bearer token values to their verification, so that
// a token's signature is checked once per process rather than once per
// request. Entries are keyed by a keyed 64-bit hash (a random seed per
// process) of the token's last hashTail bytes, which lie in its RS256
// signature and so differ between any two tokens the hub signed; an entry
// holds the raw value, which a hit compares in full, so a colliding token
// is simply a miss. Only verified tokens are ever stored. Lookups take no
// lock and write no shared memory: each shard's map is immutable and
// replaced whole by a writer (a copy per newly verified token, cheap next
// to the RSA check that precedes it). It is bounded: a full shard first
// drops its expired entries, and if that is not enough it starts over
// empty (those tokens are verified again on their next use).
type tokenCache struct {
	seed     maphash.Seed
	shardMax int // 0: the cache is off
	shards   [32]tokenShard
}

type tokenShard struct {
	mu sync.Mutex // serializes writers of m
	m  atomic.Pointer[map[uint64]*cachedToken]
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
		c.shards[i].m.Store(&map[uint64]*cachedToken{})
	}
	return c
}

// hashTail is how much of a token's end is hashed: hashing all of a 1 KiB
// token costs as much as the rest of a cached lookup.
const hashTail = 64

func (c *tokenCache) locate(raw string) (*tokenShard, uint64) {
	h := maphash.String(c.seed, raw[max(0, len(raw)-hashTail):])
	return &c.shards[h%uint64(len(c.shards))], h
}

// get returns the entry for raw, or nil.
func (c *tokenCache) get(raw string) *cachedToken {
	if c.shardMax == 0 {
		return nil
	}
	sh, h := c.locate(raw)
	e := (*sh.m.Load())[h]
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
	old := *sh.m.Load()
	next := make(map[uint64]*cachedToken, min(len(old)+1, c.shardMax))
	if len(old) < c.shardMax {
		maps.Copy(next, old)
	} else {
		for k, v := range old {
			if now.Before(v.tok.Expiry) {
				next[k] = v
			}
		}
		if len(next) >= c.shardMax {
			clear(next)
		}
	}
	next[h] = e
	sh.m.Store(&next)
}

// drop forgets raw's entry.
func (c *tokenCache) drop(raw string) {
	if c.shardMax == 0 {
		return
	}
	sh, h := c.locate(raw)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *sh.m.Load()
	if e := old[h]; e == nil || e.raw != raw {
		return
	}
	next := maps.Clone(old)
	delete(next, h)
	sh.m.Store(&next)
}
