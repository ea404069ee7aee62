package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// setMode switches the stored mode as an operator would and makes this
// replica read it at once.
func (e *env) setMode(m migration.Mode) {
	e.t.Helper()
	ev := claim.Event{Time: e.clock.Now(), Actor: "test", Action: "mode.set", Subject: "mode", Detail: string(m)}
	if err := e.store.SetMode(context.Background(), m, ev); err != nil {
		e.t.Fatal(err)
	}
	e.px.Refresh(context.Background())
}

// TestGateTable walks DESIGN §2: every mode × legacy login GET/POST × other
// path GET/POST × public path × with and without a session.
func TestGateTable(t *testing.T) { forProviders(t, testGateTable) }

func testGateTable(t *testing.T, pv provider) {
	type want struct {
		status   int
		location string // "" = no redirect
		upstream bool   // the request reached the upstream
		identity bool   // it carried X-Hubgate-Zaikio-Person
		page     string // text the answered page contains
	}
	fwd := func(identity bool) want { return want{status: 200, upstream: true, identity: identity} }
	cases := []struct {
		mode    migration.Mode
		method  string
		path    string
		session bool
		want    want
	}{
		{migration.Passthrough, "GET", "/login", false, fwd(false)},
		{migration.Passthrough, "GET", "/login", true, fwd(true)},
		{migration.Passthrough, "POST", "/login", false, fwd(false)},
		{migration.Passthrough, "POST", "/login", true, fwd(true)},
		{migration.Passthrough, "GET", "/reports", false, fwd(false)},
		{migration.Passthrough, "GET", "/reports", true, fwd(true)},
		{migration.Passthrough, "POST", "/reports", false, fwd(false)},
		{migration.Passthrough, "POST", "/reports", true, fwd(true)},
		{migration.Passthrough, "GET", "/assets/app.css", false, fwd(false)},
		{migration.Passthrough, "GET", "/assets/app.css", true, fwd(true)},

		{migration.Offer, "GET", "/login", false, want{status: 200, page: "Continue to the old login"}},
		{migration.Offer, "GET", "/login", true, fwd(true)},
		{migration.Offer, "POST", "/login", false, fwd(false)},
		{migration.Offer, "POST", "/login", true, fwd(true)},
		{migration.Offer, "GET", "/reports", false, fwd(false)},
		{migration.Offer, "GET", "/reports", true, fwd(true)},
		{migration.Offer, "POST", "/reports", false, fwd(false)},
		{migration.Offer, "POST", "/reports", true, fwd(true)},
		{migration.Offer, "GET", "/assets/app.css", false, fwd(false)},
		{migration.Offer, "GET", "/assets/app.css", true, fwd(true)},

		{migration.Enforce, "GET", "/login", false, want{status: 302, location: "/_hubgate/login?rd=%2F"}},
		{migration.Enforce, "GET", "/login", true, want{status: 302, location: "/_hubgate/login?rd=%2F"}},
		{migration.Enforce, "POST", "/login", false, want{status: 403, page: "The old login is closed"}},
		{migration.Enforce, "POST", "/login", true, want{status: 403, page: "The old login is closed"}},
		{migration.Enforce, "GET", "/reports", false, want{status: 302, location: "/_hubgate/login?rd=%2Freports"}},
		{migration.Enforce, "GET", "/reports", true, fwd(true)},
		{migration.Enforce, "POST", "/reports", false, want{status: 401, page: "Please sign in"}},
		{migration.Enforce, "POST", "/reports", true, fwd(true)},
		{migration.Enforce, "GET", "/assets/app.css", false, fwd(false)},
		{migration.Enforce, "GET", "/assets/app.css", true, fwd(true)},
	}
	e := newEnvOf(t, pv, nil)
	e.linkDirect(claim.KindPerson, "1", e.pid(e.frank))
	signedIn := e.browser()
	signedIn.login(e.frank, "/")
	anon := e.browser()
	for _, tc := range cases {
		session := map[bool]string{true: "session", false: "anonymous"}[tc.session]
		t.Run(fmt.Sprintf("%s/%s %s/%s", tc.mode, tc.method, tc.path, session), func(t *testing.T) {
			e.setMode(tc.mode)
			b := anon
			if tc.session {
				b = signedIn
			}
			before := e.up.count()
			var resp *response
			if tc.method == "POST" {
				resp = b.post(tc.path, url.Values{"user": {"x"}})
			} else {
				resp = b.get(tc.path)
			}
			if resp.StatusCode != tc.want.status {
				t.Fatalf("%s %s = %d; want %d\n%s", tc.method, tc.path, resp.StatusCode, tc.want.status, resp.body)
			}
			if got := resp.Header.Get("Location"); got != tc.want.location {
				t.Errorf("Location = %q; want %q", got, tc.want.location)
			}
			reached := e.up.count() > before
			if reached != tc.want.upstream {
				t.Fatalf("reached upstream = %v; want %v", reached, tc.want.upstream)
			}
			if reached {
				h := e.up.last(t).Header
				if got := h.Get(proxy.HeaderPerson) != ""; got != tc.want.identity {
					t.Errorf("identity headers present = %v; want %v", got, tc.want.identity)
				}
				if got := h.Get(proxy.HeaderMode); got != string(tc.mode) {
					t.Errorf("X-Hubgate-Mode = %q; want %q", got, tc.mode)
				}
				if tc.want.identity && h.Get(proxy.HeaderUser) != "1" {
					t.Errorf("X-Hubgate-User = %q; want 1", h.Get(proxy.HeaderUser))
				}
			}
			if tc.want.page != "" && !strings.Contains(resp.body, tc.want.page) {
				t.Errorf("page does not say %q:\n%s", tc.want.page, resp.body)
			}
		})
	}
}

