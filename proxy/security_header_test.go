package proxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// hubgateSpellings are ways to write an identity header name that some
// server or framework reads as ours: any letter case, "_" or "." for "-"
// (CGI-style HTTP_X_HUBGATE_USER), mixed separators.
var hubgateSpellings = []string{
	"X-Hubgate-User", "x-hubgate-user", "X-HUBGATE-USER", "x-HuBgAtE-uSeR", "X_Hubgate_User", "x_hubgate_user",
	"X-Hubgate_User", "X_Hubgate-User", "X.Hubgate.User", "X-Hubgate-Roles", "x_hubgate_roles", "X-Hubgate-Orgs",
	"X-Hubgate-Zaikio-Person", "x_hubgate_zaikio_person", "X-Hubgate-Email", "X-Hubgate-Name", "X-Hubgate-Mode",
	"X-Hubgate-Assertion", "X-Hubgate-Anything-New", "X-HUBGATE_ROLES", "x-hubgate-", "X_HUBGATE_",
	"X-Hubgate-Auth", "x_hubgate_auth",
}

// isHubgateLike reports whether a header name reads as X-Hubgate-* to a
// lenient server: letters compared without case, any other byte a separator.
func isHubgateLike(k string) bool {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, k)
	return strings.HasPrefix(norm, "x-hubgate-")
}

// TestSecurityIdentityHeaderSmuggling: every spelling of an X-Hubgate-*
// name, repeated, and listed in Connection, is removed before the upstream
// sees the request; only the values hubgate sets arrive, with or without a
// session, in every mode.
func TestSecurityIdentityHeaderSmuggling(t *testing.T) {
	forProviders(t, testSecurityIdentityHeaderSmuggling)
}

func testSecurityIdentityHeaderSmuggling(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	e.linkDirect(claim.KindPerson, "1", e.pid(e.frank))
	signedIn := e.browser()
	signedIn.login(e.frank, "/")
	send := func(t *testing.T, b *browser, path string) http.Header {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		for i, name := range hubgateSpellings {
			// Non-canonical keys are sent exactly as written.
			req.Header[name] = []string{fmt.Sprintf("evil-%d", i), fmt.Sprintf("evil-%d-again", i)}
		}
		req.Header["Connection"] = []string{"X-Hubgate-User, x_hubgate_roles", "X-Hubgate-Zaikio-Person"}
		before := e.up.count()
		resp := b.do(req)
		if resp.StatusCode != http.StatusOK || e.up.count() == before {
			t.Fatalf("GET %s = %d; want it forwarded", path, resp.StatusCode)
		}
		return e.up.last(t).Header
	}
	check := func(t *testing.T, h http.Header, wantUser string) {
		t.Helper()
		for k, vs := range h {
			if !isHubgateLike(k) {
				continue
			}
			for _, v := range vs {
				if strings.HasPrefix(v, "evil") {
					t.Errorf("upstream received spoofed %s: %q", k, v)
				}
			}
			if !slices.Contains([]string{proxy.HeaderUser, proxy.HeaderPerson, proxy.HeaderEmail, proxy.HeaderName, proxy.HeaderOrgs, proxy.HeaderRoles, proxy.HeaderMode, proxy.HeaderAssertion, proxy.HeaderAuth}, k) {
				t.Errorf("upstream received %s, a name hubgate never sets", k)
			}
			if len(vs) != 1 {
				t.Errorf("upstream received %d values of %s; want 1", len(vs), k)
			}
		}
		if got := h.Get(proxy.HeaderUser); got != wantUser {
			t.Errorf("upstream %s = %q; want %q", proxy.HeaderUser, got, wantUser)
		}
	}
	for _, mode := range []migration.Mode{migration.Passthrough, migration.Offer, migration.Enforce} {
		t.Run(string(mode), func(t *testing.T) {
			e.setMode(mode)
			check(t, send(t, signedIn, "/x"), "1")
			check(t, send(t, e.browser(), "/assets/app.css"), "")
		})
	}
	t.Run("raw spellings", func(t *testing.T) {
		e.setMode(migration.Passthrough)
		for _, name := range []string{"x-hubgate-user", "X_HUBGATE_USER", "X.Hubgate.User", "X~Hubgate~User", "X-Hubgate-User"} {
			before := e.up.count()
			resp := rawResponse(t, e.addr(), "GET /x HTTP/1.1\r\nHost: "+e.addr()+"\r\n"+name+": evil\r\n"+name+": evil2\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusOK || e.up.count() == before {
				t.Fatalf("raw %s: %d", name, resp.StatusCode)
			}
			check(t, e.up.last(t).Header, "")
		}
	})
}

