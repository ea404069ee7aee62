package claim_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
)

// sample is a canonical token: 32 bytes 0x00..0x1f in unpadded base64url.
var sample = func() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(i)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}()

func TestNewToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := claim.NewToken()
		if err != nil {
			t.Fatalf("NewToken() = %v", err)
		}
		s := tok.Reveal()
		if len(s) != 43 {
			t.Fatalf("NewToken() = %d characters; want 43", len(s))
		}
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("NewToken() = %q; want only URL-safe base64 characters", s)
		}
		if seen[s] {
			t.Fatalf("NewToken() repeated %q after %d tokens", s, i)
		}
		seen[s] = true
		if _, err := claim.ParseToken(s); err != nil {
			t.Fatalf("ParseToken(NewToken()) = %v; want the token back", err)
		}
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	// Non-canonical: the last character of a 43-character token carries 4
	// spare bits; setting one gives another text for the same 32 bytes.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sample[42])
	nonCanonical := sample[:42] + string(alphabet[last+1])
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical", sample, true},
		{"42 characters", sample[:42], false},
		{"44 characters", sample + "A", false},
		{"padded", sample + "=", false},
		{"plus", "+" + sample[1:], false},
		{"slash", "/" + sample[1:], false},
		{"equals inside", sample[:20] + "=" + sample[21:], false},
		{"space", " " + sample[1:], false},
		{"non-canonical trailing bits", nonCanonical, false},
		{"empty", "", false},
		{"non-ASCII", "é" + sample[2:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := claim.ParseToken(tc.in)
			if tc.ok {
				if err != nil || tok.Reveal() != tc.in {
					t.Errorf("ParseToken(%q) = %q, %v; want the token back", tc.in, tok.Reveal(), err)
				}
				return
			}
			if !errors.Is(err, claim.ErrNotFound) {
				t.Errorf("ParseToken(%q) = %q, %v; want ErrNotFound", tc.in, tok.Reveal(), err)
			}
			if err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseToken(%q) error %q repeats the input", tc.in, err)
			}
		})
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	tok, err := claim.ParseToken(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(sample))
	h := tok.Hash()
	if h != claim.Hash(want) {
		t.Errorf("Hash() = %x; want SHA-256 of the text %x", h, want)
	}
	if got := h.String(); got != hex.EncodeToString(want[:]) {
		t.Errorf("Hash().String() = %q; want %q", got, hex.EncodeToString(want[:]))
	}
	back, err := claim.ParseHash(h.String())
	if err != nil || back != h || !back.Equal(h) {
		t.Errorf("ParseHash(%q) = %x, %v; want %x", h.String(), back, err, h)
	}
	other, _ := claim.NewToken()
	if h.Equal(other.Hash()) {
		t.Errorf("Hash.Equal(another token's hash) = true; want false")
	}
}

func TestParseHash(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"lower hex", good, true},
		{"upper hex", strings.ToUpper(good), true},
		{"63 digits", good[:63], false},
		{"65 digits", good + "a", false},
		{"66 digits", good + "ab", false},
		{"non-hex", strings.Repeat("zz", 32), false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := claim.ParseHash(tc.in)
			if tc.ok != (err == nil) {
				t.Errorf("ParseHash(%q) = %x, %v; want ok %v", tc.in, h, err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "claim: ") {
				t.Errorf("ParseHash(%q) error %q; want the claim: prefix", tc.in, err)
			}
		})
	}
}

// TestTokenNeverPrinted: a token printed or marshalled by mistake must not
// reveal the secret, in any verb, nor inside a struct that holds it.
func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	tok, err := claim.ParseToken(sample)
	if err != nil {
		t.Fatal(err)
	}
	issued := claim.Issued{Token: tok, Claim: claim.Claim{ID: "c1", Hash: tok.Hash()}}
	holder := struct {
		Name  string
		Token claim.Token
		Ptr   *claim.Token
	}{"x", tok, &tok}
	values := map[string]any{"token": tok, "pointer": &tok, "issued": issued, "issued pointer": &issued, "holder": holder,
		"slice": []claim.Token{tok}, "map": map[string]claim.Token{"k": tok}}
	for name, v := range values {
		for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10.50s", "%T"} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, sample) || strings.Contains(got, hex.EncodeToString([]byte(sample))) ||
				strings.Contains(strings.ToLower(got), strings.ToLower(hex.EncodeToString([]byte(sample)))) {
				t.Errorf("Sprintf(%q, %s) = %q; reveals the token", verb, name, got)
			}
		}
		if b, err := json.Marshal(v); err == nil && strings.Contains(string(b), sample) {
			t.Errorf("json.Marshal(%s) = %s; reveals the token", name, b)
		}
	}
	if got := fmt.Sprint(tok); got != "[claim token]" {
		t.Errorf("Sprint(token) = %q; want %q", got, "[claim token]")
	}
	if got := fmt.Sprintf("%#v", tok); got != "claim.Token([redacted])" {
		t.Errorf("Sprintf(%%#v, token) = %q; want %q", got, "claim.Token([redacted])")
	}
	if got := tok.Reveal(); got != sample {
		t.Errorf("Reveal() = %q; want %q", got, sample)
	}
}
