package proxy_test

// Fault tolerance on real listeners: the hub down, slow, rate-limiting or
// failing during sign-in and during revalidation; the upstream down or slow;
// the store failing at any step of a claim; slow and oversized request
// bodies. The hub and upstream tests check with goleak that they leave no
// goroutine behind.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// faultEnv is an env whose hub client talks to the dev hub through a front
// server the test can close (the hub goes off the network) and has a 1 s
// timeout (a slow hub is a timeout, quickly).
func faultEnv(t *testing.T, mutate func(*proxy.Config)) (*env, *httptest.Server) {
	t.Helper()
	var front *httptest.Server
	e := newEnv(t, func(c *proxy.Config) {
		target := mustURL(c.Hub.(*spyHub).Client.BaseURL())
		front = httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		}, ErrorLog: log.New(io.Discard, "", 0)}) // a client giving up is expected here
		t.Cleanup(front.Close)
		hc, err := zaikio.New(zaikio.Config{URL: front.URL, ClientID: testClient, ClientSecret: testSecret, AppName: testApp,
			RedirectURL: c.PublicURL + "/_hubgate/callback", Now: c.Now,
			HTTPClient: &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}})
		if err != nil {
			t.Fatal(err)
		}
		c.Hub = &spyHub{Client: hc}
		if mutate != nil {
			mutate(c)
		}
	})
	return e, front
}

// wantHubDownPage checks a clear 503 page: the hub_down message, a request
// id, a way to try again, and nothing else from our code.
func wantHubDownPage(t *testing.T, what string, r *response) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s = %d; want 503\n%s", what, r.StatusCode, r.body)
	}
	if !strings.Contains(r.body, "Zaikio is not reachable") || !requestIDRE.MatchString(r.body) || !strings.Contains(r.body, `href="/_hubgate/login"`) {
		t.Errorf("%s: the 503 page does not say the hub is down, give a request id and offer to sign in again:\n%s", what, r.body)
	}
	for _, leak := range []string{"zaikio:", "dial tcp", "connection refused", "Client.Timeout", "oidc"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("%s: the page leaks %q", what, leak)
		}
	}
}

// TestFaultHubDuringSignIn: whatever the hub does at the callback — gone,
// slow, 5xx, rate-limiting past our patience, key set unavailable — the
// person gets a clear 503 page and no session; a single 429 is retried
// after RateLimit-Reset and the sign-in succeeds.
func TestFaultHubDuringSignIn(t *testing.T) {
	verifyNoLeaks(t)
	cases := []struct {
		name  string
		fault func(e *env, front *httptest.Server)
		ok    bool // the sign-in succeeds (after retrying)
		calls int  // token endpoint calls, when > 0
	}{
		{"hub off the network", func(e *env, front *httptest.Server) { front.Close() }, false, 0},
		{"hub slower than our timeout", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Delay: 3 * time.Second})
		}, false, 0},
		{"token 500", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 500}) }, false, 1},
		{"token 502", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 502}) }, false, 1},
		{"token 503", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 503}) }, false, 1},
		{"person 500", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 500}) }, false, 0},
		{"person 503 beyond the retries", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 503, Times: 3})
		}, false, 0},
		{"person slow", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Delay: 3 * time.Second, Times: 3})
		}, false, 0},
		{"key set unavailable", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 503, Times: 5})
		}, false, 0},
		{"key set rate-limited", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 429, Times: 5})
		}, false, 0},
		{"token 429 beyond our patience", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 429, Times: 5})
		}, false, 3},
		{"token 429 once", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 429}) }, true, 2},
		{"person 429 once", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 429}) }, true, 1},
		{"person 503 once", func(e *env, _ *httptest.Server) { e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 503}) }, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, front := faultEnv(t, nil)
			b := e.browser()
			cb := b.authorizeAs(devhub.FrankID)
			before := e.hub.Requests(devhub.EndpointToken)
			tc.fault(e, front)
			start := time.Now()
			resp := b.get(cb)
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("the callback took %s; want an answer within the hub client's bounds", took)
			}
			if tc.ok {
				if resp.StatusCode != http.StatusFound || b.identity() == "" {
					t.Fatalf("callback = %d, signed in %v; want 302 and a session after the retry\n%s", resp.StatusCode, b.identity() != "", resp.body)
				}
			} else {
				wantHubDownPage(t, "callback", resp)
				if b.sessionCookie() != "" {
					t.Error("a session cookie was set")
				}
			}
			if tc.calls > 0 {
				if got := e.hub.Requests(devhub.EndpointToken) - before; got != tc.calls {
					t.Errorf("token endpoint calls = %d; want %d", got, tc.calls)
				}
			}
		})
	}
}

