package zaikio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// BearerConfig configures a BearerVerifier. Its zero value works.
type BearerConfig struct {
	// AppName is the app whose bearer tokens are accepted: aud must name
	// it, and it is the app of HasScope's "<scope>.<perm>" form. Empty: the
	// Client's AppName.
	AppName string
	// RevocationRefresh is how old the hub's revocation list may grow
	// before it is refetched in the background. Zero:
	// DefaultRevocationRefresh.
	RevocationRefresh time.Duration
	// RevocationMaxAge is the oldest revocation list trusted while
	// refreshes fail; past it every token is refused with
	// BearerUnavailable until the hub answers again. Zero:
	// DefaultRevocationMaxAge, which is also the most allowed (the gem
	// caches the list for 60 minutes).
	RevocationMaxAge time.Duration
	// Leeway is the clock skew allowed on exp and nbf. Zero: none, as in
	// the gem (ruby-jwt's default leeway is 0). At most five minutes.
	Leeway time.Duration
	// CacheSize bounds how many verified tokens are kept. Zero:
	// DefaultBearerCacheSize; negative: none are (every request verifies
	// the signature).
	CacheSize int
}

// DefaultBearerCacheSize is BearerConfig.CacheSize's default.
const DefaultBearerCacheSize = 8192

// maxTokenLen bounds the tokens we parse; the hub's are about 1 KiB.
const maxTokenLen = 8 << 10

// BearerVerifier accepts Zaikio access tokens that other apps (or people)
// send as "Authorization: Bearer <JWT>", the way zaikio-jwt_auth accepts
// them in a Rails app, and stricter where the gem is lax:
//
//   - the signature: RS256 only (alg none, HS256 keyed with the public key,
//     ES256, … are refused before any key is looked at), under a key the hub
//     publishes, found by kid (go-oidc's verifier over the Client's key set,
//     so the keys are fetched once for sign-ins and bearer tokens). A jku
//     claim or header is never followed.
//   - iss must be "ZAI" and aud must name the app (the gem checks neither);
//     exp and jti are required (the gem requires neither), nbf is checked
//     when present; no leeway unless configured, as in the gem.
//   - sub must be Person/<uuid>, Organization/<uuid> or
//     Person/<uuid>>Organization/<uuid>.
//   - the jti must not be revoked: on the hub's public list (see
//     DefaultRevocationRefresh) or learned through Revoke and AddRevoked.
//
// Verified tokens are cached by their exact value until they expire, so a
// token's signature is checked once per process; every use re-checks expiry
// and the revocation set, so a revoked token stops working at once. Scopes
// are checked by the caller with AccessToken.HasScope or Require.
//
// A BearerVerifier is safe for concurrent use.
type BearerVerifier struct {
	app    string
	leeway time.Duration
	now    func() time.Time
	keys   *keySet
	oidc   *oidc.IDTokenVerifier
	revs   *revocations
	cache  *tokenCache
}

// NewBearerVerifier returns a verifier for tokens issued by c's hub. It
// shares c's key set. It does not contact the hub; see Prefetch.
func NewBearerVerifier(c *Client, cfg BearerConfig) (*BearerVerifier, error) {
	if c == nil {
		return nil, errors.New("zaikio: bearer verifier: no client")
	}
	if cfg.AppName == "" {
		cfg.AppName = c.cfg.AppName
	}
	if cfg.RevocationRefresh < 0 || cfg.RevocationMaxAge < 0 || cfg.Leeway < 0 {
		return nil, errors.New("zaikio: bearer verifier: durations must not be negative")
	}
	if cfg.RevocationMaxAge == 0 {
		cfg.RevocationMaxAge = DefaultRevocationMaxAge
	}
	if cfg.RevocationMaxAge > DefaultRevocationMaxAge {
		return nil, fmt.Errorf("zaikio: bearer verifier: revocation max age %v, want at most %v (as zaikio-jwt_auth caches it)", cfg.RevocationMaxAge, DefaultRevocationMaxAge)
	}
	if cfg.RevocationRefresh == 0 {
		cfg.RevocationRefresh = min(DefaultRevocationRefresh, cfg.RevocationMaxAge)
	}
	if cfg.RevocationRefresh > cfg.RevocationMaxAge {
		return nil, fmt.Errorf("zaikio: bearer verifier: revocation refresh %v is longer than its max age %v", cfg.RevocationRefresh, cfg.RevocationMaxAge)
	}
	if cfg.Leeway > 5*time.Minute {
		return nil, fmt.Errorf("zaikio: bearer verifier: leeway %v, want at most 5m", cfg.Leeway)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultBearerCacheSize
	}
	now := c.cfg.Now
	return &BearerVerifier{
		app:    cfg.AppName,
		leeway: cfg.Leeway,
		now:    now,
		keys:   c.keys,
		// go-oidc checks the algorithm and the signature; the claims are
		// checked below, each with its own error code.
		oidc: oidc.NewVerifier(Issuer, c.keys, &oidc.Config{
			SupportedSigningAlgs: []string{oidc.RS256},
			SkipClientIDCheck:    true,
			SkipIssuerCheck:      true,
			SkipExpiryCheck:      true,
		}),
		revs: newRevocations(c.url(revokedPath), getPublic(c.public, maxRevokedBody), now,
			cfg.RevocationRefresh, cfg.RevocationMaxAge),
		cache: newTokenCache(cfg.CacheSize),
	}, nil
}

