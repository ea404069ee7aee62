package devhub_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func nopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL.Path, err)
	}
}

// decodeClaims reads a JWT's claims without verifying it.
func decodeClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts; want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return c
}

// decodeHeader reads a JWT's header.
func decodeHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func (e *env) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	resp := e.get(t, e.srv.URL+"/api/v1/jwt_public_keys")
	var set jose.JSONWebKeySet
	decodeJSON(t, resp, &set)
	return set
}

// Errors of verify, one per check a client must make.
var (
	errSignature = errors.New("signature")
	errIssuer    = errors.New("issuer")
	errAudience  = errors.New("audience")
	errExpiry    = errors.New("expiry")
	errSubject   = errors.New("subject")
)

// verify checks an access token the way hubgate must: signature under a
// published key (by kid), iss, aud, exp/nbf, and sub against the response's
// bearer.
func (e *env) verify(t *testing.T, token string, bearer map[string]any) error {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return fmt.Errorf("%w: parse: %v", errSignature, err)
	}
	set := e.jwks(t)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return fmt.Errorf("%w: kid %q published %d times", errSignature, tok.Headers[0].KeyID, len(keys))
	}
	var std jwt.Claims
	var extra struct {
		Scope []string `json:"scope"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return fmt.Errorf("%w: %v", errSignature, err)
	}
	if std.Issuer != "ZAI" {
		return fmt.Errorf("%w: %q", errIssuer, std.Issuer)
	}
	err = std.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{appName}, Time: e.clock.Now()}, 0)
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience):
		return fmt.Errorf("%w: %v", errAudience, std.Audience)
	case err != nil:
		return fmt.Errorf("%w: %v", errExpiry, err)
	}
	want := "Person/" + bearer["id"].(string)
	if bearer["type"] == "Organization" {
		want = "Organization/" + bearer["id"].(string)
	}
	if std.Subject != want && !strings.HasSuffix(std.Subject, ">"+want) {
		return fmt.Errorf("%w: %q, bearer %v", errSubject, std.Subject, bearer)
	}
	return nil
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	resp := e.get(t, e.srv.URL+"/api/v1/jwt_public_keys")
	var body struct {
		Keys []map[string]any `json:"keys"`
	}
	decodeJSON(t, resp, &body)
	if len(body.Keys) != 1 {
		t.Fatalf("keys = %d; want 1", len(body.Keys))
	}
	k := body.Keys[0]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(k["kid"].(string)) {
		t.Errorf("kid = %q; want 64 hex digits", k["kid"])
	}
	if n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string)); len(n) != 256 {
		t.Errorf("modulus has %d bytes; want 256 (RSA-2048)", len(n))
	}
	delete(k, "kid")
	delete(k, "n")
	want := map[string]any{"kty": "RSA", "e": "AQAB", "alg": "RS256", "use": "sig"}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("key (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(e.hub.KeyIDs(), []string{e.jwks(t).Keys[0].KeyID}); diff != "" {
		t.Errorf("KeyIDs (-hub +published):\n%s", diff)
	}
}

func TestJWTVerifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name, person, org, scope string
		wantSub                  string
	}{
		{"person", devhub.FrankID, "", "zaikio.person.r", "Person/" + devhub.FrankID},
		{"organization", devhub.FrankID, devhub.BountySoapID, "Org.zaikio.organization.r", "Organization/" + devhub.BountySoapID},
		{"on behalf", devhub.AdaID, "", "Per>Org.zaikio.organization.r", "Person/" + devhub.AdaID + ">Organization/" + devhub.AnalyticalEnginesID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.login(t, tc.person, tc.org, tc.scope)
			tok := res.str("access_token")
			if err := e.verify(t, tok, res.body["bearer"].(map[string]any)); err != nil {
				t.Fatalf("verify: %v", err)
			}
			header := decodeHeader(t, tok)
			if header["alg"] != "RS256" || header["kid"] != e.hub.KeyIDs()[0] {
				t.Errorf("header = %v; want alg RS256 and the current kid", header)
			}
			c := decodeClaims(t, tok)
			if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c["jti"].(string)) {
				t.Errorf("jti = %v; want a UUID v4", c["jti"])
			}
			now := e.clock.Now().Unix()
			want := map[string]any{
				"iss": "ZAI", "sub": tc.wantSub, "aud": []any{appName}, "jti": c["jti"],
				"nbf": float64(now), "exp": float64(now + 600),
				"jku":   e.srv.URL + "/api/v1/jwt_public_keys",
				"scope": []any{strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(tc.scope, "Per>Org."), "Org."), "Per.")},
			}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	oldKid := e.hub.KeyIDs()[0]
	before := e.login(t, devhub.FrankID, "", "zaikio.person.r")

	newKid := e.hub.RotateKey()
	if newKid == oldKid || len(newKid) != 64 {
		t.Fatalf("RotateKey = %q; want a new 64-hex kid", newKid)
	}
	var published []string
	for _, k := range e.jwks(t).Keys {
		published = append(published, k.KeyID)
	}
	if diff := cmp.Diff([]string{oldKid, newKid}, published, sortStrings); diff != "" {
		t.Errorf("published kids after rotation (-want +got):\n%s", diff)
	}
	after := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	if kid := decodeHeader(t, after.str("access_token"))["kid"]; kid != newKid {
		t.Errorf("kid of a new token = %v; want %s", kid, newKid)
	}
	for name, res := range map[string]tokenResult{"old": before, "new": after} {
		if err := e.verify(t, res.str("access_token"), res.body["bearer"].(map[string]any)); err != nil {
			t.Errorf("%s token: verify: %v", name, err)
		}
		if status, _ := e.api(t, "GET", "/api/v1/person", res.str("access_token")); status != http.StatusOK {
			t.Errorf("%s token at the hub: status %d; want 200", name, status)
		}
	}

	e.hub.DropOldKeys()
	if got := e.jwks(t).Keys; len(got) != 1 || got[0].KeyID != newKid {
		t.Errorf("published after DropOldKeys = %v; want only %s", got, newKid)
	}
	if status, _ := e.api(t, "GET", "/api/v1/person", before.str("access_token")); status != http.StatusUnauthorized {
		t.Errorf("token of a dropped key: status %d; want 401", status)
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tamper devhub.Tamper
		scope  string
		want   error
	}{
		{devhub.TamperBadSignature, "zaikio.person.r", errSignature},
		{devhub.TamperWrongAudience, "zaikio.person.r", errAudience},
		{devhub.TamperExpired, "zaikio.person.r", errExpiry},
		{devhub.TamperSubMismatch, "zaikio.person.r", errSubject},
		{devhub.TamperSubMismatch, "Per>Org.zaikio.organization.r", errSubject},
		{devhub.TamperWrongIssuer, "zaikio.person.r", errIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.tamper.String()+" "+tc.scope, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.hub.TamperNext(tc.tamper)
			spoiled := e.login(t, devhub.FrankID, "", tc.scope)
			if err := e.verify(t, spoiled.str("access_token"), spoiled.body["bearer"].(map[string]any)); !errors.Is(err, tc.want) {
				t.Errorf("verify(spoiled) = %v; want %v", err, tc.want)
			}
			if tc.tamper == devhub.TamperBadSignature {
				if kid := decodeHeader(t, spoiled.str("access_token"))["kid"]; !slices.Contains(e.hub.KeyIDs(), kid.(string)) {
					t.Errorf("kid %v is not published; want a published kid", kid)
				}
			}
			if spoiled.body["expires_in"] != float64(600) {
				t.Errorf("expires_in = %v; want the usual 600 (only the JWT is spoiled)", spoiled.body["expires_in"])
			}
			clean := e.login(t, devhub.FrankID, "", tc.scope)
			if err := e.verify(t, clean.str("access_token"), clean.body["bearer"].(map[string]any)); err != nil {
				t.Errorf("the token after the spoiled one: verify: %v", err)
			}
		})
	}
}

func TestTamperQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.hub.TamperNext(devhub.TamperWrongIssuer)
	e.hub.TamperNext(devhub.TamperWrongAudience)
	e.hub.TamperNext(devhub.TamperNone) // clears
	res := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	if err := e.verify(t, res.str("access_token"), res.body["bearer"].(map[string]any)); err != nil {
		t.Errorf("after TamperNext(TamperNone): verify: %v", err)
	}
}
