package devhub_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestTokenResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	got := res.body
	for _, k := range []string{"access_token", "refresh_token"} {
		if got[k] == "" {
			t.Errorf("%s is empty", k)
		}
		got[k] = "…"
	}
	want := map[string]any{
		"access_token": "…", "refresh_token": "…", "token_type": "bearer", "scope": "zaikio.person.r",
		"audiences": []any{appName}, "expires_in": float64(600),
		"bearer": map[string]any{"id": devhub.FrankID, "type": "Person"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token response (-want +got):\n%s", diff)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", cc)
	}
}

func TestOnBehalfToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.login(t, devhub.MaxID, devhub.GalacticPrintID, "Per>Org.zaikio.organization.r")
	got := map[string]any{"bearer": res.body["bearer"], "bearer_on_behalf_of": res.body["bearer_on_behalf_of"]}
	want := map[string]any{
		"bearer":              map[string]any{"id": devhub.GalacticPrintID, "type": "Organization"},
		"bearer_on_behalf_of": map[string]any{"id": devhub.MaxID, "type": "Person", "roles": []any{"member", "designer"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token response (-want +got):\n%s", diff)
	}
	if sub, want := decodeClaims(t, res.str("access_token"))["sub"], "Person/"+devhub.MaxID+">Organization/"+devhub.GalacticPrintID; sub != want {
		t.Errorf("sub = %v; want %s", sub, want)
	}

	// A refresh reports the roles as they are now.
	e.hub.SetRoles(devhub.MaxID, devhub.GalacticPrintID, "admin")
	res = e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {res.str("refresh_token")}}, true)
	obo, _ := res.body["bearer_on_behalf_of"].(map[string]any)
	if diff := cmp.Diff([]any{"admin"}, obo["roles"]); diff != "" {
		t.Errorf("roles after refresh (-want +got):\n%s", diff)
	}
}

func TestCodeExchange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.hub.AddApp(devhub.App{ClientID: "other", ClientSecret: "x", Name: "other_app", RedirectURIs: []string{redirectURI}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		form    func(code string) url.Values
		basic   bool
		age     time.Duration
		wantErr string // "" : success
	}{
		{"right verifier, basic auth", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}}
		}, true, 0, ""},
		{"right verifier, body auth, matching redirect_uri", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}}
		}, false, 0, ""},
		{"just before expiry", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}}
		}, true, 59 * time.Second, ""},
		{"wrong verifier", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {strings.Repeat("a", 43)}}
		}, true, 0, "invalid_grant"},
		{"verifier too short", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {"abc"}}
		}, true, 0, "invalid_grant"},
		{"missing verifier", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}}
		}, true, 0, "invalid_grant"},
		{"other redirect_uri", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}, "redirect_uri": {"http://other.test/cb"}}
		}, true, 0, "invalid_grant"},
		{"expired", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}}
		}, true, 60 * time.Second, "invalid_grant"},
		{"unknown code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "code_verifier": {verifier}}
		}, true, 0, "invalid_grant"},
		{"another client's code", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "code_verifier": {verifier}, "client_id": {"other"}, "client_secret": {"x"}}
		}, false, 0, "invalid_grant"},
		{"unsupported grant type", func(c string) url.Values {
			return url.Values{"grant_type": {"password"}, "code": {c}}
		}, true, 0, "unsupported_grant_type"},
		{"repeated parameter", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c, c}, "code_verifier": {verifier}}
		}, true, 0, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Sequential: the clock is shared.
			code := e.code(t, devhub.FrankID, "", "zaikio.person.r")
			e.clock.Add(tc.age)
			res := e.token(t, tc.form(code), tc.basic)
			if tc.wantErr == "" {
				if res.status != http.StatusOK {
					t.Errorf("status = %d, body %v; want 200", res.status, res.body)
				}
				return
			}
			if res.status != http.StatusBadRequest || res.str("error") != tc.wantErr || res.str("error_description") == "" {
				t.Errorf("answer = %d %v; want 400 with error %s and a description", res.status, res.body, tc.wantErr)
			}
		})
	}
}

func TestWrongVerifierDoesNotConsumeCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	code := e.code(t, devhub.FrankID, "", "zaikio.person.r")
	bad := e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {strings.Repeat("b", 50)}}, true)
	if bad.str("error") != "invalid_grant" {
		t.Fatalf("wrong verifier: %v; want invalid_grant", bad.body)
	}
	if res := e.exchange(t, code); res.status != http.StatusOK {
		t.Errorf("right verifier after a wrong one: %d %v; want 200", res.status, res.body)
	}
}

func TestReplayedCodeRevokesItsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	code := e.code(t, devhub.FrankID, "", "zaikio.person.r")
	first := e.exchange(t, code)
	if first.status != http.StatusOK {
		t.Fatalf("first exchange: %d %v", first.status, first.body)
	}
	// Refresh once, so the family has two access tokens.
	second := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, true)
	if second.status != http.StatusOK {
		t.Fatalf("refresh: %d %v", second.status, second.body)
	}

	replay := e.exchange(t, code)
	if replay.status != http.StatusBadRequest || replay.str("error") != "invalid_grant" {
		t.Fatalf("replay = %d %v; want 400 invalid_grant", replay.status, replay.body)
	}
	for _, tok := range []string{first.str("access_token"), second.str("access_token")} {
		if status, _ := e.api(t, "GET", "/api/v1/person", tok); status != http.StatusUnauthorized {
			t.Errorf("person with a token of the replayed code: status %d; want 401", status)
		}
	}
	again := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.str("refresh_token")}}, true)
	if again.str("error") != "invalid_grant" {
		t.Errorf("refresh after replay = %v; want invalid_grant", again.body)
	}
	want := []string{decodeClaims(t, first.str("access_token"))["jti"].(string), decodeClaims(t, second.str("access_token"))["jti"].(string)}
	if diff := cmp.Diff(want, e.hub.RevokedTokenIDs(), sortStrings); diff != "" {
		t.Errorf("RevokedTokenIDs (-want +got):\n%s", diff)
	}
}

func TestClientAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.hub.AddApp(devhub.App{ClientID: "public", Name: "public_app", RedirectURIs: []string{redirectURI}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		setup      func(r *http.Request, form url.Values)
		wantStatus int
		wantBasic  bool // WWW-Authenticate: Basic expected
	}{
		{"basic, form-encoded", func(r *http.Request, f url.Values) {
			r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		}, 200, false},
		{"basic, raw", func(r *http.Request, f url.Values) { r.SetBasicAuth(clientID, clientSecret) }, 200, false},
		{"body", func(r *http.Request, f url.Values) {
			f.Set("client_id", clientID)
			f.Set("client_secret", clientSecret)
		}, 200, false},
		{"basic, wrong secret", func(r *http.Request, f url.Values) { r.SetBasicAuth(clientID, "wrong") }, 401, true},
		{"body, wrong secret", func(r *http.Request, f url.Values) {
			f.Set("client_id", clientID)
			f.Set("client_secret", "wrong")
		}, 401, false},
		{"body, no secret", func(r *http.Request, f url.Values) { f.Set("client_id", clientID) }, 401, false},
		{"unknown client", func(r *http.Request, f url.Values) { r.SetBasicAuth("nobody", clientSecret) }, 401, true},
		{"no credentials", func(r *http.Request, f url.Values) {}, 401, false},
		{"both methods", func(r *http.Request, f url.Values) {
			r.SetBasicAuth(clientID, clientSecret)
			f.Set("client_secret", clientSecret)
		}, 401, true},
		{"basic and another body client_id", func(r *http.Request, f url.Values) {
			r.SetBasicAuth(clientID, clientSecret)
			f.Set("client_id", "public")
		}, 401, true},
		{"public client with a secret", func(r *http.Request, f url.Values) {
			f.Set("client_id", "public")
			f.Set("client_secret", "guess")
		}, 401, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := e.code(t, devhub.FrankID, "", "zaikio.person.r")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
			req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/access_token", nil)
			tc.setup(req, form)
			req.Body = nopCloser(form.Encode())
			req.ContentLength = int64(len(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d; want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 401 {
				var body map[string]string
				decodeJSON(t, resp, &body)
				if body["error"] != "invalid_client" {
					t.Errorf("error = %q; want invalid_client", body["error"])
				}
			}
			if got := strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic"); got != tc.wantBasic {
				t.Errorf("WWW-Authenticate = %q; want Basic challenge: %v", resp.Header.Get("WWW-Authenticate"), tc.wantBasic)
			}
		})
	}
}

func TestPublicClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *devhub.Config) {
		c.Apps = []devhub.App{{ClientID: "public", Name: "public_app", RedirectURIs: []string{redirectURI}}}
	})
	e.hub.AutoApprove(devhub.FrankID, "")
	u := strings.Replace(e.authorizeURL("zaikio.person.r", url.Values{"code_challenge": {""}, "code_challenge_method": {""}}), "client_id="+clientID, "client_id=public", 1)
	if q := redirectParams(t, e.get(t, u)); q.Get("error") != "invalid_request" {
		t.Errorf("public client without PKCE: %v; want error=invalid_request", q)
	}
	u = strings.Replace(e.authorizeURL("zaikio.person.r", nil), "client_id="+clientID, "client_id=public", 1)
	code := redirectParams(t, e.get(t, u)).Get("code")
	res := e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "client_id": {"public"}}, false)
	if res.status != http.StatusOK {
		t.Errorf("public client exchange: %d %v; want 200", res.status, res.body)
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	refresh := func(rt string) tokenResult {
		return e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}
	first := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	rt1 := first.str("refresh_token")

	second := refresh(rt1)
	rt2 := second.str("refresh_token")
	if second.status != http.StatusOK || rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh = %d %v; want 200 with a new refresh token", second.status, second.body)
	}
	if second.str("access_token") == first.str("access_token") {
		t.Error("refresh returned the same access token")
	}
	if reuse := refresh(rt1); reuse.status != http.StatusBadRequest || reuse.str("error") != "invalid_grant" {
		t.Errorf("reusing the old refresh token = %d %v; want 400 invalid_grant", reuse.status, reuse.body)
	}
	// Reuse does not revoke the family: the rotated token still works.
	if third := refresh(rt2); third.status != http.StatusOK {
		t.Fatalf("the rotated refresh token after a reuse attempt = %d %v; want 200", third.status, third.body)
	} else {
		rt2 = third.str("refresh_token")
	}
	if n := e.hub.RefreshTokenCount(devhub.FrankID); n != 1 {
		t.Errorf("RefreshTokenCount = %d; want 1", n)
	}

	// Each refresh token lives 7 days from its issue.
	e.clock.Add(7*24*time.Hour - time.Second)
	fourth := refresh(rt2)
	if fourth.status != http.StatusOK {
		t.Fatalf("refresh just before 7 days = %d %v; want 200", fourth.status, fourth.body)
	}
	e.clock.Add(7 * 24 * time.Hour)
	if late := refresh(fourth.str("refresh_token")); late.str("error") != "invalid_grant" {
		t.Errorf("refresh after 7 days = %v; want invalid_grant", late.body)
	}

	// ExpireRefreshTokens forces a new login.
	fresh := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	e.hub.ExpireRefreshTokens(devhub.FrankID)
	if res := refresh(fresh.str("refresh_token")); res.str("error") != "invalid_grant" {
		t.Errorf("refresh after ExpireRefreshTokens = %v; want invalid_grant", res.body)
	}
}

func TestExpiresInForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		form devhub.ExpiresIn
		ttl  time.Duration
		want any
	}{
		{"seconds", devhub.ExpiresInSeconds, 0, float64(600)},
		{"seconds, custom TTL", devhub.ExpiresInSeconds, time.Hour, float64(3600)},
		{"ISO 8601", devhub.ExpiresInISO8601, 0, "2026-11-25T19:30:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *devhub.Config) { c.AccessTTL = tc.ttl })
			e.hub.SetExpiresIn(tc.form)
			res := e.login(t, devhub.FrankID, "", "zaikio.person.r")
			if diff := cmp.Diff(tc.want, res.body["expires_in"]); diff != "" {
				t.Errorf("expires_in (-want +got):\n%s", diff)
			}
			exp := decodeClaims(t, res.str("access_token"))["exp"].(float64)
			ttl := tc.ttl
			if ttl == 0 {
				ttl = 10 * time.Minute
			}
			if want := e.clock.Now().Add(ttl).Unix(); int64(exp) != want {
				t.Errorf("exp = %v; want %d", exp, want)
			}
		})
	}
}
