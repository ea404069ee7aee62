package zaikio

// Fuzz targets for what hubgate reads from the hub and from Loom: webhook
// bodies and their signatures, token responses (both expires_in forms) and
// error bodies. Seed corpora: testdata/fuzz/<Target>/.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// FuzzParseEvent: any body parses into an event with an id (≤ 128 bytes)
// and a name in its zaikio. form, or fails; nothing panics.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","name":"zaikio.revoked_access_token","subject":"Per/x","timestamp":"2026-01-01T00:00:00Z","version":"1.0","payload":{"access_token_id":"t"}}`,
		`{"id":"2","name":"directory.member_left","subject":"Org/b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01","payload":{"person":{"id":"p"}}}`,
		`{"id":"","name":"x"}`, `{"id":1}`, `[]`, `null`, `{"id":"x","name":"directory."}`, `{"id":"` + strings.Repeat("a", 129) + `","name":"n"}`,
		`{"id":"a","name":"b","payload":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseEvent(body)
		if err != nil {
			return
		}
		if e.ID == "" || len(e.ID) > 128 || e.Name == "" {
			t.Fatalf("ParseEvent accepted id %q name %q", e.ID, e.Name)
		}
		if strings.HasPrefix(e.Name, "directory.") {
			t.Fatalf("ParseEvent kept the legacy name %q", e.Name)
		}
		_, _ = SubjectID(e.Subject)
	})
}

// FuzzVerifySignature: a signature verifies only if it is the hex
// HMAC-SHA256 of the body under the secret (surrounding space allowed); the
// right signature always verifies, a flipped one never; an empty secret
// verifies nothing.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"id":"1"}`), "", byte(0))
	f.Add([]byte("secret"), []byte(``), "zz", byte(3))
	f.Add([]byte{}, []byte(`x`), "00", byte(255))
	f.Fuzz(func(t *testing.T, secret, body []byte, sig string, flip byte) {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		want := m.Sum(nil)
		if VerifySignature(secret, body, sig) {
			got, err := hex.DecodeString(strings.TrimSpace(sig))
			if len(secret) == 0 || err != nil || !hmac.Equal(got, want) {
				t.Fatalf("VerifySignature accepted %q for secret %q body %q", sig, secret, body)
			}
		}
		right := hex.EncodeToString(want)
		if ok := VerifySignature(secret, body, right); ok != (len(secret) > 0) {
			t.Fatalf("VerifySignature(right signature) = %v with a %d-byte secret", ok, len(secret))
		}
		if len(secret) > 0 && !VerifySignature(secret, body, " "+strings.ToUpper(right)+"\n") {
			t.Fatal("VerifySignature refused the right signature in upper case with spaces")
		}
		wrong := []byte(right)
		i := int(flip) % len(wrong)
		wrong[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", wrong[i])+1)%16]
		if VerifySignature(secret, body, string(wrong)) {
			t.Fatalf("VerifySignature accepted a signature with digit %d changed", i)
		}
	})
}

// FuzzDecodeToken: any token response decodes into a bearer token for a
// Person or Organization with an access token, or fails; relative
// expires_in never yields an expiry before now or beyond a year.
func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","refresh_token":"r","token_type":"bearer","scope":"zaikio.person.r","expires_in":600,"bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":"2030-01-01T00:00:00Z","bearer":{"id":"o","type":"Organization"},"bearer_on_behalf_of":{"id":"p","type":"Person","roles":["owner"]}}`,
		`{"access_token":"a","expires_in":"PT10M","bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"a","expires_in":-1,"bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"a","expires_in":1e308,"bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"a","expires_in":"PT99999999999999999999H","bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"a","expires_in":"PT1.5H30M","bearer":{"id":"p","type":"Person"}}`,
		`{"access_token":"","bearer":{}}`, `{"token_type":"mac"}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = oauthError("token", 400, body)
		tok, err := decodeToken(body, now)
		if err != nil {
			return
		}
		if tok.AccessToken == "" || tok.Bearer.ID == "" || (tok.Bearer.Type != "Person" && tok.Bearer.Type != "Organization") {
			t.Fatalf("decodeToken accepted %+v", tok)
		}
		_ = tok.HasScope("zaikio.person.r")
		_ = ExpectedSubject(tok.Bearer, tok.OnBehalfOf)
	})
}

// FuzzParseExpiresIn: numbers, digit strings and ISO-8601 durations give an
// expiry between now and a year from now; nothing overflows into the past.
func FuzzParseExpiresIn(f *testing.F) {
	for _, s := range []string{`600`, `"600"`, `"PT10M"`, `"PT1H2M3S"`, `"2026-11-25T19:30:00Z"`, `-5`, `1e20`, `"PT9223372036854775807S"`, `"PT.5S"`, `"PT"`, `null`, `""`} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		exp, err := parseExpiresIn([]byte(raw), now)
		if err != nil || exp.IsZero() {
			return
		}
		s := strings.TrimSpace(strings.Trim(raw, `"`))
		relative := !strings.Contains(s, "-") && !strings.Contains(s, ":") // not a timestamp
		if relative && (exp.Before(now) || exp.After(now.Add(maxExpiresIn))) {
			t.Fatalf("parseExpiresIn(%s) = %s; want within a year of %s", raw, exp, now)
		}
	})
}