// TestFaultHubDuringRevalidation: when a session's revalidation is due and
// the hub is down, slow, failing, rate-limiting or cannot serve its keys,
// the session keeps working for the grace period (without every request
// waiting for the hub again), then requires sign-in; never a 5xx.
func TestFaultHubDuringRevalidation(t *testing.T) {
	verifyNoLeaks(t)
	cases := []struct {
		name  string
		fault func(e *env, front *httptest.Server)
	}{
		{"hub off the network", func(e *env, front *httptest.Server) { front.Close() }},
		{"hub slow", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Delay: 3 * time.Second, Times: 100})
		}},
		{"token 500", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 500, Times: 100})
		}},
		{"token 429", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: 429, Times: 100})
		}},
		{"person 503", func(e *env, _ *httptest.Server) {
			e.hub.FailNext(devhub.EndpointPerson, devhub.Failure{Status: 503, Times: 100})
		}},
		{"keys unavailable after a key rotation", func(e *env, _ *httptest.Server) {
			e.hub.RotateKey()
			e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 503, Times: 100})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, front := faultEnv(t, func(c *proxy.Config) {
				c.Mode = migration.Enforce
				c.Revalidate = time.Minute
				c.RevalidateGrace = 10 * time.Minute
			})
			b := e.browser()
			if r := b.login(devhub.FrankID, "/"); r.StatusCode != http.StatusFound {
				t.Fatalf("sign-in = %d", r.StatusCode)
			}
			tc.fault(e, front)
			e.clock.Advance(5 * time.Minute) // due, within grace
			if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != devhub.FrankID {
				t.Fatalf("within grace: upstream person = %q; want %s", got, devhub.FrankID)
			}
			tokenCalls := e.hub.Requests(devhub.EndpointToken)
			start := time.Now()
			for i := 0; i < 5; i++ {
				if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != devhub.FrankID {
					t.Fatalf("within grace, request %d: upstream person = %q", i, got)
				}
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("5 requests within grace took %s: each waited for the hub again", took)
			}
			if got := e.hub.Requests(devhub.EndpointToken) - tokenCalls; got != 0 {
				t.Errorf("the hub was asked %d more times right after a failure; want a pause", got)
			}
			e.clock.Advance(11 * time.Minute) // grace over
			resp := b.get("/x")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/_hubgate/login") {
				t.Errorf("after grace: GET /x = %d to %q; want 302 to sign-in", resp.StatusCode, resp.Header.Get("Location"))
			}
			if b.sessionCookie() != "" {
				t.Error("after grace the session cookie is still set")
			}
		})
	}
}

// TestFaultLogoutWhileHubDown: logging out does not depend on the hub: the
// session ends here even if the token cannot be revoked there.
func TestFaultLogoutWhileHubDown(t *testing.T) {
	e, front := faultEnv(t, nil)
	b := e.browser()
	b.login(devhub.FrankID, "/")
	copied := b.sessionCookie()
	front.Close()
	resp := b.logout("/bye")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/bye" {
		t.Fatalf("logout with the hub down = %d to %q; want 302 /bye\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.body)
	}
	thief := e.browser()
	thief.setCookie("hubgate", copied)
	if thief.identity() != "" {
		t.Error("the copied cookie works after a logout with the hub down")
	}
}

// verifyNoLeaks checks, after every cleanup of the test has run, that the
// test left no goroutine behind.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

