package proxy_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// Per-client limits (DESIGN §3: "Limits count abuse, not success"): forged
// callbacks cost the attacker, never the app's hub quota; an office behind
// one address signs in and claims without ever seeing 429; a client is an
// IPv4 address or an IPv6 /64, however many addresses it uses.

// stateOf returns the state of a hub authorize URL.
func stateOf(t *testing.T, authorize string) string {
	t.Helper()
	u, err := url.Parse(authorize)
	if err != nil || u.Query().Get("state") == "" {
		t.Fatalf("authorize URL %q has no state", authorize)
	}
	return u.Query().Get("state")
}

// wantTooMany checks the "too many attempts" page.
func wantTooMany(t *testing.T, what string, r *response) {
	t.Helper()
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many attempts") || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s = %d (Retry-After %q); want 429, the too-many-attempts page and Retry-After\n%s", what, r.StatusCode, r.Header.Get("Retry-After"), r.body)
	}
}

// TestSecurityForgedCallbacksNeverReachTheHub: a callback calls the hub's
// token endpoint only for a live, unused flow of this browser, and only
// while its client has failed-callback budget. Before, each /login plus a
// forged /callback cost one token-endpoint call with the app's credentials
// (200 pairs → 200 calls): a hub that throttles the app would then fail
// real sign-ins too. The token endpoint is counted at the real dev hub, or
// on the way to the OpenID Provider.
func TestSecurityForgedCallbacksNeverReachTheHub(t *testing.T) {
	forProviders(t, testSecurityForgedCallbacksNeverReachTheHub)
}

func testSecurityForgedCallbacksNeverReachTheHub(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	// At the OpenID Provider the token endpoint is counted on the way to it
	// (opTap).
	tokenCalls := e.tokenCalls

	t.Run("no live flow", func(t *testing.T) {
		before := tokenCalls()
		// A state no browser holds, a state whose cookie this browser does
		// not hold, and a state already used: 200 of them, in parallel.
		used := e.browser()
		start := used.get("/_hubgate/login?rd=%2F")
		usedCallback := used.hubReturn(start.Header.Get("Location"), e.frank, "")
		if r := used.get(usedCallback); r.StatusCode != http.StatusFound {
			t.Fatalf("real sign-in = %d\n%s", r.StatusCode, r.body)
		}
		before = tokenCalls()
		other := e.browserFrom("127.0.0.9")
		otherStart := other.get("/_hubgate/login?rd=%2F")
		otherState := stateOf(t, otherStart.Header.Get("Location"))
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				var r *response
				switch i % 3 {
				case 0:
					r = e.browser().get(fmt.Sprintf("/_hubgate/callback?state=forged%d&code=forged", i))
				case 1:
					r = used.get(usedCallback) // replayed: state used, code used
				default:
					r = e.browser().get("/_hubgate/callback?code=forged&state=" + url.QueryEscape(otherState))
				}
				if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusTooManyRequests {
					t.Errorf("forged callback %d = %d; want 400 or 429", i, r.StatusCode)
				}
			})
		}
		wg.Wait()
		if n := tokenCalls() - before; n != 0 {
			t.Errorf("200 callbacks without a live flow made %d token-endpoint calls; want 0", n)
		}
	})

	t.Run("login plus forged code", func(t *testing.T) {
		attacker := e.browserFrom("127.0.0.2")
		before := tokenCalls()
		var limited atomic.Int32
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range 200 {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				start := attacker.get("/_hubgate/login?rd=%2F")
				if start.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
					return
				}
				if start.StatusCode != http.StatusFound {
					t.Errorf("login %d = %d", i, start.StatusCode)
					return
				}
				r := attacker.get("/_hubgate/callback?code=forged&state=" + url.QueryEscape(stateOf(t, start.Header.Get("Location"))))
				if r.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				}
			})
		}
		wg.Wait()
		calls := tokenCalls() - before
		if calls > 30 {
			t.Errorf("200 sign-in starts with forged codes from one client made %d token-endpoint calls; want at most its failed-callback budget, 30", calls)
		}
		if limited.Load() == 0 {
			t.Error("no request of 200 forged pairs was limited")
		}
		// Spent: the next forged callback is refused before the hub.
		start := attacker.get("/_hubgate/login?rd=%2F")
		if start.StatusCode == http.StatusFound {
			r := attacker.get("/_hubgate/callback?code=forged&state=" + url.QueryEscape(stateOf(t, start.Header.Get("Location"))))
			wantTooMany(t, "forged callback after the budget", r)
		} else {
			wantTooMany(t, "sign-in start after 200 unfinished ones", start)
		}
		if n := tokenCalls() - before; n != calls {
			t.Errorf("the limited client made %d more token-endpoint calls", n-calls)
		}
		// Other clients sign in as before.
		b := e.browserFrom("127.0.0.3")
		start = b.get("/_hubgate/login?rd=%2Fok")
		if r := b.get(b.hubReturn(start.Header.Get("Location"), e.frank, "")); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/ok" {
			t.Errorf("another client's sign-in = %d to %q; want 302 to /ok\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
		}
	})
}

