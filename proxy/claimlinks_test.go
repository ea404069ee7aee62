package proxy_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// auditSnapshot is what a request must not change when it only looks at a
// claim link: every claim (used/revoked marks included), every link, the
// audit log and the server-side sessions.
type auditSnapshot struct {
	Claims   []claim.Claim
	Persons  []claim.Link
	Orgs     []claim.Link
	Events   []claim.Event
	Sessions int
}

func auditSnap(t *testing.T, e *env) auditSnapshot {
	t.Helper()
	ctx := context.Background()
	var s auditSnapshot
	var err error
	if s.Claims, err = e.store.Claims(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if s.Persons, err = e.store.Links(ctx, claim.KindPerson, "", 0); err != nil {
		t.Fatal(err)
	}
	if s.Orgs, err = e.store.Links(ctx, claim.KindOrg, "", 0); err != nil {
		t.Fatal(err)
	}
	if s.Events, err = e.store.Events(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	sess, err := e.store.Sessions(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Sessions = len(sess)
	return s
}

// auditRandomToken is a string of n characters of the token alphabet that
// no page could contain by chance.
func auditRandomToken(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// TestClaimLinkErrorPages opens claim links that cannot be redeemed —
// expired, revoked, unknown, malformed — with GET (a person, a mail scanner)
// and with POST (the confirmation form): each answers its documented status
// with a readable page that never repeats the token, starts no flow, and
// leaves the store exactly as it was.
func TestClaimLinkErrorPages(t *testing.T) { forProviders(t, testClaimLinkErrorPages) }

func testClaimLinkErrorPages(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Limits.FailedClaims = -1 }) // many POSTs from one address
	ctx := context.Background()
	e.putPeople(claim.Person{ID: "42", Email: "ann@legacy.example", Name: "Ann Example"})
	expired, err := e.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: time.Hour, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	revoked := e.issue(claim.KindPerson, "43", "")
	if err := e.store.RevokeClaim(ctx, revoked.Claim.ID, "test", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	open := e.issue(claim.KindPerson, "44", "") // the control: still usable
	e.clock.Advance(time.Hour + time.Second)

	unknown, err := claim.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	// A canonical token's last character encodes 4 bits and 2 zero bits; the
	// next character of the alphabet sets a trailing bit: same bytes, other text.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	o := open.Token.Reveal()
	nonCanonical := o[:42] + string(alphabet[strings.IndexByte(alphabet, o[42])+1])

	type tc struct {
		name   string
		token  string // as it appears in the URL path, unescaped
		status int
		title  string
	}
	cases := []tc{
		{"expired", expired.Token.Reveal(), http.StatusGone, "This link has expired"},
		{"revoked", revoked.Token.Reveal(), http.StatusGone, "This link was withdrawn"},
		{"unknown well-formed", unknown.Reveal(), http.StatusNotFound, "This link is not valid"},
		{"non-canonical last character", nonCanonical, http.StatusNotFound, "This link is not valid"},
		{"too short", auditRandomToken(t, 12), http.StatusNotFound, "This link is not valid"},
		{"42 characters", auditRandomToken(t, 42), http.StatusNotFound, "This link is not valid"},
		{"44 characters", auditRandomToken(t, 44), http.StatusNotFound, "This link is not valid"},
		{"base64 padding", auditRandomToken(t, 42) + "=", http.StatusNotFound, "This link is not valid"},
		{"standard base64 plus", auditRandomToken(t, 42) + "+", http.StatusNotFound, "This link is not valid"},
		{"bad character !", auditRandomToken(t, 21) + "!" + auditRandomToken(t, 21), http.StatusNotFound, "This link is not valid"},
		{"space", auditRandomToken(t, 21) + " " + auditRandomToken(t, 21), http.StatusNotFound, "This link is not valid"},
		{"markup", auditRandomToken(t, 20) + "<b>" + auditRandomToken(t, 20), http.StatusNotFound, "This link is not valid"},
		{"non-ASCII", auditRandomToken(t, 40) + "é", http.StatusNotFound, "This link is not valid"},
	}
	if nonCanonical == o {
		t.Fatal("test bug: non-canonical token equals the original")
	}
	if _, err := claim.ParseToken(nonCanonical); err == nil {
		t.Fatal("test bug: the altered token still parses")
	}

	before := auditSnap(t, e)
	b := e.browser()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := e.srv.URL + "/_hubgate/claim/" + url.PathEscape(c.token)
			get := b.get(target)
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"csrf": {"x"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.srv.URL)
			post := b.do(req)
			for _, r := range []*response{get, post} {
				m := r.Request.Method
				if r.StatusCode != c.status {
					t.Errorf("%s = %d; want %d\n%s", m, r.StatusCode, c.status, r.body)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s Content-Type = %q; want a page", m, ct)
				}
				if !strings.Contains(r.body, "<h1>"+c.title+"</h1>") || !requestIDRE.MatchString(r.body) {
					t.Errorf("%s page lacks the heading %q or the request id:\n%s", m, c.title, r.body)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("%s Cache-Control = %q; want no-store", m, r.Header.Get("Cache-Control"))
				}
				if loc := r.Header.Get("Location"); loc != "" {
					t.Errorf("%s redirects to %q; a dead link must start no flow", m, loc)
				}
				for _, ck := range r.Cookies() {
					if strings.Contains(ck.Name, "hubgate_flow") || ck.Name == "hubgate" {
						t.Errorf("%s sets cookie %s", m, ck.Name)
					}
				}
				forms := []string{c.token, url.PathEscape(c.token), url.QueryEscape(c.token), html.EscapeString(c.token)}
				if len(c.token) >= 16 {
					forms = append(forms, c.token[:16])
				}
				for _, form := range forms {
					if len(form) >= 8 && strings.Contains(r.body, form) {
						t.Errorf("%s page repeats the token (%q…)", m, form[:6])
					}
				}
				if strings.Contains(r.body, `name="csrf"`) {
					t.Errorf("%s page offers a confirmation form for a dead link", m)
				}
			}
		})
	}
	// The open control link still shows its confirmation page (GET never
	// consumes), and nothing at all changed in the store.
	if r := b.get("/_hubgate/claim/" + open.Token.Reveal()); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="csrf"`) {
		t.Errorf("the open control link = %d; want its confirmation page", r.StatusCode)
	}
	after := auditSnap(t, e)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("opening dead claim links changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, c := range after.Claims {
		if !c.UsedAt.IsZero() {
			t.Errorf("claim %s (legacy %s) is marked used", c.ID, c.LegacyID)
		}
	}
	logs := e.logs.String()
	for _, c := range cases {
		if len(c.token) >= 12 && strings.Contains(logs, c.token[:12]) {
			t.Errorf("case %q: the token appears in the log", c.name)
		}
	}
}

// TestOrgClaimNamedClaimer walks an org claim link minted for a named
// claimer (legacy person 1) by that claimer: person claim first, then the
// org link's confirmation page, the org flow at the hub (Frank owns Bounty
// Soap), and back: the org is linked, the claim consumed for that org, and
// the upstream sees the org and the mapped role.
func TestOrgClaimNamedClaimer(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedDeny })
	ctx := context.Background()
	orgClaim := e.issue(claim.KindOrg, "100", "1")
	b := e.browser()
	claimPersonAs(t, e, b, "1", devhub.FrankID)

	page := b.get("/_hubgate/claim/" + orgClaim.Token.Reveal())
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "<code>100</code>") {
		t.Fatalf("org claim page for the named claimer = %d; want 200 naming org 100\n%s", page.StatusCode, page.body)
	}
	if c, _ := e.store.ClaimByHash(ctx, orgClaim.Token.Hash()); !c.UsedAt.IsZero() {
		t.Fatal("GET of the org claim link consumed it")
	}
	resp := b.post("/_hubgate/claim/"+orgClaim.Token.Reveal(), url.Values{"csrf": {csrfOf(t, page.body)}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST org claim = %d; want 302 to the hub\n%s", resp.StatusCode, resp.body)
	}
	auth := mustURL(resp.Header.Get("Location"))
	if auth.Query().Get("scope") != "Per>Org.zaikio.organization.r" || auth.Query().Get("prompt") != "select_account" {
		t.Errorf("org flow authorize query = %v; want the org scope and the account chooser", auth.Query())
	}
	if strings.Contains(auth.String(), orgClaim.Token.Reveal()) {
		t.Error("the claim token travels to the hub")
	}
	done := b.land(b.hubReturn(auth.String(), devhub.FrankID, devhub.BountySoapID))
	if done.StatusCode != http.StatusOK || !strings.Contains(done.body, "Bounty Soap") {
		t.Fatalf("org callback = %d; want 200 naming Bounty Soap\n%s", done.StatusCode, done.body)
	}
	l, err := e.link(claim.KindOrg, "100")
	if err != nil || l.ZaikioID != devhub.BountySoapID || l.Via != "claim:"+orgClaim.Claim.ID {
		t.Fatalf("org link = %+v, %v; want Bounty Soap via claim %s", l, err, orgClaim.Claim.ID)
	}
	c, err := e.store.ClaimByHash(ctx, orgClaim.Token.Hash())
	if err != nil || c.UsedAt.IsZero() || c.UsedBy != devhub.BountySoapID {
		t.Errorf("org claim after the flow = %+v, %v; want used for Bounty Soap", c, err)
	}
	h := b.upstreamHeaders("/x")
	if h.Get(proxy.HeaderUser) != "1" || h.Get(proxy.HeaderOrgs) != "100" || h.Get(proxy.HeaderRoles) != "100:admin" {
		t.Errorf("upstream user %q orgs %q roles %q; want 1, 100, 100:admin", h.Get(proxy.HeaderUser), h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles))
	}
	// The link is single use: the same link again is "already used".
	if r := b.get("/_hubgate/claim/" + orgClaim.Token.Reveal()); r.StatusCode != http.StatusConflict {
		t.Errorf("org claim link after use = %d; want 409", r.StatusCode)
	}
}

// TestOrgClaimStartRefusedForUnlinked: the POST that starts an org
// claim is refused for a browser whose session is an unlinked person (or
// that has no session), even with a CSRF token that browser legitimately
// obtained for that very claim, and nothing is consumed or written.
func TestOrgClaimStartRefusedForUnlinked(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedPass; c.Limits.FailedClaims = -1 })
	ctx := context.Background()
	orgClaim := e.issue(claim.KindOrg, "100", "")
	b := e.browser()
	// While linked (legacy 1 ⇄ Frank) the browser is shown the confirmation
	// form; its CSRF token is bound to this browser and this claim.
	claimPersonAs(t, e, b, "1", devhub.FrankID)
	page := b.get("/_hubgate/claim/" + orgClaim.Token.Reveal())
	if page.StatusCode != http.StatusOK {
		t.Fatalf("org claim page while linked = %d\n%s", page.StatusCode, page.body)
	}
	csrf := csrfOf(t, page.body)

	start := func(t *testing.T, wantStatus int, wantText string) {
		t.Helper()
		before := auditSnap(t, e)
		resp := b.post("/_hubgate/claim/"+orgClaim.Token.Reveal(), url.Values{"csrf": {csrf}})
		if resp.StatusCode != wantStatus || !strings.Contains(resp.body, wantText) {
			t.Errorf("POST org claim = %d; want %d saying %q\n%s", resp.StatusCode, wantStatus, wantText, resp.body)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("refused org claim redirects to %q", loc)
		}
		for _, ck := range resp.Cookies() {
			if strings.Contains(ck.Name, "hubgate_flow") && ck.MaxAge >= 0 {
				t.Errorf("refused org claim sets flow cookie %s", ck.Name)
			}
		}
		if after := auditSnap(t, e); !reflect.DeepEqual(before, after) {
			t.Errorf("refused org claim changed the store:\nbefore %+v\nafter  %+v", before, after)
		}
		if c, _ := e.store.ClaimByHash(ctx, orgClaim.Token.Hash()); !c.UsedAt.IsZero() {
			t.Error("refused org claim consumed the token")
		}
		if _, err := e.link(claim.KindOrg, "100"); !errors.Is(err, claim.ErrNotFound) {
			t.Errorf("org 100 got linked: %v", err)
		}
	}

	t.Run("unlinked person", func(t *testing.T) {
		// Same browser (same CSRF nonce), now signed in as Ada, who is not
		// linked to any legacy person (unlinked: pass gives her a session).
		// (select_account: an existing session would otherwise just go to rd.)
		r := b.get("/_hubgate/login?prompt=select_account&rd=%2F")
		if r.StatusCode != http.StatusFound {
			t.Fatalf("GET /_hubgate/login = %d\n%s", r.StatusCode, r.body)
		}
		if r = b.get(b.hubReturn(r.Header.Get("Location"), devhub.AdaID, "")); r.StatusCode != http.StatusFound {
			t.Fatalf("Ada's sign-in = %d\n%s", r.StatusCode, r.body)
		}
		if h := b.upstreamHeaders("/who"); h.Get(proxy.HeaderPerson) != devhub.AdaID || h.Get(proxy.HeaderUser) != "" {
			t.Fatalf("browser is not Ada unlinked: person %q user %q", h.Get(proxy.HeaderPerson), h.Get(proxy.HeaderUser))
		}
		start(t, http.StatusForbidden, "Link your own account first")
	})
	t.Run("signed out", func(t *testing.T) {
		if r := b.logout(""); r.StatusCode >= 400 {
			t.Fatalf("logout = %d", r.StatusCode)
		}
		start(t, http.StatusUnauthorized, "Please sign in")
	})
	// Control: the refusals were about the session, not the link: Frank
	// (linked to legacy 1, owner of Bounty Soap) still redeems it.
	b2 := e.browser()
	b2.login(devhub.FrankID, "/")
	page2 := b2.get("/_hubgate/claim/" + orgClaim.Token.Reveal())
	resp := b2.post("/_hubgate/claim/"+orgClaim.Token.Reveal(), url.Values{"csrf": {csrfOf(t, page2.body)}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST org claim by the linked owner = %d\n%s", resp.StatusCode, resp.body)
	}
	if done := b2.land(b2.hubReturn(resp.Header.Get("Location"), devhub.FrankID, devhub.BountySoapID)); done.StatusCode != http.StatusOK {
		t.Fatalf("org callback = %d\n%s", done.StatusCode, done.body)
	}
	if l, err := e.link(claim.KindOrg, "100"); err != nil || l.ZaikioID != devhub.BountySoapID {
		t.Errorf("org link after the refusals = %+v, %v; want Bounty Soap", l, err)
	}
}
