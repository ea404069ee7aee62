package zaikio_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// Advance moves the clock on.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bearerEnv is a seeded dev hub (with its another_app), a client for the
// test app and a bearer verifier, all on one clock.
type bearerEnv struct {
	hub    *devhub.Hub
	srv    *httptest.Server
	clock  *fakeClock // nil: the real clock
	client *zaikio.Client
	v      *zaikio.BearerVerifier
}

// newBearerEnv starts the hub and the verifier on a fake clock; edit may
// change the verifier's config.
func newBearerEnv(tb testing.TB, edit func(*zaikio.BearerConfig)) *bearerEnv {
	tb.Helper()
	return newBearerEnvAt(tb, &fakeClock{t: time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)}, edit)
}

func newBearerEnvAt(tb testing.TB, clock *fakeClock, edit func(*zaikio.BearerConfig)) *bearerEnv {
	tb.Helper()
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	hub, err := devhub.New(devhub.Config{Seed: true, Now: now, Apps: []devhub.App{{
		ClientID: clientID, ClientSecret: clientSecret, Name: appName, RedirectURIs: []string{redirectURL},
	}}})
	if err != nil {
		tb.Fatalf("devhub.New: %v", err)
	}
	srv := httptest.NewServer(hub)
	tb.Cleanup(srv.Close)
	c, err := zaikio.New(zaikio.Config{
		URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret, AppName: appName, RedirectURL: redirectURL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}, Now: now,
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		tb.Fatalf("zaikio.New: %v", err)
	}
	var cfg zaikio.BearerConfig
	if edit != nil {
		edit(&cfg)
	}
	v, err := zaikio.NewBearerVerifier(c, cfg)
	if err != nil {
		tb.Fatalf("NewBearerVerifier: %v", err)
	}
	return &bearerEnv{hub: hub, srv: srv, clock: clock, client: c, v: v}
}

