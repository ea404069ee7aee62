package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// auditSeen is one request as a body-reading upstream received it.
type auditSeen struct {
	method, path, body string
	header             http.Header
}

// auditBodyUpstream is a legacy app that records method, path, body and
// headers of every request (the shared test upstream does not read bodies).
func auditBodyUpstream(t *testing.T) (*httptest.Server, func() []auditSeen) {
	t.Helper()
	var mu sync.Mutex
	var seen []auditSeen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, auditSeen{r.Method, r.URL.Path, string(b), r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("X-Legacy", "yes")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "legacy got it")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []auditSeen {
		mu.Lock()
		defer mu.Unlock()
		return append([]auditSeen(nil), seen...)
	}
}

// TestEnforcePostToPublicPath: in enforce mode a POST without a
// session to a configured public path (prefix rule "/assets/") reaches the
// upstream unchanged — method, path, body — and its answer reaches the
// client; the same POST to a path outside the rule is refused and never
// reaches the upstream.
func TestEnforcePostToPublicPath(t *testing.T) { forProviders(t, testEnforcePostToPublicPath) }

func testEnforcePostToPublicPath(t *testing.T, pv provider) {
	up, seen := auditBodyUpstream(t)
	e := newEnvOf(t, pv, func(c *proxy.Config) {
		c.Upstream = up.URL
		c.Mode = migration.Enforce
		c.PublicPaths = []string{"/assets/", "/hooks/payment"}
	})
	if e.px.Mode() != migration.Enforce {
		t.Fatalf("mode = %s; want enforce", e.px.Mode())
	}
	b := e.browser()
	form := url.Values{"file": {"report.csv"}, "n": {"3"}}
	for _, path := range []string{"/assets/upload", "/hooks/payment"} {
		n := len(seen())
		resp := b.post(path, form)
		if resp.StatusCode != http.StatusAccepted || resp.body != "legacy got it" || resp.Header.Get("X-Legacy") != "yes" {
			t.Fatalf("enforce POST %s = %d %q; want the upstream's 202 answer", path, resp.StatusCode, resp.body)
		}
		got := seen()
		if len(got) != n+1 {
			t.Fatalf("upstream saw %d requests for POST %s; want 1", len(got)-n, path)
		}
		r := got[len(got)-1]
		if r.method != http.MethodPost || r.path != path || r.body != form.Encode() {
			t.Errorf("upstream got %s %s body %q; want POST %s body %q", r.method, r.path, r.body, path, form.Encode())
		}
		if r.header.Get(proxy.HeaderMode) != "enforce" || r.header.Get(proxy.HeaderPerson) != "" || r.header.Get(proxy.HeaderUser) != "" {
			t.Errorf("upstream headers mode %q person %q user %q; want enforce and no identity",
				r.header.Get(proxy.HeaderMode), r.header.Get(proxy.HeaderPerson), r.header.Get(proxy.HeaderUser))
		}
	}
	// Outside the rules: "/hooks/payment" is an exact rule (no prefix), and
	// "/reports" is private.
	for _, path := range []string{"/reports", "/hooks/payment/x", "/hooks/paymentx"} {
		n := len(seen())
		resp := b.post(path, form)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("enforce POST %s without a session = %d; want 401", path, resp.StatusCode)
		}
		if len(seen()) != n {
			t.Errorf("enforce POST %s without a session reached the upstream", path)
		}
	}
}

// TestEnforceUnlinkedPass: in enforce mode with unlinked: pass, a
// signed-in Zaikio person who is linked to no legacy person reaches the
// upstream (GET and POST) with the Zaikio identity but without
// X-Hubgate-User, also when the client sends its own X-Hubgate-User.
func TestEnforceUnlinkedPass(t *testing.T) { forProviders(t, testEnforceUnlinkedPass) }

func testEnforceUnlinkedPass(t *testing.T, pv provider) {
	up, seen := auditBodyUpstream(t)
	e := newEnvOf(t, pv, func(c *proxy.Config) {
		c.Upstream = up.URL
		c.Mode = migration.Enforce
		c.Unlinked = proxy.UnlinkedPass
	})
	b := e.browser()
	// Without a session enforce sends the browser to sign-in.
	if r := b.get("/reports"); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/_hubgate/login") {
		t.Fatalf("enforce GET /reports without a session = %d %q; want 302 to sign-in", r.StatusCode, r.Header.Get("Location"))
	}
	if len(seen()) != 0 {
		t.Fatal("a sessionless request reached the upstream in enforce mode")
	}
	r := b.login(e.ada, "/reports")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/reports" {
		t.Fatalf("unlinked sign-in under pass = %d %q; want 302 to /reports\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	ada, adaEmail := e.pid(e.ada), e.email(e.ada)
	check := func(what string, s auditSeen) {
		t.Helper()
		h := s.header
		if _, ok := h[proxy.HeaderUser]; ok {
			t.Errorf("%s: upstream got %s = %q; want none for an unlinked person", what, proxy.HeaderUser, h.Get(proxy.HeaderUser))
		}
		if h.Get(proxy.HeaderPerson) != ada || h.Get(proxy.HeaderEmail) != adaEmail || h.Get(proxy.HeaderMode) != "enforce" {
			t.Errorf("%s: upstream person %q email %q mode %q; want %s, %s, enforce", what,
				h.Get(proxy.HeaderPerson), h.Get(proxy.HeaderEmail), h.Get(proxy.HeaderMode), ada, adaEmail)
		}
		if h.Get(proxy.HeaderOrgs) != "" || h.Get(proxy.HeaderRoles) != "" {
			t.Errorf("%s: upstream orgs %q roles %q; want none", what, h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles))
		}
	}
	resp := b.get("/reports", "X-Hubgate-User", "42", "x-hubgate-user", "43")
	if resp.StatusCode != http.StatusAccepted || len(seen()) != 1 {
		t.Fatalf("enforce GET /reports as unlinked Ada = %d, upstream saw %d; want the upstream's 202", resp.StatusCode, len(seen()))
	}
	check("GET", seen()[0])
	resp = b.post("/reports", url.Values{"q": {"1"}})
	if resp.StatusCode != http.StatusAccepted || len(seen()) != 2 {
		t.Fatalf("enforce POST /reports as unlinked Ada = %d; want the upstream's 202", resp.StatusCode)
	}
	check("POST", seen()[1])
	if s := seen()[1]; s.method != http.MethodPost || s.body != "q=1" {
		t.Errorf("upstream got %s body %q; want POST q=1", s.method, s.body)
	}
	// /_hubgate/me says the same: a person, no legacy user.
	me := b.get("/_hubgate/me")
	if me.StatusCode != http.StatusOK || !strings.Contains(me.body, ada) {
		t.Errorf("/_hubgate/me = %d %s", me.StatusCode, me.body)
	}
}