// TestSecurityIdentityHeadersInTrailers: a chunked request that declares
// X-Hubgate-* trailers gets none of them to the upstream, neither as
// trailers nor as headers. The body is large (1 MiB, sent in chunks), so
// that it streams through the body guard to the upstream instead of being
// read up front: with the 4-byte body this test used to send, the guard read
// the whole body and forwarded it with a Content-Length and no trailers at
// all, so the chunked path never ran.
func TestSecurityIdentityHeadersInTrailers(t *testing.T) {
	type seen struct {
		n        int64
		chunked  bool
		header   http.Header
		trailer  http.Header
		declared []string
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		for k := range r.Trailer {
			s.declared = append(s.declared, k)
		}
		s.n, _ = io.Copy(io.Discard, r.Body)
		s.chunked = slices.Contains(r.TransferEncoding, "chunked")
		s.header, s.trailer = r.Header.Clone(), r.Trailer.Clone()
		got <- s
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = up.URL })
	const size = 1 << 20
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("b"), 32<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/upload", pr)
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Hubgate-User": {"evil"}, "X_hubgate_roles": {"7:admin"}, "X-Legacy-Checksum": {"abc"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-got
	if s.n != size || !s.chunked {
		t.Fatalf("upstream read %d bytes (chunked %v); want %d streamed chunked: the test must exercise the streaming path", s.n, s.chunked, size)
	}
	for _, k := range s.declared {
		if isHubgateLike(k) {
			t.Errorf("upstream was announced trailer %s", k)
		}
	}
	for k, vs := range s.trailer {
		if isHubgateLike(k) {
			t.Errorf("upstream received trailer %s = %q", k, vs)
		}
	}
	for k, vs := range s.header {
		for _, v := range vs {
			if v == "evil" || v == "7:admin" {
				t.Errorf("upstream received %s = %q from a client trailer", k, v)
			}
		}
	}
}

// TestSecurityOwnCookiesNeverReachUpstream: hubgate's cookies (session,
// flow, CSRF nonce, offer choice, and anything a client names like them)
// are removed from upstream requests and from the whoami call; the legacy
// app's cookies pass untouched.
func TestSecurityOwnCookiesNeverReachUpstream(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Whoami = "/api/me"; c.Mode = migration.Offer })
	b := e.browser()
	b.login(devhub.FrankID, "/")
	anon := e.browser()
	anon.get("/login")               // the offer page sets the CSRF nonce cookie
	anon.get("/_hubgate/login?rd=/") // a flow cookie
	for _, br := range []*browser{b, anon} {
		// Raw, so that both Cookie lines arrive as written (http.Client
		// folds extra lines into the first).
		own := ""
		for _, c := range br.jar.Cookies(mustURL(e.srv.URL)) {
			own += c.Name + "=" + c.Value + "; "
		}
		before := e.up.count()
		resp := rawResponse(t, e.addr(), "GET /x HTTP/1.1\r\nHost: "+e.addr()+"\r\n"+
			"Cookie: "+own+"legacy_session=42; hubgate=forged; hubgate_flow_abc=1;__Host-hubgate=x\r\n"+
			"Cookie:   hubgate_csrf=n ; other=hubgate; hubgate_offer_skip=1;hubgate_1=chunk;hubgate_2=chunk\r\n"+
			"Connection: close\r\n\r\n")
		if resp.StatusCode != http.StatusOK || e.up.count() == before {
			t.Fatalf("GET /x = %d; want forwarded", resp.StatusCode)
		}
		h := e.up.last(t).Header
		var names []string
		for _, line := range h["Cookie"] {
			for _, part := range strings.Split(line, ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
				names = append(names, name)
			}
		}
		for _, n := range names {
			if strings.HasPrefix(strings.TrimPrefix(n, "__Host-"), "hubgate") {
				t.Errorf("upstream received hubgate cookie %q (Cookie %q)", n, h["Cookie"])
			}
		}
		for _, want := range []string{"legacy_session", "other"} {
			if !slices.Contains(names, want) {
				t.Errorf("upstream lost legacy cookie %q (Cookie %q)", want, h["Cookie"])
			}
		}
		if !strings.Contains(strings.Join(h["Cookie"], ";"), "other=hubgate") {
			t.Errorf("a legacy cookie whose value mentions hubgate was changed: %q", h["Cookie"])
		}
	}
	// The whoami call (GET /_hubgate/claim) carries the legacy cookies only.
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Values("Cookie")...)
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "55"})
	}))
	t.Cleanup(up.Close)
	e2 := newEnv(t, func(c *proxy.Config) { c.Whoami = "/api/me"; c.Upstream = up.URL })
	b2 := e2.browser()
	b2.login(devhub.FrankID, "/")
	b2.get("/_hubgate/claim", "Cookie", "legacy_session=55; hubgate_csrf=x")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("whoami saw no cookies")
	}
	for _, c := range seen {
		if strings.Contains(c, "hubgate") {
			t.Errorf("whoami received hubgate cookies: %q", c)
		}
	}
}