// credentials gets another_app a token by client credentials over HTTP, as
// another Zaikio app would.
func (e *bearerEnv) credentials(tb testing.TB, scope string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(devhub.OtherAppClientID, devhub.OtherAppSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("client credentials: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("client credentials for %s: HTTP %d %s %v", scope, resp.StatusCode, body.Error, err)
	}
	return body.AccessToken
}

// mint signs a token as spec says; without Scope, it carries
// "<test app>.api.r", so that its audience names the test app.
func (e *bearerEnv) mint(tb testing.TB, spec devhub.TokenSpec) string {
	tb.Helper()
	if spec.Scope == nil {
		spec.Scope = []string{appName + ".api.r"}
	}
	tok, err := e.hub.Mint(spec)
	if err != nil {
		tb.Fatalf("Mint: %v", err)
	}
	return tok
}

// orgScope is another_app's seeded grant from Bounty Soap, read-only.
var orgScope = "Org/" + devhub.BountySoapID + "." + appName + ".api.r"

// wantCode checks that err is a *BearerError with code want that unwraps
// to the sentinel fitting it.
func wantCode(t *testing.T, what string, tok *zaikio.AccessToken, err error, want zaikio.BearerCode) {
	t.Helper()
	if got := zaikio.BearerCodeOf(err); got != want || tok != nil {
		t.Fatalf("%s: Verify = %v, %v (code %q); want code %q", what, tok, err, got, want)
	}
	sentinel := zaikio.ErrInvalidToken
	switch want {
	case zaikio.BearerUnavailable:
		sentinel = zaikio.ErrUnavailable
	case zaikio.BearerMissingScope:
		sentinel = zaikio.ErrScope
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: errors.Is(%v, %v) = false", what, err, sentinel)
	}
}

// waitFor polls cond (background refreshes run on their own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBearerValid: person, organization and on-behalf tokens that another
// app got by client credentials verify, with their subject, client,
// audience and scopes.
func TestBearerValid(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	frank, bounty := devhub.FrankID, devhub.BountySoapID
	tests := []struct {
		name      string
		scope     string
		want      zaikio.Subject
		canRead   bool
		canWrite  bool
		wantScope []string
	}{
		{"person", "Per/" + frank + "." + appName + ".api.rw", zaikio.Subject{Kind: zaikio.SubjectPerson, Person: frank},
			true, true, []string{appName + ".api.rw"}},
		{"organization", orgScope, zaikio.Subject{Kind: zaikio.SubjectOrganization, Organization: bounty},
			true, false, []string{appName + ".api.r"}},
		{"on behalf", "Per/" + frank + ">Org/" + bounty + "." + appName + ".api.w",
			zaikio.Subject{Kind: zaikio.SubjectOnBehalf, Person: frank, Organization: bounty},
			false, true, []string{appName + ".api.w"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := e.v.Verify(context.Background(), e.credentials(t, tc.scope))
			if err != nil {
				t.Fatalf("Verify = %v; want a token", err)
			}
			if diff := cmp.Diff(tc.want, tok.Subject); diff != "" {
				t.Errorf("Subject (-want +got):\n%s", diff)
			}
			if tok.Client != devhub.OtherAppClientID {
				t.Errorf("Client = %q; want %q", tok.Client, devhub.OtherAppClientID)
			}
			if diff := cmp.Diff([]string{devhub.OtherAppName, appName}, tok.Audience); diff != "" {
				t.Errorf("Audience (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantScope, tok.Scope); diff != "" {
				t.Errorf("Scope (-want +got):\n%s", diff)
			}
			if got := tok.HasScope("api.r"); got != tc.canRead {
				t.Errorf("HasScope(api.r) = %v; want %v", got, tc.canRead)
			}
			if got := tok.HasScope(appName + ".api.w"); got != tc.canWrite {
				t.Errorf("HasScope(%s.api.w) = %v; want %v", appName, got, tc.canWrite)
			}
			if tok.JTI == "" || !tok.Expiry.Equal(e.clock.Now().Add(devhub.DefaultAccessTTL)) || !tok.NotBefore.Equal(e.clock.Now()) {
				t.Errorf("JTI %q, NotBefore %v, Expiry %v; want a jti and the hub's nbf and exp", tok.JTI, tok.NotBefore, tok.Expiry)
			}
			if err := tok.Require("api.r", "api.w"); (err == nil) != (tc.canRead && tc.canWrite) {
				t.Errorf("Require(api.r, api.w) = %v", err)
			}
		})
	}
}

// TestBearerRefused: each way a token can be wrong gets its own code, with
// tokens the dev hub really signs.
func TestBearerRefused(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	now := e.clock.Now()
	scope := []string{appName + ".api.r"}
	// Fetch the keys and the revocation list with a good token first, so
	// that the refusals below are not fetch failures.
	if _, err := e.v.Verify(context.Background(), e.mint(t, devhub.TokenSpec{Scope: scope})); err != nil {
		t.Fatalf("Verify(valid minted token) = %v", err)
	}
	tests := []struct {
		name string
		spec devhub.TokenSpec
		want zaikio.BearerCode
	}{
		{"expired", devhub.TokenSpec{NotBefore: now.Add(-11 * time.Minute), Expiry: now.Add(-time.Second)}, zaikio.BearerExpired},
		{"expiring now", devhub.TokenSpec{NotBefore: now.Add(-10 * time.Minute), Expiry: now}, zaikio.BearerExpired},
		{"not yet valid", devhub.TokenSpec{NotBefore: now.Add(time.Second), Expiry: now.Add(time.Hour)}, zaikio.BearerNotYetValid},
		{"wrong audience", devhub.TokenSpec{Audience: []string{devhub.OtherAppName, "someone_else"}}, zaikio.BearerWrongAudience},
		{"no audience", devhub.TokenSpec{Audience: []string{}}, zaikio.BearerWrongAudience},
		{"wrong issuer", devhub.TokenSpec{Issuer: "CP"}, zaikio.BearerWrongIssuer},
		{"unknown kid", devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}, zaikio.BearerUnknownKey},
		{"alg none", devhub.TokenSpec{Flaw: devhub.FlawAlgNone}, zaikio.BearerBadAlgorithm},
		{"HS256 keyed with the public key", devhub.TokenSpec{Flaw: devhub.FlawHS256PublicKey}, zaikio.BearerBadAlgorithm},
		{"ES256", devhub.TokenSpec{Flaw: devhub.FlawES256}, zaikio.BearerBadAlgorithm},
		{"bad signature", devhub.TokenSpec{Flaw: devhub.FlawBadSignature}, zaikio.BearerBadSignature},
		{"not a JWT", devhub.TokenSpec{Flaw: devhub.FlawNotJWT}, zaikio.BearerMalformed},
		{"no kid", devhub.TokenSpec{Flaw: devhub.FlawNoKID}, zaikio.BearerMalformed},
		{"no jti", devhub.TokenSpec{Flaw: devhub.FlawNoJTI}, zaikio.BearerMalformed},
		{"no exp", devhub.TokenSpec{Flaw: devhub.FlawNoExp}, zaikio.BearerMalformed},
		{"unknown subject type", devhub.TokenSpec{Subject: "Robot/" + devhub.FrankID}, zaikio.BearerMalformed},
		{"reversed on-behalf subject", devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID + ">Person/" + devhub.FrankID}, zaikio.BearerMalformed},
		{"subject id not a UUID", devhub.TokenSpec{Subject: "Person/123"}, zaikio.BearerMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec.Scope == nil {
				tc.spec.Scope = scope
			}
			tok, err := e.v.Verify(context.Background(), e.mint(t, tc.spec))
			wantCode(t, tc.name, tok, err, tc.want)
		})
	}
	t.Run("garbage", func(t *testing.T) {
		for _, raw := range []string{"", "x", "a.b.c", "e30.e30.", strings.Repeat("a", 9000)} {
			tok, err := e.v.Verify(context.Background(), raw)
			wantCode(t, "Verify("+raw[:min(len(raw), 10)]+")", tok, err, zaikio.BearerMalformed)
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		tok, err := e.v.Verify(context.Background(), e.credentials(t, orgScope))
		if err != nil {
			t.Fatal(err)
		}
		err = tok.Require("api.r", "api.w")
		wantCode(t, "Require(api.r, api.w)", nil, err, zaikio.BearerMissingScope)
		var be *zaikio.BearerError
		if errors.As(err, &be); be.Scope != "api.w" {
			t.Errorf("Require: Scope = %q; want api.w", be.Scope)
		}
	})
}