// TestSecuritySignInsFromOneAddressAllSucceed: 500 people behind one
// address sign in (16 at a time, all in the same instant of the proxy's
// clock, so nothing refills): none sees 429. A finished flow gives back
// its start and its callback.
func TestSecuritySignInsFromOneAddressAllSucceed(t *testing.T) {
	e := newEnv(t, nil)
	e.hub.AutoApprove(devhub.FrankID, "")
	t.Cleanup(func() { e.hub.AutoApprove("", "") })
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var ok atomic.Int32
	for i := range 500 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b := e.browser()
			rd := fmt.Sprintf("/desk/%d", i)
			start := b.get("/_hubgate/login?rd=" + url.QueryEscape(rd))
			if start.StatusCode != http.StatusFound {
				t.Errorf("sign-in %d: login = %d\n%s", i, start.StatusCode, start.body)
				return
			}
			hub := b.get(start.Header.Get("Location"))
			done := b.get(hub.Header.Get("Location"))
			if done.StatusCode != http.StatusFound || done.Header.Get("Location") != rd {
				t.Errorf("sign-in %d: callback = %d to %q; want 302 to %s\n%s", i, done.StatusCode, done.Header.Get("Location"), rd, done.body)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	if ok.Load() != 500 {
		t.Errorf("%d of 500 sign-ins from one address succeeded; want all", ok.Load())
	}
}

// TestSecurityClaimMorningFromOneOffice: the claim mails went out and 500
// people of one office, behind one address, claim their accounts in the
// same instant (before, the 21st claim start of a minute got 429): each
// start succeeds, so none counts against the failed-claims budget.
func TestSecurityClaimMorningFromOneOffice(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedDeny })
	const n = 500
	for i := range n {
		legacy := fmt.Sprintf("o%d", i)
		e.putPeople(claim.Person{ID: legacy, Email: legacy + "@office.example", Name: "Office " + legacy})
		is := e.issue(claim.KindPerson, legacy, "")
		person := e.hub.AddPerson(devhub.Person{FirstName: "Office", Name: legacy, Email: legacy + "@zaikio.example"})
		b := e.browser()
		page := b.get("/_hubgate/claim/" + is.Token.Reveal())
		start := b.post("/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {csrfOf(t, page.body)}})
		if start.StatusCode != http.StatusFound {
			t.Fatalf("claim start %d of one office = %d; want 302 to the hub\n%s", i+1, start.StatusCode, start.body)
		}
		if done := b.land(b.hubReturn(start.Header.Get("Location"), person.ID, "")); done.StatusCode != http.StatusOK {
			t.Fatalf("claim %d of one office = %d; want the success page\n%s", i+1, done.StatusCode, done.body)
		}
	}
	if l, err := e.link(claim.KindPerson, fmt.Sprintf("o%d", n-1)); err != nil {
		t.Errorf("last claim not linked: %v", err)
	} else if l.LegacyID != fmt.Sprintf("o%d", n-1) {
		t.Errorf("last link = %+v", l)
	}
}

// postAs posts a form from b as a trusted proxy forwarding for client.
func postAs(b *browser, path string, form url.Values, client string) *response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	req.Header.Set("X-Forwarded-For", client)
	return b.do(req)
}