// blackhole accepts connections and never answers.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// TestFaultUpstreamDownOrSlow: an upstream that is gone answers 502, one
// that is slow or silent 504 within the configured timeout, both as pages;
// a client that gives up cancels the upstream request; nothing leaks.
func TestFaultUpstreamDownOrSlow(t *testing.T) {
	verifyNoLeaks(t)
	const timeout = 300 * time.Millisecond
	var released atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			released.Add(1)
		}
	}))
	t.Cleanup(slow.Close)
	hangup := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	hangup.Start()
	t.Cleanup(hangup.Close)
	cases := []struct {
		name     string
		upstream string
		status   int
		text     string
	}{
		{"connection refused", "", http.StatusBadGateway, "The application is not reachable"},
		{"connection closed without an answer", hangup.URL, http.StatusBadGateway, "The application is not reachable"},
		{"slow to answer", slow.URL, http.StatusGatewayTimeout, "The application is too slow"},
		{"accepts and stays silent", blackhole(t), http.StatusGatewayTimeout, "The application is too slow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reserved net.Listener
			if tc.upstream == "" {
				// A port of our own, closed only once the env's servers
				// hold theirs, so that none of them can take it over.
				var err error
				if reserved, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				tc.upstream = "http://" + reserved.Addr().String()
			}
			e := newEnv(t, func(c *proxy.Config) { c.Upstream = tc.upstream; c.UpstreamTimeout = timeout })
			b := e.browser()
			b.login(devhub.FrankID, "/")
			if reserved != nil {
				reserved.Close()
			}
			for _, method := range []string{"GET", "POST"} {
				start := time.Now()
				var resp *response
				if method == "GET" {
					resp = b.get("/reports")
				} else {
					resp = b.post("/reports", url.Values{"a": {"b"}})
				}
				took := time.Since(start)
				if resp.StatusCode != tc.status || !strings.Contains(resp.body, tc.text) || !requestIDRE.MatchString(resp.body) {
					t.Errorf("%s /reports = %d; want %d with the page %q and a request id\n%s", method, resp.StatusCode, tc.status, tc.text, resp.body)
				}
				if took > timeout+2*time.Second {
					t.Errorf("%s /reports took %s; want about the upstream timeout %s", method, took, timeout)
				}
			}
		})
	}
	t.Run("client gives up", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.Upstream = slow.URL; c.UpstreamTimeout = time.Minute })
		before := released.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/reports", nil)
		if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request = %v; want the client's deadline", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for released.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("the upstream request was not cancelled when the client went away")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// flakyStore is the bolt store with one injected failure: the n-th call
// (counting from arm) of any store method fails.
type flakyStore struct {
	proxy.Store
	mu     sync.Mutex // guards the fields below
	armed  bool
	n      int      // fail the n-th call after arm
	calls  int      // calls since arm
	failed string   // the method that failed, once it did
	trace  []string // calls since arm
}

var errInjected = errors.New("injected store failure")

func (f *flakyStore) arm(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.n, f.calls, f.failed, f.trace = true, n, 0, "", nil
}

func (f *flakyStore) disarm() (failed string, trace []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return f.failed, f.trace
}

func (f *flakyStore) hit(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed {
		return nil
	}
	f.calls++
	f.trace = append(f.trace, op)
	if f.calls == f.n {
		f.failed = op
		return fmt.Errorf("%s: %w", op, errInjected)
	}
	return nil
}

