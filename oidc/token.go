package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Token is a verified token response: the ID token has passed every check
// of OpenID Connect Core §3.1.3.7 (and userinfo, when configured, named the
// same subject).
type Token struct {
	AccessToken string
	// RefreshToken is the one to use next. Providers that rotate return a
	// new one at every refresh and the old one stops working; one that does
	// not rotate returns none, and the old one is kept here (RFC 6749 §6).
	// Empty when the provider issued none (no offline_access).
	RefreshToken string
	// IDToken is the raw ID token: the id_token_hint of RP-initiated
	// logout. Empty after a refresh that returned none.
	IDToken string
	// Expiry is the access token's, from expires_in (zero: not given).
	Expiry time.Time
	// Scope is what the provider granted, when it said.
	Scope []string
	// Person is who signed in, from the ID token's claims (and userinfo's,
	// when configured). Nil after a refresh that returned no ID token
	// while userinfo is off.
	Person *Person
	// SessionID is the ID token's sid: the provider session a back-channel
	// logout may name. Empty when the provider sends none.
	SessionID string
	// TokenID is the ID token's jti, when it has one.
	TokenID string
}

// Exchange trades an authorization code and its PKCE verifier for tokens
// (RFC 6749 §4.1.3, RFC 7636 §4.5) and verifies the ID token, which must
// carry nonce, the flow's nonce (OpenID Connect Core §3.1.3.7 step 11). A
// refused code is ErrInvalidGrant; a refused ID token one of the errors
// wrapping ErrInvalidToken.
func (c *Client) Exchange(ctx context.Context, code, verifier, nonce string) (*Token, error) {
	if code == "" {
		return nil, &Error{Op: "token", Code: "invalid_request", Description: "empty code"}
	}
	if nonce == "" {
		return nil, fmt.Errorf("%w: the flow has no nonce", ErrNonce)
	}
	m, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	ot, err := m.oauth.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError("token", err)
	}
	raw, _ := ot.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", ErrInvalidToken)
	}
	return c.verified(ctx, m, ot, raw, nonce, "")
}

// Refresh trades a refresh token for new tokens (RFC 6749 §6). The answer's
// refresh token replaces the old one, which a rotating provider no longer
// accepts: store it before forgetting the old one. A refused refresh token
// is ErrInvalidGrant: the person must sign in again. An ID token in the
// answer is verified like a sign-in's, less the nonce (OpenID Connect Core
// §12.2); the caller checks that Person.ID is still the session's.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, &Error{Op: "refresh", Code: "invalid_grant", Description: "no refresh token"}
	}
	m, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	ot, err := m.oauth.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, tokenError("refresh", err)
	}
	raw, _ := ot.Extra("id_token").(string)
	return c.verified(ctx, m, ot, raw, "", refreshToken)
}

// verified verifies the ID token of a token response (when there is one)
// and builds the Token. nonce "" skips the nonce check (refresh only).
func (c *Client) verified(ctx context.Context, m *meta, ot *oauth2.Token, raw, nonce, oldRefresh string) (*Token, error) {
	t := &Token{AccessToken: ot.AccessToken, RefreshToken: ot.RefreshToken, IDToken: raw, Expiry: ot.Expiry}
	if t.RefreshToken == "" {
		t.RefreshToken = oldRefresh
	}
	if s, ok := ot.Extra("scope").(string); ok {
		t.Scope = strings.Fields(s)
	}
	var claims map[string]any
	if raw != "" {
		idt, err := c.verifyIDToken(ctx, m, raw, nonce, t.AccessToken)
		if err != nil {
			return nil, err
		}
		if err := idt.Claims(&claims); err != nil {
			return nil, fmt.Errorf("%w: id_token claims: %w", ErrInvalidToken, err)
		}
		t.SessionID, _ = claims["sid"].(string)
		t.TokenID, _ = claims["jti"].(string)
	}
	if c.cfg.UserInfo {
		sub, _ := claims["sub"].(string)
		ui, err := c.userinfo(ctx, m, t.AccessToken, sub)
		if err != nil {
			return nil, err
		}
		if claims == nil {
			claims = map[string]any{"iss": m.issuer}
		}
		for k, v := range ui {
			switch k {
			case "iss", "aud", "azp", "exp", "iat", "nonce":
				continue // the ID token's, never a userinfo answer's
			}
			claims[k] = v
		}
	}
	if claims != nil {
		p, err := c.person(m.issuer, claims)
		if err != nil {
			return nil, err
		}
		t.Person = p
	}
	return t, nil
}

