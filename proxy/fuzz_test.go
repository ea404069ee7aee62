package proxy

// Fuzz targets for the parsers on hubgate's public face. Seed corpora live in
// testdata/fuzz/<Target>/ and are replayed by every `go test`; .ci/fuzz runs
// each target for a while (go test -run '^$' -fuzz '^FuzzX$' ./proxy).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

const fuzzPublic = "app.example.com:8443"

var (
	fuzzPublicURL = &url.URL{Scheme: "https", Host: fuzzPublic}
	fuzzAllowed   = []string{".partner.example", "exact.example", "ported.example:9443"}
)

// fuzzOriginOK is the fuzz target's own idea of where a return may lead:
// the public origin (https, app.example.com, 8443) exactly, or over https an
// allowed host on its port (443 when the entry names none). Scheme, host and
// port all count: another port or scheme of our host is another origin.
func fuzzOriginOK(u *url.URL) bool {
	if u.Scheme != "https" {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "443"
	}
	switch {
	case host == "app.example.com":
		return port == "8443"
	case host == "exact.example", host == "partner.example", strings.HasSuffix(host, ".partner.example"):
		return port == "443"
	case host == "ported.example":
		return port == "9443"
	}
	return false
}

// fuzzBrowserURL resolves a Location the way a browser would, erring towards
// "another host" (see browserURL in security_test.go).
func fuzzBrowserURL(loc string) (*url.URL, error) {
	base := &url.URL{Scheme: "https", Host: fuzzPublic, Path: "/"}
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	for _, sch := range []string{"http", "https"} {
		if len(loc) > len(sch) && strings.EqualFold(loc[:len(sch)+1], sch+":") {
			loc = sch + "://" + strings.TrimLeft(loc[len(sch)+1:], "/")
		}
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// FuzzReturnTo: whatever rd is, the return path is "/" or rd itself, holds
// no control character or space, and a browser following it stays on the
// public origin or an allowed host.
func FuzzReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/x?y#z", "//evil.com", "/\\evil.com", "https://app.example.com:8443/x", "https://a.partner.example/",
		"https://evilpartner.example", "%2f%2fevil.com", "/%252f%252fevil.com", "javascript:alert(1)", "https:evil.com", "HTTPS://evil.com",
		"/\t/evil.com", "https://app.example.com:8443@evil.com", "／／evil.com", "/%E2%88%95evil.com", "https://exact.example/",
		"https://app.example.com:9999/x", "http://app.example.com:8443/", "https://app.example.com/", "https://app.example.com:08443/",
		"https://app.example.com:8443./", "https://ported.example:9443/", "https://ported.example/", "http://exact.example/",
		"https://exact.example:8443/", "https://app.example.com:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got := returnTo(rd, fuzzPublicURL, fuzzAllowed)
		if got != "/" && got != rd {
			t.Fatalf("returnTo(%q) = %q; want / or the input", rd, got)
		}
		if len(got) > maxReturnLen {
			t.Fatalf("returnTo(%q) has %d bytes", rd, len(got))
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
				t.Fatalf("returnTo(%q) = %q holds %#x", rd, got, c)
			}
		}
		u, err := fuzzBrowserURL(got)
		if err != nil {
			t.Fatalf("returnTo(%q) = %q does not parse: %v", rd, got, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("returnTo(%q) = %q leads to scheme %q", rd, got, u.Scheme)
		}
		if u.User != nil {
			t.Fatalf("returnTo(%q) = %q carries userinfo", rd, got)
		}
		if !fuzzOriginOK(u) {
			t.Fatalf("returnTo(%q) = %q leads to %s://%s", rd, got, u.Scheme, u.Host)
		}
	})
}

