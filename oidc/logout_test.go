package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
)

// A provider-side logout reaches the relying party as a logout token that
// verifies and names the person and the provider session; the session's
// refresh token is dead; the same token a second time is refused.
func TestBackchannelLogout(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	tok, err := e.signIn(t, devop.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.op.Logout(ctx, devop.AliceID); err != nil {
		t.Fatal(err)
	}
	got := e.receivedLogouts()
	if len(got) != 1 {
		t.Fatalf("logout tokens received = %d, want 1", len(got))
	}
	l, err := e.client.VerifyLogout(ctx, got[0])
	if err != nil {
		t.Fatal(err)
	}
	if l.PersonID != tok.Person.ID || l.Subject != devop.AliceID || l.SessionID != tok.SessionID || l.TokenID == "" {
		t.Errorf("logout = %+v, want Alice's person %s and session %s", l, tok.Person.ID, tok.SessionID)
	}
	if _, err := e.client.VerifyLogout(ctx, got[0]); !errors.Is(err, oidc.ErrLogoutToken) {
		t.Errorf("VerifyLogout(replayed) = %v, want ErrLogoutToken", err)
	}
	if _, err := e.client.Refresh(ctx, tok.RefreshToken); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Refresh after logout = %v, want ErrInvalidGrant", err)
	}
}

// Forged and malformed logout tokens are refused, each for its reason;
// an ID token never passes for a logout token.
func TestForgedLogoutTokensRefused(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	tok, err := e.signIn(t, devop.BobID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": e.op.Issuer(), "aud": "web", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": oidc.NewNonce(), "sub": devop.BobID, "sid": tok.SessionID,
			"events": map[string]any{devop.BackchannelEvent: map[string]any{}}}
	}
	with := func(change func(map[string]any)) map[string]any {
		c := good()
		change(c)
		return c
	}
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{
		"nonce":          e.sign(t, with(func(c map[string]any) { c["nonce"] = "n" })),
		"no events":      e.sign(t, with(func(c map[string]any) { delete(c, "events") })),
		"other event":    e.sign(t, with(func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} })),
		"old iat":        e.sign(t, with(func(c map[string]any) { c["iat"] = now.Add(-time.Hour).Unix() })),
		"future iat":     e.sign(t, with(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })),
		"no iat":         e.sign(t, with(func(c map[string]any) { delete(c, "iat") })),
		"expired":        e.sign(t, with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"other audience": e.sign(t, with(func(c map[string]any) { c["aud"] = "someone-else" })),
		"other issuer":   e.sign(t, with(func(c map[string]any) { c["iss"] = "https://issuer.invalid" })),
		"no sub nor sid": e.sign(t, with(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") })),
		"no jti":         e.sign(t, with(func(c map[string]any) { delete(c, "jti") })),
		"unknown key":    signWith(t, rogue, "rogue", good()),
		"alg none":       unsignedJWT(t, good()),
		"id token":       tok.IDToken,
		"garbage":        "not.a.jwt",
	} {
		t.Run(name, func(t *testing.T) {
			l, err := e.client.VerifyLogout(ctx, raw)
			if !errors.Is(err, oidc.ErrLogoutToken) || errors.Is(err, oidc.ErrUnavailable) {
				t.Errorf("VerifyLogout = %+v, %v; want ErrLogoutToken", l, err)
			}
		})
	}
	// The good one passes (and only once), with only a sid too.
	if _, err := e.client.VerifyLogout(ctx, e.sign(t, good())); err != nil {
		t.Errorf("VerifyLogout(good) = %v", err)
	}
	l, err := e.client.VerifyLogout(ctx, e.sign(t, with(func(c map[string]any) { delete(c, "sub") })))
	if err != nil || l.PersonID != "" || l.SessionID != tok.SessionID {
		t.Errorf("VerifyLogout(sid only) = %+v, %v; want the session and no person", l, err)
	}
}

func (e *env) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := e.op.SignJWT(maps.Clone(claims), "logout+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"logout+jwt"}`)) + "." + enc.EncodeToString(b) + "."
}

// RP-initiated logout: the end-session URL names the session and where to
// come back; following it ends the provider session, which tells the
// relying party through the back channel, and returns with the state.
func TestEndSession(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	tok, err := e.signIn(t, devop.GraceID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.client.EndSessionURL(ctx, tok.IDToken, "bye-state")
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	if !strings.HasPrefix(u, e.op.Issuer()+"/end_session?") || q.Get("id_token_hint") != tok.IDToken ||
		q.Get("client_id") != "web" || q.Get("post_logout_redirect_uri") != e.rp.URL+"/signed-out" || q.Get("state") != "bye-state" {
		t.Fatalf("end-session URL = %s", u)
	}
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != e.rp.URL+"/signed-out?state=bye-state" {
		t.Errorf("end_session redirected to %q, want the post-logout URI with the state", loc)
	}
	got := e.receivedLogouts()
	if len(got) != 1 {
		t.Fatalf("logout tokens received = %d, want 1", len(got))
	}
	if l, err := e.client.VerifyLogout(ctx, got[0]); err != nil || l.SessionID != tok.SessionID {
		t.Errorf("VerifyLogout = %+v, %v; want the ended session", l, err)
	}
	if _, err := e.client.Refresh(ctx, tok.RefreshToken); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Refresh after end_session = %v, want ErrInvalidGrant", err)
	}
}
