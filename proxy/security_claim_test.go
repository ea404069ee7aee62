package proxy_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// TestSecurityNoLinkByEmailEquality: a Zaikio person whose email equals an
// unlinked legacy person's (in any letter case) is neither linked to it nor
// shown it, under every unlinked policy: emails are not proof of identity
// (an address can be recycled, or registered at the hub by someone else).
func TestSecurityNoLinkByEmailEquality(t *testing.T) {
	forProviders(t, testSecurityNoLinkByEmailEquality)
}

func testSecurityNoLinkByEmailEquality(t *testing.T, pv provider) {
	leaks := func(t *testing.T, what string, s string) {
		t.Helper()
		for _, bad := range []string{"legacy-twin", "Legacy Twin", "Upper Twin", "twin-org"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s mentions the legacy person with the same email (%q)", what, bad)
			}
		}
	}
	for _, policy := range []proxy.Unlinked{proxy.UnlinkedDeny, proxy.UnlinkedPass, proxy.UnlinkedProvision} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnvOf(t, pv, func(c *proxy.Config) {
				c.Unlinked = policy
				c.ProvisionURL = "/api/provision"
				c.Whoami = "/api/me"
			})
			frankEmail := e.email(e.frank)
			e.putPeople(
				claim.Person{ID: "legacy-twin-77", Email: frankEmail, Name: "Legacy Twin", Orgs: []string{"twin-org-770"}},
				claim.Person{ID: "legacy-twin-78", Email: strings.ToUpper(frankEmail), Name: "Upper Twin"},
			)
			b := e.browser()
			resp := b.login(e.frank, "/x")
			leaks(t, "sign-in answer", resp.body)
			for k, vs := range resp.Header {
				if k != "Set-Cookie" { // sealed values; names are checked below
					leaks(t, "sign-in header "+k, strings.Join(vs, " "))
				}
			}
			for _, c := range resp.Cookies() {
				leaks(t, "cookie name", c.Name)
			}
			resp = b.shown(resp) // the page after the callback (post/redirect/get)
			leaks(t, "page after sign-in", resp.body)
			for _, id := range []string{"legacy-twin-77", "legacy-twin-78"} {
				if l, err := e.link(claim.KindPerson, id); err == nil {
					t.Errorf("legacy %s was linked to %s by email", id, l.ZaikioID)
				}
			}
			switch policy {
			case proxy.UnlinkedDeny:
				if resp.StatusCode != http.StatusForbidden || b.sessionCookie() != "" {
					t.Errorf("deny: sign-in = %d (session %v); want 403 and no session", resp.StatusCode, b.sessionCookie() != "")
				}
			case proxy.UnlinkedPass:
				h := b.upstreamHeaders("/x")
				if got := h.Get(proxy.HeaderUser); got != "" {
					t.Errorf("pass: upstream user = %q; want none", got)
				}
				leaks(t, "pass: upstream headers", strings.Join(h.Values(proxy.HeaderOrgs), ","))
				leaks(t, "/_hubgate/me", b.get("/_hubgate/me").body)
			case proxy.UnlinkedProvision:
				if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "9001" {
					t.Errorf("provision: upstream user = %q; want the provisioned 9001", got)
				}
			}
			// The claim pages offered to the unlinked person do not name the
			// twin either.
			for _, p := range []string{"/_hubgate/claim", "/_hubgate/claim-org", "/_hubgate/resend"} {
				leaks(t, p, b.get(p).body)
			}
		})
	}
}

// TestSecurityClaimTokensStrongHashedSingleUse: claim tokens carry 256
// random bits (well over 128), are unique, and only their SHA-256 reaches
// the store file; neither the hub redirect nor the success page repeats a
// token; a used token links nothing more.
func TestSecurityClaimTokensStrongHashedSingleUse(t *testing.T) {
	forProviders(t, testSecurityClaimTokensStrongHashedSingleUse)
}

func testSecurityClaimTokensStrongHashedSingleUse(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Limits.FailedClaims = -1 })
	seen := map[string]bool{}
	var toks []claim.Token
	for i := 0; i < 500; i++ {
		is := e.issue(claim.KindPerson, "p"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "")
		s := is.Token.Reveal()
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw)*8 < 128 {
			t.Fatalf("token %d: %d bits (%v); want ≥ 128", i, len(raw)*8, err)
		}
		if seen[s] {
			t.Fatalf("token %d repeats an earlier one", i)
		}
		seen[s] = true
		toks = append(toks, is.Token)
	}
	file, err := os.ReadFile(e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		if strings.Contains(string(file), tok.Reveal()) || strings.Contains(string(file), tok.Reveal()[:24]) {
			t.Fatalf("token %d appears in the store file in the clear", i)
		}
		if c, err := e.store.ClaimByHash(context.Background(), tok.Hash()); err != nil || c.LegacyID == "" {
			t.Fatalf("token %d: ClaimByHash = %v", i, err)
		}
	}
	b := e.browser()
	tok := toks[0]
	page := b.get("/_hubgate/claim/" + tok.Reveal())
	start := b.post("/_hubgate/claim/"+tok.Reveal(), url.Values{"csrf": {csrfOf(t, page.body)}})
	if loc := start.Header.Get("Location"); strings.Contains(loc, tok.Reveal()) {
		t.Errorf("the hub redirect carries the claim token: %s", loc)
	}
	for _, c := range start.Cookies() {
		if strings.Contains(c.Value, tok.Reveal()) {
			t.Errorf("cookie %s carries the claim token in the clear", c.Name)
		}
	}
	done := b.land(b.hubReturn(start.Header.Get("Location"), e.frank, ""))
	if done.StatusCode != http.StatusOK || strings.Contains(done.body, tok.Reveal()) {
		t.Errorf("success page = %d, carries the token: %v", done.StatusCode, strings.Contains(done.body, tok.Reveal()))
	}
	// Single use: the same token in another browser, for another person.
	other := e.browser()
	page = other.get("/_hubgate/claim/" + tok.Reveal())
	if page.StatusCode != http.StatusConflict {
		t.Errorf("claim page of a used token = %d; want 409", page.StatusCode)
	}
	if r := other.post("/_hubgate/claim/"+tok.Reveal(), url.Values{"csrf": {"x"}}); r.StatusCode != http.StatusConflict || r.Header.Get("Location") != "" {
		t.Errorf("POST of a used token = %d to %q; want 409 and no flow", r.StatusCode, r.Header.Get("Location"))
	}
	links, _ := e.store.Links(context.Background(), claim.KindPerson, "", 0)
	if len(links) != 1 {
		t.Errorf("%d links; want 1", len(links))
	}
}

