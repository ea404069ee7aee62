package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// clock is a settable clock shared by the hub, the hub client and the proxy.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// upstream is the legacy app of the tests: it records every request's
// headers and answers them as JSON.
type upstream struct {
	mu          sync.Mutex // guards reqs, whoamiHosts and logouts
	reqs        []*http.Request
	whoamiHosts []string        // Host of each legacy.whoami call
	logouts     []*http.Request // calls of the legacy logout
	srv         *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/me": // legacy.whoami: the legacy session cookie names the user
			u.mu.Lock()
			u.whoamiHosts = append(u.whoamiHosts, r.Host)
			u.mu.Unlock()
			c, err := r.Cookie("legacy_session")
			if err != nil {
				http.Error(w, "not signed in", http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"id": c.Value, "email": c.Value + "@legacy.example", "name": "Legacy " + c.Value, "orgs": []string{"org-" + c.Value}})
			return
		case "/api/provision":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": 9001})
			return
		case "/legacy/logout": // legacy.logout_path: ends the legacy session by expiring its cookie
			u.mu.Lock()
			u.logouts = append(u.logouts, r.Clone(context.Background()))
			u.mu.Unlock()
			http.SetCookie(w, &http.Cookie{Name: "legacy_session", Value: "", Path: "/", MaxAge: -1})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// last returns the most recent request the upstream saw.
func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// env is a whole hubgate on real listeners: dev hub, upstream, bbolt store
// file, hub client and proxy.
type env struct {
	t        *testing.T
	provider provider
	clock    *clock
	hub      *devhub.Hub
	hubURL   string
	up       *upstream
	store    *bolt.DB
	px       *proxy.Server
	srv      *httptest.Server
	logs     *syncBuffer
	claims   *claim.Service
	spy      *spyHub // nil with the OpenID Provider

	op  *devop.Provider // the OpenID Provider (nil on the Zaikio dev hub)
	tap *opTap          // the way from hubgate to the OpenID Provider (nil on Zaikio)
	// prov is the proxy's Hub: spy or the oidchub adapter (replicas
	// share it).
	prov proxy.Hub
	// frank, erika and max are three people at the provider (their hub ids
	// or subjects): frank the one with organizations (rolesEnv).
	frank, erika, max, ada string
}

// spyHub is the real hub client, recording the ids of the access tokens it
// verified (the tests need the jti of a session's token for revocation
// events).
type spyHub struct {
	*zaikio.Client
	mu   sync.Mutex // guards jtis
	jtis []string
}

func (h *spyHub) Verify(ctx context.Context, t *zaikio.Token) (*zaikio.Claims, error) {
	c, err := h.Client.Verify(ctx, t)
	if err == nil {
		h.mu.Lock()
		h.jtis = append(h.jtis, c.JTI)
		h.mu.Unlock()
	}
	return c, err
}

func (h *spyHub) lastJTI() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.jtis) == 0 {
		return ""
	}
	return h.jtis[len(h.jtis)-1]
}

const (
	testClient = "hubgate_test"
	testSecret = "test-client-secret"
	testApp    = "hubgate_test_app"
)

// newEnv builds an env on the Zaikio dev hub; mutate may change the proxy
// config before New.
func newEnv(t *testing.T, mutate func(*proxy.Config)) *env { return newEnvOf(t, zaikioHub, mutate) }