const revokedPath = "/api/v1/revoked_access_tokens"

// Verify checks raw, the token of an "Authorization: Bearer" header (see
// TokenFromHeader), and returns its verified facts, or a *BearerError that
// says why it is refused. The result is shared: do not modify it.
func (v *BearerVerifier) Verify(ctx context.Context, raw string) (*AccessToken, error) {
	if e := v.cache.get(raw); e != nil && e.keyGen == v.keys.dropGen.Load() {
		now := v.now()
		if !now.Before(e.tok.Expiry.Add(v.leeway)) {
			v.cache.drop(raw)
			return nil, refuse(BearerExpired, fmt.Errorf("expired at %v", e.tok.Expiry))
		}
		if err := v.checkRevoked(ctx, now, e.tok.JTI); err != nil {
			return nil, err
		}
		v.keys.refreshIfOld(now)
		return e.tok, nil
	}
	return v.verifyCold(ctx, raw)
}

// checkRevoked refuses a revoked jti, and every jti while the revocation
// list is too old and cannot be fetched.
func (v *BearerVerifier) checkRevoked(ctx context.Context, now time.Time, jti string) error {
	if !v.revs.usable(now) {
		if err := v.revs.ensure(ctx); err != nil {
			return refuse(BearerUnavailable, err)
		}
	}
	if v.revs.revoked(jti) {
		return refuse(BearerRevoked, fmt.Errorf("jti %s is revoked", jti))
	}
	return nil
}

func (v *BearerVerifier) verifyCold(ctx context.Context, raw string) (*AccessToken, error) {
	if len(raw) > maxTokenLen {
		return nil, refuse(BearerMalformed, fmt.Errorf("%d bytes long, want at most %d", len(raw), maxTokenLen))
	}
	alg, err := peekAlg(raw)
	if err != nil {
		return nil, refuse(BearerMalformed, err)
	}
	if alg != oidc.RS256 {
		return nil, refuse(BearerBadAlgorithm, fmt.Errorf("alg %q, want RS256", alg))
	}
	gen := v.keys.dropGen.Load()
	out := &keyOutcome{limited: true}
	idt, err := v.oidc.Verify(withKeyOutcome(ctx, out), raw)
	if err != nil {
		code := out.code
		if code == "" {
			code = BearerMalformed // go-oidc refused it before or after the key set
		}
		if out.err != nil {
			err = out.err
		}
		return nil, refuse(code, err)
	}
	var c bearerClaims
	if err := idt.Claims(&c); err != nil {
		return nil, refuse(BearerMalformed, fmt.Errorf("claims: %w", err))
	}
	now := v.now()
	tok, err := v.checkClaims(&c, now)
	if err != nil {
		return nil, err
	}
	if err := v.checkRevoked(ctx, now, tok.JTI); err != nil {
		return nil, err
	}
	v.cache.put(&cachedToken{raw: raw, tok: tok, keyGen: gen}, now)
	return tok, nil
}

// bearerClaims are the claims of a Zaikio access token (ZAIKIO.md).
type bearerClaims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   audience `json:"aud"`
	Jti   string   `json:"jti"`
	Nbf   *float64 `json:"nbf"`
	Exp   *float64 `json:"exp"`
	Scope []string `json:"scope"`
}

// audience is aud: an array of app names (the hub's form) or one string
// (RFC 7519 §4.1.3 allows both).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("aud is neither a string nor an array of strings")
	}
	*a = list
	return nil
}

