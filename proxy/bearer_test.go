package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// apiScope is the scope of the test app that bearer tokens need by default
// (proxy.DefaultBearerScope), read and write.
const apiScope = testApp + ".api.rw"

// bearerEnv is an env that accepts bearer tokens (organization tokens hold
// the local role "api"), under unlinked: deny, with Frank linked as legacy
// person 1 and Bounty Soap as legacy organization 100.
func bearerEnv(t *testing.T, mutate func(*proxy.Config)) *env {
	t.Helper()
	e := newEnv(t, func(c *proxy.Config) {
		v, err := zaikio.NewBearerVerifier(c.Hub.(*spyHub).Client, zaikio.BearerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c.Bearer, c.BearerOrgRoles, c.Unlinked = v, []string{"api"}, proxy.UnlinkedDeny
		if mutate != nil {
			mutate(c)
		}
	})
	e.linkDirect(claim.KindPerson, "1", devhub.FrankID)
	e.linkDirect(claim.KindOrg, "100", devhub.BountySoapID)
	return e
}

// mint signs a token at the dev hub; the zero spec is Frank's, for
// another_app, with apiScope.
func (e *env) mint(spec devhub.TokenSpec) string {
	e.t.Helper()
	if spec.Scope == nil {
		spec.Scope = []string{apiScope}
	}
	tok, err := e.hub.Mint(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// jtiOf reads a minted token's jti (the test minted it: no need to verify).
func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	var c struct {
		JTI string `json:"jti"`
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil || c.JTI == "" {
		t.Fatalf("no jti in %q", parts[1])
	}
	return c.JTI
}

// bearerCall is one request with "Authorization: Bearer tok" (tok "": no
// header) and what came of it.
type bearerCall struct {
	resp     *response
	upstream http.Header // the headers the upstream got; nil: not reached
}

func (b *browser) bearer(method, path, tok string, hdr ...string) bearerCall {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.e.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	before := b.e.up.count()
	c := bearerCall{resp: b.do(req)}
	if b.e.up.count() > before {
		c.upstream = b.e.up.last(b.t).Header
	}
	return c
}

// authBody is the JSON body of a 401/403/503 about credentials.
type authBody struct {
	Error     string `json:"error"`
	LoginURL  string `json:"login_url"`
	Scope     string `json:"scope"`
	RequestID string `json:"request_id"`
}

func (c bearerCall) body(t *testing.T) authBody {
	t.Helper()
	var b authBody
	if err := json.Unmarshal([]byte(c.resp.body), &b); err != nil {
		t.Fatalf("body is not the JSON of the contract: %v\n%s", err, c.resp.body)
	}
	return b
}

// TestBearerTokens: tokens the dev hub mints, in every mode, with and
// without a session: a valid token gets the identity its subject's links
// give (and X-Hubgate-Auth: bearer) and never a cookie; every bad token
// gets its code, the RFC 6750 challenge and the JSON body, and never
// reaches the upstream — not even with the session the browser also holds.
func TestBearerTokens(t *testing.T) {
	e := bearerEnv(t, nil)
	now := e.clock.Now()
	type want struct {
		status    int
		user      string // X-Hubgate-User upstream
		person    string
		orgs      string
		roles     string
		code      string // error code of a refusal
		challenge string // in WWW-Authenticate
	}
	ok := func(user, person, orgs, roles string) want {
		return want{status: 200, user: user, person: person, orgs: orgs, roles: roles}
	}
	bad := func(status int, code, oauth string) want {
		return want{status: status, code: code, challenge: oauth}
	}
	onBehalf := "Person/" + devhub.FrankID + ">Organization/" + devhub.BountySoapID
	cases := []struct {
		name   string
		method string
		spec   devhub.TokenSpec
		want   want
	}{
		{"person", "GET", devhub.TokenSpec{}, ok("1", devhub.FrankID, "", "")},
		{"person writes", "POST", devhub.TokenSpec{}, ok("1", devhub.FrankID, "", "")},
		{"organization", "GET", devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID}, ok("", "", "100", "100:api")},
		{"on behalf", "GET", devhub.TokenSpec{Subject: onBehalf}, ok("1", devhub.FrankID, "100", "100:api")},
		{"expired", "GET", devhub.TokenSpec{NotBefore: now.Add(-time.Hour), Expiry: now.Add(-time.Minute)}, bad(401, "expired", `error="invalid_token"`)},
		{"not yet valid", "GET", devhub.TokenSpec{NotBefore: now.Add(time.Hour)}, bad(401, "not_yet_valid", `error="invalid_token"`)},
		{"wrong audience", "GET", devhub.TokenSpec{Audience: []string{devhub.OtherAppName}}, bad(401, "wrong_audience", `error="invalid_token"`)},
		{"alg none", "GET", devhub.TokenSpec{Flaw: devhub.FlawAlgNone}, bad(401, "bad_algorithm", `error="invalid_token"`)},
		{"HS256 with the public key", "GET", devhub.TokenSpec{Flaw: devhub.FlawHS256PublicKey}, bad(401, "bad_algorithm", `error="invalid_token"`)},
		{"ES256", "GET", devhub.TokenSpec{Flaw: devhub.FlawES256}, bad(401, "bad_algorithm", `error="invalid_token"`)},
		{"unknown kid", "GET", devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}, bad(401, "unknown_key", `error="invalid_token"`)},
		{"bad signature", "GET", devhub.TokenSpec{Flaw: devhub.FlawBadSignature}, bad(401, "bad_signature", `error="invalid_token"`)},
		{"no jti", "GET", devhub.TokenSpec{Flaw: devhub.FlawNoJTI}, bad(401, "malformed", `error="invalid_token"`)},
		{"read-only token writes", "POST", devhub.TokenSpec{Scope: []string{testApp + ".api.r"}}, bad(403, "missing_scope", `error="insufficient_scope", error_description="missing_scope", scope="api.w"`)},
		{"another scope", "GET", devhub.TokenSpec{Scope: []string{testApp + ".orders.rw"}}, bad(403, "missing_scope", `scope="api.r"`)},
		{"another app's scope", "GET", devhub.TokenSpec{Scope: []string{"zaikio.api.rw"}, Audience: []string{devhub.OtherAppName, testApp}}, bad(403, "missing_scope", `error="insufficient_scope"`)},
		{"person not linked", "GET", devhub.TokenSpec{Subject: "Person/" + devhub.MaxID}, bad(403, "not_linked", "")},
		{"organization not linked", "GET", devhub.TokenSpec{Subject: "Organization/" + devhub.GalacticPrintID}, bad(403, "not_linked", "")},
	}
	signedIn := e.browser()
	signedIn.login(devhub.FrankID, "/")
	for _, mode := range migration.Modes {
		e.setMode(mode)
		for _, tc := range cases {
			tok := e.mint(tc.spec)
			for _, b := range []*browser{e.browser(), signedIn} {
				session := map[bool]string{true: "with a session", false: "without a session"}[b == signedIn]
				t.Run(string(mode)+"/"+tc.name+"/"+session, func(t *testing.T) {
					c := b.bearer(tc.method, "/reports", tok)
					if c.resp.StatusCode != tc.want.status {
						t.Fatalf("%s /reports = %d; want %d\n%s", tc.method, c.resp.StatusCode, tc.want.status, c.resp.body)
					}
					if sc := c.resp.Header.Values("Set-Cookie"); len(sc) > 0 {
						t.Errorf("a bearer request got Set-Cookie %q; bearer requests never create or touch sessions", sc)
					}
					if tc.want.status != 200 {
						if c.upstream != nil {
							t.Fatalf("a refused token reached the upstream with %v", c.upstream)
						}
						if got := c.body(t); got.Error != tc.want.code || got.RequestID == "" {
							t.Errorf("body %+v; want error %q and a request id", got, tc.want.code)
						}
						if ch := c.resp.Header.Get("WWW-Authenticate"); tc.want.challenge != "" && (!strings.HasPrefix(ch, `Bearer realm="hubgate"`) || !strings.Contains(ch, tc.want.challenge)) {
							t.Errorf("WWW-Authenticate %q; want it to hold %q", ch, tc.want.challenge)
						}
						return
					}
					h := c.upstream
					if h == nil {
						t.Fatal("a valid token did not reach the upstream")
					}
					got := want{status: 200, user: h.Get(proxy.HeaderUser), person: h.Get(proxy.HeaderPerson), orgs: h.Get(proxy.HeaderOrgs), roles: h.Get(proxy.HeaderRoles)}
					if got != tc.want {
						t.Errorf("upstream identity %+v; want %+v", got, tc.want)
					}
					if a := h.Get(proxy.HeaderAuth); a != "bearer" {
						t.Errorf("X-Hubgate-Auth = %q; want bearer", a)
					}
					if h.Get(proxy.HeaderEmail) != "" || h.Get(proxy.HeaderName) != "" {
						t.Errorf("a bearer request carried email %q / name %q; a token proves neither", h.Get(proxy.HeaderEmail), h.Get(proxy.HeaderName))
					}
					if h.Get("Authorization") != "Bearer "+tok {
						t.Errorf("the upstream did not get the Authorization header")
					}
				})
			}
		}
	}
}

// TestBearerForeignTokens: a Bearer token that is not Zaikio's (the legacy
// app's API key, its own JWT, a token that does not claim iss ZAI) is the
// upstream's business: passthrough and offer forward it as they did before
// hubgate took bearer tokens (with the session's identity, if any), and
// enforce lets the session decide; without one, the 401 names the
// verifier's code.
func TestBearerForeignTokens(t *testing.T) {
	e := bearerEnv(t, nil)
	legacyJWT := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImlzcyI6ImxlZ2FjeSJ9.c2lnbmF0dXJl"
	tokens := map[string]struct{ tok, code string }{
		"api key":         {"legacy-api-key-1234567890", "malformed"},
		"key with colons": {"user:secret", "malformed"},
		"legacy JWT":      {legacyJWT, "bad_algorithm"},
		"another issuer":  {e.mint(devhub.TokenSpec{Issuer: "https://evil.example"}), "wrong_issuer"},
	}
	signedIn := e.browser()
	signedIn.login(devhub.FrankID, "/")
	for _, mode := range migration.Modes {
		e.setMode(mode)
		for name, tc := range tokens {
			t.Run(string(mode)+"/"+name, func(t *testing.T) {
				c := signedIn.bearer("GET", "/reports", tc.tok)
				if c.upstream == nil || c.upstream.Get(proxy.HeaderAuth) != "session" || c.upstream.Get(proxy.HeaderUser) != "1" {
					t.Fatalf("with a session: %d, upstream %v; want forwarded with the session's identity", c.resp.StatusCode, c.upstream)
				}
				if c.upstream.Get("Authorization") != "Bearer "+tc.tok {
					t.Errorf("the upstream got Authorization %q; want the client's", c.upstream.Get("Authorization"))
				}
				c = e.browser().bearer("GET", "/reports", tc.tok, "Accept", "application/json")
				if mode != migration.Enforce {
					if c.upstream == nil || c.upstream.Get(proxy.HeaderAuth) != "" || c.upstream.Get(proxy.HeaderUser) != "" {
						t.Fatalf("without a session: %d, upstream %v; want forwarded without identity", c.resp.StatusCode, c.upstream)
					}
					return
				}
				if c.resp.StatusCode != http.StatusUnauthorized || c.upstream != nil || c.body(t).Error != tc.code {
					t.Errorf("enforce without a session = %d %s; want 401 %s", c.resp.StatusCode, c.resp.body, tc.code)
				}
			})
		}
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		e.setMode(migration.Passthrough)
		req, _ := http.NewRequest("GET", e.srv.URL+"/reports", nil)
		req.Header["Authorization"] = []string{"Bearer " + e.mint(devhub.TokenSpec{}), "Bearer other"}
		resp := signedIn.do(req)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.body, `"malformed"`) {
			t.Errorf("two Authorization headers = %d %s; want 401 malformed", resp.StatusCode, resp.body)
		}
	})
}

