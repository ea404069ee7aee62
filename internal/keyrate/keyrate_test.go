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

func TestTableBounded(t *testing.T) {
	tb := New(time.Hour, 1, 10)
	tb.Allow("first")
	for i := range 9 {
		tb.Allow(fmt.Sprint(i))
	}
	if tb.Len() != 10 {
		t.Fatalf("Len = %d; want 10", tb.Len())
	}
	if tb.Allow("first") {
		t.Fatal("first allowed twice before the table filled")
	}
	tb.Allow("eleventh") // full: starts over
	if tb.Len() != 1 {
		t.Errorf("Len after overflow = %d; want 1 (started over)", tb.Len())
	}
	if !tb.Allow("first") {
		t.Error("a forgotten key is refused; the table must err towards allowing")
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
