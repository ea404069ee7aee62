package devhub_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

const (
	clientID     = "hubgate_client"
	clientSecret = "s3cret+with/odd=chars"
	appName      = "hubgate_app"
	redirectURI  = "http://app.test/_hubgate/callback"
	// verifier is a valid RFC 7636 code verifier (43 characters).
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// challenge is the S256 challenge of v.
func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a seeded hub served by a real listener.
type env struct {
	hub   *devhub.Hub
	srv   *httptest.Server
	clock *clock
	// client does not follow redirects, so tests see the hub's Location.
	client *http.Client

	mu           sync.Mutex
	refreshToken string // the latest refresh token, for tests that rotate
}

func testApp() devhub.App {
	return devhub.App{
		ClientID: clientID, ClientSecret: clientSecret, Name: appName,
		RedirectURIs: []string{redirectURI, "http://other.test/cb"},
	}
}

// newEnv starts a seeded hub with the test app on a fake clock. edit may
// change the config first.
func newEnv(t *testing.T, edit func(*devhub.Config)) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)}
	cfg := devhub.Config{Apps: []devhub.App{testApp()}, Now: c.Now, Seed: true}
	if edit != nil {
		edit(&cfg)
	}
	h, err := devhub.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{
		hub: h, srv: srv, clock: c,
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// authorizeURL builds an authorization request; extra overrides or adds
// parameters (an empty value deletes one).
func (e *env) authorizeURL(scope string, extra url.Values) string {
	q := url.Values{
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {scope},
		"state":                 {"st4te/with?odd&chars"},
		"code_challenge":        {challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return e.srv.URL + "/oauth/authorize?" + q.Encode()
}

// get performs a GET without following redirects.
func (e *env) get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := e.client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// redirectParams checks that resp redirects to the test app's callback and
// returns the callback's query.
func redirectParams(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status = %d; want 302 (body %q)", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirect target = %q; want %q", got, redirectURI)
	}
	return loc.Query()
}

// code runs the authorize step with AutoApprove and returns the code.
func (e *env) code(t *testing.T, person, org, scope string) string {
	t.Helper()
	e.hub.AutoApprove(person, org)
	q := redirectParams(t, e.get(t, e.authorizeURL(scope, nil)))
	if q.Get("error") != "" {
		t.Fatalf("authorize: error=%s %s", q.Get("error"), q.Get("error_description"))
	}
	if got, want := q.Get("state"), "st4te/with?odd&chars"; got != want {
		t.Fatalf("state = %q; want %q", got, want)
	}
	return q.Get("code")
}

// tokenResult is a token endpoint answer.
type tokenResult struct {
	status int
	header http.Header
	body   map[string]any
}

// str returns a string field of the body.
func (r tokenResult) str(k string) string { s, _ := r.body[k].(string); return s }

// token posts form to the token endpoint; basic selects HTTP Basic client
// authentication, else credentials go in the body.
func (e *env) token(t *testing.T, form url.Values, basic bool) tokenResult {
	t.Helper()
	form = cloneValues(form)
	if basic {
		form.Del("client_id")
	} else if !form.Has("client_id") {
		form.Set("client_id", clientID)
		form.Set("client_secret", clientSecret)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 §2.3.1, as x/oauth2 does it.
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
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

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// exchange trades a code (with the right verifier) for tokens.
func (e *env) exchange(t *testing.T, code string) tokenResult {
	t.Helper()
	return e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}, true)
}

// login runs the whole flow for person (and org) and returns the token response.
func (e *env) login(t *testing.T, person, org, scope string) tokenResult {
	t.Helper()
	res := e.exchange(t, e.code(t, person, org, scope))
	if res.status != http.StatusOK {
		t.Fatalf("token exchange: status %d, body %v", res.status, res.body)
	}
	return res
}

// api calls the directory API with a bearer token and decodes the JSON answer.
func (e *env) api(t *testing.T, method, path, token string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, v
}