// verifyIDToken runs go-oidc's checks — signature against the provider's
// keys with the accepted algorithms, iss, aud, exp, nbf — then those it
// leaves to us: azp (OpenID Connect Core §3.1.3.7 steps 4–5: with several
// audiences azp is required, and when present it must be us), the nonce
// (step 11, compared in constant time) and at_hash (§3.2.2.9).
func (c *Client) verifyIDToken(ctx context.Context, m *meta, raw, nonce, accessToken string) (*gooidc.IDToken, error) {
	failures := c.keyFailures.Load()
	idt, err := m.verifier.Verify(c.ctx(ctx), raw)
	if err != nil {
		if c.keyFailures.Load() != failures {
			// The keys could not be read: an outage, not a forged token.
			return nil, &Error{Op: "keys", Err: fmt.Errorf("verify id_token: %w", err)}
		}
		return nil, c.classify(m, raw, err)
	}
	var extra struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: id_token claims: %w", ErrInvalidToken, err)
	}
	if (len(idt.Audience) > 1 || extra.AZP != "") && extra.AZP != c.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp %q, audiences %q", ErrAZP, extra.AZP, idt.Audience)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w (got %d bytes)", ErrNonce, len(idt.Nonce))
	}
	if idt.AccessTokenHash != "" && accessToken != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, fmt.Errorf("%w: at_hash: %w", ErrSignature, err)
		}
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		// OpenID Connect Core §2: sub is required, at most 255 characters.
		return nil, fmt.Errorf("%w: sub is empty or longer than 255 characters", ErrInvalidToken)
	}
	if idt.IssuedAt.After(c.cfg.Now().Add(5 * time.Minute)) {
		return nil, fmt.Errorf("%w: issued in the future (iat %v)", ErrExpired, idt.IssuedAt)
	}
	return idt, nil
}

// classify names the check that go-oidc's refusal of raw failed. The
// refusal is go-oidc's; the token's unverified header and claims only pick
// the error, in go-oidc's own order: algorithm, signature, issuer,
// audience, expiry.
func (c *Client) classify(m *meta, raw string, err error) error {
	var expired *gooidc.TokenExpiredError
	head, claims := unverified(raw)
	alg, _ := head["alg"].(string)
	switch {
	case !slices.Contains(m.algs, alg):
		return fmt.Errorf("%w: alg %q, accepted %v: %w", ErrAlgorithm, alg, m.algs, err)
	case errors.As(err, &expired):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case strings.Contains(err.Error(), "failed to verify signature"), strings.Contains(err.Error(), "malformed jwt"):
		return fmt.Errorf("%w: %w", ErrSignature, err)
	case claims["iss"] != m.issuer:
		return fmt.Errorf("%w: %w", ErrIssuer, err)
	case !audienceHas(claims["aud"], c.cfg.ClientID):
		return fmt.Errorf("%w: %w", ErrAudience, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}

// unverified decodes a JWT's header and claims without any check, for
// classify only.
func unverified(raw string) (head, claims map[string]any) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	for i, dst := range []*map[string]any{&head, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			_ = json.Unmarshal(b, dst)
		}
	}
	return head, claims
}

func audienceHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		return slices.Contains(a, any(id))
	}
	return false
}

// tokenError turns an x/oauth2 failure into an *Error: an OAuth error
// answer keeps its code (invalid_grant → ErrInvalidGrant), a transport
// failure or 5xx is ErrUnavailable.
func tokenError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Op: op, Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if e.Code == "" && e.Status == http.StatusOK {
			e.Err = err // an answer x/oauth2 could not read
		}
		return e
	}
	return &Error{Op: op, Err: err}
}