// TestSecurityFailedClaimsLimitedPerNetwork: failed claim starts (unknown
// tokens, a failed form check) are limited per client, and a client is an
// IPv6 /64 (before: each full address had its own budget, so a /64 had 2^64
// of them) or an IPv4 address, also when written IPv4-mapped. Other
// networks keep their budgets, and successful starts never count.
func TestSecurityFailedClaimsLimitedPerNetwork(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.TrustedProxies = trustLoopback() })
	edge := e.browser() // the trusted front; clients come through it
	unknown := func(client string, i int) *response {
		return postAs(edge, "/_hubgate/claim/"+strings.Repeat("A", 42)+fmt.Sprintf("%01d", i%10), url.Values{"csrf": {"x"}}, client)
	}
	for i := range 20 {
		client := fmt.Sprintf("2001:db8:1:2::%x", i+1) // another address of the same /64 each time
		if r := unknown(client, i); r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("failed claim %d from the /64 = 429; want the budget of 20 first", i+1)
		}
	}
	wantTooMany(t, "21st failed claim from another address of the same /64", unknown("2001:db8:1:2:ffff:ffff:ffff:ffff", 0))
	if r := unknown("2001:db8:1:3::1", 0); r.StatusCode == http.StatusTooManyRequests {
		t.Error("a neighbouring /64 is limited by another's failures; want its own budget")
	}

	// IPv4: an address and its IPv4-mapped spelling are one client.
	is := e.issue(claim.KindPerson, "42", "")
	for i := range 20 {
		client := "198.51.100.7"
		if i%2 == 1 {
			client = "::ffff:198.51.100.7"
		}
		// A live token with a wrong form token: a failed CSRF check counts.
		if r := postAs(edge, "/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {"wrong"}}, client); r.StatusCode != http.StatusForbidden {
			t.Fatalf("claim with a wrong form token %d = %d; want 403", i+1, r.StatusCode)
		}
	}
	wantTooMany(t, "21st failed claim from 198.51.100.7", unknown("::ffff:198.51.100.7", 1))
	if r := unknown("198.51.100.8", 2); r.StatusCode == http.StatusTooManyRequests {
		t.Error("198.51.100.8 is limited by 198.51.100.7's failures")
	}

	// Successful starts do not count: 50 from one client, then its budget
	// of failures is whole.
	b := e.browser()
	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	csrf := csrfOf(t, page.body)
	for i := range 50 {
		if r := postAs(b, "/_hubgate/claim/"+is.Token.Reveal(), url.Values{"csrf": {csrf}}, "203.0.113.5"); r.StatusCode != http.StatusFound {
			t.Fatalf("claim start %d = %d; want 302 (successes never count)\n%s", i+1, r.StatusCode, r.body)
		}
	}
	for i := range 20 {
		if r := unknown("203.0.113.5", i); r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("failed claim %d after 50 successful starts = 429; want the whole budget of 20", i+1)
		}
	}
}

// TestLimitsConfigurable: each budget follows Config.Limits, the IPv6
// prefix too; negative turns a limit off.
func TestLimitsConfigurable(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Limits = proxy.Limits{FlowStarts: 3, FailedCallbacks: -1, FailedClaims: 2, IPv6Prefix: 48}
		c.TrustedProxies = trustLoopback()
	})
	b := e.browser()
	for i := range 3 {
		if r := b.get("/_hubgate/login?rd=%2F"); r.StatusCode != http.StatusFound {
			t.Fatalf("flow start %d = %d; want 302 (budget 3)", i+1, r.StatusCode)
		}
	}
	wantTooMany(t, "4th unfinished flow start (budget 3)", b.get("/_hubgate/login?rd=%2F"))
	for i := range 40 {
		if r := b.get("/_hubgate/callback?state=x&code=y"); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("failed callback %d = %d; want 400 (no limit)", i+1, r.StatusCode)
		}
	}
	fail := func(client string) *response {
		return postAs(b, "/_hubgate/claim/"+strings.Repeat("B", 43), url.Values{"csrf": {"x"}}, client)
	}
	for _, client := range []string{"2001:db8:1::1", "2001:db8:1:ffff::1"} {
		if r := fail(client); r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("failed claim from %s = 429; want the budget of 2 first", client)
		}
	}
	wantTooMany(t, "3rd failed claim from the same /48", fail("2001:db8:1:abcd::1"))
	if r := fail("2001:db8:2::1"); r.StatusCode == http.StatusTooManyRequests {
		t.Error("another /48 is limited; want its own budget")
	}
	if _, err := proxy.New(proxy.Config{PublicURL: "https://a.example", Upstream: "http://u", Hub: e.spy, Store: e.store,
		SessionSecrets: [][]byte{make([]byte, 32)}, Limits: proxy.Limits{IPv6Prefix: 129}}); err == nil || !strings.Contains(err.Error(), "ipv6") {
		t.Errorf("New with an IPv6 prefix of 129 = %v; want an error naming it", err)
	}
}