// fuzzServer is a Server on fake edges: a hub that is never reached and a
// store that answers what the fuzzed handlers ask.
func fuzzServer(t testing.TB, mutate func(*Config)) *Server {
	cfg := Config{
		PublicURL: "https://" + fuzzPublic, Upstream: "http://legacy.internal", Hub: nopHub{}, Store: fuzzStore{},
		SessionSecrets: [][]byte{bytes.Repeat([]byte("k"), 32)}, Transport: memUpstream{body: []byte("ok")},
		Claims: &claim.Service{Store: fuzzStore{}}, PublicPaths: []string{"/assets/", "/docs"}, Mode: migration.Enforce,
		WebhookSecret: []byte("webhook-secret"), Limits: Limits{FailedClaims: -1},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fuzzStore answers the store calls of the fuzzed paths.
type fuzzStore struct{ nopStore }

func (fuzzStore) FirstDelivery(context.Context, string, time.Time) (bool, error) { return true, nil }
func (fuzzStore) LinkByZaikio(context.Context, claim.Kind, string) (claim.Link, error) {
	return claim.Link{}, claim.ErrNotFound
}
func (fuzzStore) AddRevocation(context.Context, session.Revocation) error { return nil }
func (fuzzStore) ForgetDelivery(context.Context, string) error            { return nil }

// FuzzFlowCookie: takeFlow refuses every flow cookie that is not ours, for
// this state, fresh; an accepted flow names exactly the callback's state.
// With sealed set the payload is sealed under our secrets first, so that
// the JSON inside is fuzzed too.
func FuzzFlowCookie(f *testing.F) {
	s := fuzzServer(f, nil)
	good, _ := json.Marshal(flow{State: "S", Verifier: "v", Purpose: purposeLogin, Return: "/x", Created: time.Now().Unix()})
	f.Add(good, "S", true)
	f.Add(good, "T", true)
	f.Add([]byte(`{"s":"S","t":1e300}`), "S", true)
	f.Add([]byte(`{"s":"S","p":"claim-person","c":"zz","t":0}`), "S", true)
	f.Add([]byte("MTcwMDAwMDAwMHxhYmN8ZGVm"), "S", false)
	f.Fuzz(func(t *testing.T, payload []byte, state string, sealed bool) {
		name := s.flowCookieName(state)
		val := string(payload)
		if sealed {
			var err error
			if val, err = s.flowCodec.Encode(name, payload); err != nil {
				return
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/_hubgate/callback", nil)
		r.Header["Cookie"] = []string{name + "=" + val}
		w := httptest.NewRecorder()
		fl, err := s.takeFlow(context.Background(), w, r, state)
		if err != nil {
			return
		}
		if !sealed {
			t.Fatalf("an unsealed cookie %q was accepted", payload)
		}
		if fl.State != state {
			t.Fatalf("flow for state %q accepted for state %q", fl.State, state)
		}
		if age := time.Since(time.Unix(fl.Created, 0)); age > flowTTL || age < -time.Minute {
			t.Fatalf("flow of age %s accepted", age)
		}
	})
}

// FuzzNormalizePath: any request target the server accepts either fails
// closed or normalizes to a clean path without control characters or hidden
// dot segments, idempotently; a public decision holds for the decoded and
// the raw form the upstream receives.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/assets/app.css", "/assets/../admin", "/assets/..;/admin", "/assets%2fsecret", "/assets/a%2Fb",
		"/assets/%2e%2e/admin", "/assets/..%5cadmin", "/assets/%252e%252e/x", "//docs", "/docs/.", "/x%00", "/%c0%ae%c0%ae/", "/a;b/c"} {
		f.Add(s)
	}
	pub := []string{"/assets/", "/docs"}
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			return
		}
		p, ok := normalizePath(req)
		if !ok {
			return
		}
		if p != req.URL.Path || !strings.HasPrefix(p, "/") {
			t.Fatalf("normalizePath(%q) = %q, request path %q", target, p, req.URL.Path)
		}
		if c := path.Clean(p); c != p && c+"/" != p {
			t.Fatalf("normalizePath(%q) = %q, not clean (%q)", target, p, c)
		}
		if hiddenTraversal(p) {
			t.Fatalf("normalizePath(%q) = %q keeps a hidden dot segment or control character", target, p)
		}
		again, ok := normalizePath(req)
		if !ok || again != p {
			t.Fatalf("normalizePath not idempotent on %q: %q then %q, %v", target, p, again, ok)
		}
		if openedBy(req.URL, p, pub) {
			for _, form := range []string{p, req.URL.EscapedPath()} {
				if !strings.HasPrefix(form, "/assets/") && form != "/assets" && form != "/docs" {
					t.Fatalf("%q judged public, but the upstream gets %q", target, form)
				}
			}
		}
	})
}

