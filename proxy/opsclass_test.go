package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/zaikio"
)

// Every route has a class in the duration histogram; a request for the
// upstream is "upstream" once forwarded, else the gate's.
func TestRequestClassOfEveryRoute(t *testing.T) {
	s, _ := benchServerT(t)
	want := map[string]string{
		"GET /_hubgate/login": "signin", "GET /_hubgate/callback": "signin", "GET /_hubgate/logout": "signin", "POST /_hubgate/logout": "signin",
		"POST /_hubgate/continue-legacy": "signin",
		"GET /_hubgate/claim":            "claim", "POST /_hubgate/claim": "claim", "GET /_hubgate/claim/{token}": "claim", "POST /_hubgate/claim/{token}": "claim",
		"GET /_hubgate/claim-org": "claim", "POST /_hubgate/claim-org": "claim", "POST /_hubgate/claim-undo": "claim",
		"GET /_hubgate/resend": "claim", "POST /_hubgate/resend": "claim",
		"GET /_hubgate/auth": "forward_auth",
		"GET /_hubgate/me":   "other", "GET /_hubgate/healthz": "other", "GET /_hubgate/jwks.json": "other", "POST /_hubgate/webhook": "other",
		"/_hubgate/": "other",
	}
	for _, p := range []string{"/_hubgate/login", "/_hubgate/callback", "/_hubgate/logout", "/_hubgate/me", "/_hubgate/healthz",
		"/_hubgate/auth", "/_hubgate/jwks.json", "/_hubgate/webhook", "/_hubgate/claim", "/_hubgate/claim/x", "/_hubgate/claim-org",
		"/_hubgate/claim-undo", "/_hubgate/continue-legacy", "/_hubgate/resend", "/_hubgate/nope"} {
		for _, m := range []string{"GET", "POST"} {
			r, _ := http.NewRequest(m, "http://x"+p, nil)
			_, pattern := s.mux.Handler(r)
			if pattern == "" {
				continue
			}
			r.Pattern = pattern
			w, ok := want[pattern]
			if !ok {
				t.Errorf("route %q has no expected class here: add it", pattern)
				continue
			}
			if got := classNames[requestClass(r, &exchange{})]; got != w {
				t.Errorf("class of %q = %s; want %s", pattern, got, w)
			}
		}
	}
	r, _ := http.NewRequest("GET", "http://x/reports", nil)
	ex := &exchange{}
	if got := classNames[requestClass(r, ex)]; got != "gate" {
		t.Errorf("class of an upstream request not forwarded = %s; want gate", got)
	}
	forwarding(ex, false)
	if got := classNames[requestClass(r, ex)]; got != "upstream" {
		t.Errorf("class of a forwarded request = %s; want upstream", got)
	}
}

// benchServerT is a Server on the benchmarks' stand-ins, for tests that
// look at its routes.
func benchServerT(t *testing.T) (*Server, *http.Cookie) {
	t.Helper()
	s, err := New(Config{PublicURL: "https://app.example.com", Upstream: "http://legacy.internal", Hub: nopHub{}, Store: nopStore{},
		SessionSecrets: [][]byte{[]byte(strings.Repeat("k", 32))}})
	if err != nil {
		t.Fatal(err)
	}
	return s, nil
}

// Hub failures are counted by a reason the alerts can tell apart.
func TestHubReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&zaikio.Error{Op: "token", Status: 400, Code: "invalid_grant"}, "invalid_grant"},
		{&zaikio.Error{Op: "person", Status: 429}, "rate_limited"},
		{&zaikio.Error{Op: "person", Status: 503}, "unavailable"},
		{&zaikio.Error{Op: "token", Err: fmt.Errorf("dial: %w", errors.New("connection refused"))}, "unavailable"},
		{&zaikio.Error{Op: "token", Err: context.DeadlineExceeded}, "timeout"},
		{&zaikio.Error{Op: "person", Status: 404, Code: "not_found"}, "bad_response"},
		{fmt.Errorf("verify: %w", zaikio.ErrInvalidToken), "bad_response"},
		{errors.New("something else"), "other"},
	} {
		if got := hubReason(tc.err); got != tc.want {
			t.Errorf("hubReason(%v) = %s; want %s", tc.err, got, tc.want)
		}
	}
}
