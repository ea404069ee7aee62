package proxy_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/proxy"
)

// browserFrom is a browser whose connections come from ip, another loopback
// address (Linux routes all of 127.0.0.0/8 to lo), so that hubgate sees a
// different client address — the peer address, not a header.
func (e *env) browserFrom(ip string) *browser {
	e.t.Helper()
	b := e.browser()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	b.c.Transport = tr
	e.t.Cleanup(tr.CloseIdleConnections)
	return b
}

// resendEnv is an env with a mailer, so that /_hubgate/resend is on.
func resendEnv(t *testing.T, mutate func(*proxy.Config)) *env {
	t.Helper()
	smtp := mailtest.NewServer(t)
	return newEnv(t, func(c *proxy.Config) {
		m, err := mail.New(mail.Config{URL: smtp.URL(), From: "noreply@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		c.Mailer = m
		if mutate != nil {
			mutate(c)
		}
	})
}

// resendForm loads the resend page in b and returns its CSRF token.
func resendForm(t *testing.T, b *browser) string {
	t.Helper()
	page := b.get("/_hubgate/resend")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /_hubgate/resend = %d", page.StatusCode)
	}
	return csrfOf(t, page.body)
}

// resendAs posts one "send me my link" for email from b, with extra headers.
func resendAs(b *browser, csrf, email string, hdr ...string) *response {
	b.t.Helper()
	form := url.Values{"csrf": {csrf}, "email": {email}}
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+"/_hubgate/resend", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// TestResendRateLimitPerClient: POST /_hubgate/resend allows 30
// requests per minute per client address (each for another email, so the
// per-email limit of 5 is never what answers). The 31st from one client is
// 429 with the "too many attempts" page, whatever X-Forwarded-For it
// claims (no trusted proxies), while other clients are still accepted —
// before, in between and after.
func TestResendRateLimitPerClient(t *testing.T) {
	e := resendEnv(t, nil)
	a, b, c := e.browserFrom("127.0.0.2"), e.browserFrom("127.0.0.3"), e.browserFrom("127.0.0.4")
	ta, tb, tc := resendForm(t, a), resendForm(t, b), resendForm(t, c)
	start := time.Now()
	bAccepted := 0
	for i := 1; i <= 30; i++ {
		if r := resendAs(a, ta, fmt.Sprintf("a%d@example.com", i)); r.StatusCode != http.StatusOK {
			t.Fatalf("client A request %d = %d; want 200 (30 per minute allowed)\n%s", i, r.StatusCode, r.body)
		}
		if i%10 == 0 {
			if r := resendAs(b, tb, fmt.Sprintf("b%d@example.com", i)); r.StatusCode != http.StatusOK {
				t.Fatalf("client B while A is at %d = %d; want 200", i, r.StatusCode)
			}
			bAccepted++
		}
	}
	if time.Since(start) > 1900*time.Millisecond {
		// One token refills every 2 s; a run this slow cannot tell.
		t.Skipf("30 requests took %s; the bucket may have refilled", time.Since(start))
	}
	r := resendAs(a, ta, "a31@example.com")
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many attempts") {
		t.Fatalf("client A request 31 = %d; want 429 too many attempts\n%s", r.StatusCode, r.body)
	}
	if r.Header.Get("Content-Type") == "" || !requestIDRE.MatchString(r.body) {
		t.Errorf("429 answer is not a page with a request id:\n%s", r.body)
	}
	// A client cannot name another address for itself.
	for _, h := range [][]string{
		{"X-Forwarded-For", "198.51.100.7"},
		{"X-Real-Ip", "198.51.100.8"},
		{"Forwarded", "for=198.51.100.9"},
	} {
		if r := resendAs(a, ta, "a32@example.com", h...); r.StatusCode != http.StatusTooManyRequests {
			t.Errorf("client A with %s: %s = %d; want 429 (client headers are not believed)", h[0], h[1], r.StatusCode)
		}
	}
	// Other clients are not limited by A's count.
	if r := resendAs(b, tb, "b-after@example.com"); r.StatusCode != http.StatusOK {
		t.Errorf("client B after A was limited = %d; want 200 (B sent %d)", r.StatusCode, bAccepted)
	}
	if r := resendAs(c, tc, "c1@example.com"); r.StatusCode != http.StatusOK {
		t.Errorf("fresh client C = %d; want 200", r.StatusCode)
	}
	// B's own budget is its own: 30 in all, then 429.
	n := bAccepted + 1
	for ; n < 30; n++ {
		if r := resendAs(b, tb, fmt.Sprintf("b-more%d@example.com", n)); r.StatusCode != http.StatusOK {
			t.Fatalf("client B request %d = %d; want 200", n+1, r.StatusCode)
		}
	}
	if r := resendAs(b, tb, "b-last@example.com"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("client B request 31 = %d; want 429", r.StatusCode)
	}
}

// TestResendRateLimitBehindTrustedProxy: behind a trusted reverse
// proxy (the deployment deploy/ describes: "Set trusted_proxies … or every
// client looks like the controller in logs and per-client rate limits"),
// the per-client limit must count the client the proxy names in
// X-Forwarded-For, not the proxy: one client spending its 30 requests must
// not lock everyone else out.
func TestResendRateLimitBehindTrustedProxy(t *testing.T) {
	e := resendEnv(t, func(c *proxy.Config) { c.TrustedProxies = trustLoopback() })
	edge := e.browserFrom("127.0.0.2") // the TLS-terminating proxy; every client comes through it
	tok := resendForm(t, edge)
	for i := 1; i <= 30; i++ {
		if r := resendAs(edge, tok, fmt.Sprintf("x%d@example.com", i), "X-Forwarded-For", "198.51.100.1"); r.StatusCode != http.StatusOK {
			t.Fatalf("client 198.51.100.1 request %d = %d; want 200", i, r.StatusCode)
		}
	}
	if r := resendAs(edge, tok, "x31@example.com", "X-Forwarded-For", "198.51.100.1"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("client 198.51.100.1 request 31 = %d; want 429", r.StatusCode)
	}
	if r := resendAs(edge, tok, "y1@example.com", "X-Forwarded-For", "198.51.100.2"); r.StatusCode != http.StatusOK {
		t.Errorf("another client 198.51.100.2 through the same proxy = %d; want 200 (per-client, not per-proxy)", r.StatusCode)
	}
	if !strings.Contains(e.logs.String(), `"remote":"198.51.100.2"`) {
		t.Errorf("access log does not name the forwarded client 198.51.100.2")
	}
}
