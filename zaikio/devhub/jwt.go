package devhub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is the iss claim of the hub's access tokens.
const Issuer = "ZAI"

// KeysPath is where the hub publishes its JWT keys.
const KeysPath = "/api/v1/jwt_public_keys"

// signingKey is one of the hub's RSA keys. Keys are immutable once made.
type signingKey struct {
	kid  string // 64 hex digits: the key's RFC 7638 SHA-256 thumbprint
	priv *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	return &signingKey{kid: hex.EncodeToString(tp), priv: priv}, nil
}

// mustRSAKey generates a key where the API has no room for an error: with a
// valid size, key generation fails only if the system's randomness does, and
// then crypto/rand has already crashed the program.
func mustRSAKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("devhub: generate RSA key: " + err.Error())
	}
	return k
}

// RotateKey makes a new signing key, which signs every token from now on, and
// returns its kid. The old keys stay published until [Hub.DropOldKeys].
func (h *Hub) RotateKey() string {
	k, err := newSigningKey()
	if err != nil {
		panic("devhub: " + err.Error()) // see mustRSAKey
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = append(h.keys, k)
	return k.kid
}

// DropOldKeys unpublishes every key but the current one. Tokens signed by the
// dropped keys no longer verify, at clients or at the hub.
func (h *Hub) DropOldKeys() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = []*signingKey{h.keys[len(h.keys)-1]}
}

// KeyIDs lists the kids of the published keys, oldest first; the last one
// signs.
func (h *Hub) KeyIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, len(h.keys))
	for i, k := range h.keys {
		ids[i] = k.kid
	}
	return ids
}

func (h *Hub) handleKeys() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		keys := h.keys
		h.mu.Unlock()
		set := jose.JSONWebKeySet{}
		for i := len(keys) - 1; i >= 0; i-- { // newest first
			set.Keys = append(set.Keys, jose.JSONWebKey{
				Key: &keys[i].priv.PublicKey, KeyID: keys[i].kid, Algorithm: string(jose.RS256), Use: "sig",
			})
		}
		writeJSON(w, http.StatusOK, set)
	}
}

// claims are an access token's claims, in the hub's shape: aud is always an
// array, scope a JSON array.
type claims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   []string `json:"aud"`
	Jti   string   `json:"jti"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	Jku   string   `json:"jku"`
	Scope []string `json:"scope"`
}

type jwtTimes struct{ nbf, exp time.Time }

// jwtTimes are the token's nbf and exp: its real life, or for TamperExpired
// one that ended five minutes ago (beyond any usual leeway).
func (m *minted) jwtTimes() jwtTimes {
	if m.tamper == TamperExpired {
		exp := m.issued.Add(-5 * time.Minute)
		return jwtTimes{nbf: exp.Add(-(m.expires.Sub(m.issued))), exp: exp}
	}
	return jwtTimes{nbf: m.issued, exp: m.expires}
}

// subject is the sub claim for a grant.
func subject(g *grant) string {
	switch g.kind {
	case bearerOrg:
		return "Organization/" + g.orgID
	case bearerOnBehalf:
		return "Person/" + g.personID + ">Organization/" + g.orgID
	}
	return "Person/" + g.personID
}

// sign makes the access token. base is the hub's origin, for jku.
func (m *minted) sign(base string) (string, error) {
	t := m.jwtTimes()
	c := claims{
		Iss:   Issuer,
		Sub:   subject(m.grant),
		Aud:   audience(m.app, m.grant.scopes),
		Jti:   m.jti,
		Nbf:   t.nbf.Unix(),
		Exp:   t.exp.Unix(),
		Jku:   base + KeysPath,
		Scope: append([]string{}, m.grant.scopes...),
	}
	var key any = m.key.priv
	switch m.tamper {
	case TamperBadSignature:
		if m.tamperKey != nil {
			key = m.tamperKey
		}
	case TamperWrongAudience:
		c.Aud = []string{m.app.Name + "_other_app"}
	case TamperSubMismatch:
		// Replace the bearer's id (the organization for org tokens) by
		// one the response does not name.
		g := *m.grant
		if g.kind.orgScoped() {
			g.orgID = newUUID()
		} else {
			g.personID = newUUID()
		}
		c.Sub = subject(&g)
	case TamperWrongIssuer:
		c.Iss = "NOT-" + Issuer
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("devhub: marshal claims: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: key, KeyID: m.key.kid, Algorithm: string(jose.RS256)},
	}, nil)
	if err != nil {
		return "", fmt.Errorf("devhub: signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devhub: sign: %w", err)
	}
	return jws.CompactSerialize()
}

var errInvalidToken = errors.New("invalid_token")

// authenticate checks the request's bearer token as the hub checks its own
// tokens: RS256 under a published key, iss, nbf and exp by the hub's clock,
// issued by this hub and not revoked (RFC 6750 §2.1).
func (h *Hub) authenticate(r *http.Request) (*accessToken, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil, errInvalidToken
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errInvalidToken
	}
	kid := jws.Signatures[0].Header.KeyID
	h.mu.Lock()
	var pub *rsa.PublicKey
	for _, k := range h.keys {
		if k.kid == kid {
			pub = &k.priv.PublicKey
		}
	}
	h.mu.Unlock()
	if pub == nil {
		return nil, errInvalidToken
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, errInvalidToken
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errInvalidToken
	}
	now := h.now()
	if c.Iss != Issuer || now.Unix() < c.Nbf || now.Unix() >= c.Exp {
		return nil, errInvalidToken
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.access[c.Jti]
	if !ok || a.revoked {
		return nil, errInvalidToken
	}
	return a, nil
}
