package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the first CSRF token in a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// issue mints a claim directly through the claim service.
func (e *env) issue(kind claim.Kind, legacyID, claimer string) claim.Issued {
	e.t.Helper()
	is, err := e.claims.Issue(context.Background(), claim.Request{Kind: kind, LegacyID: legacyID, Claimer: claimer, CreatedBy: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return is
}

func (e *env) putPeople(people ...claim.Person) {
	e.t.Helper()
	if err := e.store.PutPeople(context.Background(), people, claim.Event{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) link(kind claim.Kind, legacyID string) (claim.Link, error) {
	return e.store.Link(context.Background(), kind, legacyID)
}

// startClaim opens a claim link, confirms it, and returns the hub's redirect
// back to the callback (AutoApprove as person/org), without following it.
func (b *browser) startClaim(tok claim.Token, person, org string) string {
	b.t.Helper()
	page := b.get("/_hubgate/claim/" + tok.Reveal())
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET claim page = %d\n%s", page.StatusCode, page.body)
	}
	resp := b.post("/_hubgate/claim/"+tok.Reveal(), url.Values{"csrf": {csrfOf(b.t, page.body)}})
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("POST claim = %d; want 302 to the hub\n%s", resp.StatusCode, resp.body)
	}
	return b.hubReturn(resp.Header.Get("Location"), person, org)
}

// hubReturn visits the hub authorize URL with AutoApprove and returns the
// callback URL it redirects to.
func (b *browser) hubReturn(authorize, person, org string) string {
	b.t.Helper()
	if b.e.op != nil {
		return b.viaOP(authorize, person)
	}
	b.e.hub.AutoApprove(person, org)
	defer b.e.hub.AutoApprove("", "")
	resp := b.get(authorize)
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("hub authorize = %d\n%s", resp.StatusCode, resp.body)
	}
	return resp.Header.Get("Location")
}

func TestPersonClaimEndToEnd(t *testing.T) { forProviders(t, testPersonClaimEndToEnd) }

func testPersonClaimEndToEnd(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedDeny })
	e.putPeople(claim.Person{ID: "42", Email: "ann@legacy.example", Name: "Ann Example"})
	is := e.issue(claim.KindPerson, "42", "")
	b := e.browser()

	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Ann Example") {
		t.Fatalf("claim page = %d; want 200 naming the legacy person\n%s", page.StatusCode, page.body)
	}
	if loc := page.Header.Get("Location"); loc != "" {
		t.Errorf("GET of a claim link redirects to %q; a GET must never start a flow", loc)
	}
	if c, _ := e.store.ClaimByHash(context.Background(), is.Token.Hash()); !c.UsedAt.IsZero() {
		t.Fatal("GET consumed the claim")
	}
	resp := b.post("/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {csrfOf(t, page.body)}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST claim = %d\n%s", resp.StatusCode, resp.body)
	}
	auth := mustURL(resp.Header.Get("Location"))
	q := auth.Query()
	if q.Get("prompt") != "select_account" || pv == zaikioHub && (q.Get("person[email]") != "ann@legacy.example" || q.Get("person[name]") != "Example" || q.Get("person[first_name]") != "Ann") {
		t.Errorf("claim authorize query = %v; want prompt=select_account and the legacy person's prefill", q)
	}
	cb := b.hubReturn(auth.String(), e.erika, "")
	done := b.land(cb)
	if done.StatusCode != http.StatusOK {
		t.Fatalf("claim callback = %d\n%s", done.StatusCode, done.body)
	}
	if !strings.Contains(done.body, e.email(e.erika)) || !strings.Contains(done.body, "claim-undo") {
		t.Errorf("success page does not name the linked Zaikio account %s or offer undo:\n%s", e.email(e.erika), done.body)
	}
	l, err := e.link(claim.KindPerson, "42")
	if err != nil || l.ZaikioID != e.pid(e.erika) {
		t.Fatalf("link of 42 = %+v, %v; want Erika", l, err)
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "42" {
		t.Errorf("after the claim upstream %s = %q; want 42", proxy.HeaderUser, got)
	}
	// The same token again: "already used", nothing changed.
	again := e.browser().get("/_hubgate/claim/" + is.Token.Reveal())
	if again.StatusCode != http.StatusConflict || !strings.Contains(again.body, "already used") {
		t.Errorf("second use = %d; want 409 already used\n%s", again.StatusCode, again.body)
	}
	if l2, _ := e.link(claim.KindPerson, "42"); l2 != l {
		t.Errorf("link changed by the second use: %+v → %+v", l, l2)
	}
	// Sign-in alone now maps Erika to 42.
	b2 := e.browser()
	b2.login(e.erika, "/")
	if got := b2.upstreamHeaders("/y").Get(proxy.HeaderUser); got != "42" {
		t.Errorf("Zaikio sign-in of the linked person: upstream user = %q; want 42", got)
	}
}

