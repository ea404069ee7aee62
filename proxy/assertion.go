package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/hubgate/hubgate/session"
)

// The identity assertion (X-Hubgate-Assertion) is a short-lived ES256 JWT of
// the same facts as the identity headers, for upstreams that do not trust the
// network between hubgate and themselves. Its keys live in the store (sealed
// with the session secret) so that every replica signs with, and publishes,
// the same keys at /_hubgate/jwks.json. A key signs for keyLife; its
// successor is created a day before it retires, so verifiers have seen the
// new key before the first token it signs, and a retired key stays published
// for another keyLife so tokens signed by it still verify.

// assertion is a cached signed assertion for one identity.
type assertion struct {
	header []string // ready-made header value
	mode   Mode
	exp    time.Time
}

// assertionClaims are the JWT claims.
type assertionClaims struct {
	Issuer   string   `json:"iss"`
	Audience string   `json:"aud"`
	Subject  string   `json:"sub"`
	IssuedAt int64    `json:"iat"`
	NotBef   int64    `json:"nbf"`
	Expiry   int64    `json:"exp"`
	ID       string   `json:"jti"`
	User     string   `json:"user,omitempty"`
	Email    string   `json:"email,omitempty"`
	Name     string   `json:"name,omitempty"`
	Orgs     []string `json:"orgs"`
	Roles    []string `json:"roles"`
	Mode     Mode     `json:"mode"`
}

// keyLife is how long a signing key signs; keyLead is how long before use a
// successor is created and published.
const (
	keyLife = 7 * 24 * time.Hour
	keyLead = 24 * time.Hour
)

type signingKey struct {
	id      string
	priv    *ecdsa.PrivateKey
	created time.Time
	retires time.Time
}

// keyring holds the loaded signing keys.
type keyring struct {
	mu   sync.RWMutex // guards keys
	keys []signingKey // oldest first
}

// current returns the key to sign with at now: the oldest not yet retired.
func (k *keyring) current(now time.Time) (signingKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if now.Before(key.retires) {
			return key, true
		}
	}
	return signingKey{}, false
}

func (k *keyring) all() []signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]signingKey(nil), k.keys...)
}

// loadKeys reads the signing keys from the store, creates a successor when
// the current key retires within keyLead (or there is none), and forgets
// keys past their publication window.
func (s *Server) loadKeys(ctx context.Context) error {
	now := s.now()
	keys, latest, err := s.readKeys(ctx, now)
	if err != nil {
		return err
	}
	if latest.Sub(now) < keyLead {
		start := now
		if latest.After(now) {
			start = latest
		}
		if err := s.newSigningKey(ctx, now, start.Add(keyLife).Truncate(time.Minute)); err != nil {
			return err
		}
		// Read again rather than use ours: replicas that found the same
		// gap at the same time derived the same key id, and the store kept
		// the first one stored, so all of them sign with that one.
		if keys, _, err = s.readKeys(ctx, now); err != nil {
			return err
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].retires.Before(keys[j].retires) })
	s.keys.mu.Lock()
	s.keys.keys = keys
	s.keys.mu.Unlock()
	return nil
}

// readKeys opens the stored signing keys (deleting those past DeleteAt) and
// returns them with the latest retirement time among them.
func (s *Server) readKeys(ctx context.Context, now time.Time) ([]signingKey, time.Time, error) {
	stored, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("load signing keys: %w", err)
	}
	var keys []signingKey
	latest := time.Time{}
	for _, sk := range stored {
		if !now.Before(sk.DeleteAt) {
			if err := s.store.DeleteSigningKey(ctx, sk.ID); err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
		der, err := s.codec.openData("sigkey:"+sk.ID, sk.Sealed)
		if err != nil {
			s.log.Warn().Err(err).Str("event", "signing_key.unreadable").Str("kid", sk.ID).Send()
			continue
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		ec, ok := pk.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			continue
		}
		keys = append(keys, signingKey{id: sk.ID, priv: ec, created: sk.CreatedAt, retires: sk.RetiresAt})
		if sk.RetiresAt.After(latest) {
			latest = sk.RetiresAt
		}
	}
	return keys, latest, nil
}

// newSigningKey stores a new key retiring at retires. Its id is derived from
// retires (a minute), so that replicas racing to fill the same gap store one
// key: AddSigningKey keeps the first of equal ids.
func (s *Server) newSigningKey(ctx context.Context, now, retires time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	kid := "k" + retires.UTC().Format("20060102t1504")
	sealed, err := s.codec.sealData("sigkey:"+kid, der)
	if err != nil {
		return err
	}
	sk := session.Key{ID: kid, Sealed: sealed, CreatedAt: now.UTC(), RetiresAt: retires.UTC(), DeleteAt: retires.Add(keyLife).UTC()}
	if err := s.store.AddSigningKey(ctx, sk); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	s.log.Info().Str("event", "signing_key.created").Str("kid", kid).Time("retires", retires).Send()
	return nil
}

// assertionHeader returns the X-Hubgate-Assertion value for id in mode,
// signing a new one only when the cached one is older than half its life or
// was made for another mode. nil when no key is available.
func (s *Server) assertionHeader(id *Identity, mode Mode) []string {
	now := s.now()
	if a := id.assertion.Load(); a != nil && a.mode == mode && now.Before(a.exp.Add(-s.cfg.AssertionTTL/2)) {
		return a.header
	}
	tok, exp, err := s.signAssertion(id, mode, now)
	if err != nil {
		s.log.Error().Err(err).Str("event", "assertion.sign").Send()
		return nil
	}
	a := &assertion{header: []string{tok}, mode: mode, exp: exp}
	id.assertion.Store(a)
	return a.header
}

var errNoSigningKey = errors.New("proxy: no signing key loaded")

func (s *Server) signAssertion(id *Identity, mode Mode, now time.Time) (string, time.Time, error) {
	key, ok := s.keys.current(now)
	if !ok {
		return "", time.Time{}, errNoSigningKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(s.cfg.AssertionTTL)
	c := assertionClaims{
		Issuer: s.public.String(), Audience: s.cfg.AssertionAudience, Subject: id.Person,
		IssuedAt: now.Unix(), NotBef: now.Add(-5 * time.Second).Unix(), Expiry: exp.Unix(), ID: newSessionID(),
		User: id.User, Email: id.Email, Name: id.Name, Orgs: splitList(id.Orgs), Roles: splitList(id.Roles), Mode: mode,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := jws.CompactSerialize()
	return tok, exp, err
}

// jwks publishes the assertion keys: GET /_hubgate/jwks.json.
func (s *Server) jwks() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
		for _, k := range s.keys.all() {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.id, Algorithm: string(jose.ES256), Use: "sig"})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(set)
	}
}
