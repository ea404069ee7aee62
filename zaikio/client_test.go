package zaikio_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

const (
	clientID = "hubgate_test"
	// clientSecret has characters that RFC 6749 §2.3.1 form-encodes before
	// HTTP Basic.
	clientSecret = "s3cret:with/odd=chars&+ %"
	appName      = "hubgate_app"
	redirectURL  = "http://app.test/_hubgate/callback"
	// verifier is a valid RFC 7636 code verifier (43 characters).
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// s256 is the RFC 7636 §4.2 S256 challenge of v, computed here
// independently of the client.
func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// hubEnv is a seeded dev hub served by a real listener, with a client
// registered at it.
type hubEnv struct {
	hub    *devhub.Hub
	srv    *httptest.Server
	client *zaikio.Client
	// browser does not follow redirects, so tests read the hub's Location.
	browser *http.Client
}

// newHubEnv starts a seeded dev hub with the test app and a client for it.
// edit may change the client's config before New.
func newHubEnv(t *testing.T, edit func(*zaikio.Config)) *hubEnv {
	t.Helper()
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{
		ClientID: clientID, ClientSecret: clientSecret, Name: appName, RedirectURIs: []string{redirectURL},
	}}})
	if err != nil {
		t.Fatalf("devhub.New: %v", err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	cfg := zaikio.Config{
		URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret, AppName: appName, RedirectURL: redirectURL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Sleep:      func(context.Context, time.Duration) error { return nil },
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := zaikio.New(cfg)
	if err != nil {
		t.Fatalf("zaikio.New: %v", err)
	}
	return &hubEnv{
		hub: hub, srv: srv, client: c,
		browser: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// code runs the authorize step for the URL the client builds, with the hub
// approving as person (and org), and returns the code from the callback.
func (e *hubEnv) code(t *testing.T, person, org string, scopes ...string) string {
	t.Helper()
	e.hub.AutoApprove(person, org)
	u, _ := e.client.AuthCodeURL(context.Background(), "st4te", verifier, scopes, zaikio.AuthOptions{SelectAccount: true})
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatalf("GET authorize: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET authorize: status %d, want 302 (body %.300q)", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("authorize Location: %v", err)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorize: error=%s (%s)", q.Get("error"), q.Get("error_description"))
	}
	if got := q.Get("state"); got != "st4te" {
		t.Fatalf("authorize: state = %q; want %q", got, "st4te")
	}
	return q.Get("code")
}

// login runs the whole flow and returns the exchanged (unverified) token.
func (e *hubEnv) login(t *testing.T, person, org string, scopes ...string) *zaikio.Token {
	t.Helper()
	code := e.code(t, person, org, scopes...)
	tok, err := e.client.Exchange(context.Background(), code, verifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// newRawClient returns a client for a hub that h plays, to answer with exact
// bytes and statuses the dev hub cannot produce.
func newRawClient(t *testing.T, h http.Handler, edit func(*zaikio.Config)) *zaikio.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := zaikio.Config{
		URL: srv.URL, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := zaikio.New(cfg)
	if err != nil {
		t.Fatalf("zaikio.New: %v", err)
	}
	return c
}

// fakeClock is a settable clock, at whole seconds so that RateLimit-Reset
// arithmetic is exact.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// sleeps records the waits a client asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

func TestNew(t *testing.T) {
	t.Parallel()
	valid := zaikio.Config{URL: "https://hub.sandbox.zaikio.com/", ClientID: "app", RedirectURL: "https://app.example.com/_hubgate/callback"}
	tests := []struct {
		name    string
		edit    func(*zaikio.Config)
		wantErr string // "" means success
	}{
		{"valid", func(*zaikio.Config) {}, ""},
		{"http hub on loopback", func(c *zaikio.Config) { c.URL = "http://127.0.0.1:4190" }, ""},
		{"empty url", func(c *zaikio.Config) { c.URL = "" }, "hub url"},
		{"relative url", func(c *zaikio.Config) { c.URL = "hub.zaikio.com" }, "hub url"},
		{"ftp url", func(c *zaikio.Config) { c.URL = "ftp://hub.zaikio.com" }, "hub url"},
		{"no client id", func(c *zaikio.Config) { c.ClientID = "" }, "client id"},
		{"no redirect url", func(c *zaikio.Config) { c.RedirectURL = "" }, "redirect url"},
		{"relative redirect url", func(c *zaikio.Config) { c.RedirectURL = "/_hubgate/callback" }, "redirect url"},
		{"javascript redirect url", func(c *zaikio.Config) { c.RedirectURL = "javascript://x/y" }, "redirect url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.edit(&cfg)
			c, err := zaikio.New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New(%+v) = %v; want success", cfg, err)
				}
				if got, want := c.BaseURL(), strings.TrimRight(cfg.URL, "/"); got != want {
					t.Errorf("BaseURL() = %q; want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "zaikio: ") {
				t.Errorf("New(%+v) = %v; want an error with %q", cfg, err, tc.wantErr)
			}
		})
	}
}

func TestAuthCodeURL(t *testing.T) {
	t.Parallel()
	c, err := zaikio.New(zaikio.Config{URL: "https://hub.sandbox.zaikio.com", ClientID: "hubgate app", RedirectURL: redirectURL})
	if err != nil {
		t.Fatal(err)
	}
	base := url.Values{
		"client_id":             {"hubgate app"},
		"redirect_uri":          {redirectURL},
		"response_type":         {"code"},
		"state":                 {"st/ate?&="},
		"code_challenge":        {s256(verifier)},
		"code_challenge_method": {"S256"},
	}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		scopes []string
		opts   zaikio.AuthOptions
		want   url.Values
	}{
		{"person scope, no options", []string{"zaikio.person.r"}, zaikio.AuthOptions{},
			with("scope", "zaikio.person.r")},
		{"scopes joined by commas", []string{"zaikio.person.r", "zaikio.organization.r"}, zaikio.AuthOptions{},
			with("scope", "zaikio.person.r,zaikio.organization.r")},
		{"on-behalf org scope, claim prompt", []string{"Per>Org.zaikio.organization.r"}, zaikio.AuthOptions{SelectAccount: true, Lang: "de"},
			with("scope", "Per>Org.zaikio.organization.r", "prompt", "select_account", "lang", "de")},
		{"sign-up prefill", []string{"zaikio.person.r"}, zaikio.AuthOptions{
			FirstName: "Ada Augusta", LastName: "Lovelace", Email: "ada+test@example.com", Login: "ada@example.com",
			OrgName: "Analytical Engines Ltd.", OrgCountry: "GB", ForceLogin: true,
		}, with("scope", "zaikio.person.r",
			"person[first_name]", "Ada Augusta", "person[name]", "Lovelace", "person[email]", "ada+test@example.com",
			"login", "ada@example.com", "organization[name]", "Analytical Engines Ltd.", "organization[country_code]", "GB",
			"force_login", "true")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := c.AuthCodeURL(context.Background(), "st/ate?&=", verifier, tc.scopes, tc.opts)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("AuthCodeURL(…) = %q: %v", raw, err)
			}
			if got, want := u.Scheme+"://"+u.Host+u.Path, "https://hub.sandbox.zaikio.com/oauth/authorize"; got != want {
				t.Errorf("AuthCodeURL(…) endpoint = %q; want %q", got, want)
			}
			if diff := cmp.Diff(tc.want, u.Query()); diff != "" {
				t.Errorf("AuthCodeURL(…) query (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthCodeURLAtHub checks that the hub accepts what AuthCodeURL builds:
// client, redirect URI, comma-joined scopes and the S256 challenge.
func TestAuthCodeURLAtHub(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope, "zaikio.organization.r")
	// zaikio.organization.r does not fit a person bearer: the hub drops it.
	if diff := cmp.Diff([]string{zaikio.PersonScope}, tok.Scope); diff != "" {
		t.Errorf("granted scope (-want +got):\n%s", diff)
	}
	if !tok.HasScope(zaikio.PersonScope) || tok.HasScope("zaikio.organization.r") {
		t.Errorf("HasScope: got %v; want only %s", tok.Scope, zaikio.PersonScope)
	}
}

func TestHasScope(t *testing.T) {
	t.Parallel()
	tok := &zaikio.Token{Scope: []string{"zaikio.person.r", "zaikio.organization.r"}}
	tests := []struct {
		scope string
		want  bool
	}{
		{"zaikio.person.r", true},
		{"Per.zaikio.person.r", true},
		{"Org.zaikio.organization.r", true},
		{"Per>Org.zaikio.organization.r", true},
		{"Org/" + devhub.BountySoapID + ".zaikio.organization.r", true},
		{"zaikio.person.rw", false},
		{"zaikio.organization_members.r", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := tok.HasScope(tc.scope); got != tc.want {
			t.Errorf("HasScope(%q) = %v; want %v", tc.scope, got, tc.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		err             *zaikio.Error
		wantText        string
		invalidGrant    bool
		unavailable     bool
		wrappedTimedOut bool
	}{
		{"invalid grant", &zaikio.Error{Op: "token", Status: 400, Code: "invalid_grant", Description: "code expired"},
			"zaikio: token: HTTP 400: invalid_grant (code expired)", true, false, false},
		{"rate limited", &zaikio.Error{Op: "person", Status: 429, Code: "rate_limited"},
			"zaikio: person: HTTP 429: rate_limited", false, true, false},
		{"server error", &zaikio.Error{Op: "person", Status: 503},
			"zaikio: person: HTTP 503", false, true, false},
		{"transport", &zaikio.Error{Op: "token", Err: context.DeadlineExceeded},
			"zaikio: token: context deadline exceeded", false, true, true},
		{"refused before sending", &zaikio.Error{Op: "token", Code: "invalid_request", Description: "empty code"},
			"zaikio: token: invalid_request (empty code)", false, false, false},
		{"forbidden", &zaikio.Error{Op: "person", Status: 403, Code: "unpermitted_scope"},
			"zaikio: person: HTTP 403: unpermitted_scope", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.wantText {
				t.Errorf("Error() = %q; want %q", got, tc.wantText)
			}
			if got := errors.Is(tc.err, zaikio.ErrInvalidGrant); got != tc.invalidGrant {
				t.Errorf("errors.Is(%v, ErrInvalidGrant) = %v; want %v", tc.err, got, tc.invalidGrant)
			}
			if got := errors.Is(tc.err, zaikio.ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v; want %v", tc.err, got, tc.unavailable)
			}
			if got := errors.Is(tc.err, context.DeadlineExceeded); got != tc.wrappedTimedOut {
				t.Errorf("errors.Is(%v, context.DeadlineExceeded) = %v; want %v", tc.err, got, tc.wrappedTimedOut)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	before := time.Now()
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	tok.Expiry = time.Time{} // Verify must set it from the JWT
	claims, err := e.client.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify(valid token) = %v; want nil", err)
	}
	if got, want := claims.Subject, "Person/"+devhub.FrankID; got != want {
		t.Errorf("Verify: Subject = %q; want %q", got, want)
	}
	if claims.JTI == "" {
		t.Errorf("Verify: JTI is empty")
	}
	if diff := cmp.Diff([]string{appName}, claims.Audience); diff != "" {
		t.Errorf("Verify: Audience (-want +got):\n%s", diff)
	}
	if !slices.Contains(claims.Scope, "zaikio.person.r") {
		t.Errorf("Verify: Scope = %v; want it to hold zaikio.person.r", claims.Scope)
	}
	if !tok.Expiry.Equal(claims.Expiry) {
		t.Errorf("Verify: token Expiry = %v; want the JWT exp %v", tok.Expiry, claims.Expiry)
	}
	lo, hi := before.Add(devhub.DefaultAccessTTL-2*time.Second), time.Now().Add(devhub.DefaultAccessTTL+time.Second)
	if tok.Expiry.Before(lo) || tok.Expiry.After(hi) {
		t.Errorf("Verify: Expiry = %v; want about now + %v", tok.Expiry, devhub.DefaultAccessTTL)
	}
}

func TestVerifyRejectsTamperedTokens(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	// Fetch the keys once with a good token, so that rejections are not
	// merely key-fetch failures.
	if _, err := e.client.Verify(context.Background(), e.login(t, devhub.FrankID, "", zaikio.PersonScope)); err != nil {
		t.Fatalf("Verify(valid token) = %v", err)
	}
	for _, tamper := range []devhub.Tamper{
		devhub.TamperBadSignature, devhub.TamperWrongAudience, devhub.TamperExpired,
		devhub.TamperSubMismatch, devhub.TamperWrongIssuer,
	} {
		t.Run(tamper.String(), func(t *testing.T) {
			// Sequential: the hub's tamper queue and auto-approval are shared.
			e.hub.TamperNext(tamper)
			tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
			claims, err := e.client.Verify(context.Background(), tok)
			if !errors.Is(err, zaikio.ErrInvalidToken) {
				t.Errorf("Verify(%s token) = %+v, %v; want ErrInvalidToken", tamper, claims, err)
			}
		})
	}
	t.Run("bearer swapped in the response", func(t *testing.T) {
		tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
		tok.Bearer.ID = devhub.ErikaID
		if _, err := e.client.Verify(context.Background(), tok); !errors.Is(err, zaikio.ErrInvalidToken) {
			t.Errorf("Verify(token whose bearer names another person) = %v; want ErrInvalidToken", err)
		}
	})
	t.Run("not a JWT", func(t *testing.T) {
		tok := &zaikio.Token{AccessToken: "not.a.jwt", Bearer: zaikio.Bearer{ID: devhub.FrankID, Type: "Person"}}
		if _, err := e.client.Verify(context.Background(), tok); !errors.Is(err, zaikio.ErrInvalidToken) {
			t.Errorf("Verify(garbage) = %v; want ErrInvalidToken", err)
		}
	})
}

func TestVerifyAfterKeyRotation(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	ctx := context.Background()
	old := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	if _, err := e.client.Verify(ctx, old); err != nil {
		t.Fatalf("Verify(token under the first key) = %v", err)
	}
	fetches := e.hub.Requests(devhub.EndpointKeys)
	e.hub.RotateKey()
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	if _, err := e.client.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify(token under the rotated key) = %v; want nil (refetch on unknown kid)", err)
	}
	if got := e.hub.Requests(devhub.EndpointKeys); got <= fetches {
		t.Errorf("key fetches after rotation = %d; want more than %d", got, fetches)
	}
	if _, err := e.client.Verify(ctx, old); err != nil {
		t.Errorf("Verify(token under the old, still published key) = %v; want nil", err)
	}
}

// TestVerifyKeysUnavailable: a failed key fetch fails that verification
// but is not remembered: the next one fetches again and succeeds.
func TestVerifyKeysUnavailable(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: http.StatusServiceUnavailable})
	if _, err := e.client.Verify(context.Background(), tok); err == nil {
		t.Fatalf("Verify() while the key endpoint answers 503 = nil; want an error")
	}
	if _, err := e.client.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify() once the key endpoint is back = %v; want nil", err)
	}
}

func TestExpectedSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		bearer     zaikio.Bearer
		onBehalfOf *zaikio.Bearer
		want       string
	}{
		{"person", zaikio.Bearer{ID: devhub.FrankID, Type: "Person"}, nil, "Person/" + devhub.FrankID},
		{"organization", zaikio.Bearer{ID: devhub.BountySoapID, Type: "Organization"}, nil, "Organization/" + devhub.BountySoapID},
		{"on behalf", zaikio.Bearer{ID: devhub.BountySoapID, Type: "Organization"},
			&zaikio.Bearer{ID: devhub.FrankID, Type: "Person", Roles: []string{"owner"}},
			"Person/" + devhub.FrankID + ">Organization/" + devhub.BountySoapID},
		{"empty on-behalf object", zaikio.Bearer{ID: devhub.BountySoapID, Type: "Organization"}, &zaikio.Bearer{},
			"Organization/" + devhub.BountySoapID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := zaikio.ExpectedSubject(tc.bearer, tc.onBehalfOf); got != tc.want {
				t.Errorf("ExpectedSubject(%+v, %+v) = %q; want %q", tc.bearer, tc.onBehalfOf, got, tc.want)
			}
		})
	}
}

// TestVerifyBearers runs the flow for each kind of bearer and checks that the
// token response and the verified sub agree.
func TestVerifyBearers(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	tests := []struct {
		name        string
		person, org string
		scope       string
		wantBearer  zaikio.Bearer
		wantBehalf  *zaikio.Bearer
		wantSubject string
	}{
		{"person", devhub.MaxID, "", zaikio.PersonScope,
			zaikio.Bearer{ID: devhub.MaxID, Type: "Person"}, nil, "Person/" + devhub.MaxID},
		{"organization", devhub.MaxID, devhub.GalacticPrintID, "Org.zaikio.organization.r",
			zaikio.Bearer{ID: devhub.GalacticPrintID, Type: "Organization"}, nil, "Organization/" + devhub.GalacticPrintID},
		{"on behalf", devhub.MaxID, devhub.GalacticPrintID, "Per>Org.zaikio.organization.r",
			zaikio.Bearer{ID: devhub.GalacticPrintID, Type: "Organization"},
			&zaikio.Bearer{ID: devhub.MaxID, Type: "Person", Roles: []string{"member", "designer"}},
			"Person/" + devhub.MaxID + ">Organization/" + devhub.GalacticPrintID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.login(t, tc.person, tc.org, tc.scope)
			if diff := cmp.Diff(tc.wantBearer, tok.Bearer); diff != "" {
				t.Errorf("Bearer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBehalf, tok.OnBehalfOf); diff != "" {
				t.Errorf("OnBehalfOf (-want +got):\n%s", diff)
			}
			claims, err := e.client.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify(%s token) = %v", tc.name, err)
			}
			if claims.Subject != tc.wantSubject {
				t.Errorf("Verify: Subject = %q; want %q", claims.Subject, tc.wantSubject)
			}
		})
	}
}

func TestPerson(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	p, err := e.client.Person(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Person: %v", err)
	}
	want := &zaikio.Person{
		ID: devhub.FrankID, FirstName: "Frank", Name: "Gallikanokus", FullName: "Frank Gallikanokus",
		Email: "fgalli@example.com", EmailConfirmed: true, Locale: "en", TimeZone: "Europe/Berlin",
		Memberships: []zaikio.Membership{
			{ID: "b8a1cd10-4e5f-4a6b-9c7d-1e2f3a4b5c01", Roles: []string{"owner"}, Organization: zaikio.Organization{
				ID: devhub.BountySoapID, Name: "Bounty Soap Inc.", Slug: "bounty_soap_inc", Connected: true,
				Kinds: []string{"printer"}, CountryCode: "DE"}},
			{ID: "0a4503fe-6b7c-4d8e-8f9a-0b1c2d3e4f02", Roles: []string{"member"}, Organization: zaikio.Organization{
				ID: devhub.GalacticPrintID, Name: "Galactic Print Inc.", Slug: "galactic_print_inc", Connected: true,
				Kinds: []string{"printer", "agency"}, CountryCode: "GB"}},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Person (-want +got):\n%s", diff)
	}
	if got, want := p.RolesIn(devhub.BountySoapID), []string{"owner"}; !slices.Equal(got, want) {
		t.Errorf("RolesIn(Bounty Soap) = %v; want %v", got, want)
	}
	if got := p.RolesIn(devhub.AnalyticalEnginesID); got != nil {
		t.Errorf("RolesIn(an org Frank is not in) = %v; want nil", got)
	}
}

func TestPersonWithoutFirstName(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	solo := e.hub.AddPerson(devhub.Person{Name: "Cher", Email: "cher@example.com"})
	tok := e.login(t, solo.ID, "", zaikio.PersonScope)
	p, err := e.client.Person(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Person: %v", err)
	}
	if p.FirstName != "" || p.Name != "Cher" || p.DisplayName() != "Cher" {
		t.Errorf("Person = first %q, name %q, display %q; want \"\", \"Cher\", \"Cher\"", p.FirstName, p.Name, p.DisplayName())
	}
	if p.Memberships == nil || len(p.Memberships) != 0 {
		t.Errorf("Memberships = %#v; want empty", p.Memberships)
	}
}

func TestPersonErrors(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, nil)
	ctx := context.Background()
	org := e.login(t, devhub.FrankID, devhub.BountySoapID, "Org.zaikio.organization.r")
	_, err := e.client.Person(ctx, org.AccessToken)
	var ze *zaikio.Error
	if !errors.As(err, &ze) || ze.Status != http.StatusForbidden || ze.Code != "unpermitted_scope" {
		t.Errorf("Person(org token) = %v; want HTTP 403 unpermitted_scope", err)
	}
	if errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("Person(org token) = %v; want it not to be ErrUnavailable", err)
	}
	o, err := e.client.Organization(ctx, org.AccessToken)
	if err != nil || o.ID != devhub.BountySoapID || o.Name != "Bounty Soap Inc." {
		t.Errorf("Organization(org token) = %+v, %v; want Bounty Soap Inc.", o, err)
	}
	if _, err := e.client.Person(ctx, "garbage"); !errors.As(err, &ze) || ze.Status != http.StatusUnauthorized {
		t.Errorf("Person(garbage token) = %v; want HTTP 401", err)
	}
}

func TestDisplayName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    zaikio.Person
		want string
	}{
		{"full name", zaikio.Person{FullName: "Frank Gallikanokus", FirstName: "F", Name: "G", Email: "f@example.com"}, "Frank Gallikanokus"},
		{"first and last", zaikio.Person{FirstName: "Frank", Name: "Gallikanokus", Email: "f@example.com"}, "Frank Gallikanokus"},
		{"last only", zaikio.Person{Name: "Cher", Email: "c@example.com"}, "Cher"},
		{"first only", zaikio.Person{FirstName: "Ada", Email: "a@example.com"}, "Ada"},
		{"email only", zaikio.Person{Email: "x@example.com"}, "x@example.com"},
		{"nothing", zaikio.Person{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.DisplayName(); got != tc.want {
				t.Errorf("%+v.DisplayName() = %q; want %q", tc.p, got, tc.want)
			}
		})
	}
}

// rateLimited answers its first n requests with 429 and RateLimit-Reset =
// clock + resetIn (unix seconds), then body with 200.
func rateLimited(clock *fakeClock, n int, resetIn time.Duration, body string) (http.Handler, func() int) {
	var mu sync.Mutex
	seen := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		limited := seen <= n
		mu.Unlock()
		if limited {
			w.Header().Set("RateLimit-Reset", strconv.FormatInt(clock.Now().Add(resetIn).Unix(), 10))
			w.Header().Set("RateLimit-Rule", "requests_per_minute")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"errors":["rate_limited"]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	return h, func() int { mu.Lock(); defer mu.Unlock(); return seen }
}

const personBody = `{"id":"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01","first_name":"Frank","name":"Gallikanokus"}`

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		limited   int           // how many 429s the hub answers first
		resetIn   time.Duration // RateLimit-Reset - now
		retries   int
		timeout   time.Duration // ctx deadline; 0: none
		wantOK    bool
		wantHits  int
		wantWaits int
	}{
		{"waits for the reset, then succeeds", 1, 2 * time.Second, 0, 0, true, 2, 1},
		{"two 429s within the default retries", 2, 2 * time.Second, 0, 0, true, 3, 2},
		{"more 429s than retries", 5, 2 * time.Second, 0, 0, false, 3, 2},
		{"reset beyond MaxRateLimitWait", 1, 30 * time.Second, 0, 0, false, 1, 0},
		{"retries off", 1, 2 * time.Second, -1, 0, false, 1, 0},
		{"deadline before the reset", 1, 2 * time.Second, 0, 500 * time.Millisecond, false, 1, 0},
		{"deadline after the reset", 1, 2 * time.Second, 0, time.Minute, true, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)}
			var sl sleeps
			h, hits := rateLimited(clock, tc.limited, tc.resetIn, personBody)
			c := newRawClient(t, h, func(cfg *zaikio.Config) {
				cfg.Now, cfg.Sleep, cfg.Retries = clock.Now, sl.Sleep, tc.retries
			})
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			p, err := c.Person(ctx, "token")
			if tc.wantOK {
				if err != nil || p.ID != devhub.FrankID {
					t.Errorf("Person() = %+v, %v; want Frank", p, err)
				}
			} else if !errors.Is(err, zaikio.ErrUnavailable) {
				t.Errorf("Person() = %+v, %v; want ErrUnavailable", p, err)
			}
			if got := hits(); got != tc.wantHits {
				t.Errorf("requests = %d; want %d", got, tc.wantHits)
			}
			waits := sl.got()
			if len(waits) != tc.wantWaits {
				t.Fatalf("waits = %v; want %d of them", waits, tc.wantWaits)
			}
			// RFC-less but documented: wait until RateLimit-Reset, plus at
			// most 25% jitter.
			for _, d := range waits {
				if d < tc.resetIn || d > tc.resetIn+tc.resetIn/4 {
					t.Errorf("wait = %v; want between %v and %v", d, tc.resetIn, tc.resetIn+tc.resetIn/4)
				}
			}
		})
	}
}