// FuzzStripHeaders: after the request passes hubgate's header hygiene, no
// header name that a lenient server reads as X-Hubgate-* survives, and no
// forwarding header from an untrusted client; hubgate's own cookies are
// gone from the Cookie header.
func FuzzStripHeaders(f *testing.F) {
	s := fuzzServer(f, nil)
	for _, n := range []string{"X-Hubgate-User", "x_hubgate_roles", "X.Hubgate.Orgs", "X-Forwarded-Uri", "x_forwarded_for", "Forwarded", "X-Real-Ip", "X-Original-Url", "X-Hubgat-User"} {
		f.Add(n, "hubgate=x; legacy=1; hubgate_flow_a=2")
	}
	f.Fuzz(func(t *testing.T, name, cookie string) {
		h := http.Header{name: {"v"}, "Cookie": {cookie}}
		stripIdentityHeaders(h)
		dropForwarding(h, false)
		s.stripOwnCookies(h)
		lenient := strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '-'
		}, name)
		if _, kept := h[name]; kept {
			for _, bad := range []string{"x-hubgate-", "x-forwarded-", "x-original-"} {
				if strings.HasPrefix(lenient, bad) {
					t.Fatalf("header %q survived", name)
				}
			}
			if lenient == "forwarded" || lenient == "x-real-ip" || lenient == "x-rewrite-url" {
				t.Fatalf("header %q survived", name)
			}
		}
		for _, line := range h["Cookie"] {
			for _, part := range strings.Split(line, ";") {
				if s.ownCookie(strings.TrimSpace(part)) {
					t.Fatalf("own cookie %q survived in %q", part, line)
				}
			}
		}
	})
}

// FuzzWebhook: any body with a valid signature is parsed and applied or
// refused with 4xx; a bad signature is always 401; nothing panics.
func FuzzWebhook(f *testing.F) {
	s := fuzzServer(f, nil)
	f.Add([]byte(`{"id":"1","name":"zaikio.revoked_access_token","payload":{"access_token_id":"t"}}`), true)
	f.Add([]byte(`{"id":"2","name":"directory.member_left","subject":"Org/b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01","payload":{"person":{"id":"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01"}}}`), true)
	f.Add([]byte(`{"id":"3","name":"zaikio.member_joined","subject":"Per/x","payload":[[[[[[[[{"person_id":"x"}]]]]]]]]}`), true)
	f.Add([]byte(`not json`), false)
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		sig := "00"
		if sign {
			m := hmac.New(sha256.New, []byte("webhook-secret"))
			m.Write(body)
			sig = hex.EncodeToString(m.Sum(nil))
		}
		r := httptest.NewRequest(http.MethodPost, "/_hubgate/webhook", bytes.NewReader(body))
		r.Header.Set(zaikio.SignatureHeader, sig)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch {
		case !sign && w.Code != http.StatusUnauthorized:
			t.Fatalf("unsigned webhook = %d; want 401", w.Code)
		case sign && len(body) <= maxWebhookBody && w.Code != http.StatusOK && w.Code != http.StatusBadRequest:
			t.Fatalf("signed webhook = %d; want 200 or 400", w.Code)
		}
	})
}