func TestClaimPostNeedsCSRFAndOrigin(t *testing.T) { forProviders(t, testClaimPostNeedsCSRFAndOrigin) }

func testClaimPostNeedsCSRFAndOrigin(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	is := e.issue(claim.KindPerson, "42", "")
	b := e.browser()
	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	tok := csrfOf(t, page.body)
	cases := []struct {
		name   string
		form   url.Values
		origin string
		fresh  bool // another browser (no nonce cookie)
	}{
		{"no token", url.Values{}, e.srv.URL, false},
		{"wrong token", url.Values{"csrf": {strings.Repeat("A", len(tok))}}, e.srv.URL, false},
		{"foreign origin", url.Values{"csrf": {tok}}, "https://evil.example", false},
		{"other browser", url.Values{"csrf": {tok}}, e.srv.URL, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bb := b
			if tc.fresh {
				bb = e.browser()
			}
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/_hubgate/claim/"+is.Token.Reveal(), strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", tc.origin)
			resp := bb.do(req)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
				t.Errorf("POST = %d Location %q; want 403 and no flow", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

func TestConcurrentRedemptionsLinkOnce(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Limits.FailedCallbacks = -1 }) // 50 callbacks at once from one address
	is := e.issue(claim.KindPerson, "42", "")
	const n = 50
	type prepared struct {
		b  *browser
		cb string
	}
	var ps []prepared
	for i := 0; i < n; i++ {
		p := e.hub.AddPerson(devhub.Person{FirstName: "P", Name: fmt.Sprint(i), Email: fmt.Sprintf("p%d@example.com", i)})
		b := e.browser()
		ps = append(ps, prepared{b, b.startClaim(is.Token, p.ID, "")})
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = p.b.land(p.cb).StatusCode
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			refused++
		default:
			t.Errorf("callback status %d; want 200 or 409", c)
		}
	}
	if ok != 1 || refused != n-1 {
		t.Errorf("%d linked, %d refused; want 1 and %d", ok, refused, n-1)
	}
	links, err := e.store.Links(context.Background(), claim.KindPerson, "", 0)
	if err != nil || len(links) != 1 {
		t.Errorf("links = %v, %v; want exactly one", links, err)
	}
}

// TestFailedCallbackLeavesTokenUsable: a claim flow that fails at the
// callback — the person declines at the provider, a forged state, the
// provider down at the code exchange or at the person read, an ID token
// that fails verification — consumes no claim and writes no link; the same
// token then works end to end.
func TestFailedCallbackLeavesTokenUsable(t *testing.T) {
	forProviders(t, testFailedCallbackLeavesTokenUsable)
}