// forwardingHeaders are what a client may send to make the upstream
// believe something about the original request.
var forwardingHeaders = [][2]string{
	{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-Host", "evil.example"}, {"X-Forwarded-Proto", "https"},
	{"X-Forwarded-Port", "443"}, {"X-Forwarded-Prefix", "/admin"}, {"X-Forwarded-Uri", "/admin"}, {"X-Forwarded-Path", "/admin"},
	{"X-Forwarded-Ssl", "on"}, {"X-Forwarded-Server", "evil"}, {"X-Forwarded-User", "admin"}, {"X-Forwarded-Email", "admin@evil.example"},
	{"X-Forwarded-Groups", "admins"}, {"X-Forwarded-Preferred-Username", "admin"}, {"X-Forwarded-Access-Token", "t"},
	{"Forwarded", "for=6.6.6.6;proto=https;host=evil.example"}, {"X-Real-Ip", "6.6.6.6"},
	{"X-Original-Url", "/admin"}, {"X-Original-Uri", "/admin"}, {"X-Rewrite-Url", "/admin"}, {"X-Original-Host", "evil.example"},
	{"X_Forwarded_For", "6.6.6.6"}, {"x_forwarded_host", "evil.example"}, {"X_FORWARDED_PROTO", "https"}, {"X.Forwarded.User", "admin"},
	{"x-forwarded-for", "7.7.7.7"}, {"X_Real_IP", "6.6.6.6"}, {"X_Original_URL", "/admin"},
}

// TestSecurityForwardedHeadersFromClientsIgnored: without trusted proxies
// (the default), every X-Forwarded-*, Forwarded, X-Real-Ip and
// X-Original-*/X-Rewrite-Url a client sends is dropped; the upstream sees
// only what hubgate states about the connection.
func TestSecurityForwardedHeadersFromClientsIgnored(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/x", nil)
	for _, kv := range forwardingHeaders {
		req.Header[kv[0]] = []string{kv[1]}
	}
	req.Header["X-Request-Id"] = []string{"client-chosen-id"}
	before := e.up.count()
	if resp := b.do(req); resp.StatusCode != http.StatusOK || e.up.count() == before {
		t.Fatalf("GET /x = %d; want forwarded", resp.StatusCode)
	}
	h := e.up.last(t).Header
	want := map[string][]string{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host":  {e.addr()},
	}
	for k, vs := range h {
		lk := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k))
		if !strings.HasPrefix(lk, "x-forwarded") && lk != "forwarded" && lk != "x-real-ip" && !strings.HasPrefix(lk, "x-original") && lk != "x-rewrite-url" {
			continue
		}
		if w, ok := want[k]; !ok || !slices.Equal(vs, w) {
			t.Errorf("upstream received %s = %q; want %q", k, vs, w)
		}
	}
	for k, w := range want {
		if !slices.Equal(h[k], w) {
			t.Errorf("upstream %s = %q; want %q", k, h[k], w)
		}
	}
	if got := h.Get("X-Request-Id"); got == "client-chosen-id" || got == "" {
		t.Errorf("upstream X-Request-Id = %q; want one of hubgate's", got)
	}
}

// TestSecurityForwardedHeadersFromTrustedProxies: from a peer in the
// trusted list the canonical forwarding headers are believed (X-Forwarded-For
// is appended to), spellings with "_" still are not.
func TestSecurityForwardedHeadersFromTrustedProxies(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.TrustedProxies = trustLoopback() })
	b := e.browser()
	h := b.upstreamHeaders("/x", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example",
		"Forwarded", "for=6.6.6.6", "X-Real-Ip", "6.6.6.6", "X_Forwarded_For", "9.9.9.9", "X-Request-Id", "edge-id-1")
	// Forwarded is never passed on (ReverseProxy drops it; hubgate states
	// the chain in X-Forwarded-For).
	for k, want := range map[string]string{
		"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example",
		"Forwarded": "", "X-Real-Ip": "6.6.6.6", "X-Request-Id": "edge-id-1",
	} {
		if got := strings.Join(h[k], ","); got != want {
			t.Errorf("trusted: upstream %s = %q; want %q", k, got, want)
		}
	}
	for k := range h {
		if strings.Contains(k, "_") {
			t.Errorf("trusted: upstream received %s", k)
		}
	}
	// A peer outside the list is not believed, whatever it claims.
	e2 := newEnv(t, func(c *proxy.Config) { c.TrustedProxies = nil })
	h2 := e2.browser().upstreamHeaders("/x", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-Proto", "https")
	if got := strings.Join(h2["X-Forwarded-For"], ","); got != "127.0.0.1" {
		t.Errorf("untrusted: upstream X-Forwarded-For = %q; want 127.0.0.1", got)
	}
	if got := strings.Join(h2["X-Forwarded-Proto"], ","); got != "http" {
		t.Errorf("untrusted: upstream X-Forwarded-Proto = %q; want http", got)
	}
}

