package claim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// TokenBytes is the entropy of a claim token: 256 bits.
const TokenBytes = 32

// tokenLen is the length of a token's text form (unpadded base64url of 32 bytes).
var tokenLen = base64.RawURLEncoding.EncodedLen(TokenBytes)

// Token is the secret a claim URL carries. It is shown once, when minted, and
// never stored or logged: only its [Hash] is kept.
type Token string

// Hash is the SHA-256 of a token, the only form in which a token is stored.
type Hash [sha256.Size]byte

// NewToken returns a fresh token with 256 bits from crypto/rand.
func NewToken() (Token, error) {
	var b [TokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("claim: read random: %w", err)
	}
	return Token(base64.RawURLEncoding.EncodeToString(b[:])), nil
}

// ParseToken checks that s has the shape of a token (43 characters of the
// URL-safe base64 alphabet decoding to 32 bytes) and returns it. Anything else is
// [ErrNotFound]: a malformed token is, to the person holding it, simply unknown.
func ParseToken(s string) (Token, error) {
	if len(s) != tokenLen {
		return "", fmt.Errorf("%w: token has %d characters, want %d", ErrNotFound, len(s), tokenLen)
	}
	var b [TokenBytes]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(s))
	if err != nil || n != TokenBytes {
		return "", fmt.Errorf("%w: token is not base64url", ErrNotFound)
	}
	// Reject non-canonical encodings (trailing bits set) so that one secret
	// has exactly one text form.
	if base64.RawURLEncoding.EncodeToString(b[:]) != s {
		return "", fmt.Errorf("%w: token is not canonical", ErrNotFound)
	}
	return Token(s), nil
}

// Hash returns the SHA-256 of the token's text form.
func (t Token) Hash() Hash { return sha256.Sum256([]byte(t)) }

// String hides the secret so that a token printed by mistake reveals nothing.
func (t Token) String() string { return "[claim token]" }

// GoString hides the secret from %#v as well.
func (t Token) GoString() string { return "claim.Token([redacted])" }

// Format hides the secret from every fmt verb: without it a verb that does
// not fit a string (%d, say) prints the raw value, bypassing String.
func (t Token) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, t.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(t.String()))
	default:
		io.WriteString(f, t.String())
	}
}

// MarshalText hides the secret from encoders (JSON, structured logs): a
// token goes out only through Reveal.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Reveal returns the token's text, for the one place that needs it: the URL
// shown to the person who minted it.
func (t Token) Reveal() string { return string(t) }

// Equal compares two hashes in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash from its hex form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if hex.DecodedLen(len(s)) != len(h) {
		return h, fmt.Errorf("claim: hash has %d hex digits, want %d", len(s), 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("claim: hash: %w", err)
	}
	return h, nil
}

// newID returns a public, non-secret identifier for a claim (64 random bits in
// hex). Ids name claims in lists and audit logs; they grant nothing.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("claim: read random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