func (f *flakyStore) CreateClaims(ctx context.Context, cs []claim.Claim, ev claim.Event) error {
	if err := f.hit("CreateClaims"); err != nil {
		return err
	}
	return f.Store.CreateClaims(ctx, cs, ev)
}
func (f *flakyStore) ClaimByHash(ctx context.Context, h claim.Hash) (claim.Claim, error) {
	if err := f.hit("ClaimByHash"); err != nil {
		return claim.Claim{}, err
	}
	return f.Store.ClaimByHash(ctx, h)
}
func (f *flakyStore) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	if err := f.hit("RedeemClaim"); err != nil {
		return claim.Claim{}, claim.Link{}, err
	}
	return f.Store.RedeemClaim(ctx, r)
}
func (f *flakyStore) Link(ctx context.Context, k claim.Kind, id string) (claim.Link, error) {
	if err := f.hit("Link"); err != nil {
		return claim.Link{}, err
	}
	return f.Store.Link(ctx, k, id)
}
func (f *flakyStore) LinkByZaikio(ctx context.Context, k claim.Kind, id string) (claim.Link, error) {
	if err := f.hit("LinkByZaikio"); err != nil {
		return claim.Link{}, err
	}
	return f.Store.LinkByZaikio(ctx, k, id)
}
func (f *flakyStore) Person(ctx context.Context, id string) (claim.Person, error) {
	if err := f.hit("Person"); err != nil {
		return claim.Person{}, err
	}
	return f.Store.Person(ctx, id)
}
func (f *flakyStore) PutLink(ctx context.Context, l claim.Link) error {
	if err := f.hit("PutLink"); err != nil {
		return err
	}
	return f.Store.PutLink(ctx, l)
}
func (f *flakyStore) Session(ctx context.Context, id string) (session.Record, error) {
	if err := f.hit("Session"); err != nil {
		return session.Record{}, err
	}
	return f.Store.Session(ctx, id)
}
func (f *flakyStore) PutSession(ctx context.Context, rec session.Record, prev uint64) error {
	if err := f.hit("PutSession"); err != nil {
		return err
	}
	return f.Store.PutSession(ctx, rec, prev)
}
func (f *flakyStore) DeleteSession(ctx context.Context, id string) error {
	if err := f.hit("DeleteSession"); err != nil {
		return err
	}
	return f.Store.DeleteSession(ctx, id)
}
func (f *flakyStore) AddRevocation(ctx context.Context, rv session.Revocation) error {
	if err := f.hit("AddRevocation"); err != nil {
		return err
	}
	return f.Store.AddRevocation(ctx, rv)
}
func (f *flakyStore) ForgetDelivery(ctx context.Context, id string) error {
	if err := f.hit("ForgetDelivery"); err != nil {
		return err
	}
	return f.Store.ForgetDelivery(ctx, id)
}
func (f *flakyStore) FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error) {
	if err := f.hit("FirstDelivery"); err != nil {
		return false, err
	}
	return f.Store.FirstDelivery(ctx, id, until)
}

// TestFaultStoreFailsMidClaim fails, in turn, every store call the claim
// callback makes (the first, the second, … until one run sees no failure).
// Each time the outcome is whole: either the link is written and the claim
// consumed, or neither, the person sees an error page, and the same token
// still completes a claim afterwards.
func TestFaultStoreFailsMidClaim(t *testing.T) {
	flaky := &flakyStore{}
	e := newEnv(t, func(c *proxy.Config) {
		flaky.Store = c.Store
		c.Store = flaky
		c.Claims = &claim.Service{Store: flaky, Now: c.Now}
		c.Limits.FailedClaims = -1
	})
	ctx := context.Background()
	var steps []string
	for n := 1; ; n++ {
		legacy := fmt.Sprintf("m%d", n)
		e.putPeople(claim.Person{ID: legacy, Orgs: []string{legacy + "-org"}})
		is := e.issue(claim.KindPerson, legacy, "")
		p := e.hub.AddPerson(devhub.Person{FirstName: "M", Name: legacy, Email: legacy + "@example.com"})
		b := e.browser()
		b.login(devhub.FrankID, "/") // an existing session, so that rotation runs too
		cb := b.startClaim(is.Token, p.ID, "")
		flaky.arm(n)
		resp := b.get(cb)
		failed, trace := flaky.disarm()
		resp = b.shown(resp) // the page after the callback, read with the store healthy
		if failed == "" {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("claim without an injected failure = %d\n%s", resp.StatusCode, resp.body)
			}
			if n == 1 {
				t.Fatal("the callback made no store call")
			}
			t.Logf("store calls of a claim callback: %s", strings.Join(trace, ", "))
			break
		}
		steps = append(steps, failed)
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusInternalServerError && resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("failure in %s (call %d): status %d", failed, n, resp.StatusCode)
		}
		if strings.Contains(resp.body, errInjected.Error()) {
			t.Errorf("failure in %s: the page shows the error text", failed)
		}
		c, err := e.store.ClaimByHash(ctx, is.Token.Hash())
		if err != nil {
			t.Fatal(err)
		}
		l, lerr := e.store.Link(ctx, claim.KindPerson, legacy)
		linked := lerr == nil
		switch {
		case linked != !c.UsedAt.IsZero():
			t.Fatalf("failure in %s (call %d): linked %v but claim used %v: half-written", failed, n, linked, !c.UsedAt.IsZero())
		case linked:
			// The link was complete before the failure: both directions agree.
			back, err := e.store.LinkByZaikio(ctx, claim.KindPerson, p.ID)
			if err != nil || back.LegacyID != legacy || l.ZaikioID != p.ID {
				t.Fatalf("failure in %s: link %+v, reverse %+v %v", failed, l, back, err)
			}
		default:
			// Nothing written: the same token still completes the claim.
			b2 := e.browser()
			if r := b2.land(b2.startClaim(is.Token, p.ID, "")); r.StatusCode != http.StatusOK {
				t.Fatalf("failure in %s (call %d): retry with the same token = %d\n%s", failed, n, r.StatusCode, r.body)
			}
			if l, err := e.store.Link(ctx, claim.KindPerson, legacy); err != nil || l.ZaikioID != p.ID {
				t.Fatalf("failure in %s: retry wrote %+v, %v", failed, l, err)
			}
		}
		if n > 50 {
			t.Fatal("more than 50 store calls in one callback")
		}
	}
	if len(steps) < 3 {
		t.Errorf("failures injected at %v; want at least the state check, the redemption and the session write", steps)
	}
}

