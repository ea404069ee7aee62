package session

import (
	"sync"
	"time"
)

// retryTable remembers, per session, when revalidation may be tried again
// after the hub failed. It is bounded like the rate limiters: when full it starts over
// (those sessions then ask the hub once more, no harm).
type retryTable struct {
	mu sync.Mutex // guards m
	m  map[string]time.Time
}

const retryTableMax = 50000

// wait reports whether sid should not try the hub yet: a retry time is set
// and lies ahead, and the grace period is not over.
func (t *retryTable) wait(sid string, now, graceEnd time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.m[sid]
	if !ok {
		return false
	}
	if now.Before(at) && now.Before(graceEnd) {
		return true
	}
	delete(t.m, sid)
	return false
}

func (t *retryTable) after(sid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= retryTableMax {
		t.m = make(map[string]time.Time)
	}
	t.m[sid] = at
}

func (t *retryTable) forget(sid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, sid)
}
