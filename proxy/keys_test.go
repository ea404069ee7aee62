package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/bolt"
)

// staleKeys makes the first SigningKeys call answer as if the store were
// empty: a replica that read the store just before another stored its key.
type staleKeys struct {
	Store
	reads atomic.Int32
}

func (s *staleKeys) SigningKeys(ctx context.Context) ([]assertion.Key, error) {
	if s.reads.Add(1) == 1 {
		return nil, nil
	}
	return s.Store.SigningKeys(ctx)
}

func keyServer(t *testing.T, st Store, now time.Time) *Server {
	t.Helper()
	s, err := New(Config{
		PublicURL: "https://app.example.com", Upstream: "http://legacy.internal", Hub: nopHub{}, Store: st,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("k"), 32)}, Transport: memUpstream{body: []byte("ok")},
		Claims: &claim.Service{Store: st}, Assertion: true, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start = %v", err)
	}
	return s
}

func jwksOf(t *testing.T, s *Server) jose.JSONWebKeySet {
	t.Helper()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/_hubgate/jwks.json", nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatalf("jwks.json: %v\n%s", err, w.Body)
	}
	return set
}

// TestSigningKeyRaceConverges: two replicas starting on an empty store at
// the same time, the second having read the store before the first stored
// its key, end up with the same one key: same JWKS, and an assertion signed
// by either verifies with the other's JWKS.
func TestSigningKeyRaceConverges(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "keys.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 26, 9, 30, 15, 0, time.UTC)
	a := keyServer(t, db, now)
	b := keyServer(t, &staleKeys{Store: db}, now.Add(20*time.Second))

	ja, jb := jwksOf(t, a), jwksOf(t, b)
	if len(ja.Keys) != 1 || len(jb.Keys) != 1 || ja.Keys[0].KeyID != jb.Keys[0].KeyID {
		t.Fatalf("JWKS of the replicas: %v and %v; want the same single key", kids(ja), kids(jb))
	}
	stored, err := db.SigningKeys(context.Background())
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored keys = %d, %v; want 1", len(stored), err)
	}
	id := &session.Identity{Person: "p", User: "1", SessionID: "s"}
	for name, pair := range map[string][2]*Server{"a→b": {a, b}, "b→a": {b, a}} {
		tok, _, err := pair[0].assertions.Sign(id, string(migration.Passthrough), now.Add(30*time.Second))
		if err != nil {
			t.Fatalf("%s: sign: %v", name, err)
		}
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		other := jwksOf(t, pair[1])
		keys := other.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not in the other replica's JWKS %v", name, jws.Signatures[0].Header.KeyID, kids(jwksOf(t, pair[1])))
		}
		if _, err := jws.Verify(keys[0].Key); err != nil {
			t.Errorf("%s: assertion does not verify with the other replica's key: %v", name, err)
		}
	}
}

// TestSigningKeyRotation: a day before the signing key retires, the next
// one is stored and published; the old one stays published after it stops
// signing, until a key life later.
func TestSigningKeyRotation(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "keys.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	first := kids(jwksOf(t, keyServer(t, db, t0)))
	if len(first) != 1 {
		t.Fatalf("first start publishes %v; want one key", first)
	}
	mid := kids(jwksOf(t, keyServer(t, db, t0.Add(assertion.KeyLife-assertion.KeyLead-time.Hour))))
	if len(mid) != 1 || mid[0] != first[0] {
		t.Errorf("before the lead time: %v; want still only %v", mid, first)
	}
	s := keyServer(t, db, t0.Add(assertion.KeyLife-assertion.KeyLead+time.Hour))
	lead := kids(jwksOf(t, s))
	if len(lead) != 2 || lead[0] != first[0] {
		t.Fatalf("within a day of retirement: %v; want the old key and its successor", lead)
	}
	tok, _, err := s.assertions.Sign(&session.Identity{Person: "p"}, string(migration.Passthrough), t0.Add(assertion.KeyLife-assertion.KeyLead+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if jws, _ := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256}); jws.Signatures[0].Header.KeyID != first[0] {
		t.Errorf("before it retires the old key must still sign; signed by %s", jws.Signatures[0].Header.KeyID)
	}
	after := keyServer(t, db, t0.Add(assertion.KeyLife+time.Hour))
	tok, _, err = after.assertions.Sign(&session.Identity{Person: "p"}, string(migration.Passthrough), t0.Add(assertion.KeyLife+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if jws, _ := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256}); jws.Signatures[0].Header.KeyID != lead[1] {
		t.Errorf("after retirement the successor must sign; signed by %s", jws.Signatures[0].Header.KeyID)
	}
	if got := kids(jwksOf(t, after)); len(got) != 2 {
		t.Errorf("after retirement: %v; want the old key still published", got)
	}
	gone := kids(jwksOf(t, keyServer(t, db, t0.Add(2*assertion.KeyLife+time.Hour))))
	for _, k := range gone {
		if k == first[0] {
			t.Errorf("two key lives later the first key %s is still published: %v", k, gone)
		}
	}
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}
