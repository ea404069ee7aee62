// Package keyrate keeps one token bucket (golang.org/x/time/rate) per key —
// a client address, an email — in a bounded table, for the rate limits of
// the public pages (package proxy) and the dashboard login (package admin).
// It owns the table and its bound; it never chooses a limit or a key (its
// callers do) and keeps nothing across restarts.
package keyrate

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Table hands out the bucket of a key, creating it full on first use. It
// remembers at most max keys: when full it starts over, which only ever errs
// towards allowing (a forgotten key gets a full bucket again). A nil *Table
// hands out nil, and callers treat that as "no limit".
type Table struct {
	mu    sync.Mutex // guards m
	m     map[string]*rate.Limiter
	every time.Duration
	burst int
	max   int
}

// New returns a table of buckets that refill one token every `every` and
// hold burst tokens, remembering at most max keys.
func New(every time.Duration, burst, max int) *Table {
	return &Table{m: make(map[string]*rate.Limiter), every: every, burst: burst, max: max}
}

// Get returns key's bucket.
func (t *Table) Get(key string) *rate.Limiter {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	lim, ok := t.m[key]
	if !ok {
		if len(t.m) >= t.max {
			clear(t.m)
		}
		lim = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.m[key] = lim
	}
	return lim
}

// Allow reports whether key may act now, taking a token if so. A nil table
// allows everything.
func (t *Table) Allow(key string) bool {
	if t == nil {
		return true
	}
	return t.Get(key).Allow()
}

// Len is the number of keys remembered.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
