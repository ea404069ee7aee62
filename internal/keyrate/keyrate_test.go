package keyrate

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestTablePerKey(t *testing.T) {
	tb := New(time.Hour, 3, 100)
	for i := range 3 {
		if !tb.Allow("a") {
			t.Fatalf("try %d of a refused; want the first 3 allowed", i+1)
		}
	}
	if tb.Allow("a") {
		t.Error("4th try of a allowed; want refused (burst 3, refill 1/h)")
	}
	if !tb.Allow("b") {
		t.Error("b refused after a used its bucket; want buckets per key")
	}
	if tb.Get("a") != tb.Get("a") {
		t.Error("Get(a) returns a new bucket each time")
	}
}

// fakeClock is a settable clock for a table's buckets.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newAt(c *fakeClock, every time.Duration, burst, max int) *Table {
	tb := New(every, burst, max)
	tb.now = c.now
	return tb
}

// TestTableBounded: a full table forgets one key to make room for a new
// one, never all of them, and a forgotten key gets a full bucket again.
func TestTableBounded(t *testing.T) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	tb := newAt(c, time.Minute, 2, 10)
	for i := range 10 {
		tb.Allow(fmt.Sprint(i))
	}
	if tb.Len() != 10 {
		t.Fatalf("Len = %d; want 10", tb.Len())
	}
	c.advance(time.Minute) // every bucket has refilled
	tb.Allow("eleventh")
	if tb.Len() != 10 {
		t.Errorf("Len after one more key = %d; want 10 (one forgotten, not all)", tb.Len())
	}
	for range 1000 {
		tb.Allow(fmt.Sprint("flood-", c.t.UnixNano()))
		c.advance(time.Millisecond)
	}
	if tb.Len() != 10 {
		t.Errorf("Len after a flood = %d; want 10 (bounded)", tb.Len())
	}
}

// TestTableFloodKeepsLimitedKey: an attacker who spent its budget cannot
// get it back by filling the table with new keys (before, the table
// cleared itself when full and every limit started over). Each flooding
// key spends a token, as a real request would. (Real clock: the flood
// takes milliseconds, a token refills in a minute.)
func TestTableFloodKeepsLimitedKey(t *testing.T) {
	tb := New(time.Minute, 5, 100)
	for range 5 {
		tb.Allow("attacker")
	}
	if tb.Allow("attacker") {
		t.Fatal("attacker allowed a 6th time; want its burst of 5 spent")
	}
	for i := range 10 * 100 {
		tb.Allow(fmt.Sprint("flood-", i))
	}
	if tb.Allow("attacker") {
		t.Error("attacker allowed again after 1,000 new keys; want still limited")
	}
	if tb.Len() > 100 {
		t.Errorf("Len = %d; want at most 100", tb.Len())
	}
}

// TestTablePrefersFullBuckets: of the least recently used keys, a full
// table forgets one whose bucket is full (nothing to forget) before one
// that still owes tokens, even when the owing one was used longer ago.
func TestTablePrefersFullBuckets(t *testing.T) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	tb := newAt(c, time.Second, 10, 3)
	for range 10 {
		tb.Allow("drained") // least recently used, owes 10 tokens (10 s)
	}
	tb.Allow("light-a") // owes 1 token (1 s)
	tb.Allow("light-b")
	c.advance(2 * time.Second) // the light ones are full again; drained owes 8
	tb.Allow("new")
	if tb.Get("drained").TokensAt(c.t) >= 10 {
		t.Fatal("the drained key was forgotten (full bucket); want a full key forgotten instead")
	}
	if tb.Allow("drained") && tb.Allow("drained") && tb.Allow("drained") {
		t.Fatal("the drained key has 3 tokens after 2 s; want 2")
	}
}

// TestTableGive: a token given back can be spent again, a bucket never holds
// more than its burst however much is given back, and giving to an unknown
// key creates nothing.
func TestTableGive(t *testing.T) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	tb := newAt(c, time.Hour, 3, 100)
	for range 3 {
		tb.Allow("a")
	}
	tb.Give("a")
	if !tb.Allow("a") {
		t.Fatal("a token given back cannot be spent")
	}
	if tb.Allow("a") {
		t.Fatal("two tokens spent after one was given back")
	}
	for range 10 {
		tb.Give("a")
	}
	for i := range 4 {
		if got := tb.Allow("a"); got != (i < 3) {
			t.Fatalf("after giving back 10: try %d allowed = %v; want the burst of 3 and no more", i+1, got)
		}
	}
	tb.Give("unknown")
	if tb.Len() != 1 {
		t.Errorf("Len = %d after Give to an unknown key; want 1", tb.Len())
	}
	var nilTable *Table
	nilTable.Give("x") // no panic
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		addr string
		bits int
		want string
	}{
		{"198.51.100.7", 64, "198.51.100.7"},
		{"::ffff:198.51.100.7", 64, "198.51.100.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"2001:db8::1", 0, "2001:db8::/64"},
		{"2001:db8::1", 129, "2001:db8::/64"},
		{"not an address", 64, "not an address"},
	} {
		if got := ClientKey(tc.addr, tc.bits); got != tc.want {
			t.Errorf("ClientKey(%q, %d) = %q; want %q", tc.addr, tc.bits, got, tc.want)
		}
	}
}

func TestPerMinute(t *testing.T) {
	if PerMinute(0, 10, nil) != nil || PerMinute(-1, 10, nil) != nil {
		t.Error("PerMinute(n ≤ 0) is a table; want nil (no limit)")
	}
	c := &fakeClock{t: time.Unix(1e9, 0)}
	tb := PerMinute(20, 10, c.now)
	for i := range 21 {
		if got := tb.Allow("k"); got != (i < 20) {
			t.Fatalf("PerMinute(20) try %d allowed = %v; want 20 at once, then no", i+1, got)
		}
	}
	c.advance(3 * time.Second)
	if !tb.Allow("k") || tb.Allow("k") {
		t.Error("PerMinute(20) after 3 s: want exactly one more (its clock, not the wall clock)")
	}
}

func TestTableNil(t *testing.T) {
	var tb *Table
	for range 100 {
		if !tb.Allow("x") {
			t.Fatal("nil table refused; want no limit")
		}
	}
	if tb.Get("x") != nil {
		t.Error("nil table handed out a bucket")
	}
}

func TestTableConcurrent(t *testing.T) {
	tb := New(time.Hour, 50, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if tb.Allow("shared") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("%d of 160 concurrent tries allowed; want exactly the burst, 50", allowed)
	}
}