// TestSecurityStateChangingPostsNeedCSRF: every POST that starts a flow,
// links, unlinks or remembers a choice wants our page's CSRF token for that
// very action in this browser, and refuses cross-site requests; a refused
// POST changes nothing and starts no flow. (TestClaimPostNeedsCSRFAndOrigin
// covers the basic cases for claim links.)
func TestSecurityStateChangingPostsNeedCSRF(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Limits.FailedClaims = -1
		c.Whoami = "/api/me"
		c.Mode = migration.Offer
	})
	e.putPeople(claim.Person{ID: "1", Orgs: []string{"org-1"}})
	is := e.issue(claim.KindPerson, "42", "")
	other := e.issue(claim.KindPerson, "43", "")
	b := e.browser()
	b.setCookie("legacy_session", "1")
	claimPage := b.get("/_hubgate/claim/" + is.Token.Reveal())
	otherPage := b.get("/_hubgate/claim/" + other.Token.Reveal())
	offer := b.get("/login")
	sessionClaim := b.get("/_hubgate/claim")
	claimTok, otherTok, offerTok := csrfOf(t, claimPage.body), csrfOf(t, otherPage.body), csrfOf(t, offer.body)
	sessionTok := csrfOf(t, sessionClaim.body)
	if claimTok == otherTok || claimTok == offerTok {
		t.Fatal("CSRF tokens are not bound to their action")
	}
	posts := []struct {
		path  string
		valid string // the right token for this action
		extra url.Values
	}{
		{"/_hubgate/claim/" + is.Token.Reveal(), claimTok, nil},
		{"/_hubgate/continue-legacy", offerTok, url.Values{"rd": {"/login"}}},
		{"/_hubgate/claim", sessionTok, nil},
		{"/_hubgate/claim-org", "", url.Values{"org": {"org-1"}}},
		{"/_hubgate/claim-undo", "", url.Values{"kind": {"person"}, "legacy_id": {"42"}}},
	}
	for _, p := range posts {
		foreign := offerTok
		if p.valid == offerTok {
			foreign = claimTok
		}
		for _, tc := range []struct {
			name   string
			token  string
			header [2]string
		}{
			{"no token", "", [2]string{}},
			{"token of another claim", otherTok, [2]string{}},
			{"token of another action", foreign, [2]string{}},
			{"right token, cross-site fetch", p.valid, [2]string{"Sec-Fetch-Site", "cross-site"}},
			{"right token, foreign origin", p.valid, [2]string{"Origin", "https://evil.example"}},
			{"right token, null origin", p.valid, [2]string{"Origin", "null"}},
			{"right token, origin of another port", p.valid, [2]string{"Origin", "http://" + strings.Split(e.addr(), ":")[0] + ":1"}},
		} {
			if strings.HasPrefix(tc.name, "right token") && p.valid == "" {
				continue // no page hands out this action's token in this setup
			}
			form := url.Values{"csrf": {tc.token}}
			for k, v := range p.extra {
				form[k] = v
			}
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+p.path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.srv.URL)
			if tc.header[0] != "" {
				req.Header.Set(tc.header[0], tc.header[1])
			}
			before := len(b.jar.Cookies(mustURL(e.srv.URL)))
			resp := b.do(req)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
				t.Errorf("POST %s (%s) = %d to %q; want 403", p.path, tc.name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if after := len(b.jar.Cookies(mustURL(e.srv.URL))); after > before {
				t.Errorf("POST %s (%s) set a cookie", p.path, tc.name)
			}
		}
	}
	if c, _ := e.store.ClaimByHash(context.Background(), is.Token.Hash()); !c.UsedAt.IsZero() {
		t.Error("a refused POST consumed the claim")
	}
	if links, _ := e.store.Links(context.Background(), claim.KindPerson, "", 0); len(links) != 0 {
		t.Errorf("refused POSTs wrote links: %v", links)
	}
	// GET never starts a claim flow, whatever it carries.
	for _, q := range []string{"", "?csrf=" + url.QueryEscape(claimTok), "?start=1"} {
		r := b.get("/_hubgate/claim/" + is.Token.Reveal() + q)
		if r.StatusCode != http.StatusOK || r.Header.Get("Location") != "" {
			t.Errorf("GET claim%s = %d to %q; want the confirmation page", q, r.StatusCode, r.Header.Get("Location"))
		}
	}
}