// TestFaultSlowAndHugeBodies: bodies that hubgate reads itself are cut off
// by size (16 KiB forms, 64 KiB webhooks) and by time (BodyTimeout), with a
// 4xx answer and the connection closed; never a 5xx.
func TestFaultSlowAndHugeBodies(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.BodyTimeout = 500 * time.Millisecond; c.Mode = migration.Offer })
	huge := strings.Repeat("a", 1<<20)
	for path, ct := range map[string]string{
		"/_hubgate/continue-legacy": "application/x-www-form-urlencoded",
		"/_hubgate/logout":          "application/x-www-form-urlencoded",
		"/_hubgate/claim-undo":      "application/x-www-form-urlencoded",
		"/_hubgate/webhook":         "application/json",
	} {
		start := time.Now()
		resp := rawResponse(t, e.addr(), fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", path, e.addr(), ct, len(huge), "csrf=x&rd=/&"+huge[12:]))
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("POST %s with 1 MiB = %d; want 4xx", path, resp.StatusCode)
		}
		if !resp.Close {
			t.Errorf("POST %s with 1 MiB: the connection stays open for the rest of the body", path)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("POST %s with 1 MiB took %s", path, took)
		}
	}
	// A body trickled a byte at a time is cut off after BodyTimeout.
	c, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /_hubgate/continue-legacy HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", e.addr())
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c) // the answer, then EOF when the server hangs up
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took > 3*time.Second {
				t.Errorf("slow body cut off after %s; want about BodyTimeout (500ms)", took)
			}
			return
		case <-tick.C:
			if _, err := c.Write([]byte("a")); err != nil {
				return // the server closed the connection
			}
			if i > 100 {
				t.Fatal("a body trickled for 10 s was not cut off")
			}
		}
	}
}

// TestFaultWebhookApplyFails: when the store fails while a webhook event is
// applied, hubgate answers 503 and forgets the delivery, so the hub's
// redelivery of the same event applies it (it is not taken for a duplicate).
func TestFaultWebhookApplyFails(t *testing.T) {
	flaky := &flakyStore{}
	e, b := rolesEnv(t, func(c *proxy.Config) {
		flaky.Store = c.Store
		c.Store = flaky
	})
	jti := e.spy.lastJTI()
	if jti == "" {
		t.Fatal("no jti recorded")
	}
	body, err := e.hub.Event("zaikio.revoked_access_token", "Org/"+devhub.BountySoapID, map[string]any{"access_token_id": jti})
	if err != nil {
		t.Fatal(err)
	}
	post := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/_hubgate/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Loom-Signature", devhub.Sign("webhook-secret", body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	flaky.arm(2) // FirstDelivery, then AddRevocation fails
	got := post()
	failed, trace := flaky.disarm()
	if failed != "AddRevocation" || got != http.StatusServiceUnavailable {
		t.Fatalf("delivery with a failing store = %d (failed call %q, calls %v); want 503 from AddRevocation", got, failed, trace)
	}
	if !slices.Contains(trace, "ForgetDelivery") {
		t.Errorf("store calls %v; want ForgetDelivery after the failure", trace)
	}
	if p := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); p != devhub.FrankID {
		t.Fatalf("after the failed delivery upstream person = %q; want the session still on (nothing applied)", p)
	}
	if got := post(); got != http.StatusOK {
		t.Fatalf("redelivery = %d; want 200", got)
	}
	if p := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); p != "" {
		t.Errorf("after the redelivery upstream person = %q; want none (the token revocation applied)", p)
	}
}
