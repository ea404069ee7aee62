package proxy_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/proxy"
)

// LegacyRoutes lists the legacy rules in their order, zero before any
// request, and counts what each forwarded — what the dashboard shows.
func TestLegacyRoutesCounts(t *testing.T) {
	e, _ := rulesEnv(t)
	want := []proxy.LegacyRoute{{Route: "/api/v1/"}, {Route: "POST /hooks/"}, {Route: "/login"}}
	if diff := cmp.Diff(want, e.px.LegacyRoutes()); diff != "" {
		t.Fatalf("LegacyRoutes before any request (-want +got):\n%s", diff)
	}
	anon := e.browser()
	for range 3 {
		if got, _ := anon.through(http.MethodGet, "/api/v1/orders"); got != fwdNone {
			t.Fatalf("GET /api/v1/orders: %s; want %s", got, fwdNone)
		}
	}
	if got, _ := anon.through(http.MethodPost, "/hooks/in"); got != fwdNone {
		t.Fatalf("POST /hooks/in: %s; want %s", got, fwdNone)
	}
	// GET /hooks/ is not the rule's method: not counted under it.
	anon.through(http.MethodGet, "/hooks/in")
	want[0].Requests, want[1].Requests = 3, 1
	if diff := cmp.Diff(want, e.px.LegacyRoutes()); diff != "" {
		t.Errorf("LegacyRoutes after 3 API calls and 1 hook (-want +got):\n%s", diff)
	}
}

// Without legacy rules there is nothing to list (the dashboard hides the
// card).
func TestLegacyRoutesNone(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.px.LegacyRoutes(); got != nil {
		t.Errorf("LegacyRoutes without rules = %v; want nil", got)
	}
}