// TestBearerBadAlgorithmFetchesNothing: a token signed with another
// algorithm is refused before any key is looked at.
func TestBearerBadAlgorithmFetchesNothing(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	for _, f := range []devhub.Flaw{devhub.FlawAlgNone, devhub.FlawHS256PublicKey, devhub.FlawES256} {
		tok, err := e.v.Verify(context.Background(), e.mint(t, devhub.TokenSpec{Flaw: f}))
		wantCode(t, "Verify", tok, err, zaikio.BearerBadAlgorithm)
	}
	if n := e.hub.Requests(devhub.EndpointKeys) + e.hub.Requests(devhub.EndpointRevokedTokens); n != 0 {
		t.Errorf("hub requests for tokens with another algorithm = %d; want 0", n)
	}
}

// TestBearerKeysShared: a sign-in's verification and a bearer token's
// share one fetch of the keys.
func TestBearerKeysShared(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	he := &hubEnv{hub: e.hub, srv: e.srv, client: e.client, browser: &http.Client{
		Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if _, err := e.client.Verify(context.Background(), he.login(t, devhub.FrankID, "", zaikio.PersonScope)); err != nil {
		t.Fatalf("Verify(sign-in token) = %v", err)
	}
	if _, err := e.v.Verify(context.Background(), e.credentials(t, orgScope)); err != nil {
		t.Fatalf("Verify(bearer token) = %v", err)
	}
	if n := e.hub.Requests(devhub.EndpointKeys); n != 1 {
		t.Errorf("key fetches = %d; want 1", n)
	}
}

func TestBearerLeeway(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, func(c *zaikio.BearerConfig) { c.Leeway = 30 * time.Second })
	now := e.clock.Now()
	tests := []struct {
		name     string
		nbf, exp time.Time
		want     zaikio.BearerCode
	}{
		{"expired within the leeway", now.Add(-time.Hour), now.Add(-20 * time.Second), ""},
		{"expired beyond it", now.Add(-time.Hour), now.Add(-30 * time.Second), zaikio.BearerExpired},
		{"not yet valid within the leeway", now.Add(20 * time.Second), now.Add(time.Hour), ""},
		{"not yet valid beyond it", now.Add(31 * time.Second), now.Add(time.Hour), zaikio.BearerNotYetValid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := e.v.Verify(context.Background(), e.mint(t, devhub.TokenSpec{NotBefore: tc.nbf, Expiry: tc.exp}))
			if tc.want == "" {
				if err != nil {
					t.Errorf("Verify = %v; want a token", err)
				}
				return
			}
			wantCode(t, tc.name, tok, err, tc.want)
		})
	}
}

