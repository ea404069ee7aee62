package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// The migration as people live it (issue 13): every page leads somewhere,
// names people and organizations by name, and says what is true.

// formCSRF returns the CSRF token of the form posting to action on page.
func formCSRF(t *testing.T, page, action string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<form method="post" action="` + regexp.QuoteMeta(action) + `"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form posting to %s on the page:\n%s", action, page)
	}
	return m[1]
}

// signInOldWay gives b a legacy session as legacy user id (what the legacy
// login's answer does).
func (b *browser) signInOldWay(id string) {
	u, _ := url.Parse(b.e.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: "legacy_session", Value: id, Path: "/"}})
}

// page is a navigation, as a browser sends it.
func (b *browser) page(path string) *response {
	b.t.Helper()
	return b.get(path, "Accept", "text/html,application/xhtml+xml", "Sec-Fetch-Mode", "navigate")
}

// TestOfferClaimSurvivesLegacyLogin: in offer mode "Link your Zaikio
// account" without a legacy session explains "sign in the old way first";
// its button passes the interstitial (no loop back to it), and the first
// page after the old sign-in is the claim confirmation.
func TestOfferClaimSurvivesLegacyLogin(t *testing.T) {
	forProviders(t, testOfferClaimSurvivesLegacyLogin)
}

func testOfferClaimSurvivesLegacyLogin(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Mode = migration.Offer; c.Whoami = "/api/me" })
	e.putPeople(claim.Person{ID: "7", Name: "Grace Hopper", Email: "grace@legacy.example"})
	b := e.browser()

	offer := b.page("/login")
	if offer.StatusCode != http.StatusOK || !strings.Contains(offer.body, `href="/_hubgate/claim"`) {
		t.Fatalf("GET /login in offer mode = %d; want the interstitial with the claim link\n%s", offer.StatusCode, offer.body)
	}
	first := b.page("/_hubgate/claim")
	if first.StatusCode != http.StatusUnauthorized || !strings.Contains(first.body, "Sign in the old way first") {
		t.Fatalf("claim without a legacy session = %d; want the \"sign in the old way first\" page\n%s", first.StatusCode, first.body)
	}
	// Its button passes the interstitial once and goes to the old login.
	tok := formCSRF(t, first.body, "/_hubgate/continue-legacy")
	if !strings.Contains(first.body, `name="then" value="claim"`) || !strings.Contains(first.body, `name="rd" value="/login"`) {
		t.Fatalf("the old-way button does not lead to the old login and back:\n%s", first.body)
	}
	cont := b.post("/_hubgate/continue-legacy", url.Values{"csrf": {tok}, "rd": {"/login"}, "then": {"claim"}})
	if loc := cont.Header.Get("Location"); cont.StatusCode != http.StatusFound || loc != "/login" {
		t.Fatalf("continue to the old login = %d to %q; want 302 to /login", cont.StatusCode, loc)
	}
	before := e.up.count()
	if login := b.page("/login"); login.StatusCode != http.StatusOK || e.up.count() != before+1 || strings.Contains(login.body, "continue-legacy") {
		t.Fatalf("GET /login after choosing the old way = %d (forwarded: %v); want the legacy login, not the interstitial again\n%s",
			login.StatusCode, e.up.count() == before+1, login.body)
	}
	// Pages before the old sign-in are the app's; assets are never diverted.
	if r := b.page("/welcome"); r.StatusCode != http.StatusOK {
		t.Fatalf("a page before the old sign-in = %d; want the app's", r.StatusCode)
	}
	b.signInOldWay("7")
	if r := b.get("/assets/app.css", "Accept", "text/css", "Sec-Fetch-Mode", "no-cors"); r.StatusCode != http.StatusOK {
		t.Fatalf("an asset after the old sign-in = %d; want it forwarded", r.StatusCode)
	}
	back := b.page("/")
	if loc := back.Header.Get("Location"); back.StatusCode != http.StatusFound || loc != "/_hubgate/claim" {
		t.Fatalf("first page after the old sign-in = %d to %q; want 302 to /_hubgate/claim", back.StatusCode, loc)
	}
	confirm := b.page("/_hubgate/claim")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.body, "Grace Hopper") || !strings.Contains(confirm.body, `action="/_hubgate/claim"`) {
		t.Fatalf("claim confirmation after the old sign-in = %d\n%s", confirm.StatusCode, confirm.body)
	}
	// Once back, the app is the app again.
	if r := b.page("/"); r.StatusCode != http.StatusOK {
		t.Errorf("GET / after the confirmation was shown = %d; want the app (the detour happens once)", r.StatusCode)
	}
	// The claim the legacy session proves goes through the provider.
	resp := b.post("/_hubgate/claim", url.Values{"csrf": {csrfOf(t, confirm.body)}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /_hubgate/claim = %d\n%s", resp.StatusCode, resp.body)
	}
	if done := b.land(b.hubReturn(resp.Header.Get("Location"), e.max, "")); done.StatusCode != http.StatusOK {
		t.Fatalf("claim callback = %d\n%s", done.StatusCode, done.body)
	}
	if l, err := e.link(claim.KindPerson, "7"); err != nil || l.ZaikioID != e.pid(e.max) {
		t.Errorf("link 7 = %+v, %v; want %s", l, err, e.pid(e.max))
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "7" {
		t.Errorf("after the claim upstream user = %q; want 7", got)
	}
}

// noAccount signs b in as an unlinked Zaikio person and returns the page.
func noAccount(t *testing.T, b *browser, person string) *response {
	t.Helper()
	r := b.shown(b.login(person, "/"))
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "No account is linked") {
		t.Fatalf("unlinked sign-in = %d; want the no-account page\n%s", r.StatusCode, r.body)
	}
	return r
}