func testFailedCallbackLeavesTokenUsable(t *testing.T, pv provider) {
	cases := []struct {
		name string
		only provider // "" for both
		// before runs before the claim flow starts (a provider knob that
		// acts on the next sign-in).
		before func(e *env)
		fail   func(e *env, b *browser, cb string) *response
	}{
		{name: "hub access_denied", fail: func(e *env, b *browser, cb string) *response {
			u := mustURL(cb)
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			u.RawQuery = q.Encode()
			return b.get(u.String())
		}},
		{name: "bad state", fail: func(e *env, b *browser, cb string) *response {
			u := mustURL(cb)
			q := u.Query()
			q.Set("state", strings.Repeat("B", 43))
			u.RawQuery = q.Encode()
			return b.get(u.String())
		}},
		{name: "hub down at token exchange", fail: func(e *env, b *browser, cb string) *response {
			e.failTokenEndpoint(500, 1)
			return b.get(cb)
		}},
		// Zaikio only: the Zaikio hub is asked for the person after the
		// exchange; an OpenID Provider's person is the ID token of the
		// exchange itself (no userinfo read is configured).
		{name: "hub down at person read", only: zaikioHub, fail: func(e *env, b *browser, cb string) *response {
			e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 503, Times: 3}) // the client retries GETs twice
			return b.get(cb)
		}},
		// OpenID Connect only: the ID token of the exchange fails
		// verification (a nonce hubgate never sent).
		{name: "ID token refused", only: oidcProvider, before: func(e *env) {
			if err := e.op.TamperNext(devop.TamperNonce); err != nil {
				e.t.Fatal(err)
			}
		}, fail: func(e *env, b *browser, cb string) *response { return b.get(cb) }},
	}
	for _, tc := range cases {
		if tc.only != "" && tc.only != pv {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOf(t, pv, nil)
			is := e.issue(claim.KindPerson, "42", "")
			b := e.browser()
			if tc.before != nil {
				tc.before(e)
			}
			resp := tc.fail(e, b, b.startClaim(is.Token, e.frank, ""))
			if resp.StatusCode < 400 {
				t.Fatalf("failed callback = %d; want an error page", resp.StatusCode)
			}
			if c, _ := e.store.ClaimByHash(context.Background(), is.Token.Hash()); !c.UsedAt.IsZero() {
				t.Fatal("a failed callback consumed the claim")
			}
			if _, err := e.link(claim.KindPerson, "42"); !errors.Is(err, claim.ErrNotFound) {
				t.Fatalf("a failed callback wrote a link: %v", err)
			}
			if b.sessionCookie() != "" {
				t.Error("a failed callback started a session")
			}
			// The token still works end to end.
			b2 := e.browser()
			if r := b2.land(b2.startClaim(is.Token, e.frank, "")); r.StatusCode != http.StatusOK {
				t.Fatalf("retry with the same token = %d\n%s", r.StatusCode, r.body)
			}
			if l, err := e.link(claim.KindPerson, "42"); err != nil || l.ZaikioID != e.pid(e.frank) {
				t.Errorf("after retry link = %+v, %v", l, err)
			}
		})
	}
}

func TestClaimConflictKeepsBothLinks(t *testing.T) { forProviders(t, testClaimConflictKeepsBothLinks) }

func testClaimConflictKeepsBothLinks(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	first := e.issue(claim.KindPerson, "42", "")
	if r := b.land(b.startClaim(first.Token, e.frank, "")); r.StatusCode != http.StatusOK {
		t.Fatalf("first claim = %d", r.StatusCode)
	}
	second := e.issue(claim.KindPerson, "43", "")
	b2 := e.browser()
	r := b2.land(b2.startClaim(second.Token, e.frank, ""))
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "Already linked") {
		t.Fatalf("Frank claiming 43 = %d; want 409 already linked\n%s", r.StatusCode, r.body)
	}
	if l, err := e.link(claim.KindPerson, "42"); err != nil || l.ZaikioID != e.pid(e.frank) {
		t.Errorf("link 42 = %+v, %v; want intact", l, err)
	}
	if _, err := e.link(claim.KindPerson, "43"); !errors.Is(err, claim.ErrNotFound) {
		t.Errorf("43 got linked: %v", err)
	}
	if c, _ := e.store.ClaimByHash(context.Background(), second.Token.Hash()); !c.UsedAt.IsZero() {
		t.Error("the refused claim was consumed")
	}
}

