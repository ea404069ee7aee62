package devhub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// TokenSpec describes an access token for [Hub.Mint]: whatever a test needs
// a bearer-token verifier to accept or refuse. Zero fields take the values
// of a valid token.
type TokenSpec struct {
	// ClientID names the app the token is issued to; its Name is the first
	// audience. Empty: [OtherAppClientID] (registered by Config.Seed).
	ClientID string
	// Subject is the sub claim: "Person/<uuid>", "Organization/<uuid>" or
	// "Person/<uuid>>Organization/<uuid>" (or anything else a test wants
	// refused). Empty: "Person/" + [FrankID].
	Subject string
	// Scope is the scope claim, "<app>.<scope>.<r|w|rw>" entries.
	Scope []string
	// Audience replaces aud. Nil: the client's name followed by the apps of
	// Scope, as the hub makes it.
	Audience []string
	// Issuer replaces iss. Empty: "ZAI".
	Issuer string
	// NotBefore and Expiry: zero means the hub's now and now + AccessTTL.
	NotBefore, Expiry time.Time
	// JTI is the token id. Empty: a fresh UUID.
	JTI string
	// Flaw spoils the token's header, signature or claims.
	Flaw Flaw
}

// Flaw is a way to spoil a minted token.
type Flaw int

// The flaws [Hub.Mint] can build in.
const (
	FlawNone Flaw = iota
	// FlawAlgNone: header alg "none" and an empty signature.
	FlawAlgNone
	// FlawHS256PublicKey: alg HS256, keyed with the PEM of the signing key's
	// public half (the RS256/HS256 confusion attack).
	FlawHS256PublicKey
	// FlawES256: alg ES256, signed by a P-256 key under the current kid.
	FlawES256
	// FlawBadSignature: RS256 by an unpublished key under the current kid.
	FlawBadSignature
	// FlawUnknownKID: RS256 by an unpublished key under a kid the hub does
	// not publish.
	FlawUnknownKID
	// FlawNoKID: a valid RS256 signature, but no kid in the header.
	FlawNoKID
	// FlawNoJTI and FlawNoExp leave the claim out.
	FlawNoJTI
	FlawNoExp
	// FlawNotJWT: not a JWS at all.
	FlawNotJWT
)

// Mint signs an access token as spec says and records it as the hub's own
// (so that it can be revoked, by POST /api/v1/revoked_access_tokens or
// [Hub.Revoke], and appears in the revocation list then). It is a test
// helper: the real hub issues tokens only through the OAuth flows.
func (h *Hub) Mint(spec TokenSpec) (string, error) {
	if spec.Flaw == FlawNotJWT {
		return "not-a-jwt." + randomURL(16), nil
	}
	if spec.Flaw == FlawBadSignature || spec.Flaw == FlawUnknownKID {
		h.ensureRogue()
	}
	if spec.ClientID == "" {
		spec.ClientID = OtherAppClientID
	}
	h.mu.Lock()
	app, ok := h.apps[spec.ClientID]
	now := h.now()
	key, rogue := h.keys[len(h.keys)-1], h.rogue
	h.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("devhub: mint: no app with client id %q", spec.ClientID)
	}
	c := h.mintClaims(spec, app, now)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("devhub: mint: %w", err)
	}
	header := map[string]string{"alg": "RS256", "kid": key.kid, "typ": "JWT"}
	var sign func(input []byte) ([]byte, error)
	switch spec.Flaw {
	case FlawAlgNone:
		header = map[string]string{"alg": "none", "typ": "JWT"}
		sign = func([]byte) ([]byte, error) { return nil, nil }
	case FlawHS256PublicKey:
		der, err := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
		if err != nil {
			return "", fmt.Errorf("devhub: mint: %w", err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		header["alg"] = "HS256"
		sign = func(in []byte) ([]byte, error) {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil), nil
		}
	case FlawES256:
		header["alg"] = "ES256"
		sign = signES256
	case FlawBadSignature:
		sign = signRS256(rogue)
	case FlawUnknownKID:
		header["kid"] = randomHex(32)
		sign = signRS256(rogue)
	case FlawNoKID:
		delete(header, "kid")
		sign = signRS256(key.priv)
	default:
		sign = signRS256(key.priv)
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("devhub: mint: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("devhub: mint: %w", err)
	}
	h.recordMinted(spec, app, c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// mintClaims fills in spec's defaults. Claims a flaw leaves out are absent
// from the map.
func (h *Hub) mintClaims(spec TokenSpec, app App, now time.Time) map[string]any {
	if spec.Subject == "" {
		spec.Subject = "Person/" + FrankID
	}
	if spec.Audience == nil {
		spec.Audience = audience(app, spec.Scope)
	}
	if spec.Issuer == "" {
		spec.Issuer = Issuer
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = now
	}
	if spec.Expiry.IsZero() {
		spec.Expiry = now.Add(h.accessTTL)
	}
	if spec.JTI == "" {
		spec.JTI = newUUID()
	}
	scope := spec.Scope
	if scope == nil {
		scope = []string{}
	}
	c := map[string]any{
		"iss": spec.Issuer, "sub": spec.Subject, "aud": spec.Audience, "jti": spec.JTI,
		"nbf": spec.NotBefore.Unix(), "exp": spec.Expiry.Unix(), "jku": "http://hub.invalid" + KeysPath, "scope": scope,
	}
	switch spec.Flaw {
	case FlawNoJTI:
		delete(c, "jti")
	case FlawNoExp:
		delete(c, "exp")
	}
	return c
}

// recordMinted keeps a minted token's jti, so that Revoke and the
// revocation endpoint know it.
func (h *Hub) recordMinted(spec TokenSpec, app App, c map[string]any) {
	jti, _ := c["jti"].(string)
	if jti == "" {
		return
	}
	g := &grant{id: newUUID(), clientID: app.ClientID, scopes: spec.Scope, clientCredentials: true}
	sub, _ := c["sub"].(string)
	behalf, main, onBehalf := strings.Cut(sub, ">")
	if !onBehalf {
		main = behalf
	}
	typ, id, _ := strings.Cut(main, "/")
	switch {
	case onBehalf:
		g.kind, g.orgID, g.personID = bearerOnBehalf, id, strings.TrimPrefix(behalf, "Person/")
	case typ == "Organization":
		g.kind, g.orgID = bearerOrg, id
	default:
		g.kind, g.personID = bearerPerson, id
	}
	exp, _ := c["exp"].(int64)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.access[jti] = &accessToken{jti: jti, grant: g, expires: time.Unix(exp, 0)}
}

func signRS256(k *rsa.PrivateKey) func([]byte) ([]byte, error) {
	return func(in []byte) ([]byte, error) {
		sum := sha256.Sum256(in)
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	}
}

// signES256 signs with a fresh P-256 key (JWS form: R || S, 32 bytes each).
func signES256(in []byte) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(in)
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// ensureRogue makes the unpublished key that bad signatures use.
func (h *Hub) ensureRogue() {
	h.mu.Lock()
	have := h.rogue != nil
	h.mu.Unlock()
	if have {
		return
	}
	k := mustRSAKey() // outside the lock: key generation is slow
	h.mu.Lock()
	if h.rogue == nil {
		h.rogue = k
	}
	h.mu.Unlock()
}