// TestRateLimitDeltaSeconds: a small RateLimit-Reset is delta-seconds (the
// IETF draft's form), not a unix time in 1970.
func TestRateLimitDeltaSeconds(t *testing.T) {
	t.Parallel()
	var sl sleeps
	var n int
	var mu sync.Mutex
	c := newRawClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("RateLimit-Reset", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, personBody)
	}), func(cfg *zaikio.Config) { cfg.Sleep = sl.Sleep })
	if _, err := c.Person(context.Background(), "token"); err != nil {
		t.Fatalf("Person() = %v; want success after one wait", err)
	}
	if w := sl.got(); len(w) != 1 || w[0] < 3*time.Second || w[0] > 3*time.Second+750*time.Millisecond {
		t.Errorf("waits = %v; want one of 3s..3.75s", w)
	}
}

func TestRateLimitCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)}
	h, hits := rateLimited(clock, 1, 2*time.Second, personBody)
	ctx, cancel := context.WithCancel(context.Background())
	c := newRawClient(t, h, func(cfg *zaikio.Config) {
		cfg.Now = clock.Now
		cfg.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	})
	_, err := c.Person(ctx, "token")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("Person() cancelled during the wait = %v; want context.Canceled and ErrUnavailable", err)
	}
	if got := hits(); got != 1 {
		t.Errorf("requests = %d; want 1", got)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("GET retried on 503", func(t *testing.T) {
		t.Parallel()
		var sl sleeps
		e := newHubEnv(t, func(c *zaikio.Config) { c.Sleep = sl.Sleep })
		tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: http.StatusServiceUnavailable})
		if _, err := e.client.Person(ctx, tok.AccessToken); err != nil {
			t.Fatalf("Person() after one 503 = %v; want success", err)
		}
		if got := e.hub.Requests(devhub.EndpointPerson); got != 2 {
			t.Errorf("person requests = %d; want 2", got)
		}
		if w := sl.got(); len(w) != 1 || w[0] < 200*time.Millisecond || w[0] > 250*time.Millisecond {
			t.Errorf("waits = %v; want one of 200..250ms", w)
		}
	})
	t.Run("GET gives up after the retries", func(t *testing.T) {
		t.Parallel()
		var sl sleeps
		e := newHubEnv(t, func(c *zaikio.Config) { c.Sleep = sl.Sleep })
		tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: http.StatusBadGateway, Times: 3})
		if _, err := e.client.Person(ctx, tok.AccessToken); !errors.Is(err, zaikio.ErrUnavailable) {
			t.Errorf("Person() after three 502s = %v; want ErrUnavailable", err)
		}
		if got := e.hub.Requests(devhub.EndpointPerson); got != 3 {
			t.Errorf("person requests = %d; want 3 (one try, two retries)", got)
		}
		if w := sl.got(); len(w) != 2 || w[1] < 400*time.Millisecond || w[1] > 500*time.Millisecond {
			t.Errorf("waits = %v; want 200..250ms then 400..500ms", w)
		}
	})
	t.Run("GET not retried on 500", func(t *testing.T) {
		t.Parallel()
		e := newHubEnv(t, nil)
		tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: http.StatusInternalServerError})
		if _, err := e.client.Person(ctx, tok.AccessToken); !errors.Is(err, zaikio.ErrUnavailable) {
			t.Errorf("Person() after a 500 = %v; want ErrUnavailable", err)
		}
		if got := e.hub.Requests(devhub.EndpointPerson); got != 1 {
			t.Errorf("person requests = %d; want 1", got)
		}
	})
	t.Run("POST token not retried on 500", func(t *testing.T) {
		t.Parallel()
		e := newHubEnv(t, nil)
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: http.StatusInternalServerError})
		_, err := e.client.Exchange(ctx, code, verifier)
		if !errors.Is(err, zaikio.ErrUnavailable) || errors.Is(err, zaikio.ErrInvalidGrant) {
			t.Errorf("Exchange() after a 500 = %v; want ErrUnavailable", err)
		}
		if got := e.hub.Requests(devhub.EndpointToken); got != 1 {
			t.Errorf("token requests = %d; want 1: a code must not be sent twice", got)
		}
	})
	t.Run("POST token not retried on 503", func(t *testing.T) {
		t.Parallel()
		e := newHubEnv(t, nil)
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: http.StatusServiceUnavailable})
		if _, err := e.client.Exchange(ctx, code, verifier); !errors.Is(err, zaikio.ErrUnavailable) {
			t.Errorf("Exchange() after a 503 = %v; want ErrUnavailable", err)
		}
		if got := e.hub.Requests(devhub.EndpointToken); got != 1 {
			t.Errorf("token requests = %d; want 1", got)
		}
	})
	t.Run("POST token retried on 429", func(t *testing.T) {
		t.Parallel()
		var sl sleeps
		e := newHubEnv(t, func(c *zaikio.Config) { c.Sleep = sl.Sleep })
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: http.StatusTooManyRequests})
		if _, err := e.client.Exchange(ctx, code, verifier); err != nil {
			t.Errorf("Exchange() after a 429 = %v; want success (a 429 consumed nothing)", err)
		}
		if got := e.hub.Requests(devhub.EndpointToken); got != 2 {
			t.Errorf("token requests = %d; want 2", got)
		}
		if w := sl.got(); len(w) != 1 || w[0] > 1250*time.Millisecond {
			t.Errorf("waits = %v; want one of at most 1.25s (the hub's reset is now+1s)", w)
		}
	})
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Never answers. Reading the body lets the server notice the client
		// hang up; done releases the handler when the test ends.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	c := newRawClient(t, stuck, func(cfg *zaikio.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
	})
	t.Cleanup(func() { close(done) }) // runs before the server's Close
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"person", func(ctx context.Context) error { _, err := c.Person(ctx, "token"); return err }},
		{"exchange", func(ctx context.Context) error { _, err := c.Exchange(ctx, "code", verifier); return err }},
		{"revoke", func(ctx context.Context) error { return c.Revoke(ctx, "token") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := tc.call(context.Background())
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("%s took %v; want about the client's 200ms timeout", tc.name, elapsed)
			}
			if !errors.Is(err, zaikio.ErrUnavailable) {
				t.Errorf("%s against a silent hub = %v; want ErrUnavailable", tc.name, err)
			}
		})
	}
}

