package zaikio

import (
	"errors"
	"strings"
)

// BearerCode says why a bearer token was refused. Its values are fixed
// lower-case words, safe to show to the caller (a 401 body, the
// error_description of WWW-Authenticate); the detail behind them goes to the
// log only.
type BearerCode string

// The reasons a bearer token is refused.
const (
	BearerExpired       BearerCode = "expired"        // exp has passed
	BearerNotYetValid   BearerCode = "not_yet_valid"  // nbf lies ahead
	BearerRevoked       BearerCode = "revoked"        // the jti is on the hub's revocation list or was revoked by webhook
	BearerWrongAudience BearerCode = "wrong_audience" // aud does not name this app
	BearerWrongIssuer   BearerCode = "wrong_issuer"   // iss is not "ZAI"
	BearerUnknownKey    BearerCode = "unknown_key"    // the hub publishes no key with the token's kid
	BearerBadAlgorithm  BearerCode = "bad_algorithm"  // alg is not RS256 (none, HS256, ES256, …)
	BearerBadSignature  BearerCode = "bad_signature"  // the signature does not verify under the kid's key
	BearerMalformed     BearerCode = "malformed"      // not a JWS, no kid, no exp or jti, a subject we do not know, …
	BearerMissingScope  BearerCode = "missing_scope"  // valid, but without a scope the route requires
	// BearerUnavailable: the hub's keys or revocation list could not be
	// fetched, so the token could not be checked. It fails closed, but the
	// caller should be told to retry (503), not that its token is bad.
	BearerUnavailable BearerCode = "unavailable"
)

// BearerError is a refused bearer token. It unwraps to ErrUnavailable for
// BearerUnavailable, to ErrScope for BearerMissingScope, and to
// ErrInvalidToken otherwise.
type BearerError struct {
	Code BearerCode
	// Scope is, for BearerMissingScope, the scope that was required.
	Scope string
	// Err is the detail, for the log. Never show it to the caller.
	Err error
}

func (e *BearerError) Error() string {
	var b strings.Builder
	b.WriteString("zaikio: bearer token refused: ")
	b.WriteString(string(e.Code))
	if e.Scope != "" {
		b.WriteString(" ")
		b.WriteString(e.Scope)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is see the detail and the package's sentinels.
func (e *BearerError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	switch e.Code {
	case BearerUnavailable:
		errs = append(errs, ErrUnavailable)
	case BearerMissingScope:
		errs = append(errs, ErrScope)
	default:
		errs = append(errs, ErrInvalidToken)
	}
	return errs
}

// BearerCodeOf returns the code of a *BearerError in err's chain, or "".
func BearerCodeOf(err error) BearerCode {
	var be *BearerError
	if errors.As(err, &be) {
		return be.Code
	}
	return ""
}

func refuse(code BearerCode, err error) *BearerError {
	return &BearerError{Code: code, Err: err}
}

// OAuthError is the RFC 6750 §3.1 error code for c: insufficient_scope for
// BearerMissingScope, invalid_token for the others, and "" for
// BearerUnavailable (the token may be fine: answer 503, not a challenge).
func (c BearerCode) OAuthError() string {
	switch c {
	case BearerMissingScope:
		return "insufficient_scope"
	case BearerUnavailable, "":
		return ""
	}
	return "invalid_token"
}

// Challenge is the WWW-Authenticate value for e (RFC 6750 §3), e.g.
//
//	Bearer realm="hubgate", error="invalid_token", error_description="expired"
//
// with scope="…" added for a missing scope. realm is quoted here.
func (e *BearerError) Challenge(realm string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(realm))
	if oe := e.Code.OAuthError(); oe != "" {
		b.WriteString(`, error="`)
		b.WriteString(oe)
		b.WriteString(`"`)
	}
	b.WriteString(`, error_description="`)
	b.WriteString(string(e.Code))
	b.WriteString(`"`)
	if e.Code == BearerMissingScope && e.Scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(e.Scope))
	}
	return b.String()
}

// quote makes s an RFC 9110 §5.6.4 quoted-string, dropping control
// characters (they cannot appear in a header).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
