package devhub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// otherApp is the seeded "another Zaikio app".
const (
	otherID     = devhub.OtherAppClientID
	otherSecret = devhub.OtherAppSecret
)

// credentials asks for a client credentials token with HTTP Basic (or, with
// basic false, credentials in the body) and returns the answer.
func (e *env) credentials(t *testing.T, id, secret, scope string, basic bool) tokenResult {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if !basic {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(id, secret)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("POST token: %v", err)
	}
	defer resp.Body.Close()
	res := tokenResult{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&res.body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return res
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	frank, bounty := devhub.FrankID, devhub.BountySoapID
	tests := []struct {
		name       string
		scope      string
		wantSub    string
		wantBearer map[string]any
		wantBehalf map[string]any
		wantScope  string
	}{
		{"organization", "Org/" + bounty + "." + appName + ".api.r", "Organization/" + bounty,
			map[string]any{"id": bounty, "type": "Organization"}, nil, appName + ".api.r"},
		{"person", "Per/" + frank + "." + appName + ".api.rw", "Person/" + frank,
			map[string]any{"id": frank, "type": "Person"}, nil, appName + ".api.rw"},
		{"on behalf", "Per/" + frank + ">Org/" + bounty + "." + appName + ".api.w", "Person/" + frank + ">Organization/" + bounty,
			map[string]any{"id": bounty, "type": "Organization"},
			map[string]any{"id": frank, "type": "Person", "roles": []any{"owner"}}, appName + ".api.w"},
		{"upper-case ids, repeated scope", "Org/" + strings.ToUpper(bounty) + "." + appName + ".api.r,Org/" + bounty + "." + appName + ".api.r",
			"Organization/" + bounty, map[string]any{"id": bounty, "type": "Organization"}, nil, appName + ".api.r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.credentials(t, otherID, otherSecret, tc.scope, true)
			if res.status != http.StatusOK {
				t.Fatalf("client credentials: %d %v; want 200", res.status, res.body)
			}
			if _, ok := res.body["refresh_token"]; ok {
				t.Errorf("the answer has a refresh_token; client credentials get none")
			}
			if got := res.str("scope"); got != tc.wantScope {
				t.Errorf("scope = %q; want %q", got, tc.wantScope)
			}
			if diff := cmp.Diff([]any{otherID, appName}, res.body["audiences"]); diff != "" {
				t.Errorf("audiences (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBearer, res.body["bearer"]); diff != "" {
				t.Errorf("bearer (-want +got):\n%s", diff)
			}
			if tc.wantBehalf != nil {
				if diff := cmp.Diff(tc.wantBehalf, res.body["bearer_on_behalf_of"]); diff != "" {
					t.Errorf("bearer_on_behalf_of (-want +got):\n%s", diff)
				}
			}
			tok := res.str("access_token")
			if err := e.verify(t, tok, tc.wantBearer); err != nil {
				t.Errorf("the token does not verify: %v", err)
			}
			c := decodeClaims(t, tok)
			if c["sub"] != tc.wantSub {
				t.Errorf("sub = %v; want %s", c["sub"], tc.wantSub)
			}
			if diff := cmp.Diff([]any{otherID, appName}, c["aud"]); diff != "" {
				t.Errorf("aud (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]any{tc.wantScope}, c["scope"]); diff != "" {
				t.Errorf("scope claim (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.hub.AddApp(devhub.App{ClientID: "public_app", Name: "public_app", RedirectURIs: []string{"myapp://cb"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.hub.Grant(otherID, "Org/"+devhub.GalacticPrintID, appName+".orders.r"); err != nil {
		t.Fatal(err)
	}
	bounty, frank, erika := devhub.BountySoapID, devhub.FrankID, devhub.ErikaID
	ok := "Org/" + bounty + "." + appName + ".api.r"
	tests := []struct {
		name             string
		id, secret       string
		scope            string
		basic            bool
		wantStatus       int
		wantError, wantD string
	}{
		{"credentials in the body", otherID, otherSecret, ok, false, 401, "invalid_client", ""},
		{"wrong secret", otherID, "nope", ok, true, 401, "invalid_client", ""},
		{"public app", "public_app", "", ok, true, 400, "unauthorized_client", ""},
		{"no scope", otherID, otherSecret, "", true, 400, "invalid_scope", "malformed_scope"},
		{"bearer without id", otherID, otherSecret, "Org." + appName + ".api.r", true, 400, "invalid_scope", "malformed_scope"},
		{"no bearer", otherID, otherSecret, appName + ".api.r", true, 400, "invalid_scope", "malformed_scope"},
		{"two bearers", otherID, otherSecret, ok + ",Per/" + frank + "." + appName + ".api.r", true, 400, "invalid_scope", "malformed_scope"},
		{"bad permission", otherID, otherSecret, "Org/" + bounty + "." + appName + ".api.x", true, 400, "invalid_scope", "malformed_scope"},
		{"ungranted bearer", otherID, otherSecret, "Per/" + erika + "." + appName + ".api.r", true, 400, "invalid_scope", "ungranted_scope"},
		{"ungranted scope", otherID, otherSecret, "Org/" + bounty + "." + appName + ".orders.r", true, 400, "invalid_scope", "ungranted_scope"},
		{"more than granted", otherID, otherSecret, "Org/" + devhub.GalacticPrintID + "." + appName + ".orders.rw", true, 400, "invalid_scope", "ungranted_scope"},
		{"one of two ungranted", otherID, otherSecret, ok + ",Org/" + bounty + ".zaikio.organization.r", true, 400, "invalid_scope", "ungranted_scope"},
		{"on behalf of a non-member", otherID, otherSecret, "Per/" + frank + ">Org/" + devhub.AnalyticalEnginesID + "." + appName + ".api.r", true, 400, "invalid_scope", "ungranted_scope"},
		{"on behalf of an unconnected person", otherID, otherSecret, "Per/" + devhub.MaxID + ">Org/" + bounty + "." + appName + ".api.r", true, 400, "invalid_scope", "ungranted_scope"},
		{"another app's grant", clientID, clientSecret, ok, true, 400, "invalid_scope", "ungranted_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.credentials(t, tc.id, tc.secret, tc.scope, tc.basic)
			if res.status != tc.wantStatus || res.str("error") != tc.wantError || (tc.wantD != "" && res.str("error_description") != tc.wantD) {
				t.Errorf("client credentials = %d %v; want %d %s %s", res.status, res.body, tc.wantStatus, tc.wantError, tc.wantD)
			}
			if _, ok := res.body["access_token"]; ok {
				t.Error("a refused request got an access token")
			}
		})
	}
	t.Run("granted read, asked read", func(t *testing.T) {
		if res := e.credentials(t, otherID, otherSecret, "Org/"+devhub.GalacticPrintID+"."+appName+".orders.r", true); res.status != 200 {
			t.Errorf("client credentials for a granted scope = %d %v; want 200", res.status, res.body)
		}
	})
}

// TestApprovalGrants: approving a redirect flow grants the app what it
// asked for, and client credentials may then ask for it.
func TestApprovalGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	scope := "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r"
	if res := e.credentials(t, clientID, clientSecret, scope, true); res.str("error_description") != "ungranted_scope" {
		t.Fatalf("before the approval: %d %v; want ungranted_scope", res.status, res.body)
	}
	e.login(t, devhub.ErikaID, devhub.GalacticPrintID, "Org.zaikio.organization.r")
	res := e.credentials(t, clientID, clientSecret, scope, true)
	if res.status != http.StatusOK {
		t.Fatalf("after the approval: %d %v; want 200", res.status, res.body)
	}
	if diff := cmp.Diff([]any{appName}, res.body["audiences"]); diff != "" {
		t.Errorf("audiences of a token with the hub's scopes only (-want +got):\n%s", diff)
	}
	got := e.hub.Grants(clientID)
	want := map[string][]string{
		"Org/" + devhub.GalacticPrintID: {"zaikio.organization.r"},
		"Per/" + devhub.ErikaID:         {"zaikio.organization.r"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Grants (-want +got):\n%s", diff)
	}
}

func TestGrantValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name, client, bearer string
		scopes               []string
		wantErr              string
	}{
		{"unknown app", "nope", "Org/" + devhub.BountySoapID, []string{"a.b.r"}, "no app"},
		{"unknown org", otherID, "Org/" + devhub.FrankID, []string{"a.b.r"}, "bearer"},
		{"bad bearer", otherID, "Organization/" + devhub.BountySoapID, []string{"a.b.r"}, "bearer"},
		{"bad scope", otherID, "Org/" + devhub.BountySoapID, []string{"a.b"}, "scope"},
		{"fine", otherID, "Per/" + strings.ToUpper(devhub.AdaID), []string{"a.b.r", "a.b.w"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.hub.Grant(tc.client, tc.bearer, tc.scopes...)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Grant = %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if got := e.hub.Grants(otherID)["Per/"+devhub.AdaID]; !cmp.Equal(got, []string{"a.b.rw"}) {
		t.Errorf("Ada's grants = %v; want [a.b.rw] (r and w merged)", got)
	}
}

// TestSeededGrantsForLaterApps: an app registered after New gets
// another_app's seeded grants too, so `hubgate dev` and tests may add apps.
func TestSeededGrantsForLaterApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.hub.AddApp(devhub.App{ClientID: "late", ClientSecret: "s", Name: "late_app", RedirectURIs: []string{"http://late.test/cb"}}); err != nil {
		t.Fatal(err)
	}
	if res := e.credentials(t, otherID, otherSecret, "Per/"+devhub.FrankID+".late_app.api.r", true); res.status != 200 {
		t.Errorf("client credentials for a later app = %d %v; want 200", res.status, res.body)
	}
	unseeded, err := devhub.New(devhub.Config{Apps: []devhub.App{testApp()}})
	if err != nil {
		t.Fatal(err)
	}
	if g := unseeded.Grants(otherID); len(g) != 0 {
		t.Errorf("an unseeded hub has grants %v for %s", g, otherID)
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	now := e.clock.Now()
	tests := []struct {
		name      string
		spec      devhub.TokenSpec
		wantAlg   string
		wantKID   string // "current", "other", "none"
		wantClaim map[string]any
		noClaim   string
	}{
		{"defaults", devhub.TokenSpec{Scope: []string{appName + ".api.r"}}, "RS256", "current",
			map[string]any{"iss": "ZAI", "sub": "Person/" + devhub.FrankID, "aud": []any{otherID, appName},
				"nbf": float64(now.Unix()), "exp": float64(now.Add(devhub.DefaultAccessTTL).Unix()), "scope": []any{appName + ".api.r"}}, ""},
		{"explicit", devhub.TokenSpec{ClientID: clientID, Subject: "Organization/" + devhub.BountySoapID, Audience: []string{"x"},
			Issuer: "NOT-ZAI", JTI: "j1", NotBefore: now.Add(time.Minute), Expiry: now.Add(2 * time.Minute)}, "RS256", "current",
			map[string]any{"iss": "NOT-ZAI", "sub": "Organization/" + devhub.BountySoapID, "aud": []any{"x"}, "jti": "j1",
				"nbf": float64(now.Add(time.Minute).Unix()), "exp": float64(now.Add(2 * time.Minute).Unix()), "scope": []any{}}, ""},
		{"alg none", devhub.TokenSpec{Flaw: devhub.FlawAlgNone}, "none", "none", nil, ""},
		{"HS256", devhub.TokenSpec{Flaw: devhub.FlawHS256PublicKey}, "HS256", "current", nil, ""},
		{"ES256", devhub.TokenSpec{Flaw: devhub.FlawES256}, "ES256", "current", nil, ""},
		{"bad signature", devhub.TokenSpec{Flaw: devhub.FlawBadSignature}, "RS256", "current", nil, ""},
		{"unknown kid", devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}, "RS256", "other", nil, ""},
		{"no kid", devhub.TokenSpec{Flaw: devhub.FlawNoKID}, "RS256", "none", nil, ""},
		{"no jti", devhub.TokenSpec{Flaw: devhub.FlawNoJTI}, "RS256", "current", nil, "jti"},
		{"no exp", devhub.TokenSpec{Flaw: devhub.FlawNoExp}, "RS256", "current", nil, "exp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := e.hub.Mint(tc.spec)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			h := decodeHeader(t, tok)
			if h["alg"] != tc.wantAlg {
				t.Errorf("alg = %v; want %s", h["alg"], tc.wantAlg)
			}
			kid, _ := h["kid"].(string)
			switch {
			case tc.wantKID == "current" && kid != e.hub.KeyIDs()[0],
				tc.wantKID == "other" && (kid == "" || kid == e.hub.KeyIDs()[0]),
				tc.wantKID == "none" && kid != "":
				t.Errorf("kid = %q; want %s", kid, tc.wantKID)
			}
			c := decodeClaims(t, tok)
			for k, want := range tc.wantClaim {
				if diff := cmp.Diff(want, c[k]); diff != "" {
					t.Errorf("claim %s (-want +got):\n%s", k, diff)
				}
			}
			if _, ok := c[tc.noClaim]; tc.noClaim != "" && ok {
				t.Errorf("claim %s is present; want it left out", tc.noClaim)
			}
		})
	}
	t.Run("valid token verifies", func(t *testing.T) {
		tok, err := e.hub.Mint(devhub.TokenSpec{ClientID: clientID, Subject: "Person/" + devhub.FrankID})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.verify(t, tok, map[string]any{"id": devhub.FrankID, "type": "Person"}); err != nil {
			t.Errorf("a minted valid token does not verify: %v", err)
		}
	})
	t.Run("bad signature does not verify", func(t *testing.T) {
		tok, _ := e.hub.Mint(devhub.TokenSpec{ClientID: clientID, Flaw: devhub.FlawBadSignature})
		if err := e.verify(t, tok, map[string]any{"id": devhub.FrankID, "type": "Person"}); err == nil {
			t.Error("a token with a bad signature verifies")
		}
	})
	if _, err := e.hub.Mint(devhub.TokenSpec{ClientID: "nope"}); err == nil {
		t.Error("Mint for an unknown app succeeded")
	}
	if tok, _ := e.hub.Mint(devhub.TokenSpec{Flaw: devhub.FlawNotJWT}); strings.Count(tok, ".") == 2 {
		t.Errorf("FlawNotJWT token %q looks like a JWS", tok)
	}
}

// TestRevokeAndList: a token revoked with Revoke, or with its own bearer at
// the revocation endpoint, is listed at both spellings of the list and
// refused by the hub's API.
func TestRevokeAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if _, err := e.hub.Mint(devhub.TokenSpec{JTI: "minted-jti"}); err != nil {
		t.Fatal(err)
	}
	// Seeded grants cover <app>.api only; grant the hub's own scope too.
	if err := e.hub.Grant(otherID, "Org/"+devhub.BountySoapID, "zaikio.organization.r"); err != nil {
		t.Fatal(err)
	}
	res := e.credentials(t, otherID, otherSecret, "Org/"+devhub.BountySoapID+".zaikio.organization.r", true)
	cc := res.str("access_token")
	ccJTI, _ := decodeClaims(t, cc)["jti"].(string)
	if status, _ := e.api(t, "GET", "/api/v1/organization", cc); status != http.StatusOK {
		t.Fatalf("organization with a client credentials token = %d; want 200", status)
	}
	if !e.hub.Revoke("minted-jti") {
		t.Error("Revoke(minted) = false; want true")
	}
	if e.hub.Revoke("minted-jti") || e.hub.Revoke("unknown") {
		t.Error("Revoke of a revoked or unknown jti = true; want false")
	}
	if status, body := e.api(t, "POST", "/api/v1/revoked_access_tokens", cc); status != http.StatusCreated {
		t.Fatalf("revoke by bearer = %d %v", status, body)
	}
	if status, _ := e.api(t, "GET", "/api/v1/organization", cc); status != http.StatusUnauthorized {
		t.Errorf("organization with the revoked token = %d; want 401", status)
	}
	for _, path := range []string{"/api/v1/revoked_access_tokens", "/api/v1/revoked_access_tokens.json"} {
		status, body := e.api(t, "GET", path, "")
		want := map[string]any{"revoked_token_ids": []any{"minted-jti", ccJTI}}
		if status != 200 || !cmp.Equal(want, body) {
			t.Errorf("GET %s = %d %v; want 200 %v", path, status, body, want)
		}
	}
	if status, body := e.api(t, "GET", "/api/v1/jwt_public_keys.json", ""); status != 200 || body.(map[string]any)["keys"] == nil {
		t.Errorf("GET jwt_public_keys.json = %d %v", status, body)
	}
}

// webhookSink records the webhooks it receives.
type webhookSink struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.sigs = append(s.sigs, r.Header.Get(devhub.SignatureHeader))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func TestDeliverRevocation(t *testing.T) {
	t.Parallel()
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	e := newEnv(t, func(c *devhub.Config) {
		c.Apps[0].WebhookURL, c.Apps[0].WebhookSecret = hook.URL, "hook-secret"
	})
	res := e.credentials(t, otherID, otherSecret, "Org/"+devhub.BountySoapID+"."+appName+".api.r", true)
	jti, _ := decodeClaims(t, res.str("access_token"))["jti"].(string)
	e.hub.Revoke(jti)
	resp, err := e.hub.DeliverRevocation(context.Background(), clientID, jti)
	if err != nil {
		t.Fatalf("DeliverRevocation: %v", err)
	}
	resp.Body.Close()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.bodies) != 1 {
		t.Fatalf("webhooks received = %d; want 1", len(sink.bodies))
	}
	if sink.sigs[0] != devhub.Sign("hook-secret", sink.bodies[0]) {
		t.Error("the webhook's signature does not match its body")
	}
	var ev map[string]any
	if err := json.Unmarshal(sink.bodies[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev["name"] != devhub.EventRevokedAccessToken || ev["subject"] != "Org/"+devhub.BountySoapID ||
		!cmp.Equal(ev["payload"], map[string]any{"access_token_id": jti}) {
		t.Errorf("event = %v; want %s for Org/%s with access_token_id %s", ev, devhub.EventRevokedAccessToken, devhub.BountySoapID, jti)
	}
}

// TestDevPageBearer: the dev page shows another_app's curl with its secret
// and the hub's URL, and its forms grant scopes and revoke tokens (sending
// the webhook).
func TestDevPageBearer(t *testing.T) {
	t.Parallel()
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	e := newEnv(t, func(c *devhub.Config) {
		c.Apps[0].WebhookURL, c.Apps[0].WebhookSecret = hook.URL, "hook-secret"
	})
	resp := e.get(t, e.srv.URL+"/__dev/")
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	for _, s := range []string{
		"-u " + otherID + ":" + otherSecret, "grant_type=client_credentials",
		"scope=Org/" + devhub.BountySoapID + "." + appName + ".api.r", e.srv.URL + "/oauth/access_token",
		"Authorization: Bearer $TOKEN", "http://app.test/",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("dev page lacks %q", s)
		}
	}
	post := func(path string, form url.Values) int {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/__dev/grant", url.Values{"client": {otherID}, "bearer": {"Org/" + devhub.GalacticPrintID}, "scope": {appName + ".orders.r, " + appName + ".stock.w"}}); got != 303 {
		t.Errorf("POST /__dev/grant = %d; want 303", got)
	}
	if got := post("/__dev/grant", url.Values{"client": {otherID}, "bearer": {"Org/x"}, "scope": {"a.b.r"}}); got != 400 {
		t.Errorf("POST /__dev/grant for an unknown bearer = %d; want 400", got)
	}
	if res := e.credentials(t, otherID, otherSecret, "Org/"+devhub.GalacticPrintID+"."+appName+".stock.w", true); res.status != 200 {
		t.Errorf("client credentials after /__dev/grant = %d %v", res.status, res.body)
	}
	res := e.credentials(t, otherID, otherSecret, "Org/"+devhub.BountySoapID+"."+appName+".api.r", true)
	jti, _ := decodeClaims(t, res.str("access_token"))["jti"].(string)
	if got := post("/__dev/revoke", url.Values{"jti": {jti}, "webhook": {"1"}}); got != 303 {
		t.Errorf("POST /__dev/revoke = %d; want 303", got)
	}
	if got := post("/__dev/revoke", url.Values{"jti": {jti}}); got != 400 {
		t.Errorf("POST /__dev/revoke again = %d; want 400", got)
	}
	if ids := e.hub.RevokedTokenIDs(); !cmp.Equal(ids, []string{jti}) {
		t.Errorf("revoked = %v; want [%s]", ids, jti)
	}
	sink.mu.Lock()
	n := len(sink.bodies)
	sink.mu.Unlock()
	if n != 1 {
		t.Errorf("webhooks sent by /__dev/revoke = %d; want 1", n)
	}
}
