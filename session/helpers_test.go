package session

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testSecret is the secret of testManager's codec.
var testSecret = bytes.Repeat([]byte("k"), 32)

// testManager is a Manager with the cookie name of an https deployment, on
// st and rf (nil: stubs that must not be called), with clock now (nil:
// time.Now).
func testManager(t testing.TB, st Store, rf Refresher, now ...func() time.Time) *Manager {
	t.Helper()
	if st == nil {
		st = nopStore{}
	}
	if rf == nil {
		rf = nopRefresher{}
	}
	cfg := Config{Secrets: [][]byte{testSecret}, Store: st, Refresher: rf, CookieName: "__Host-hubgate", Secure: true}
	if len(now) > 0 {
		cfg.Now = now[0]
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// nopStore and nopRefresher satisfy the interfaces for paths that never
// reach them (a call panics).
type (
	nopStore     struct{ Store }
	nopRefresher struct{ Refresher }
)

// memStore is an in-memory Store with the stores' compare-and-swap rule.
type memStore struct {
	mu      sync.Mutex // guards the fields below
	recs    map[string]Record
	revs    []Revocation
	deleted []string
}

func newMemStore() *memStore { return &memStore{recs: map[string]Record{}} }

func (s *memStore) Session(_ context.Context, id string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r, nil
}

func (s *memStore) PutSession(_ context.Context, rec Record, prev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[rec.ID].Version != prev {
		return ErrConflict
	}
	rec.Version = prev + 1
	s.recs[rec.ID] = rec
	return nil
}

func (s *memStore) DeleteSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, id)
	s.deleted = append(s.deleted, id)
	return nil
}

func (s *memStore) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	return 0, errors.New("memStore: not implemented")
}

func (s *memStore) AddRevocation(_ context.Context, rv Revocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revs = append(s.revs, rv)
	return nil
}

func (s *memStore) Revocations(_ context.Context, now time.Time) ([]Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Revocation(nil), s.revs...), nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
