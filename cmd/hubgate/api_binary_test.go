package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

const apiAdminToken = "api-test-admin-token-0123456789"

// apiStack is the real binary in enforce mode in front of an upstream that
// echoes what it got, with the dev hub in this process (so that the test
// can mint any token, revoke tokens and send webhooks) and route rules for
// a legacy API, an admin area and a CORS API.
type apiStack struct {
	t                   *testing.T
	hub                 *devhub.Hub
	hubURL, base, admin string
	stderr              *syncBuffer
}

const apiApp = "api_test"

func startAPIStack(t *testing.T) *apiStack {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hubgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := map[string]string{"path": r.URL.Path, "method": r.Method}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Hubgate-") || k == "Authorization" || k == "Cookie" || k == "Origin" || k == "Access-Control-Request-Method" {
				out[k] = strings.Join(v, ",")
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "1")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(up.Close)
	port, adminPort := freeTCPPort(t), freeTCPPort(t)
	s := &apiStack{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort), stderr: &syncBuffer{}}
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{
		ClientID: apiApp, ClientSecret: "api-test-secret", Name: apiApp, RedirectURIs: []string{s.base + "/_hubgate/callback"},
		WebhookURL: s.base + "/_hubgate/webhook", WebhookSecret: "api-webhook-secret",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	s.hub, s.hubURL = hub, hubSrv.URL
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: %q
upstream: %q
mode: enforce
provider: {kind: zaikio, url: %q, client_id: %s, client_secret: api-test-secret, webhook_secret: api-webhook-secret}
session: {secrets: ["YXBpLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGVzISEhISEhIQ=="]}
store: "bolt://%s"
admin: {listen: "127.0.0.1:%d", token: %q}
legacy: {login_paths: ["/login"], public_paths: ["/assets/"]}
roles: {owner: [admin], admin: [admin], member: [user]}
routes:
  - {path: /api/v1/, auth: legacy}
  - {path: /admin/, roles: [admin]}
  - {path: /cors/, cors: true}
bearer: {organization_roles: [api], revocation_refresh: 1s}
log: {level: info}
`, port, s.base, up.URL, hubSrv.URL, apiApp, filepath.Join(dir, "hubgate.db"), adminPort, apiAdminToken)
	cfgPath := filepath.Join(dir, "hubgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("hubgate log (last 8 KiB):\n%s", tail(s.stderr.String(), 8<<10))
		}
	})
	if !sighupUntil(20*time.Second, func() bool {
		resp, err := http.Get(s.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("hubgate not ready (its bearer verifier fetches the hub's keys and revocation list):\n%s", s.stderr.String())
	}
	return s
}

// adminDo calls the admin API and returns the status and body.
func (s *apiStack) adminDo(method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// clientCredentials gets another_app a token over HTTP, as another Zaikio
// app does.
func (s *apiStack) clientCredentials(scope string) string {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.hubURL+"/oauth/access_token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.SetBasicAuth(devhub.OtherAppClientID, devhub.OtherAppSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		s.t.Fatalf("client credentials for %s: %d %v", scope, resp.StatusCode, err)
	}
	return tok.AccessToken
}

// apiAnswer is what one request through hubgate came to.
type apiAnswer struct {
	status   int
	header   http.Header
	upstream map[string]string // what the upstream got; nil: not reached
	body     map[string]string // hubgate's JSON answer
}

// call sends a request to hubgate with c (nil: a fresh client without
// cookies), "Authorization: Bearer tok" unless tok is "", and hdr.
func (s *apiStack) call(c *http.Client, method, path, tok string, hdr ...string) apiAnswer {
	s.t.Helper()
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	req, _ := http.NewRequest(method, s.base+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.Header.Get("X-Upstream") == "1" {
		a.upstream = m
	} else {
		a.body = m
	}
	return a
}

// signIn is a browser session of person, through the real sign-in flow
// (the dev hub approves at once).
func (s *apiStack) signIn(person string) *http.Client {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	s.hub.AutoApprove(person, "")
	defer s.hub.AutoApprove("", "")
	resp, err := c.Get(s.base + "/_hubgate/login?rd=/x")
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Upstream") != "1" {
		s.t.Fatalf("sign-in as %s ended with %d; want the upstream's /x", person, resp.StatusCode)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func tokenJTI(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		JTI string `json:"jti"`
	}
	if err != nil || json.Unmarshal(b, &c) != nil || c.JTI == "" {
		t.Fatalf("token without a jti")
	}
	return c.JTI
}

// TestAPIClientsAgainstTheBinary: the real binary in enforce mode, as the
// apps and scripts of a real deployment meet it. A Go client with tokens
// from the dev hub — client credentials for a person, an organization and
// on behalf, and minted ones that are expired, revoked (by webhook and by
// the hub's list), for another audience or issuer, alg none, HS256 keyed
// with the public key, of an unknown kid, without the scope — gets the
// right identity or the right 401/403; a legacy API-key route passes
// without identity headers; a CORS preflight passes without credentials;
// a role-restricted route answers 403 to a person without the role; the
// metrics count legacy and bearer requests.
func TestAPIClientsAgainstTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := startAPIStack(t)
	for _, l := range []struct{ kind, legacy, zaikio string }{
		{"persons", "1", devhub.FrankID}, {"persons", "2", devhub.MaxID}, {"orgs", "100", devhub.BountySoapID},
	} {
		if code, body := s.adminDo(http.MethodPut, "/api/v1/links/"+l.kind+"/"+l.legacy, `{"zaikio_id":"`+l.zaikio+`"}`); code/100 != 2 {
			t.Fatalf("link %s %s: %d %s", l.kind, l.legacy, code, body)
		}
	}
	scope := apiApp + ".api.rw"
	person := s.clientCredentials("Per/" + devhub.FrankID + "." + scope)
	org := s.clientCredentials("Org/" + devhub.BountySoapID + "." + scope)
	onBehalf := s.clientCredentials("Per/" + devhub.FrankID + ">Org/" + devhub.BountySoapID + "." + scope)
	readOnly := s.clientCredentials("Org/" + devhub.BountySoapID + "." + apiApp + ".api.r")

	t.Run("valid tokens", func(t *testing.T) {
		for _, tc := range []struct {
			name, tok                 string
			user, person, orgs, roles string
		}{
			{"person", person, "1", devhub.FrankID, "", ""},
			{"organization", org, "", "", "100", "100:api"},
			{"on behalf", onBehalf, "1", devhub.FrankID, "100", "100:api"},
			{"read-only, reading", readOnly, "", "", "100", "100:api"},
		} {
			a := s.call(nil, http.MethodGet, "/orders", tc.tok)
			got := a.upstream
			if a.status != 200 || got == nil || got["X-Hubgate-User"] != tc.user || got["X-Hubgate-Zaikio-Person"] != tc.person ||
				got["X-Hubgate-Orgs"] != tc.orgs || got["X-Hubgate-Roles"] != tc.roles || got["X-Hubgate-Auth"] != "bearer" || got["X-Hubgate-Mode"] != "enforce" {
				t.Errorf("%s: %d, upstream got %v; want user %q person %q orgs %q roles %q, auth bearer", tc.name, a.status, got, tc.user, tc.person, tc.orgs, tc.roles)
			}
			if sc := a.header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("%s: Set-Cookie %q; bearer requests never create sessions", tc.name, sc)
			}
		}
	})

	t.Run("bad tokens", func(t *testing.T) {
		now := time.Now()
		mint := func(spec devhub.TokenSpec) string {
			if spec.Scope == nil {
				spec.Scope = []string{scope}
			}
			tok, err := s.hub.Mint(spec)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		for _, tc := range []struct {
			name, method, tok string
			status            int
			code              string
		}{
			{"expired", "GET", mint(devhub.TokenSpec{NotBefore: now.Add(-time.Hour), Expiry: now.Add(-time.Minute)}), 401, "expired"},
			{"wrong audience", "GET", mint(devhub.TokenSpec{Audience: []string{devhub.OtherAppName}}), 401, "wrong_audience"},
			{"wrong issuer", "GET", mint(devhub.TokenSpec{Issuer: "https://issuer.example"}), 401, "wrong_issuer"},
			{"alg none", "GET", mint(devhub.TokenSpec{Flaw: devhub.FlawAlgNone}), 401, "bad_algorithm"},
			{"HS256 signed with the public key", "GET", mint(devhub.TokenSpec{Flaw: devhub.FlawHS256PublicKey}), 401, "bad_algorithm"},
			{"unknown kid", "GET", mint(devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}), 401, "unknown_key"},
			{"missing scope: a read-only token writes", "POST", readOnly, 403, "missing_scope"},
			{"missing scope: another scope", "GET", mint(devhub.TokenSpec{Scope: []string{apiApp + ".orders.rw"}}), 403, "missing_scope"},
		} {
			a := s.call(nil, tc.method, "/orders", tc.tok)
			wantOAuth := `error="invalid_token"`
			if tc.status == 403 {
				wantOAuth = `error="insufficient_scope"`
			}
			if a.status != tc.status || a.upstream != nil || a.body["error"] != tc.code ||
				!strings.Contains(a.header.Get("WWW-Authenticate"), wantOAuth) || a.body["login_url"] == "" {
				t.Errorf("%s: %d %v %q; want %d %s with %s, never forwarded", tc.name, a.status, a.body, a.header.Get("WWW-Authenticate"), tc.status, tc.code, wantOAuth)
			}
		}
	})

	t.Run("revoked by webhook", func(t *testing.T) {
		tok := s.clientCredentials("Org/" + devhub.BountySoapID + "." + scope)
		if a := s.call(nil, "GET", "/orders", tok); a.status != 200 {
			t.Fatalf("before the revocation: %d", a.status)
		}
		jti := tokenJTI(t, tok)
		s.hub.Revoke(jti)
		resp, err := s.hub.DeliverRevocation(context.Background(), apiApp, jti)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoked_access_token webhook: %v %v", resp, err)
		}
		resp.Body.Close()
		if a := s.call(nil, "GET", "/orders", tok); a.status != 401 || a.body["error"] != "revoked" {
			t.Errorf("after the webhook: %d %v; want 401 revoked at once", a.status, a.body)
		}
	})

	t.Run("revoked by list", func(t *testing.T) {
		tok := s.clientCredentials("Per/" + devhub.FrankID + "." + scope)
		if a := s.call(nil, "GET", "/orders", tok); a.status != 200 {
			t.Fatalf("before the revocation: %d", a.status)
		}
		s.hub.Revoke(tokenJTI(t, tok)) // no webhook: only the hub's public list says so
		start := time.Now()
		var a apiAnswer
		if !sighupUntil(5*time.Second, func() bool {
			a = s.call(nil, "GET", "/orders", tok)
			return a.status == 401 && a.body["error"] == "revoked"
		}) {
			t.Fatalf("5 s after the revocation (bearer.revocation_refresh: 1s): %d %v; want 401 revoked", a.status, a.body)
		}
		t.Logf("the revocation list reached hubgate after %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("legacy API-key route", func(t *testing.T) {
		frank := s.signIn(devhub.FrankID)
		for name, c := range map[string]*http.Client{"without a session": nil, "with a session": frank} {
			a := s.call(c, http.MethodPost, "/api/v1/orders", "legacy-api-key-0123", "Accept", "application/json")
			got := a.upstream
			if a.status != 200 || got == nil || got["Authorization"] != "Bearer legacy-api-key-0123" || got["X-Hubgate-Mode"] != "enforce" ||
				got["X-Hubgate-User"] != "" || got["X-Hubgate-Auth"] != "" || got["X-Hubgate-Zaikio-Person"] != "" || got["X-Hubgate-Roles"] != "" {
				t.Errorf("%s: %d, upstream got %v; want the API key and no identity headers", name, a.status, got)
			}
		}
	})

	t.Run("CORS preflight", func(t *testing.T) {
		a := s.call(s.signIn(devhub.FrankID), http.MethodOptions, "/cors/items", "",
			"Origin", "https://spa.example", "Access-Control-Request-Method", "PUT")
		got := a.upstream
		if got == nil || got["Origin"] != "https://spa.example" || got["Access-Control-Request-Method"] != "PUT" ||
			got["Cookie"] != "" || got["X-Hubgate-User"] != "" || got["X-Hubgate-Auth"] != "" {
			t.Errorf("preflight: %d, upstream got %v; want it passed without credentials or identity", a.status, got)
		}
		if a := s.call(nil, http.MethodOptions, "/orders", "", "Origin", "https://spa.example", "Access-Control-Request-Method", "PUT"); a.status != 401 || a.upstream != nil {
			t.Errorf("preflight for a route without cors: %d; want 401", a.status)
		}
	})

	t.Run("role-restricted route", func(t *testing.T) {
		if a := s.call(s.signIn(devhub.MaxID), http.MethodGet, "/admin/users", "", "Accept", "application/json"); a.status != 403 || a.upstream != nil || a.body["error"] != "role_required" {
			t.Errorf("Max (member: user) on /admin/: %d %v; want 403 role_required", a.status, a.body)
		}
		if a := s.call(s.signIn(devhub.FrankID), http.MethodGet, "/admin/users", ""); a.status != 200 || a.upstream["X-Hubgate-Roles"] != "100:admin" {
			t.Errorf("Frank (owner: admin) on /admin/: %d %v; want 200", a.status, a.upstream)
		}
		if a := s.call(nil, http.MethodGet, "/admin/users", person); a.status != 403 || a.body["error"] != "role_required" {
			t.Errorf("a person token (no roles) on /admin/: %d %v; want 403 role_required", a.status, a.body)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		code, body := s.adminDo(http.MethodGet, "/metrics", "")
		for _, want := range []string{`hubgate_legacy_auth_requests_total{route="/api/v1/"} 2`, `hubgate_bearer_requests_total{outcome="revoked"}`,
			`hubgate_bearer_requests_total{outcome="ok"}`, `hubgate_bearer_requests_total{outcome="bad_algorithm"} 2`} {
			if code != 200 || !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}
