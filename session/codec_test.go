package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cookieCodecs returns a codec holding two secrets (new first, old second)
// and a codec holding only the old one, for rotation cases.
func cookieCodecs(t testing.TB, maxAge time.Duration) (both, old *Codec) {
	t.Helper()
	newSecret, oldSecret := bytes.Repeat([]byte("n"), 32), bytes.Repeat([]byte("o"), 32)
	both, err := NewCodec([][]byte{newSecret, oldSecret}, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	old, err = NewCodec([][]byte{oldSecret}, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	return both, old
}

// handCookie writes securecookie's format by hand with a chosen date, for
// the expiry cases securecookie's encoder (always "now") cannot produce:
//
//	base64url( date "|" base64url(iv ‖ AES-CTR(value)) "|" HMAC-SHA256(name "|" date "|" base64url(…)) )
func handCookie(secret []byte, name string, date int64, plain []byte) string {
	block, _ := aes.NewCipher(derive(secret, "hubgate cookie enc"))
	iv := bytes.Repeat([]byte{7}, block.BlockSize())
	ct := make([]byte, len(plain))
	cipher.NewCTR(block, iv).XORKeyStream(ct, plain)
	body := fmt.Sprintf("%d|%s", date, base64.URLEncoding.EncodeToString(append(iv, ct...)))
	m := hmac.New(sha256.New, derive(secret, "hubgate cookie mac"))
	m.Write([]byte(name + "|" + body))
	return base64.URLEncoding.EncodeToString(append([]byte(body+"|"), m.Sum(nil)...))
}

// TestCookieDecode: a cookie decodes under any of the secrets (rotation),
// only for its own name, only within the max age, and nothing else does.
func TestCookieDecode(t *testing.T) {
	both, old := cookieCodecs(t, time.Hour)
	plain := []byte("\x01identity bytes")
	fresh, err := both.Encode("s", plain)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := old.Encode("s", plain)
	if err != nil {
		t.Fatal(err)
	}
	oldSecret := bytes.Repeat([]byte("o"), 32)
	now := time.Now().Unix()
	long := strings.Repeat("A", maxCookie+1)
	for _, tc := range []struct {
		name, cookie, value string
		want                []byte // nil: refused
	}{
		{"written by the first secret", "s", fresh, plain},
		{"written by a rotated-out secret", "s", rotated, plain},
		{"by hand, fresh", "s", handCookie(oldSecret, "s", now, plain), plain},
		{"by hand, older than max age", "s", handCookie(oldSecret, "s", now-3601-1, plain), nil},
		{"by hand, date with plus sign", "s", handCookie(oldSecret, "s", now, plain), plain},
		{"another cookie's name", "t", fresh, nil},
		{"secret unknown", "s", handCookie(bytes.Repeat([]byte("x"), 32), "s", now, plain), nil},
		{"truncated", "s", fresh[:len(fresh)-4], nil},
		{"empty", "s", "", nil},
		{"not base64", "s", "%%%", nil},
		{"too long", "s", long, nil},
		{"no separators", "s", base64.URLEncoding.EncodeToString([]byte("abc")), nil},
		{"iv only", "s", handCookie(oldSecret, "s", now, nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := both.Decode(tc.cookie, tc.value)
			if tc.want == nil && err == nil || tc.want != nil && !bytes.Equal(got, tc.want) {
				t.Fatalf("Decode = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestSealBinding: sealed data opens under any secret, only for the
// additional data it was sealed for.
func TestSealBinding(t *testing.T) {
	both, old := cookieCodecs(t, 0)
	sealed, err := old.Seal("session-a", []byte("tokens"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open("session-a", sealed); err != nil || string(got) != "tokens" {
		t.Errorf("Open by a codec that holds the old secret = %q, %v; want tokens", got, err)
	}
	if _, err := both.Open("session-b", sealed); err == nil {
		t.Error("sealed data opens for another session id")
	}
}