// howItems are the sentences of the no-account page's advice.
func howItems(t *testing.T, body string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<ul class="plain" id="how">(.*?)</ul>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no advice list on the page:\n%s", body)
	}
	var out []string
	for _, li := range regexp.MustCompile(`(?s)<li>(.*?)</li>`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, strings.TrimSpace(li[1]))
	}
	return out
}

// TestNoAccountAdviceFitsMode: the no-account page advises what is possible
// in the mode, in whole sentences, in English and German: in enforce mode
// never the closed old login; "send me my link" only with a mailer, else
// the administrator; the old way (with its way back) while it is open.
func TestNoAccountAdviceFitsMode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      migration.Mode
		lang      string
		legacyWay bool
	}{
		{"enforce", migration.Enforce, "en", false},
		{"enforce de", migration.Enforce, "de", false},
		{"offer", migration.Offer, "en", true},
		{"passthrough de", migration.Passthrough, "de", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *proxy.Config) {
				c.Unlinked = proxy.UnlinkedDeny
				c.Whoami = "/api/me"
				c.Mode = tc.mode
				c.AppName = "Acme Portal"
			})
			b := e.browser()
			b.e.hub.AutoApprove(devhub.AdaID, "")
			start := b.get("/_hubgate/login?rd=/", "Accept-Language", tc.lang)
			cb := b.get(start.Header.Get("Location"))
			b.e.hub.AutoApprove("", "")
			r := b.shown(b.get(cb.Header.Get("Location"), "Accept-Language", tc.lang))
			if tc.lang == "de" {
				r = b.get("/_hubgate/no-account", "Accept-Language", "de")
			}
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("no-account page = %d\n%s", r.StatusCode, r.body)
			}
			items := howItems(t, r.body)
			oldWay := map[string]string{"en": "old way", "de": "wie bisher"}[tc.lang]
			admin := map[string]string{"en": "administrator of Acme Portal", "de": "Administration von Acme Portal"}[tc.lang]
			sawOldWay, sawAdmin := false, false
			for _, it := range items {
				if !regexp.MustCompile(`^\p{Lu}.*[.!?]$`).MatchString(it) {
					t.Errorf("advice %q is not a whole sentence", it)
				}
				sawOldWay = sawOldWay || strings.Contains(it, oldWay)
				sawAdmin = sawAdmin || strings.Contains(it, admin)
			}
			if sawOldWay != tc.legacyWay || strings.Contains(r.body, `id="legacy-login"`) != tc.legacyWay {
				t.Errorf("advice %q (old-way button %v); want the old way offered: %v", items, strings.Contains(r.body, `id="legacy-login"`), tc.legacyWay)
			}
			if !sawAdmin || strings.Contains(r.body, `action="/_hubgate/resend"`) {
				t.Errorf("advice %q without a mailer; want the administrator, no resend form", items)
			}
		})
	}
}

// TestDeadLinkPagesOfferNextSteps: a used (409), unknown (404), expired or
// revoked (410) link offers both next steps — sign in with Zaikio, and a
// new link (the resend page with a mailer, else the administrator).
func TestDeadLinkPagesOfferNextSteps(t *testing.T) { forProviders(t, testDeadLinkPagesOfferNextSteps) }

