package admin_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hubgate/hubgate/admin"
)

// The dashboard lists the legacy routes with what this instance forwarded
// under each, read at every page view; without legacy routes, no card.
func TestDashboardLegacyRoutes(t *testing.T) {
	var api atomic.Uint64
	e := newEnv(t, func(c *admin.Config) {
		c.LegacyRoutes = func() []admin.LegacyRoute {
			return []admin.LegacyRoute{{Route: "/api/v1/", Requests: api.Load()}, {Route: "POST /hooks/<x>", Requests: 1234}}
		}
	})
	b := newBrowser(e)
	b.login("Ann")
	api.Store(3)
	p := b.get("/").want(t, "GET /", http.StatusOK)
	for _, want := range []string{
		`<h2 id="legacy-routes-h">Still on legacy credentials</h2>`,
		`<code>/api/v1/</code></td><td class="nowrap" data-label="Requests">3</td>`,
		`<code>POST /hooks/&lt;x&gt;</code></td><td class="nowrap" data-label="Requests">1,234</td>`,
		`id="legacy-routes-since">Counted by this instance since`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	api.Store(10)
	if p := b.get("/").want(t, "GET / again", http.StatusOK); !strings.Contains(p.body, `data-label="Requests">10</td>`) {
		t.Errorf("the count did not follow the proxy's: want 10")
	}

	for name, f := range map[string]func(*admin.Config){
		"no source": nil,
		"no rules":  func(c *admin.Config) { c.LegacyRoutes = func() []admin.LegacyRoute { return nil } },
	} {
		var e *env
		if f == nil {
			e = newEnv(t)
		} else {
			e = newEnv(t, f)
		}
		b := newBrowser(e)
		b.login("Ann")
		if p := b.get("/").want(t, "GET / ("+name+")", http.StatusOK); strings.Contains(p.body, `id="legacy-routes"`) {
			t.Errorf("%s: the dashboard shows the legacy routes card", name)
		}
	}
}
