package oidchub

import (
	"sync"
	"time"
)

// memoMax bounds each memo: past it, expired entries go first, then the
// one that expires soonest.
const memoMax = 10000

// memo is a bounded map whose entries expire. It holds what the provider
// said lately, never anything durable: a restart empties it, and the
// provider is asked again (userinfo) or the feature degrades (no
// id_token_hint).
type memo[V any] struct {
	mu sync.Mutex // guards m
	m  map[string]memoEntry[V]
}

type memoEntry[V any] struct {
	v     V
	until time.Time
}

func newMemo[V any]() *memo[V] { return &memo[V]{m: map[string]memoEntry[V]{}} }

func (c *memo[V]) put(k string, v V, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= memoMax {
		c.evictLocked(now)
	}
	c.m[k] = memoEntry[V]{v: v, until: until}
}

// evictLocked makes room for one entry.
func (c *memo[V]) evictLocked(now time.Time) {
	soonest := ""
	for k, e := range c.m {
		if e.until.Before(now) {
			delete(c.m, k)
		} else if soonest == "" || e.until.Before(c.m[soonest].until) {
			soonest = k
		}
	}
	if len(c.m) >= memoMax {
		delete(c.m, soonest)
	}
}

func (c *memo[V]) get(k string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *memo[V]) drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
