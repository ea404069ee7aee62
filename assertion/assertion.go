// Package assertion makes the identity assertion (X-Hubgate-Assertion): a
// short-lived ES256 JWT of the same facts as the identity headers, for
// upstreams that do not trust the network between hubgate and themselves.
// It owns the signing keys: their life (a key signs for KeyLife; its
// successor is created KeyLead before it retires, so verifiers have seen the
// new key before the first token it signs; a retired key stays published for
// another KeyLife so tokens signed by it still verify), their storage sealed
// with the session secret (so every replica signs with, and publishes, the
// same keys), and the key set published at /_hubgate/jwks.json.
//
// It never decides whether a request gets an assertion (package proxy does),
// and never sees a private key in the clear outside memory.
package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/session"
)

// Key is a signing key as stores keep it, shared by replicas.
type Key struct {
	ID string
	// Sealed is the private key (PKCS #8), sealed with the session secret;
	// stores never see it in the clear.
	Sealed    []byte
	CreatedAt time.Time
	// RetiresAt: after it the key no longer signs; it stays published for
	// verification until DeleteAt.
	RetiresAt time.Time
	DeleteAt  time.Time
}

// Store is what signing needs from storage; store/bolt and store/postgres
// implement it.
type Store interface {
	// SigningKeys returns the stored keys, oldest first.
	SigningKeys(ctx context.Context) ([]Key, error)
	// AddSigningKey stores k unless a key with the same id exists; then it
	// returns nil and keeps the stored key (replicas racing to store a new
	// key cannot replace each other's).
	AddSigningKey(ctx context.Context, k Key) error
	// DeleteSigningKey removes a key; a missing one is not an error.
	DeleteSigningKey(ctx context.Context, id string) error
}

// Sealer seals private keys at rest; *session.Codec implements it.
type Sealer interface {
	// Seal encrypts plain bound to ad.
	Seal(ad string, plain []byte) ([]byte, error)
	// Open decrypts what Seal sealed for the same ad.
	Open(ad string, sealed []byte) ([]byte, error)
}

// Config configures a Signer. Store, Sealer, Issuer and Audience are
// required; every other zero value has the meaning its comment gives.
type Config struct {
	Store  Store
	Sealer Sealer
	// Issuer is the assertion's "iss": the public URL.
	Issuer string
	// Audience is the assertion's "aud".
	Audience string
	// TTL is an assertion's lifetime. Zero means 60 s.
	TTL time.Duration
	// Logger receives key events. Zero value: a disabled logger.
	Logger zerolog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Signer signs assertions with the current key and publishes the key set.
// It is safe for concurrent use.
type Signer struct {
	cfg  Config
	keys keyring
}

// New returns a Signer with no key loaded (Load loads them).
func New(cfg Config) *Signer {
	if cfg.TTL == 0 {
		cfg.TTL = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Signer{cfg: cfg}
}

// claims are the JWT claims.
type claims struct {
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
	Mode     string   `json:"mode"`
}

// Header returns the X-Hubgate-Assertion value for id in mode, signing a new
// one only when the one cached on id is older than half its life or was
// made for another mode. Nil when no key is loaded.
func (s *Signer) Header(id *session.Identity, mode string) []string {
	now := s.cfg.Now()
	if a := id.Signed(); a != nil && a.Mode == mode && now.Before(a.Expires.Add(-s.cfg.TTL/2)) {
		return a.Header
	}
	tok, exp, err := s.Sign(id, mode, now)
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("event", "assertion.sign").Send()
		return nil
	}
	a := &session.Signed{Header: []string{tok}, Mode: mode, Expires: exp}
	id.SetSigned(a)
	return a.Header
}

var errNoSigningKey = errors.New("assertion: no signing key loaded")

// Sign signs an assertion of id in mode, issued at now, with the key current
// at now; it returns the compact JWT and its expiry.
func (s *Signer) Sign(id *session.Identity, mode string, now time.Time) (string, time.Time, error) {
	key, ok := s.keys.current(now)
	if !ok {
		return "", time.Time{}, errNoSigningKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(s.cfg.TTL)
	c := claims{
		Issuer: s.cfg.Issuer, Audience: s.cfg.Audience, Subject: id.Person,
		IssuedAt: now.Unix(), NotBef: now.Add(-5 * time.Second).Unix(), Expiry: exp.Unix(), ID: session.NewID(),
		User: id.User, Email: id.Email, Name: id.Name, Orgs: id.OrgList(), Roles: id.RoleList(), Mode: mode,
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

// JWKS returns the public keys of every loaded key, signing or retired.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range s.keys.all() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.id, Algorithm: string(jose.ES256), Use: "sig"})
	}
	return set
}