// claimPersonAs links legacyID to person through a claim flow in b.
func claimPersonAs(t *testing.T, e *env, b *browser, legacyID, person string) string {
	t.Helper()
	is := e.issue(claim.KindPerson, legacyID, "")
	r := b.land(b.startClaim(is.Token, person, ""))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("claim %s as %s = %d\n%s", legacyID, person, r.StatusCode, r.body)
	}
	return r.body
}

func TestOrgClaim(t *testing.T) {
	t.Run("owner links", func(t *testing.T) {
		e := newEnv(t, nil)
		e.putPeople(claim.Person{ID: "1", Name: "Alice", Orgs: []string{"100"}})
		b := e.browser()
		page := claimPersonAs(t, e, b, "1", devhub.FrankID)
		if !strings.Contains(page, `name="org" value="100"`) {
			t.Fatalf("success page does not offer org 100:\n%s", page)
		}
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"><input type="hidden" name="org" value="100"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no org form")
		}
		resp := b.post("/_hubgate/claim-org", url.Values{"csrf": {m[1]}, "org": {"100"}})
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("POST claim-org = %d\n%s", resp.StatusCode, resp.body)
		}
		if sc := mustURL(resp.Header.Get("Location")).Query().Get("scope"); sc != "Per>Org.zaikio.organization.r" {
			t.Errorf("org flow scope = %q", sc)
		}
		done := b.land(b.hubReturn(resp.Header.Get("Location"), devhub.FrankID, devhub.BountySoapID))
		if done.StatusCode != http.StatusOK || !strings.Contains(done.body, "Bounty Soap") {
			t.Fatalf("org callback = %d; want 200 naming the org\n%s", done.StatusCode, e.logs.String())
		}
		if l, err := e.link(claim.KindOrg, "100"); err != nil || l.ZaikioID != devhub.BountySoapID {
			t.Fatalf("org link = %+v, %v", l, err)
		}
		h := b.upstreamHeaders("/x")
		if h.Get(proxy.HeaderOrgs) != "100" || h.Get(proxy.HeaderRoles) != "100:admin" {
			t.Errorf("upstream orgs %q roles %q; want 100 and 100:admin", h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles))
		}
	})
	t.Run("member is refused", func(t *testing.T) {
		e := newEnv(t, nil)
		e.putPeople(claim.Person{ID: "3", Name: "Max", Orgs: []string{"100"}})
		b := e.browser()
		page := claimPersonAs(t, e, b, "3", devhub.MaxID)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"><input type="hidden" name="org" value="100"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no org form")
		}
		resp := b.post("/_hubgate/claim-org", url.Values{"csrf": {m[1]}, "org": {"100"}})
		done := b.land(b.hubReturn(resp.Header.Get("Location"), devhub.MaxID, devhub.BountySoapID))
		if done.StatusCode != http.StatusForbidden {
			t.Fatalf("member's org claim = %d; want 403\n%s", done.StatusCode, done.body)
		}
		if _, err := e.link(claim.KindOrg, "100"); !errors.Is(err, claim.ErrNotFound) {
			t.Errorf("org linked by a member: %v", err)
		}
	})
	t.Run("unlinked person is refused", func(t *testing.T) {
		e := newEnv(t, nil) // unlinked: pass, so Frank has a session without a link
		is := e.issue(claim.KindOrg, "100", "")
		b := e.browser()
		b.login(devhub.FrankID, "/")
		page := b.get("/_hubgate/claim/" + is.Token.Reveal())
		if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "link your own account") || strings.Contains(page.body, `name="csrf"`) {
			t.Fatalf("org claim page for an unlinked person = %d; want 200 asking to link first, without a form\n%s", page.StatusCode, page.body)
		}
	})
	t.Run("person unlinked during the flow is refused", func(t *testing.T) {
		e := newEnv(t, nil)
		is := e.issue(claim.KindOrg, "100", "")
		b := e.browser()
		claimPersonAs(t, e, b, "1", devhub.FrankID)
		page := b.get("/_hubgate/claim/" + is.Token.Reveal())
		resp := b.post("/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {csrfOf(t, page.body)}})
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("POST org claim = %d\n%s", resp.StatusCode, resp.body)
		}
		cb := b.hubReturn(resp.Header.Get("Location"), devhub.FrankID, devhub.BountySoapID)
		if _, err := e.store.DeleteLink(context.Background(), claim.KindPerson, "1", "test", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		done := b.get(cb)
		if done.StatusCode != http.StatusForbidden {
			t.Fatalf("org callback after the claimer was unlinked = %d; want 403\n%s", done.StatusCode, done.body)
		}
		if _, err := e.link(claim.KindOrg, "100"); !errors.Is(err, claim.ErrNotFound) {
			t.Errorf("org linked by an unlinked person: %v", err)
		}
		if c, _ := e.store.ClaimByHash(context.Background(), is.Token.Hash()); !c.UsedAt.IsZero() {
			t.Error("refused org claim consumed the token")
		}
	})
	t.Run("named claimer only", func(t *testing.T) {
		e := newEnv(t, nil)
		is := e.issue(claim.KindOrg, "100", "77") // only legacy person 77 may claim
		b := e.browser()
		claimPersonAs(t, e, b, "1", devhub.FrankID)
		resp := b.get("/_hubgate/claim/" + is.Token.Reveal())
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("org claim page for another claimer = %d; want 403", resp.StatusCode)
		}
	})
}