// TestBearerCached: a verified token is served from memory (no allocation)
// until it expires, and still stops working the moment it is revoked.
func TestBearerCached(t *testing.T) {
	// Not parallel: AllocsPerRun counts the whole process's allocations.
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	raw := e.credentials(t, orgScope)
	first, err := e.v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		if tok, err := e.v.Verify(ctx, raw); err != nil || tok != first {
			t.Fatalf("Verify (cached) = %v, %v; want the first result", tok, err)
		}
	}); allocs != 0 {
		t.Errorf("Verify of a cached token allocates %v times; want 0", allocs)
	}
	if !e.v.Revoke(first.JTI) {
		t.Error("Revoke = false; want true")
	}
	if e.v.Revoke(first.JTI) {
		t.Error("Revoke again = true; want false")
	}
	tok, err := e.v.Verify(ctx, raw)
	wantCode(t, "Verify after Revoke", tok, err, zaikio.BearerRevoked)

	other := e.credentials(t, orgScope)
	if _, err := e.v.Verify(ctx, other); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(devhub.DefaultAccessTTL)
	tok, err = e.v.Verify(ctx, other)
	wantCode(t, "Verify of a cached token at its exp", tok, err, zaikio.BearerExpired)
}

// TestBearerAddRevoked: jtis learned elsewhere (another replica's webhook)
// are refused at once, cached or not.
func TestBearerAddRevoked(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	a, b := e.mint(t, devhub.TokenSpec{JTI: "jti-a"}), e.mint(t, devhub.TokenSpec{JTI: "jti-b"})
	if _, err := e.v.Verify(ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := e.v.AddRevoked("jti-a", "jti-b", "jti-a", "", strings.Repeat("x", 200)); n != 2 {
		t.Errorf("AddRevoked = %d; want 2 (duplicates, empty and overlong ids ignored)", n)
	}
	for name, raw := range map[string]string{"cached": a, "new": b} {
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, name, tok, err, zaikio.BearerRevoked)
	}
	// Revocations learned from outside survive the list's refresh.
	e.clock.Advance(zaikio.DefaultRevocationMaxAge)
	tok, err := e.v.Verify(ctx, e.mint(t, devhub.TokenSpec{JTI: "jti-b", Expiry: e.clock.Now().Add(time.Hour)}))
	wantCode(t, "after a refresh of the list", tok, err, zaikio.BearerRevoked)
}

