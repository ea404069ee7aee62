package session

import (
	"hash/maphash"
	"sync"
)

// identityCache maps exact, already verified cookie values to their decoded
// identity, so that a session's cookie is decrypted and verified once per
// process rather than once per request. It is bounded: a full shard is
// emptied (sessions re-decode on their next request).
type identityCache struct {
	seed   maphash.Seed
	shards [16]identityShard
}

type identityShard struct {
	mu sync.RWMutex // guards m
	m  map[string]*Identity
}

const identityShardMax = 1024

func newIdentityCache() *identityCache {
	c := &identityCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Identity)
	}
	return c
}

func (c *identityCache) shard(key string) *identityShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

func (c *identityCache) get(key string) *Identity {
	sh := c.shard(key)
	sh.mu.RLock()
	id := sh.m[key]
	sh.mu.RUnlock()
	return id
}

func (c *identityCache) put(key string, id *Identity) {
	sh := c.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= identityShardMax {
		clear(sh.m)
	}
	sh.m[key] = id
	sh.mu.Unlock()
}
