package oidc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
)

// checks are the refusals of OpenID Connect Core §3.1.3.7, one error each.
var checks = []error{oidc.ErrIssuer, oidc.ErrAudience, oidc.ErrAZP, oidc.ErrExpired, oidc.ErrNonce,
	oidc.ErrAlgorithm, oidc.ErrSignature}

// only fails unless err is want — and no other check's error — and wraps
// ErrInvalidToken.
func only(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || !errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, other := range checks {
		if other != want && errors.Is(err, other) {
			t.Errorf("err = %v is also %v", err, other)
		}
	}
	if errors.Is(err, oidc.ErrUnavailable) || errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("err = %v: a bad token is neither an outage nor a refused grant", err)
	}
}

// Every bad ID token the real provider can be made to send is refused, each
// with its own error, and the next good sign-in goes through.
func TestBadIDTokensRefused(t *testing.T) {
	for _, tc := range []struct {
		tamper devop.Tamper
		want   error
		opts   options
	}{
		{tamper: devop.TamperNonce, want: oidc.ErrNonce},
		{tamper: devop.TamperAudience, want: oidc.ErrAudience},
		{tamper: devop.TamperAZP, want: oidc.ErrAZP},
		{tamper: devop.TamperIssuer, want: oidc.ErrIssuer},
		{tamper: devop.TamperExpired, want: oidc.ErrExpired},
		{tamper: devop.TamperAlgNone, want: oidc.ErrAlgorithm},
		// go-oidc's default: HS256 is not an algorithm discovery lists.
		{tamper: devop.TamperHS256PublicKey, want: oidc.ErrAlgorithm},
		// Even where the provider lists HS256 and HMAC is allowed, the key
		// is the client secret, never the provider's public key.
		{tamper: devop.TamperHS256PublicKey, want: oidc.ErrSignature, opts: options{
			op: func(c *devop.Config) { c.AdvertiseHS256 = true }, client: func(c *oidc.Config) { c.AllowHMAC = true }}},
		// … and without AllowHMAC, HS256 stays refused though listed.
		{tamper: devop.TamperHS256PublicKey, want: oidc.ErrAlgorithm, opts: options{
			op: func(c *devop.Config) { c.AdvertiseHS256 = true }}},
		{tamper: devop.TamperAlgNone, want: oidc.ErrAlgorithm, opts: options{
			op: func(c *devop.Config) { c.AdvertiseHS256 = true }, client: func(c *oidc.Config) { c.AllowHMAC = true }}},
		{tamper: devop.TamperUnknownKID, want: oidc.ErrSignature},
		{tamper: devop.TamperSignature, want: oidc.ErrSignature},
	} {
		name := string(tc.tamper)
		if tc.opts.op != nil {
			name += "/hs256_listed"
		}
		if tc.opts.client != nil {
			name += "/hmac_allowed"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			if err := e.op.TamperNext(tc.tamper); err != nil {
				t.Fatal(err)
			}
			tok, err := e.signIn(t, devop.AliceID)
			if tok != nil {
				t.Errorf("Exchange returned a token for a bad ID token: %+v", tok.Person)
			}
			only(t, err, tc.want)
			if _, err := e.signIn(t, devop.AliceID); err != nil {
				t.Errorf("the next, good sign-in = %v", err)
			}
		})
	}
}

// The nonce binds the ID token to the flow that started it: a code and ID
// token from another flow (a replay, or an attacker's code planted in a
// victim's callback) are refused.
func TestNonceOfAnotherFlowRefused(t *testing.T) {
	e := newEnv(t, options{})
	f := newFlow()
	q := e.authorize(t, f, oidc.AuthOptions{}, devop.AliceID)
	_, err := e.client.Exchange(context.Background(), q.Get("code"), f.verifier, oidc.NewNonce())
	only(t, err, oidc.ErrNonce)
	_, err = e.client.Exchange(context.Background(), "any-code", f.verifier, "")
	only(t, err, oidc.ErrNonce)
}

// With several audiences a good ID token names us in azp, and passes.
func TestSeveralAudiencesWithAZP(t *testing.T) {
	e := newEnv(t, options{op: func(c *devop.Config) { c.Clients[0].ExtraAudiences = []string{"api"} }})
	tok, err := e.signIn(t, devop.BobID)
	if err != nil {
		t.Fatalf("ID token with aud [web api], azp web: %v", err)
	}
	if tok.Person.Subject != devop.BobID {
		t.Errorf("person = %s, want Bob", tok.Person.Subject)
	}
}