// TestBearerRevokedByList: a token revoked at the hub (POST
// /api/v1/revoked_access_tokens with the token itself) is refused once the
// list is refetched: in the background after RevocationRefresh, at once
// after RevocationMaxAge.
func TestBearerRevokedByList(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	revoke := func(raw string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/revoked_access_tokens", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("revoke at the hub: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	long := func() string {
		return e.mint(t, devhub.TokenSpec{Scope: []string{appName + ".api.r"}, Expiry: e.clock.Now().Add(3 * time.Hour)})
	}

	t.Run("after the refresh interval, in the background", func(t *testing.T) {
		raw := long()
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
		revoke(raw)
		e.clock.Advance(zaikio.DefaultRevocationRefresh - time.Second)
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Fatalf("within the refresh interval: Verify = %v; want the cached list's answer", err)
		}
		lists := e.hub.Requests(devhub.EndpointRevokedTokens)
		e.clock.Advance(time.Second)
		waitFor(t, "the background refresh to revoke the token", func() bool {
			_, err := e.v.Verify(ctx, raw)
			return zaikio.BearerCodeOf(err) == zaikio.BearerRevoked
		})
		if n := e.hub.Requests(devhub.EndpointRevokedTokens) - lists; n != 1 {
			t.Errorf("list fetches for one due refresh = %d; want 1", n)
		}
	})
	t.Run("after the max age, at once", func(t *testing.T) {
		raw := long()
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
		revoke(raw)
		// No refresh fails and none runs: the next use past the max age
		// fetches the list before answering.
		e.clock.Advance(zaikio.DefaultRevocationMaxAge)
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, "past the max age", tok, err, zaikio.BearerRevoked)
	})
	t.Run("a new token checks the list", func(t *testing.T) {
		raw := long()
		revoke(raw)
		e.clock.Advance(zaikio.DefaultRevocationMaxAge)
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, "never seen, revoked at the hub", tok, err, zaikio.BearerRevoked)
	})
}