// TestSecurityUpstreamHostNeverClientChosen: the upstream never receives a
// Host or X-Forwarded-Host the client chose (a legacy app that builds
// password-reset links from them would mail a link to the client's host).
// Host is the public host, or the upstream's own with UpstreamHost
// "upstream"; X-Forwarded-Host is the public host, or what a trusted proxy
// states. Before, both carried the client's Host, from any peer.
func TestSecurityUpstreamHostNeverClientChosen(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trusted    bool
		upstream   bool
		xfh        string // X-Forwarded-Host sent
		wantHost   string // "public", "upstream"
		wantXFHost string // "public" or a literal
	}{
		{"untrusted peer", false, false, "evil.example", "public", "public"},
		{"untrusted peer, no X-Forwarded-Host", false, false, "", "public", "public"},
		{"trusted proxy", true, false, "app.example", "public", "app.example"},
		{"trusted proxy, no X-Forwarded-Host", true, false, "", "public", "public"},
		{"upstream host", false, true, "evil.example", "upstream", "public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *proxy.Config) {
				if tc.trusted {
					c.TrustedProxies = trustLoopback()
				}
				if tc.upstream {
					c.UpstreamHost = proxy.UpstreamHostUpstream
				}
			})
			hosts := map[string]string{"public": e.addr(), "upstream": strings.TrimPrefix(e.up.srv.URL, "http://")}
			for _, method := range []string{"GET", "POST"} {
				raw := method + " /account/reset HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n"
				if tc.xfh != "" {
					raw += "X-Forwarded-Host: " + tc.xfh + "\r\n"
				}
				before := e.up.count()
				resp := rawResponse(t, e.addr(), raw+"\r\n")
				if resp.StatusCode != http.StatusOK || e.up.count() == before {
					t.Fatalf("%s /account/reset = %d; want forwarded", method, resp.StatusCode)
				}
				r := e.up.last(t)
				if want := hosts[tc.wantHost]; r.Host != want {
					t.Errorf("%s: upstream Host = %q; want %q (%s)", method, r.Host, want, tc.wantHost)
				}
				want, ok := hosts[tc.wantXFHost]
				if !ok {
					want = tc.wantXFHost
				}
				if got := r.Header.Values("X-Forwarded-Host"); len(got) != 1 || got[0] != want {
					t.Errorf("%s: upstream X-Forwarded-Host = %q; want %q", method, got, want)
				}
			}
		})
	}
	if _, err := proxy.New(proxy.Config{PublicURL: "https://app.example.com", Upstream: "http://127.0.0.1:3000", UpstreamHost: "client"}); err == nil || !strings.Contains(err.Error(), "upstream host") {
		t.Errorf("proxy.New with UpstreamHost %q = %v; want an error naming the upstream host", "client", err)
	}
}

// TestSecurityWhoamiHostNeverClientChosen: the legacy.whoami call is a
// request to the upstream like any other: it carries the public host (or
// the upstream's), never the Host the client sent, from any peer.
func TestSecurityWhoamiHostNeverClientChosen(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Whoami = "/api/me" })
	raw := "GET /_hubgate/claim HTTP/1.1\r\nHost: evil.example\r\nCookie: legacy_session=42\r\nConnection: close\r\n\r\n"
	resp := rawResponse(t, e.addr(), raw)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_hubgate/claim with a legacy session = %d; want 200 (the confirmation)", resp.StatusCode)
	}
	e.up.mu.Lock()
	hosts := slices.Clone(e.up.whoamiHosts)
	e.up.mu.Unlock()
	if len(hosts) == 0 {
		t.Fatal("whoami was not called")
	}
	for _, h := range hosts {
		if h != e.addr() {
			t.Errorf("whoami call Host = %q; want the public host %q, never the client's", h, e.addr())
		}
	}
}
