package zaikio

import (
	"context"
	"fmt"
	"time"
)

// Claims are the verified facts of an access token.
type Claims struct {
	Subject  string
	JTI      string
	Scope    []string
	Audience []string
	Expiry   time.Time
}

// Verify checks t's access token as a JWT: RS256 signature against the hub's
// published keys (refetched on an unknown kid), issuer "ZAI", audience
// containing the app name, exp and nbf; then that its sub names the token
// response's bearer (a token for someone else must not be accepted for them).
// On success t.Expiry is set from the JWT's exp.
//
// When the token could not be checked because the hub's keys could not be
// fetched (hub down, slow, rate-limiting), the error is ErrUnavailable, not
// ErrInvalidToken: the token may be fine and the person should try again
// later rather than be told that Zaikio's answer was forged.
func (c *Client) Verify(ctx context.Context, t *Token) (*Claims, error) {
	out := &keyOutcome{}
	idt, err := c.verifier.Verify(withKeyOutcome(ctx, out), t.AccessToken)
	if err != nil {
		if out.code == BearerUnavailable {
			return nil, &Error{Op: "keys", Err: fmt.Errorf("verify access token: %w", err)} // unwraps to ErrUnavailable
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var extra struct {
		JTI   string   `json:"jti"`
		Scope []string `json:"scope"`
	}
	if err := idt.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	want := ExpectedSubject(t.Bearer, t.OnBehalfOf)
	if idt.Subject != want {
		return nil, fmt.Errorf("%w: sub %q does not match bearer %q", ErrInvalidToken, idt.Subject, want)
	}
	if extra.JTI == "" {
		return nil, fmt.Errorf("%w: no jti", ErrInvalidToken)
	}
	t.Expiry = idt.Expiry
	return &Claims{Subject: idt.Subject, JTI: extra.JTI, Scope: extra.Scope, Audience: idt.Audience, Expiry: idt.Expiry}, nil
}

// ExpectedSubject is the JWT sub that belongs to a token response's bearer:
// "Person/<id>", "Organization/<id>", or "Person/<p>>Organization/<o>" for an
// on-behalf grant.
func ExpectedSubject(b Bearer, onBehalfOf *Bearer) string {
	s := b.Type + "/" + b.ID
	if onBehalfOf != nil && onBehalfOf.ID != "" {
		s = onBehalfOf.Type + "/" + onBehalfOf.ID + ">" + s
	}
	return s
}