// TestBearerRevokedByWebhook: the zaikio.revoked_access_token webhook, as
// the dev hub sends it, revokes a cached token at once when its handler
// calls Revoke with the payload's access_token_id.
func TestBearerRevokedByWebhook(t *testing.T) {
	t.Parallel()
	var v *zaikio.BearerVerifier
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !zaikio.VerifySignature([]byte("hook-secret"), body, r.Header.Get(zaikio.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ev, err := zaikio.ParseEvent(body)
		var p struct {
			JTI string `json:"access_token_id"`
		}
		if err != nil || ev.Name != zaikio.EventRevokedAccessToken || json.Unmarshal(ev.Payload, &p) != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		v.Revoke(p.JTI)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	e := newBearerEnv(t, nil)
	v = e.v
	if err := e.hub.AddApp(devhub.App{ClientID: "webhooked", ClientSecret: "s", Name: "webhooked_app",
		RedirectURIs: []string{redirectURL}, WebhookURL: hook.URL, WebhookSecret: "hook-secret"}); err != nil {
		t.Fatal(err)
	}
	raw := e.credentials(t, orgScope)
	tok, err := e.v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	e.hub.Revoke(tok.JTI)
	resp, err := e.hub.DeliverRevocation(context.Background(), "webhooked", tok.JTI)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DeliverRevocation = %v, %v; want 204", resp, err)
	}
	resp.Body.Close()
	got, err := e.v.Verify(context.Background(), raw)
	wantCode(t, "after the webhook", got, err, zaikio.BearerRevoked)
}

// TestBearerKeyRotation: a token under a new key makes the verifier refetch
// the keys once; a key the hub withdraws stops verifying once the keys are
// refreshed (at the latest an hour later), cached tokens included.
func TestBearerKeyRotation(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	old := e.mint(t, devhub.TokenSpec{Expiry: e.clock.Now().Add(3 * time.Hour)})
	if _, err := e.v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	fetches := e.hub.Requests(devhub.EndpointKeys)
	e.hub.RotateKey()
	if _, err := e.v.Verify(ctx, e.credentials(t, orgScope)); err != nil {
		t.Fatalf("Verify(token under the new key) = %v; want a refetch on the unknown kid", err)
	}
	if n := e.hub.Requests(devhub.EndpointKeys) - fetches; n != 1 {
		t.Errorf("key fetches after the rotation = %d; want 1", n)
	}
	if _, err := e.v.Verify(ctx, old); err != nil {
		t.Errorf("Verify(token under the old, still published key) = %v", err)
	}
	e.hub.DropOldKeys()
	e.clock.Advance(time.Hour) // keys due for a refresh
	waitFor(t, "the withdrawn key to be noticed", func() bool {
		_, err := e.v.Verify(ctx, old)
		return zaikio.BearerCodeOf(err) == zaikio.BearerUnknownKey
	})
}

// TestBearerRefetchBounded: forged tokens make the verifier ask the hub for
// its keys a few times at most, then once per interval; a bad signature
// under a known kid asks nothing.
func TestBearerRefetchBounded(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	if _, err := e.v.Verify(ctx, e.credentials(t, orgScope)); err != nil {
		t.Fatal(err)
	}
	fetches := e.hub.Requests(devhub.EndpointKeys)
	for i := 0; i < 5; i++ {
		tok, err := e.v.Verify(ctx, e.mint(t, devhub.TokenSpec{Flaw: devhub.FlawBadSignature}))
		wantCode(t, "bad signature", tok, err, zaikio.BearerBadSignature)
	}
	if n := e.hub.Requests(devhub.EndpointKeys) - fetches; n != 0 {
		t.Errorf("key fetches for bad signatures under a known kid = %d; want 0", n)
	}
	for i := 0; i < 10; i++ {
		tok, err := e.v.Verify(ctx, e.mint(t, devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}))
		wantCode(t, "unknown kid", tok, err, zaikio.BearerUnknownKey)
	}
	burst := e.hub.Requests(devhub.EndpointKeys) - fetches
	if burst < 1 || burst > 3 {
		t.Errorf("key fetches for 10 unknown kids = %d; want 1 to 3", burst)
	}
	e.clock.Advance(10 * time.Second)
	for i := 0; i < 3; i++ {
		e.v.Verify(ctx, e.mint(t, devhub.TokenSpec{Flaw: devhub.FlawUnknownKID}))
	}
	if n := e.hub.Requests(devhub.EndpointKeys) - fetches - burst; n != 1 {
		t.Errorf("key fetches 10 s later = %d; want 1", n)
	}
}