// newEnvOf builds an env on provider pv (provider_env_test.go).
func newEnvOf(t *testing.T, pv provider, mutate func(*proxy.Config)) *env {
	t.Helper()
	e := &env{t: t, provider: pv, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &syncBuffer{}}
	e.up = newUpstream(t)
	// The public server is created first so that its URL can be registered
	// at the hub as the redirect URI.
	var handler http.Handler = http.NotFoundHandler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	var hub proxy.Hub
	if pv != zaikioHub {
		hub = e.startOP(pv == oidcProvider)
	} else {
		hub = e.startHub()
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.store = db
	e.claims = &claim.Service{Store: db, Now: e.clock.Now}
	rm, err := roles.New(map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.Config{
		PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: hub, HubURL: e.hubURL, Store: db, Claims: e.claims, Roles: rm,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedPass,
		LoginPaths: []string{"/login"}, PublicPaths: []string{"/assets/"},
		Logger: zerolog.New(e.logs), Now: e.clock.Now, WebhookSecret: []byte("webhook-secret"),
	}
	if pv != zaikioHub {
		cfg.PersonScope, cfg.OrgScope = "openid", "openid"
		cfg.ProviderName = oidcProviderName
	}
	e.prov = hub
	if mutate != nil {
		mutate(&cfg)
	}
	px, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.px = px
	handler = px
	return e
}

// startHub starts the Zaikio dev hub with hubgate's app and returns the
// hub client (behind spyHub).
func (e *env) startHub() proxy.Hub {
	t := e.t
	hub, err := devhub.New(devhub.Config{Seed: true, Now: e.clock.Now, Apps: []devhub.App{{
		ClientID: testClient, ClientSecret: testSecret, Name: testApp,
		RedirectURIs: []string{e.srv.URL + "/_hubgate/callback"},
		WebhookURL:   e.srv.URL + "/_hubgate/webhook", WebhookSecret: "webhook-secret",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.hub = hub
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	e.hubURL = hubSrv.URL
	hc, err := zaikio.New(zaikio.Config{URL: hubSrv.URL, ClientID: testClient, ClientSecret: testSecret, AppName: testApp,
		RedirectURL: e.srv.URL + "/_hubgate/callback", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.spy = &spyHub{Client: hc}
	e.frank, e.erika, e.max, e.ada = devhub.FrankID, devhub.ErikaID, devhub.MaxID, devhub.AdaID
	return e.spy
}

// browser is a cookie-keeping client that does not follow redirects, so
// that every hop can be checked.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is a read response.
type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// With another provider, hubgate's own pages and JSON never say
	// Zaikio: they name the provider (Config.ProviderName).
	if (b.e.provider == oidcProvider || b.e.provider == oidcNoOrgs) && strings.HasPrefix(req.URL.String(), b.e.srv.URL+"/_hubgate/") && strings.Contains(string(body), "Zaikio") {
		b.t.Errorf("%s %s on %s: the answer says Zaikio:\n%s", req.Method, req.URL.Path, b.e.provider, body)
	}
	return &response{Response: resp, body: string(body)}
}

// get fetches a path on hubgate, or an absolute URL.
func (b *browser) get(target string, hdr ...string) *response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.e.srv.URL + target
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// post sends a form, with our own Origin as a browser would.
func (b *browser) post(target string, form url.Values) *response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.e.srv.URL + target
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

// follow follows redirects from resp (through the hub and back) until a
// non-redirect answer or a redirect to a hubgate-external path, and returns
// the last response.
func (b *browser) follow(resp *response) *response {
	b.t.Helper()
	for i := 0; i < 10 && resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatalf("redirect without location: %v", err)
		}
		resp = b.get(loc.String())
	}
	return resp
}

// shown is the page a browser shows for resp: resp itself, or — when resp
// is hubgate's post/redirect/get after a callback (a 303 to
// /_hubgate/linked or /_hubgate/no-account) — that page.
func (b *browser) shown(resp *response) *response {
	b.t.Helper()
	if resp.StatusCode == http.StatusSeeOther {
		if loc := resp.Header.Get("Location"); loc == "/_hubgate/linked" || loc == "/_hubgate/no-account" {
			return b.get(loc)
		}
	}
	return resp
}

// land GETs target (a callback) and returns the page a browser shows.
func (b *browser) land(target string) *response {
	b.t.Helper()
	return b.shown(b.get(target))
}

// login runs the whole sign-in flow as person (AutoApprove at the hub) and
// returns the final response (the redirect to rd after the callback).
func (b *browser) login(person, rd string) *response {
	b.t.Helper()
	if b.e.op != nil {
		return b.loginOP(person, rd)
	}
	b.e.hub.AutoApprove(person, "")
	defer b.e.hub.AutoApprove("", "")
	resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(rd))
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("GET /_hubgate/login = %d; want 302\n%s", resp.StatusCode, resp.body)
	}
	resp = b.get(resp.Header.Get("Location")) // hub authorize → redirect to callback
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("hub authorize = %d; want 302\n%s", resp.StatusCode, resp.body)
	}
	return b.get(resp.Header.Get("Location")) // callback
}

// sessionCookie returns the browser's hubgate session cookie value ("" if none).
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "hubgate" {
			return c.Value
		}
	}
	return ""
}

// upstreamHeaders requests path through hubgate and returns the headers the
// upstream received.
func (b *browser) upstreamHeaders(path string, hdr ...string) http.Header {
	b.t.Helper()
	before := b.e.up.count()
	resp := b.get(path, hdr...)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s = %d; want 200\n%s", path, resp.StatusCode, resp.body)
	}
	if b.e.up.count() == before {
		b.t.Fatalf("GET %s did not reach the upstream", path)
	}
	return b.e.up.last(b.t).Header
}