func testDeadLinkPagesOfferNextSteps(t *testing.T, pv provider) {
	for _, mailer := range []bool{true, false} {
		e := newEnvOf(t, pv, func(c *proxy.Config) {
			if mailer {
				smtp := mailtest.NewServer(t)
				m, err := mail.New(mail.Config{URL: smtp.URL(), From: "noreply@example.com"})
				if err != nil {
					t.Fatal(err)
				}
				c.Mailer = m
			}
		})
		ctx := context.Background()
		used := e.issue(claim.KindPerson, "1", "")
		e.land(used.Token, e.frank)
		expired, _ := e.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "2", TTL: time.Minute})
		e.clock.Advance(2 * time.Minute)
		revoked := e.issue(claim.KindPerson, "3", "")
		if err := e.store.RevokeClaim(ctx, revoked.Claim.ID, "test", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			path   string
			status int
		}{
			{"used", "/_hubgate/claim/" + used.Token.Reveal(), http.StatusConflict},
			{"unknown", "/_hubgate/claim/" + strings.Repeat("A", 43), http.StatusNotFound},
			{"expired", "/_hubgate/claim/" + expired.Token.Reveal(), http.StatusGone},
			{"revoked", "/_hubgate/claim/" + revoked.Token.Reveal(), http.StatusGone},
		} {
			r := e.browser().get(tc.path)
			if r.StatusCode != tc.status {
				t.Errorf("%s link (mailer %v) = %d; want %d", tc.name, mailer, r.StatusCode, tc.status)
			}
			if !strings.Contains(r.body, `href="/_hubgate/login" id="signin"`) {
				t.Errorf("%s link (mailer %v): no \"Sign in with Zaikio\" button\n%s", tc.name, mailer, r.body)
			}
			if got := strings.Contains(r.body, `href="/_hubgate/resend" id="new-link"`); got != mailer {
				t.Errorf("%s link (mailer %v): \"send me a new link\" button %v; want %v", tc.name, mailer, got, mailer)
			}
			if !mailer && !strings.Contains(r.body, "ask the administrator") {
				t.Errorf("%s link without a mailer does not say who gives a new link\n%s", tc.name, r.body)
			}
		}
	}
}

// land runs a claim of tok as person in a fresh browser up to the page
// after the callback, and returns that browser and page.
func (e *env) land(tok claim.Token, person string) (*browser, *response) {
	e.t.Helper()
	b := e.browser()
	r := b.land(b.startClaim(tok, person, ""))
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("claim as %s = %d\n%s", person, r.StatusCode, r.body)
	}
	return b, r
}

// TestSuccessPageSurvivesReload: the callback of a claim answers 303 to
// /_hubgate/linked (post/redirect/get); that page shows the same facts on
// every reload and changes nothing; after an undo it no longer claims a
// link.
func TestSuccessPageSurvivesReload(t *testing.T) {
	e := newEnv(t, nil)
	e.putPeople(claim.Person{ID: "42", Name: "Ann Example"})
	is := e.issue(claim.KindPerson, "42", "")
	b := e.browser()
	cb := b.get(b.startClaim(is.Token, devhub.FrankID, ""))
	if loc := cb.Header.Get("Location"); cb.StatusCode != http.StatusSeeOther || loc != "/_hubgate/linked" {
		t.Fatalf("claim callback = %d to %q; want 303 to /_hubgate/linked", cb.StatusCode, loc)
	}
	frank, _ := e.hub.Person(devhub.FrankID)
	events := func() int { return len(mustEvents(t, e)) }
	var first string
	n := events()
	for i := range 3 {
		r := b.get("/_hubgate/linked")
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, frank.Email) || !strings.Contains(r.body, "Ann Example") {
			t.Fatalf("reload %d of the success page = %d; want it naming Ann Example and %s\n%s", i, r.StatusCode, frank.Email, r.body)
		}
		if i == 0 {
			first = requestIDRE.ReplaceAllString(csrfRE.ReplaceAllString(r.body, ""), "")
		} else if got := requestIDRE.ReplaceAllString(csrfRE.ReplaceAllString(r.body, ""), ""); got != first {
			t.Errorf("reload %d shows another page", i)
		}
	}
	if events() != n {
		t.Errorf("reloading the success page wrote %d audit events; want none", events()-n)
	}
	// Another browser has no such page.
	if r := e.browser().get("/_hubgate/linked"); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Errorf("the success page in another browser = %d to %q; want 302 to /", r.StatusCode, r.Header.Get("Location"))
	}
	page := b.get("/_hubgate/linked")
	undo := b.post("/_hubgate/claim-undo", url.Values{"csrf": {formCSRF(t, page.body, "/_hubgate/claim-undo")}, "kind": {"person"}, "legacy_id": {"42"}})
	if undo.StatusCode != http.StatusOK {
		t.Fatalf("undo = %d\n%s", undo.StatusCode, undo.body)
	}
	if r := b.get("/_hubgate/linked"); r.StatusCode != http.StatusFound {
		t.Errorf("the success page after the undo = %d; want a redirect (the link is gone)\n%s", r.StatusCode, r.body)
	}
}