// TestBearerUnavailable: when the keys or the revocation list cannot be
// fetched, tokens are refused with BearerUnavailable (never accepted,
// never called bad), and accepted again once the hub answers.
func TestBearerUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("keys", func(t *testing.T) {
		e := newBearerEnv(t, nil)
		raw := e.credentials(t, orgScope)
		e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: http.StatusServiceUnavailable})
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, "keys 503", tok, err, zaikio.BearerUnavailable)
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Errorf("Verify once the keys are back = %v", err)
		}
	})
	t.Run("revocation list", func(t *testing.T) {
		e := newBearerEnv(t, nil)
		raw := e.credentials(t, orgScope)
		e.hub.FailNext(devhub.EndpointRevokedTokens, devhub.Failure{Status: http.StatusInternalServerError})
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, "list 500", tok, err, zaikio.BearerUnavailable)
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Errorf("Verify once the list is back = %v", err)
		}
	})
	t.Run("list not JSON", func(t *testing.T) {
		e := newBearerEnv(t, nil)
		e.hub.FailNext(devhub.EndpointRevokedTokens, devhub.Failure{Status: http.StatusOK, Error: "x"})
		tok, err := e.v.Verify(ctx, e.credentials(t, orgScope))
		wantCode(t, "list without revoked_token_ids", tok, err, zaikio.BearerUnavailable)
	})
	t.Run("list too old", func(t *testing.T) {
		e := newBearerEnv(t, nil)
		raw := e.mint(t, devhub.TokenSpec{Expiry: e.clock.Now().Add(3 * time.Hour)})
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
		e.hub.FailNext(devhub.EndpointRevokedTokens, devhub.Failure{Status: http.StatusServiceUnavailable, Times: 2})
		e.clock.Advance(zaikio.DefaultRevocationMaxAge - time.Minute)
		// Due, failing in the background: the stale list still serves.
		if _, err := e.v.Verify(ctx, raw); err != nil {
			t.Fatalf("stale but within the max age: Verify = %v", err)
		}
		waitFor(t, "the failed background refresh", func() bool { return e.hub.Requests(devhub.EndpointRevokedTokens) == 2 })
		e.clock.Advance(time.Minute)
		tok, err := e.v.Verify(ctx, raw)
		wantCode(t, "past the max age, hub failing", tok, err, zaikio.BearerUnavailable)
		// The failures are used up: the list comes back (a failed
		// background fetch may still be finishing, so retry a few times).
		waitFor(t, "the list to be back", func() bool {
			_, err := e.v.Verify(ctx, raw)
			return err == nil
		})
	})
	t.Run("prefetch", func(t *testing.T) {
		e := newBearerEnv(t, nil)
		e.hub.FailNext(devhub.EndpointRevokedTokens, devhub.Failure{Status: http.StatusServiceUnavailable})
		if err := e.v.Prefetch(ctx); !errors.Is(err, zaikio.ErrUnavailable) {
			t.Errorf("Prefetch while the list fails = %v; want ErrUnavailable", err)
		}
		if err := e.v.Prefetch(ctx); err != nil {
			t.Errorf("Prefetch = %v", err)
		}
		keys, lists := e.hub.Requests(devhub.EndpointKeys), e.hub.Requests(devhub.EndpointRevokedTokens)
		if _, err := e.v.Verify(ctx, e.credentials(t, orgScope)); err != nil {
			t.Fatal(err)
		}
		if e.hub.Requests(devhub.EndpointKeys) != keys || e.hub.Requests(devhub.EndpointRevokedTokens) != lists {
			t.Error("Verify after Prefetch fetched again")
		}
	})
}

// TestBearerConcurrent: many requests with one new token fetch the keys and
// the list once, and all get the same answer.
func TestBearerConcurrent(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	raw := e.credentials(t, orgScope)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := e.v.Verify(context.Background(), raw); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify = %v", err)
	}
	if k, l := e.hub.Requests(devhub.EndpointKeys), e.hub.Requests(devhub.EndpointRevokedTokens); k != 1 || l != 1 {
		t.Errorf("fetches: keys %d, list %d; want 1 each", k, l)
	}
}

func TestNewBearerVerifier(t *testing.T) {
	t.Parallel()
	c, err := zaikio.New(zaikio.Config{URL: "http://hub.test", ClientID: "c", AppName: "my_app", RedirectURL: "http://app.test/cb"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     zaikio.BearerConfig
		wantErr string
	}{
		{"zero", zaikio.BearerConfig{}, ""},
		{"all set", zaikio.BearerConfig{AppName: "x", RevocationRefresh: time.Minute, RevocationMaxAge: 30 * time.Minute, Leeway: time.Second, CacheSize: -1}, ""},
		{"max age beyond the gem's hour", zaikio.BearerConfig{RevocationMaxAge: 2 * time.Hour}, "at most 1h"},
		{"refresh beyond max age", zaikio.BearerConfig{RevocationRefresh: 20 * time.Minute, RevocationMaxAge: 10 * time.Minute}, "longer than its max age"},
		{"negative", zaikio.BearerConfig{Leeway: -time.Second}, "negative"},
		{"leeway too long", zaikio.BearerConfig{Leeway: 6 * time.Minute}, "leeway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := zaikio.NewBearerVerifier(c, tc.cfg)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewBearerVerifier = %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := zaikio.NewBearerVerifier(nil, zaikio.BearerConfig{}); err == nil {
		t.Error("NewBearerVerifier(nil) succeeded")
	}
}
