package assertion_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/session"
)

// memKeys is an in-memory key store with the stores' keep-the-first rule.
type memKeys struct {
	mu   sync.Mutex // guards keys
	keys []assertion.Key
}

func (m *memKeys) SigningKeys(context.Context) ([]assertion.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]assertion.Key(nil), m.keys...), nil
}

func (m *memKeys) AddSigningKey(_ context.Context, k assertion.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.keys {
		if x.ID == k.ID {
			return nil
		}
	}
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeys) DeleteSigningKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.keys {
		if x.ID == id {
			m.keys = append(m.keys[:i], m.keys[i+1:]...)
			break
		}
	}
	return nil
}

// TestHeaderSignsOncePerHalfLife: the assertion of an identity is signed
// once and reused until half its life has passed or the mode changes; it
// verifies with the published key and states the identity's facts.
func TestHeaderSignsOncePerHalfLife(t *testing.T) {
	sealer, err := session.NewCodec([][]byte{bytes.Repeat([]byte("k"), 32)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	st := &memKeys{}
	s := assertion.New(assertion.Config{Store: st, Sealer: sealer, Issuer: "https://app.example.com", Audience: "http://legacy",
		Now: func() time.Time { return now }})
	id := &session.Identity{Person: "p", User: "42", Orgs: "100,200", Roles: "100:admin"}
	if h := s.Header(id, "enforce"); h != nil {
		t.Fatalf("Header before Load = %q; want nil (no key)", h)
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.keys) != 1 {
		t.Fatalf("stored keys %d; want one", len(st.keys))
	}
	if _, err := x509.ParsePKCS8PrivateKey(st.keys[0].Sealed); err == nil {
		t.Fatal("the stored key is a private key in the clear; want it sealed")
	}
	first := s.Header(id, "enforce")
	now = now.Add(29 * time.Second)
	if again := s.Header(id, "enforce"); again[0] != first[0] {
		t.Error("within half its life the assertion was signed again")
	}
	if other := s.Header(id, "offer"); other[0] == first[0] {
		t.Error("another mode reused the assertion of the first")
	}
	now = now.Add(2 * time.Second)
	if later := s.Header(id, "offer"); later[0] == first[0] {
		t.Error("past half its life the assertion was reused")
	}

	jws, err := jose.ParseSigned(first[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	set := s.JWKS()
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not published", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("assertion does not verify with the published key: %v", err)
	}
	var c struct {
		Sub, User, Mode, Iss, Aud string
		Orgs, Roles               []string
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Sub != "p" || c.User != "42" || c.Mode != "enforce" || c.Iss != "https://app.example.com" || c.Aud != "http://legacy" ||
		len(c.Orgs) != 2 || len(c.Roles) != 1 {
		t.Errorf("claims %+v; want the identity's facts in enforce mode", c)
	}
}