func TestClaimTokensNeverLogged(t *testing.T) { forProviders(t, testClaimTokensNeverLogged) }

func testClaimTokensNeverLogged(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	is := e.issue(claim.KindPerson, "42", "")
	bad := e.issue(claim.KindPerson, "43", "")
	b := e.browser()
	b.land(b.startClaim(is.Token, e.frank, ""))
	b.get("/_hubgate/claim/" + is.Token.Reveal()) // used
	b.get("/_hubgate/claim/" + bad.Token.Reveal() + "x")
	logs := e.logs.String()
	if !strings.Contains(logs, "claim.linked") {
		t.Fatalf("log has no claim.linked event; did logging work?\n%s", logs)
	}
	for _, tok := range []string{is.Token.Reveal(), bad.Token.Reveal()} {
		if strings.Contains(logs, tok) || strings.Contains(logs, tok[:20]) {
			t.Errorf("claim token %s… appears in the log", tok[:6])
		}
	}
}

func TestUnlinkedPolicies(t *testing.T) {
	t.Run("deny", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedDeny })
		b := e.browser()
		resp := b.shown(b.login(devhub.AdaID, "/x"))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.body, "No account is linked") || strings.Contains(resp.body, "/_hubgate/resend") ||
			strings.Contains(resp.body, "below") || !strings.Contains(resp.body, "ask the administrator") {
			t.Fatalf("unlinked login under deny = %d; want 403 no-account page (without a resend form: no mailer)\n%s", resp.StatusCode, resp.body)
		}
		if b.sessionCookie() != "" {
			t.Error("deny policy created a session")
		}
	})
	t.Run("provision", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedProvision; c.ProvisionURL = "/api/provision" })
		b := e.browser()
		if resp := b.login(devhub.AdaID, "/x"); resp.StatusCode != http.StatusFound {
			t.Fatalf("provisioning login = %d\n%s", resp.StatusCode, resp.body)
		}
		if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "9001" {
			t.Errorf("provisioned user = %q; want 9001", got)
		}
		if l, err := e.link(claim.KindPerson, "9001"); err != nil || l.Via != "provision" {
			t.Errorf("provision link = %+v, %v", l, err)
		}
	})
}

