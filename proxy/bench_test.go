package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// memUpstream is an in-memory upstream: a RoundTripper answering 1 KiB
// without a network, so the benchmarks measure the proxy's own work.
type memUpstream struct{ body []byte }

func (m memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: r,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
	}, nil
}

// nopHub satisfies Hub for benchmarks that never reach the hub.
type nopHub struct{}

func (nopHub) AuthCodeURL(context.Context, string, string, []string, zaikio.AuthOptions) (string, error) {
	return "", nil
}
func (nopHub) Exchange(context.Context, string, string) (*zaikio.Token, error) {
	return nil, zaikio.ErrUnavailable
}
func (nopHub) Refresh(context.Context, string) (*zaikio.Token, error) {
	return nil, zaikio.ErrUnavailable
}
func (nopHub) Verify(context.Context, *zaikio.Token) (*zaikio.Claims, error) {
	return nil, zaikio.ErrUnavailable
}
func (nopHub) Person(context.Context, string) (*zaikio.Person, error) {
	return nil, zaikio.ErrUnavailable
}
func (nopHub) Organization(context.Context, string) (*zaikio.Organization, error) {
	return nil, zaikio.ErrUnavailable
}
func (nopHub) Revoke(context.Context, string) error { return nil }
func (nopHub) CheckKeys(context.Context) error      { return nil }

// nopStore satisfies Store; the request path must never call it.
type nopStore struct{ Store }

func (nopStore) Mode(context.Context) (migration.Mode, error) { return "", nil }
func (nopStore) Revocations(context.Context, time.Time) ([]session.Revocation, error) {
	return nil, nil
}

// PutSession accepts the record of the benchmarks' one session.
func (nopStore) PutSession(context.Context, session.Record, uint64) error { return nil }

// LinkByZaikio links the benchmarks' bearer token's organization, read
// once per token and bearerIdentityTTL.
func (nopStore) LinkByZaikio(_ context.Context, kind claim.Kind, id string) (claim.Link, error) {
	return claim.Link{Kind: kind, LegacyID: "100", ZaikioID: id}, nil
}

// benchBearer is a bearer verifier over a dev hub on loopback, and a token
// it has verified (so cached) for an organization of the hub's, with the
// default scope: the steady state of another app calling hubgate.
func benchBearer(b testing.TB) (*zaikio.BearerVerifier, string) {
	b.Helper()
	const app = "bench_app"
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{ClientID: app, ClientSecret: "bench-secret", Name: app,
		RedirectURIs: []string{"https://app.example.com/_hubgate/callback"}}}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	b.Cleanup(srv.Close)
	hc, err := zaikio.New(zaikio.Config{URL: srv.URL, ClientID: app, ClientSecret: "bench-secret", AppName: app,
		RedirectURL: "https://app.example.com/_hubgate/callback"})
	if err != nil {
		b.Fatal(err)
	}
	v, err := zaikio.NewBearerVerifier(hc, zaikio.BearerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := hub.Mint(devhub.TokenSpec{Subject: "Organization/" + devhub.BountySoapID, Scope: []string{app + ".api.rw"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok
}

func benchServer(b testing.TB, mutate ...func(*Config)) (*Server, *http.Cookie) {
	b.Helper()
	cfg := Config{
		PublicURL: "https://app.example.com", Upstream: "http://legacy.internal", Hub: nopHub{}, Store: nopStore{},
		SessionSecrets: [][]byte{bytes.Repeat([]byte("k"), 32)}, Transport: memUpstream{body: bytes.Repeat([]byte("x"), 1024)},
		Claims: &claim.Service{Store: nopStore{}},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// The session is started as a sign-in starts it: the cookie is what
	// the browser would hold.
	id := s.sessions.NewIdentity()
	id.Person, id.User, id.Email, id.Name = "383663bc-1111-4222-8333-444455556666", "42", "frank@example.com", "Frank Gallikanokus"
	id.Orgs, id.Roles = "100,200", "100:admin,200:user"
	w := httptest.NewRecorder()
	if err := s.sessions.Start(context.Background(), w, id, session.Tokens{JTI: "8f7d4e52-5555-4666-8777-888899990000"}); err != nil {
		b.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		b.Fatalf("Start set %d cookies; want 1", len(cs))
	}
	return s, &http.Cookie{Name: cs[0].Name, Value: cs[0].Value}
}

// The session check itself (cold and cached) is benchmarked in package
// session (BenchmarkSessionCheckCold, BenchmarkSessionCheck).

// BenchmarkHeaderRewrite is stripping client identity headers and setting ours.
func BenchmarkHeaderRewrite(b *testing.B) {
	s, c := benchServer(b)
	r := httptest.NewRequest("GET", "/x", nil)
	r.AddCookie(c)
	id := s.sessions.Authenticate(nil, r)
	h := http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}, "X-Hubgate-User": {"evil"}, "Cookie": {"a=b"}}
	b.ReportAllocs()
	for b.Loop() {
		h["X-Hubgate-User"] = []string{"evil"}
		stripIdentityHeaders(h)
		setIdentityHeaders(h, sessionPrincipal(id), migration.Passthrough)
	}
}

// BenchmarkRoleHeaders is computing the org and role headers at sign-in.
func BenchmarkRoleHeaders(b *testing.B) {
	m, _ := roles.New(map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}, nil)
	ms := []roles.Membership{{LegacyOrg: "100", Roles: []string{"owner"}}, {LegacyOrg: "200", Roles: []string{"member", "designer"}}}
	b.ReportAllocs()
	for b.Loop() {
		g := m.Apply(ms)
		_, _ = roles.Header(g.Orgs), roles.Header(g.Roles)
	}
}

// BenchmarkHandler compares hubgate's whole handler (session, gate,
// forwarding) with a bare httputil.ReverseProxy on the same in-memory
// upstream; the ratio of the two ns/op is the proxy's own overhead.
func BenchmarkHandler(b *testing.B) {
	s, c := benchServer(b)
	s.log = s.log.Level(-1) // as deployed: info access log, to io.Discard
	up, _ := url.Parse("http://legacy.internal")
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up) }, Transport: memUpstream{body: bytes.Repeat([]byte("x"), 1024)}}
	bearer := ""
	run := func(b *testing.B, h http.Handler, cookie bool) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("GET", "/reports?year=2026", nil)
			r.Header.Set("User-Agent", "bench")
			if cookie {
				r.AddCookie(c)
			}
			if bearer != "" {
				r.Header.Set("Authorization", "Bearer "+bearer)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "xxxx") {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, false) })
	b.Run("hubgate", func(b *testing.B) { run(b, s, true) })
	// The same in enforce mode with login and public rules, as deployed:
	// the path rules are on the request path.
	rules, rc := benchServer(b, func(c *Config) {
		c.Mode = migration.Enforce
		c.LoginPaths = []string{"/login", "/users/sign_in", "/admin/login/"}
		c.PublicPaths = []string{"/assets/", "/favicon.ico"}
	})
	rules.log = rules.log.Level(-1)
	c = rc
	b.Run("hubgate-rules", func(b *testing.B) { run(b, rules, true) })
	// Another app's bearer token, verified once (cached by value), for a
	// linked organization: the same request without a cookie.
	v, tok := benchBearer(b)
	bs, _ := benchServer(b, func(c *Config) { c.Bearer, c.BearerOrgRoles = v, []string{"api"} })
	bs.log = bs.log.Level(-1)
	bearer = tok
	b.Run("hubgate-bearer", func(b *testing.B) { run(b, bs, false) })
}