// TestHubDelay: a slow dev hub answer past the client's timeout.
func TestHubDelay(t *testing.T) {
	t.Parallel()
	e := newHubEnv(t, func(c *zaikio.Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Delay: 5 * time.Second})
	start := time.Now()
	_, err := e.client.Person(context.Background(), tok.AccessToken)
	if !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("Person() from a slow hub = %v; want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Person() took %v; want about 300ms", elapsed)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHubEnv(t, nil)
	tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	claims, err := e.client.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := e.client.Revoke(ctx, tok.AccessToken); err != nil {
		t.Fatalf("Revoke(live token) = %v; want nil", err)
	}
	if got := e.hub.RevokedTokenIDs(); !slices.Contains(got, claims.JTI) {
		t.Errorf("hub's revoked ids = %v; want them to hold %s", got, claims.JTI)
	}
	if _, err := e.client.Person(ctx, tok.AccessToken); err == nil {
		t.Errorf("Person(revoked token) = nil error; want the hub to refuse it")
	}
	if err := e.client.Revoke(ctx, tok.AccessToken); err != nil {
		t.Errorf("Revoke(revoked token) = %v; want nil (already invalid)", err)
	}
	e.hub.FailNext(devhub.EndpointRevoke, devhub.Failure{Status: http.StatusInternalServerError})
	other := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	if err := e.client.Revoke(ctx, other.AccessToken); !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("Revoke() answered 500 = %v; want ErrUnavailable", err)
	}
}

func TestRevokeStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		body    string
		wantErr bool
	}{
		{http.StatusCreated, `{"access_token_id":"7f1c"}`, false},
		{http.StatusOK, `{}`, false},
		{http.StatusUnauthorized, `{"errors":["invalid_token"]}`, false},
		{http.StatusForbidden, `{"errors":["unpermitted_scope"]}`, true},
		{http.StatusInternalServerError, `{"errors":["internal_server_error"]}`, true},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			var gotAuth, gotMethod, gotPath string
			c := newRawClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotMethod, gotPath = r.Header.Get("Authorization"), r.Method, r.URL.Path
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}), nil)
			err := c.Revoke(context.Background(), "the.access.token")
			if (err != nil) != tc.wantErr {
				t.Errorf("Revoke() answered %d = %v; want error %v", tc.status, err, tc.wantErr)
			}
			if got, want := fmt.Sprint(gotMethod, " ", gotPath, " ", gotAuth), "POST /api/v1/revoked_access_tokens Bearer the.access.token"; got != want {
				t.Errorf("request = %q; want %q", got, want)
			}
		})
	}
}

// TestPersonBadAnswers: a 200 that is not a person is an error, not an
// empty person.
func TestPersonBadAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"no id", `{"first_name":"Frank","organization_memberships":[]}`},
		{"empty object", `{}`},
		{"html", `<html>login</html>`},
		{"array", `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newRawClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, tc.body)
			}), nil)
			if p, err := c.Person(context.Background(), "token"); err == nil {
				t.Errorf("Person() answered %s = %+v, nil; want an error", tc.body, p)
			}
		})
	}
}