// checkClaims checks the verified claims in the order that tells the most:
// whose token it is (iss, aud), then its lifetime (RFC 7519 §4.1.4,
// §4.1.5, as ruby-jwt: expired when exp <= now - leeway, not yet valid
// when nbf > now + leeway), then its shape.
func (v *BearerVerifier) checkClaims(c *bearerClaims, now time.Time) (*AccessToken, error) {
	if c.Iss != Issuer {
		return nil, refuse(BearerWrongIssuer, fmt.Errorf("iss %q, want %q", c.Iss, Issuer))
	}
	if !slices.Contains(c.Aud, v.app) {
		return nil, refuse(BearerWrongAudience, fmt.Errorf("aud %q does not name %q", []string(c.Aud), v.app))
	}
	exp, ok := numericDate(c.Exp)
	if !ok {
		return nil, refuse(BearerMalformed, errors.New("no valid exp"))
	}
	if !now.Before(exp.Add(v.leeway)) {
		return nil, refuse(BearerExpired, fmt.Errorf("expired at %v", exp))
	}
	var nbf time.Time
	if c.Nbf != nil {
		if nbf, ok = numericDate(c.Nbf); !ok {
			return nil, refuse(BearerMalformed, errors.New("nbf is not a date"))
		}
		if nbf.After(now.Add(v.leeway)) {
			return nil, refuse(BearerNotYetValid, fmt.Errorf("not valid before %v", nbf))
		}
	}
	if c.Jti == "" || len(c.Jti) > maxJTILen {
		return nil, refuse(BearerMalformed, errors.New("no jti, or an overlong one"))
	}
	sub, err := ParseSubject(c.Sub)
	if err != nil {
		return nil, refuse(BearerMalformed, err)
	}
	return &AccessToken{
		JTI: c.Jti, Subject: sub, Client: c.Aud[0], Audience: c.Aud, Scope: c.Scope,
		NotBefore: nbf, Expiry: exp, app: v.app, scopes: parseScopes(c.Scope),
	}, nil
}

// numericDate reads a JWT NumericDate (RFC 7519 §2), refusing the absent,
// negative and absurd.
func numericDate(f *float64) (time.Time, bool) {
	if f == nil || *f < 0 || *f > 1<<40 || math.IsNaN(*f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// peekAlg reads the alg of a compact JWS header, before anything else is
// trusted, so that a token signed with another algorithm is told so.
func peekAlg(raw string) (string, error) {
	head, _, ok := strings.Cut(raw, ".")
	if !ok || len(head) > 2048 {
		return "", errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	if h.Alg == "" {
		return "", errors.New("header: no alg") // RFC 7515 §4.1.1: required
	}
	return h.Alg, nil
}

// Revoke makes jti's token stop working at once: the
// zaikio.revoked_access_token webhook calls it with the payload's
// access_token_id. It reports whether jti was not revoked before.
func (v *BearerVerifier) Revoke(jti string) bool {
	return v.revs.add([]string{jti}) > 0
}

// AddRevoked adds jtis learned elsewhere (another replica's webhook, through
// the store) and returns how many were new. They are kept for a day,
// longer than any access token lives, whatever the hub's list says.
func (v *BearerVerifier) AddRevoked(jtis ...string) int {
	return v.revs.add(jtis)
}

// Prefetch fetches the hub's keys and revocation list unless they are at
// hand, so that the first bearer request does not wait for them; a
// readiness check may call it.
func (v *BearerVerifier) Prefetch(ctx context.Context) error {
	if err := v.revs.ensure(ctx); err != nil {
		return &Error{Op: "revoked tokens", Err: err}
	}
	seen := v.keys.flight.done.Load()
	if v.keys.cur.Load() == nil {
		if err := v.keys.flight.run(ctx, v.now(), false, seen, v.keys.fetchFn); err != nil {
			return &Error{Op: "keys", Err: err}
		}
	}
	return nil
}

// TokenFromHeader returns the token of an Authorization header value of the
// form "Bearer <token>" (RFC 6750 §2.1; the scheme in any letter case, RFC
// 9110 §11.1), or false for another scheme or a token with characters
// outside b64token.
func TokenFromHeader(authorization string) (string, bool) {
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", false
	}
	end := len(tok)
	for end > 0 && tok[end-1] == '=' {
		end--
	}
	if end == 0 {
		return "", false
	}
	for i := 0; i < end; i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return "", false
		}
	}
	return tok, true
}