func TestClaimBySession(t *testing.T) { forProviders(t, testClaimBySession) }

func testClaimBySession(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Whoami = "/api/me" })
	b := e.browser()
	if r := b.get("/_hubgate/claim"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("claim without legacy session = %d; want 401", r.StatusCode)
	}
	b.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "legacy_session", Value: "55", Path: "/"}})
	page := b.get("/_hubgate/claim")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Legacy 55") {
		t.Fatalf("claim page = %d\n%s", page.StatusCode, page.body)
	}
	resp := b.post("/_hubgate/claim", url.Values{"csrf": {csrfOf(t, page.body)}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /_hubgate/claim = %d\n%s", resp.StatusCode, resp.body)
	}
	done := b.land(b.hubReturn(resp.Header.Get("Location"), e.ada, ""))
	if done.StatusCode != http.StatusOK {
		t.Fatalf("callback = %d\n%s", done.StatusCode, done.body)
	}
	if l, err := e.link(claim.KindPerson, "55"); err != nil || l.ZaikioID != e.pid(e.ada) {
		t.Errorf("link 55 = %+v, %v", l, err)
	}
	// The directory is the operator's: an organization only the whoami
	// answer names is not offered (55 is not in the directory at all).
	if strings.Contains(done.body, `value="org-55"`) {
		t.Errorf("success page offers an org only whoami named:\n%s", done.body)
	}

	// A person the directory knows is offered the directory's organizations.
	e.putPeople(claim.Person{ID: "56", Name: "Directory 56", Orgs: []string{"org-dir"}})
	b = e.browser()
	b.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "legacy_session", Value: "56", Path: "/"}})
	page = b.get("/_hubgate/claim")
	resp = b.post("/_hubgate/claim", url.Values{"csrf": {csrfOf(t, page.body)}})
	done = b.land(b.hubReturn(resp.Header.Get("Location"), e.frank, ""))
	if done.StatusCode != http.StatusOK || !strings.Contains(done.body, `value="org-dir"`) || strings.Contains(done.body, `value="org-56"`) {
		t.Errorf("success page for a person in the directory = %d; want org-dir (the directory's) offered, not org-56 (whoami's)\n%s", done.StatusCode, done.body)
	}
}

func TestUndoClaim(t *testing.T) { forProviders(t, testUndoClaim) }

func testUndoClaim(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	page := claimPersonAs(t, e, b, "42", e.frank)
	m := regexp.MustCompile(`action="/_hubgate/claim-undo">\s*<input type="hidden" name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no undo form:\n%s", page)
	}
	resp := b.post("/_hubgate/claim-undo", url.Values{"csrf": {m[1]}, "kind": {"person"}, "legacy_id": {"42"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, "Link undone") {
		t.Fatalf("undo = %d\n%s", resp.StatusCode, resp.body)
	}
	if _, err := e.link(claim.KindPerson, "42"); !errors.Is(err, claim.ErrNotFound) {
		t.Errorf("link survives undo: %v", err)
	}
	evs, _ := e.store.Events(context.Background(), 0, 10)
	if len(evs) == 0 || evs[0].Action != "link.delete" {
		t.Errorf("newest audit event = %+v; want link.delete", evs)
	}
}

func TestClaimStartsAreRateLimited(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Limits.FlowStarts = 5 }) // claim flows started, none finished
	is := e.issue(claim.KindPerson, "42", "")
	b := e.browser()
	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	tok := csrfOf(t, page.body)
	for i := 1; i <= 6; i++ {
		resp := b.post("/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {tok}})
		want := http.StatusFound
		if i == 6 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Errorf("claim start %d = %d; want %d", i, resp.StatusCode, want)
		}
	}
}
