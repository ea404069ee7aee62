// Package keyrate keeps one token bucket (golang.org/x/time/rate) per key —
// a client, an email — in a table of bounded size, for the rate limits of
// the public pages (package proxy) and the dashboard login (package admin).
// It also says what a client is (ClientKey): an IPv4 address, or an IPv6
// prefix. It never decides what a limit counts; its callers do (DESIGN §3:
// limits count abuse, not success), and keeps nothing across restarts.
package keyrate

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultIPv6Prefix is the IPv6 prefix length that makes one client: a
// single subscriber usually holds a whole /64, and often more.
const DefaultIPv6Prefix = 64

// ClientKey is the key of a client address for per-client limits: an IPv4
// address as it stands, an IPv4-mapped IPv6 address as its IPv4 address,
// and any other IPv6 address as its prefix of v6Bits bits (zone dropped),
// so that a client cannot escape its limit by using another address of its
// network. v6Bits outside 1..128 means DefaultIPv6Prefix. A string that is
// not an address is its own key.
func ClientKey(addr string, v6Bits int) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	if v6Bits < 1 || v6Bits > 128 {
		v6Bits = DefaultIPv6Prefix
	}
	p, err := a.Prefix(v6Bits)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// evictScan bounds how many of the least recently used keys a full table
// looks at to choose the one to forget, so that a flood of new keys costs
// constant time per key.
const evictScan = 32

// Table hands out the bucket of a key, creating it full on first use. It
// remembers at most max keys. When it is full, a new key pushes out one of
// the evictScan least recently used keys: the first whose bucket is full
// (forgetting it changes nothing: a new bucket starts full), else the one
// nearest to full. So a flood of new keys, each of which spends a token,
// does not reset a key that has spent more: the limited key stays.
//
// What remains: an attacker who holds more than max keys and keeps the
// buckets of the least recently used ones at least as empty as a victim
// key's (about max requests, and evictScan × burst more, within the time
// the victim's bucket takes to refill) gets the victim key forgotten. With
// ClientKey's /64 keys that takes max distinct /64 networks; choose max
// above the number of clients an attacker can plausibly muster within one
// refill time. A nil *Table hands out nil, and callers treat that as "no
// limit".
type Table struct {
	mu    sync.Mutex               // guards m and order
	m     map[string]*list.Element // key → element of order holding an *entry
	order list.List                // most recently used first
	every time.Duration
	burst int
	max   int
	now   func() time.Time // the clock; tests set it
}

// entry is one key's bucket.
type entry struct {
	key string
	lim *rate.Limiter
}

// New returns a table of buckets that refill one token every `every` and
// hold burst tokens, remembering at most maxKeys keys (at least 1).
func New(every time.Duration, burst, maxKeys int) *Table {
	return &Table{m: make(map[string]*list.Element), every: every, burst: burst, max: max(maxKeys, 1), now: time.Now}
}

// PerMinute returns a table of buckets that hold n tokens and refill n a
// minute (n > 0), or nil — no limit — for n ≤ 0. now is the clock the
// buckets refill by; nil means time.Now.
func PerMinute(n, maxKeys int, now func() time.Time) *Table {
	if n <= 0 {
		return nil
	}
	t := New(time.Minute/time.Duration(n), n, maxKeys)
	if now != nil {
		t.now = now
	}
	return t
}

// Get returns key's bucket and marks key as used now.
func (t *Table) Get(key string) *rate.Limiter {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[key]; ok {
		t.order.MoveToFront(el)
		return el.Value.(*entry).lim
	}
	if len(t.m) >= t.max {
		t.evict()
	}
	e := &entry{key: key, lim: rate.NewLimiter(rate.Every(t.every), t.burst)}
	t.m[key] = t.order.PushFront(e)
	return e.lim
}

// evict forgets one key (see Table). t.mu is held.
func (t *Table) evict() {
	now := t.now()
	var victim *list.Element
	most := -1.0
	el := t.order.Back()
	for i := 0; el != nil && i < evictScan; i, el = i+1, el.Prev() {
		tokens := el.Value.(*entry).lim.TokensAt(now)
		if tokens >= float64(t.burst) {
			victim = el
			break
		}
		if tokens > most {
			victim, most = el, tokens
		}
	}
	if victim == nil {
		return
	}
	delete(t.m, victim.Value.(*entry).key)
	t.order.Remove(victim)
}

// Allow reports whether key may act now, taking a token if so. A nil table
// allows everything.
func (t *Table) Allow(key string) bool {
	if t == nil {
		return true
	}
	lim := t.Get(key)
	return lim.AllowN(t.now(), 1)
}

// Give puts back one token that key took with Allow, for an act that turned
// out not to count (it succeeded), also when it was taken in an earlier
// request. A key the table no longer remembers has a full bucket already;
// a bucket never holds more than its burst.
func (t *Table) Give(key string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	el, ok := t.m[key]
	t.mu.Unlock()
	if !ok {
		return
	}
	// rate.Limiter can cancel a reservation only at the moment it was made;
	// AllowN with n = -1 adds one token instead, and the limiter caps its
	// tokens at burst whenever it next counts them (TestTableGive holds it
	// to that).
	el.Value.(*entry).lim.AllowN(t.now(), -1)
}

// Len is the number of keys remembered.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
