package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// purge empties the cache, so that every lookup decodes the cookie again.
func (c *identityCache) purge() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// benchManager returns a Manager and the cookie of a typical session.
func benchManager(b *testing.B) (*Manager, *http.Cookie) {
	b.Helper()
	m := testManager(b, nil, nil)
	now := time.Now()
	id := &Identity{SessionID: NewID(), Person: "383663bc-1111-4222-8333-444455556666", JTI: "8f7d4e52-5555-4666-8777-888899990000",
		User: "42", Email: "frank@example.com", Name: "Frank Gallikanokus", Orgs: "100,200", Roles: "100:admin,200:user",
		Created: now, Validated: now, Expires: now.Add(12 * time.Hour)}
	val, err := m.codec.Encode(m.name, id.marshal())
	if err != nil {
		b.Fatal(err)
	}
	return m, &http.Cookie{Name: m.name, Value: val}
}

// BenchmarkSessionCheckCold is decode + verify (HMAC, AES) + unmarshal +
// revocation check of a cookie this process has not seen.
func BenchmarkSessionCheckCold(b *testing.B) {
	m, c := benchManager(b)
	r := httptest.NewRequest("GET", "/x", nil)
	r.AddCookie(c)
	b.ReportAllocs()
	for b.Loop() {
		m.ids.purge()
		if m.Authenticate(nil, r) == nil {
			b.Fatal("no identity")
		}
	}
}

// BenchmarkSessionCheck is the steady state: the cookie was verified before.
func BenchmarkSessionCheck(b *testing.B) {
	m, c := benchManager(b)
	r := httptest.NewRequest("GET", "/x", nil)
	r.AddCookie(&http.Cookie{Name: "_ga", Value: "GA1.2.3456789.123456789"})
	r.AddCookie(c)
	b.ReportAllocs()
	for b.Loop() {
		if m.Authenticate(nil, r) == nil {
			b.Fatal("no identity")
		}
	}
}