// TestBearerRevocation: a token stops working when the hub's
// revoked_access_token webhook names it (at once on the replica that got
// it, on another replica with its next poll of the store's revocation
// list), and when it appears on the hub's public revocation list.
func TestBearerRevocation(t *testing.T) {
	e := bearerEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	b := e.browser()
	second := e.replica(t)
	use := func(px http.Handler, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "/reports", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.RemoteAddr = "127.0.0.1:1234"
		w := httptest.NewRecorder()
		px.ServeHTTP(w, req)
		return w.Code
	}

	t.Run("webhook", func(t *testing.T) {
		tok := e.mint(devhub.TokenSpec{})
		if c := b.bearer("GET", "/reports", tok); c.resp.StatusCode != 200 || use(second, tok) != 200 {
			t.Fatalf("before the revocation: %d; want 200 on both replicas", c.resp.StatusCode)
		}
		jti := jtiOf(t, tok)
		e.hub.Revoke(jti)
		resp, err := e.hub.DeliverRevocation(context.Background(), testClient, jti)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
		if c := b.bearer("GET", "/reports", tok); c.resp.StatusCode != 401 || c.body(t).Error != "revoked" {
			t.Errorf("after the webhook = %d %s; want 401 revoked", c.resp.StatusCode, c.resp.body)
		}
		if code := use(second, tok); code != 200 {
			t.Fatalf("the other replica before its poll = %d; want 200 (it has not heard yet)", code)
		}
		second.Refresh(context.Background())
		if code := use(second, tok); code != 401 {
			t.Errorf("the other replica after its poll of the store's revocation list = %d; want 401", code)
		}
	})

	t.Run("hub list", func(t *testing.T) {
		tok := e.mint(devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID})
		if c := b.bearer("GET", "/reports", tok); c.resp.StatusCode != 200 {
			t.Fatalf("before the revocation = %d", c.resp.StatusCode)
		}
		e.hub.Revoke(jtiOf(t, tok)) // no webhook: only the hub's list knows
		e.clock.Advance(zaikio.DefaultRevocationRefresh + time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := b.bearer("GET", "/reports", tok)
			if c.resp.StatusCode == 401 && c.body(t).Error == "revoked" {
				break
			}
			if c.resp.StatusCode != 200 || time.Now().After(deadline) {
				t.Fatalf("after the list's refresh is due: %d %s; want 200 until the background refetch lands, then 401 revoked", c.resp.StatusCode, c.resp.body)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestBearerUnlink: a token's legacy identity is cached, but an unlink
// (announced on the revocation list, as the admin API does) takes effect on
// the next request after the poll.
func TestBearerUnlink(t *testing.T) {
	e := bearerEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedPass })
	b := e.browser()
	tok := e.mint(devhub.TokenSpec{})
	if c := b.bearer("GET", "/x", tok); c.upstream == nil || c.upstream.Get(proxy.HeaderUser) != "1" {
		t.Fatalf("before the unlink: %d %v", c.resp.StatusCode, c.upstream)
	}
	ctx := context.Background()
	now := e.clock.Now()
	if _, err := e.store.DeleteLink(ctx, claim.KindPerson, "1", "test", now); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddRevocation(ctx, session.Revocation{Kind: session.Unlink, Subject: "person:1", At: now, Until: now.Add(time.Hour), Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	e.px.Refresh(ctx)
	c := b.bearer("GET", "/x", tok)
	if c.upstream == nil || c.upstream.Get(proxy.HeaderUser) != "" || c.upstream.Get(proxy.HeaderPerson) != devhub.FrankID {
		t.Errorf("after the unlink (unlinked: pass): %d %v; want Frank without a legacy user", c.resp.StatusCode, c.upstream)
	}
}

// TestBearerForwardAuth: forward-auth decides bearer tokens like the gate.
func TestBearerForwardAuth(t *testing.T) {
	e := bearerEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce; c.TrustedProxies = trustLoopback() })
	b := e.browser()
	c := b.bearer("GET", "/_hubgate/auth", e.mint(devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID}), "X-Original-URI", "/reports", "X-Original-Method", "POST")
	if c.resp.StatusCode != 200 || c.resp.Header.Get(proxy.HeaderOrgs) != "100" || c.resp.Header.Get(proxy.HeaderAuth) != "bearer" {
		t.Errorf("forward-auth with an organization token = %d, orgs %q auth %q; want 200, 100, bearer", c.resp.StatusCode, c.resp.Header.Get(proxy.HeaderOrgs), c.resp.Header.Get(proxy.HeaderAuth))
	}
	c = b.bearer("GET", "/_hubgate/auth", e.mint(devhub.TokenSpec{Flaw: devhub.FlawAlgNone}), "X-Original-URI", "/reports")
	if c.resp.StatusCode != 401 || c.body(t).Error != "bad_algorithm" || !strings.Contains(c.resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || c.resp.Header.Get(proxy.HeaderUser) != "" {
		t.Errorf("forward-auth with alg none = %d %s; want 401 bad_algorithm with a challenge", c.resp.StatusCode, c.resp.body)
	}
	c = b.bearer("GET", "/_hubgate/auth", e.mint(devhub.TokenSpec{Scope: []string{testApp + ".api.r"}}), "X-Original-URI", "/reports", "X-Original-Method", "DELETE")
	if c.resp.StatusCode != 403 || c.body(t).Scope != "api.w" {
		t.Errorf("forward-auth, a read token for DELETE = %d %s; want 403 missing_scope api.w", c.resp.StatusCode, c.resp.body)
	}
}

// replica is a second hubgate on e's store, hub and upstream, as another
// replica of the same deployment is: its own bearer verifier (so its own
// revocation set), enforce mode.
func (e *env) replica(t *testing.T) *proxy.Server {
	t.Helper()
	v, err := zaikio.NewBearerVerifier(e.spy.Client, zaikio.BearerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(proxy.Config{
		PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: e.spy, HubURL: e.hubURL, Store: e.store, Claims: e.claims,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedDeny, Mode: migration.Enforce,
		Bearer: v, BearerOrgRoles: []string{"api"}, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return px
}

// TestBearerRouteRules: the scope a route names, its roles, and routes
// where no token is needed (public: a bad token carries no identity, not
// even the session's) or looked at (legacy: the upstream's business).
func TestBearerRouteRules(t *testing.T) {
	e := bearerEnv(t, func(c *proxy.Config) {
		c.Routes = []proxy.Route{
			{Path: "/orders/", Scope: "orders"},
			{Path: "/admin/", Roles: []string{"api"}},
			{Path: "/public/", Auth: proxy.AuthPublic},
			{Path: "/keys/", Auth: proxy.AuthLegacy},
		}
	})
	person, org := e.mint(devhub.TokenSpec{}), e.mint(devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID})
	orders := e.mint(devhub.TokenSpec{Scope: []string{testApp + ".orders.r"}})
	bad := e.mint(devhub.TokenSpec{Flaw: devhub.FlawBadSignature})
	signedIn := e.browser()
	signedIn.login(devhub.FrankID, "/")
	for _, mode := range migration.Modes {
		e.setMode(mode)
		for _, tc := range []struct {
			b            *browser
			method, path string
			tok          string
			status       int
			auth, scope  string // X-Hubgate-Auth upstream; the scope a 403 names
		}{
			{e.browser(), "GET", "/orders/1", person, 403, "", "orders.r"},
			{e.browser(), "GET", "/orders/1", orders, 200, "bearer", ""},
			{e.browser(), "POST", "/orders/1", orders, 403, "", "orders.w"},
			{e.browser(), "GET", "/Orders/1", person, 403, "", "orders.r"}, // a closing rule: every spelling
			{e.browser(), "GET", "/admin/x", org, 200, "bearer", ""},
			{e.browser(), "GET", "/public/x", bad, 200, "", ""},
			{signedIn, "GET", "/public/x", bad, 200, "", ""},
			{signedIn, "GET", "/public/x", person, 200, "bearer", ""},
			{e.browser(), "GET", "/keys/x", bad, 200, "", ""},
			{signedIn, "GET", "/keys/x", person, 200, "", ""},
		} {
			c := tc.b.bearer(tc.method, tc.path, tc.tok)
			if c.resp.StatusCode != tc.status {
				t.Errorf("%s: %s %s = %d; want %d\n%s", mode, tc.method, tc.path, c.resp.StatusCode, tc.status, c.resp.body)
				continue
			}
			if tc.status == 403 {
				if got := c.body(t); got.Error != "missing_scope" || got.Scope != tc.scope {
					t.Errorf("%s: %s %s: %+v; want missing_scope %s", mode, tc.method, tc.path, got, tc.scope)
				}
				continue
			}
			if a := c.upstream.Get(proxy.HeaderAuth); a != tc.auth || (tc.auth == "" && c.upstream.Get(proxy.HeaderPerson) != "") {
				t.Errorf("%s: %s %s: upstream auth %q person %q; want auth %q", mode, tc.method, tc.path, a, c.upstream.Get(proxy.HeaderPerson), tc.auth)
			}
			if c.upstream.Get("Authorization") != "Bearer "+tc.tok {
				t.Errorf("%s: %s %s: the upstream did not get the Authorization header", mode, tc.method, tc.path)
			}
		}
		// Roles are required in enforce mode only: a person token holds
		// no roles (it proves no memberships).
		want := 200
		if mode == migration.Enforce {
			want = 403
		}
		if c := e.browser().bearer("GET", "/admin/x", person, "Accept", "application/json"); c.resp.StatusCode != want ||
			(want == 403 && c.body(t).Error != "role_required") {
			t.Errorf("%s: a person token on a route that requires role api = %d %s; want %d", mode, c.resp.StatusCode, c.resp.body, want)
		}
	}
}
