package claim_test

// Fuzz targets for the claim-token and hash parsers and the id rules. Seed
// corpora: testdata/fuzz/<Target>/.

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
)

// FuzzParseToken: a token is accepted only in its one canonical form (43
// characters of unpadded base64url for 256 bits); an accepted token reveals
// exactly its input, hashes like it, and never prints itself.
func FuzzParseToken(f *testing.F) {
	tok, err := claim.NewToken()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok.Reveal(), tok.Reveal()[:42], tok.Reveal() + "A", strings.Repeat("A", 43), strings.Repeat("_", 43),
		strings.Repeat("A", 42) + "B", strings.Repeat("+", 43), strings.Repeat("A", 43) + "=", "", "%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := claim.ParseToken(s)
		if err != nil {
			if tok != "" {
				t.Fatalf("ParseToken(%q) failed but returned %q", s, tok.Reveal())
			}
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != claim.TokenBytes || base64.RawURLEncoding.EncodeToString(raw) != s {
			t.Fatalf("ParseToken accepted %q, which is not a canonical %d-byte token", s, claim.TokenBytes)
		}
		if tok.Reveal() != s || tok.Hash() != claim.Token(s).Hash() {
			t.Fatalf("ParseToken(%q) changed the token", s)
		}
		for _, out := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %s %q %x %d %#v", tok, tok, tok, tok, tok, tok)} {
			if strings.Contains(out, s) {
				t.Fatalf("the token prints itself: %s", out)
			}
		}
		h := tok.Hash()
		back, err := claim.ParseHash(h.String())
		if err != nil || !back.Equal(h) {
			t.Fatalf("hash %s does not round-trip: %v", h, err)
		}
	})
}

// FuzzParseHash: a hash parses only from exactly 64 hex digits and
// round-trips.
func FuzzParseHash(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add(strings.Repeat("AB", 32))
	f.Add(strings.Repeat("a", 65))
	f.Add(strings.Repeat("g", 64))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := claim.ParseHash(s)
		if err != nil {
			return
		}
		if len(s) != 64 || !strings.EqualFold(h.String(), s) {
			t.Fatalf("ParseHash(%q) = %s", s, h)
		}
	})
}

// FuzzIDs: legacy ids fit [A-Za-z0-9._@-]{1,128} (so that the identity
// headers stay unambiguous); Zaikio ids are lower-case UUIDs; kinds are
// person or org.
func FuzzIDs(f *testing.F) {
	for _, s := range []string{"42", "a.b_c@d-e", strings.Repeat("x", 128), strings.Repeat("x", 129), "1,2", "1:admin", "a b", "",
		"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01", "383663BC-3C3E-4E8E-9F0E-6C1B1F0A7E01", "person", "org", "Org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if claim.ValidLegacyID(s) {
			if len(s) < 1 || len(s) > 128 {
				t.Fatalf("ValidLegacyID accepted %d bytes", len(s))
			}
			for _, c := range []byte(s) {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@-", c) >= 0) {
					t.Fatalf("ValidLegacyID accepted %q with %q", s, c)
				}
			}
		}
		if claim.ValidZaikioID(s) {
			if len(s) != 36 || strings.ToLower(s) != s || strings.Count(s, "-") != 4 {
				t.Fatalf("ValidZaikioID accepted %q", s)
			}
		}
		if k, err := claim.ParseKind(s); err == nil && k != claim.KindPerson && k != claim.KindOrg {
			t.Fatalf("ParseKind(%q) = %q", s, k)
		}
	})
}