func TestOfferContinueToOldLogin(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Offer })
	b := e.browser()
	page := b.get("/login?next=%2Fhome")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Sign in with Zaikio") {
		t.Fatalf("offer page = %d\n%s", page.StatusCode, page.body)
	}
	before := e.up.count()
	resp := b.post("/_hubgate/continue-legacy", url.Values{"csrf": {csrfOf(t, page.body)}, "rd": {"/login?next=%2Fhome"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login?next=%2Fhome" {
		t.Fatalf("continue = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := b.get("/login?next=%2Fhome"); r.StatusCode != http.StatusOK || e.up.count() == before {
		t.Errorf("after continue, GET /login = %d and upstream reached = %v; want forwarded", r.StatusCode, e.up.count() > before)
	}
}

func TestPagesSpeakGerman(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Offer })
	b := e.browser()
	resp := b.get("/login", "Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	if !strings.Contains(resp.body, `lang="de"`) || !strings.Contains(resp.body, "Mit Zaikio anmelden") {
		t.Errorf("German page expected:\n%s", resp.body)
	}
	resp = b.get("/_hubgate/claim/unknown", "Accept-Language", "de")
	if !strings.Contains(resp.body, "Dieser Link ist ungültig") {
		t.Errorf("German error page expected:\n%s", resp.body)
	}
}

func TestModeChangeAppliesWithoutRestart(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if r := b.get("/reports"); r.StatusCode != http.StatusOK {
		t.Fatalf("passthrough = %d", r.StatusCode)
	}
	e.setMode(migration.Enforce)
	if r := b.get("/reports"); r.StatusCode != http.StatusFound {
		t.Errorf("after switching to enforce = %d; want 302 to sign-in", r.StatusCode)
	}
	if e.px.Mode() != migration.Enforce {
		t.Errorf("Mode() = %s", e.px.Mode())
	}
}

func TestReloadChangesPathsAndRoles(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	b := e.browser()
	if r := b.get("/docs/intro"); r.StatusCode != http.StatusFound {
		t.Fatalf("enforce, /docs before reload = %d; want 302", r.StatusCode)
	}
	if err := e.px.Reload(context.Background(), proxy.Policy{PublicPaths: []string{"/docs/"}, LoginPaths: []string{"/signin"}, DefaultMode: migration.Enforce}); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/docs/intro"); r.StatusCode != http.StatusOK {
		t.Errorf("after reload /docs/ is public: got %d; want 200", r.StatusCode)
	}
	if r := b.post("/signin", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("after reload /signin is a login path: POST = %d; want 403", r.StatusCode)
	}
	if err := e.px.Reload(context.Background(), proxy.Policy{PublicPaths: []string{"relative"}}); err == nil {
		t.Error("Reload accepted a relative public path")
	}
}