func mustEvents(t *testing.T, e *env) []claim.Event {
	t.Helper()
	evs, err := e.store.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestLogoutEndsLegacySession: with a legacy logout configured, hubgate's
// sign-out also ends the legacy session: the legacy endpoint is called
// with the browser's legacy cookie (never hubgate's) and X-Hubgate-Logout,
// and its expiring Set-Cookie reaches the browser. Without one, the
// signed-out page says that the old sign-in may still be active.
func TestLogoutEndsLegacySession(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.LegacyLogout = "/legacy/logout"; c.Whoami = "/api/me" })
	b := e.browser()
	b.signInOldWay("7")
	b.login(devhub.FrankID, "/")
	form := b.get("/_hubgate/logout")
	out := b.post("/_hubgate/logout", url.Values{"csrf": {formCSRF(t, form.body, "/_hubgate/logout")}})
	if out.StatusCode != http.StatusOK || !strings.Contains(out.body, "You are signed out") || strings.Contains(out.body, `id="legacy-open"`) {
		t.Fatalf("sign-out = %d\n%s", out.StatusCode, out.body)
	}
	e.up.mu.Lock()
	calls := e.up.logouts
	e.up.mu.Unlock()
	if len(calls) != 1 {
		t.Fatalf("legacy logout called %d times; want 1", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.Header.Get(proxy.HeaderLogout) != "1" || !strings.Contains(c.Header.Get("Cookie"), "legacy_session=7") ||
		strings.Contains(c.Header.Get("Cookie"), "hubgate") {
		t.Errorf("legacy logout call = %s, %s %q, Cookie %q; want POST with X-Hubgate-Logout and only the legacy cookie", c.Method, proxy.HeaderLogout, c.Header.Get(proxy.HeaderLogout), c.Header.Get("Cookie"))
	}
	if r := b.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami after hubgate's sign-out = %d; want 401 (the legacy session ended)", r.StatusCode)
	}

	// Without legacy.logout_path the page is honest about the old sign-in.
	e2 := newEnv(t, nil)
	b2 := e2.browser()
	b2.login(devhub.FrankID, "/")
	form = b2.get("/_hubgate/logout")
	out = b2.post("/_hubgate/logout", url.Values{"csrf": {formCSRF(t, form.body, "/_hubgate/logout")}})
	if !strings.Contains(out.body, `id="legacy-open"`) {
		t.Errorf("sign-out without a legacy logout does not say the old sign-in may be active\n%s", out.body)
	}
}

// TestPagesNameAppAndPeople: pages carry the app's name (not "Sign-in"),
// and name legacy people and organizations by name: the claim
// confirmation, the success page, the organization offer, the organization
// confirmation and its success page (which does not ask about "the right
// account"); the mail's subject names the app.
func TestPagesNameAppAndPeople(t *testing.T) {
	smtp := mailtest.NewServer(t)
	e := newEnv(t, func(c *proxy.Config) {
		c.AppName = "Acme Portal"
		m, err := mail.New(mail.Config{URL: smtp.URL(), From: "noreply@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		c.Mailer = m
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = e.px.Run(ctx) }()
	e.putPeople(claim.Person{ID: "1", Name: "Alice Adams", Email: "alice@legacy.example", Orgs: []string{"100"},
		OrgNames: map[string]string{"100": "Acme Print"}})
	is := e.issue(claim.KindPerson, "1", "")
	b := e.browser()
	confirm := b.get("/_hubgate/claim/" + is.Token.Reveal())
	for _, want := range []string{`<span id="app-name">Acme Portal</span>`, "<title>Link your Zaikio account · Acme Portal</title>", "Alice Adams", "your Acme Portal account"} {
		if !strings.Contains(confirm.body, want) {
			t.Errorf("claim confirmation lacks %q\n%s", want, confirm.body)
		}
	}
	if strings.Contains(confirm.body, "Sign-in</header>") || strings.Contains(confirm.body, "<code>1</code>") {
		t.Errorf("claim confirmation shows the generic brand or the id instead of the name\n%s", confirm.body)
	}
	linked := b.land(b.startClaim(is.Token, devhub.FrankID, ""))
	for _, want := range []string{"The account of Alice Adams is now linked", "Link Acme Print", "Not the right Zaikio account?"} {
		if !strings.Contains(linked.body, want) {
			t.Errorf("success page lacks %q\n%s", want, linked.body)
		}
	}
	offer := b.get("/_hubgate/claim-org")
	if !strings.Contains(offer.body, "Link Acme Print") {
		t.Errorf("organization offer does not name Acme Print\n%s", offer.body)
	}
	// An organization claim link names the organization; its success page
	// asks about the organization, not the account.
	ois := e.issue(claim.KindOrg, "100", "1")
	orgPage := b.get("/_hubgate/claim/" + ois.Token.Reveal())
	if !strings.Contains(orgPage.body, "<strong>Acme Print</strong>") || strings.Contains(orgPage.body, "<code>100</code>") {
		t.Errorf("organization confirmation does not name Acme Print\n%s", orgPage.body)
	}
	start := b.post("/_hubgate/claim/"+ois.Token.Reveal(), url.Values{"csrf": {csrfOf(t, orgPage.body)}})
	done := b.land(b.hubReturn(start.Header.Get("Location"), devhub.FrankID, devhub.BountySoapID))
	if done.StatusCode != http.StatusOK || !strings.Contains(done.body, "The organization Acme Print is now linked") ||
		!strings.Contains(done.body, "Bounty Soap") || strings.Contains(done.body, "Not the right account?") || !strings.Contains(done.body, "Not the right Zaikio organization?") {
		t.Errorf("organization success page = %d\n%s", done.StatusCode, done.body)
	}

	// "Send me my link" mails a link whose subject names the app.
	e.putPeople(claim.Person{ID: "2", Name: "Bob Brown", Email: "bob@legacy.example"})
	rs := e.browser()
	page := rs.get("/_hubgate/resend")
	rs.post("/_hubgate/resend", url.Values{"csrf": {csrfOf(t, page.body)}, "email": {"bob@legacy.example"}})
	msgs := smtp.WaitFor(t, 1, 5*time.Second)
	if got := msgs[0].Subject; got != "Link your Acme Portal account to Zaikio" {
		t.Errorf("mail subject = %q; want it to name the app", got)
	}
}

// TestRetiredLinkSaysLinked: once a person is linked, their other links
// say so and offer Zaikio sign-in (410), before any trip to Zaikio; the
// retirement is audited. A link issued after the link is just as dead.
func TestRetiredLinkSaysLinked(t *testing.T) { forProviders(t, testRetiredLinkSaysLinked) }

func testRetiredLinkSaysLinked(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	e.putPeople(claim.Person{ID: "42", Name: "Ann Example"})
	first := e.issue(claim.KindPerson, "42", "")
	second := e.issue(claim.KindPerson, "42", "")
	e.land(first.Token, e.frank)
	late := e.issue(claim.KindPerson, "42", "")
	for name, tok := range map[string]claim.Token{"retired": second.Token, "issued after the link": late.Token} {
		r := e.browser().get("/_hubgate/claim/" + tok.Reveal())
		if r.StatusCode != http.StatusGone || !strings.Contains(r.body, "This account is already linked") ||
			!strings.Contains(r.body, `href="/_hubgate/login" id="signin"`) || strings.Contains(r.body, `id="new-link"`) {
			t.Errorf("%s link = %d; want 410 \"already linked\" with sign-in and no new link\n%s", name, r.StatusCode, r.body)
		}
		if r := e.browser().post("/_hubgate/claim/"+tok.Reveal(), url.Values{"csrf": {"x"}}); r.StatusCode != http.StatusGone {
			t.Errorf("POST of the %s link = %d; want 410 before any flow", name, r.StatusCode)
		}
	}
	var retire *claim.Event
	for _, ev := range mustEvents(t, e) {
		if ev.Action == claim.ActionClaimRetire {
			retire = &ev
			break
		}
	}
	if retire == nil || retire.Subject != "person:42" || !strings.Contains(retire.Detail, second.Claim.ID) {
		t.Errorf("audit: retire event = %+v; want one for person:42 naming %s", retire, second.Claim.ID)
	}
}
