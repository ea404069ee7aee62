package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/proxy"
)

// TestConfigRoutesAndBearer: routes and bearer.* from the file and from the
// environment reach the proxy as written; a bad rule or key is named.
func TestConfigRoutesAndBearer(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(cfgFile(t, cfgMinimal().
		set("routes", []any{
			map[string]any{"methods": []any{"POST", "PUT"}, "path": "/api/v1/", "auth": "legacy"},
			map[string]any{"path": "/status", "auth": "public"},
			map[string]any{"path": "/admin/", "roles": []any{"admin"}, "scope": "admin", "cors": true},
		}).
		set("bearer", map[string]any{"enabled": true, "scope": "orders", "organization_roles": []any{"api"}, "revocation_refresh": "30s"})), cfgEnv())
	if err != nil {
		t.Fatalf("loadConfig = %v", err)
	}
	want := []proxy.Route{
		{Methods: []string{"POST", "PUT"}, Path: "/api/v1/", Auth: proxy.AuthLegacy},
		{Path: "/status", Auth: proxy.AuthPublic},
		{Path: "/admin/", Roles: []string{"admin"}, Scope: "admin", CORS: true},
	}
	if diff := cmp.Diff(want, c.proxyRoutes()); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if !c.bearerOn() || c.Bearer.Scope != "orders" || !cmp.Equal(c.Bearer.OrganizationRoles, []string{"api"}) || c.Bearer.RevocationRefresh != duration(30*time.Second) {
		t.Errorf("bearer = %+v; want on, orders, [api], 30s", c.Bearer)
	}

	// The environment form.
	c, err = loadConfig(cfgFile(t, cfgMinimal()), cfgEnv(
		"HUBGATE_ROUTES", "POST,PUT /api/v1/ legacy; /status public ;/admin/ zaikio roles=admin|ops scope=admin cors",
		"HUBGATE_BEARER_ENABLED", "false", "HUBGATE_BEARER_ORGANIZATION_ROLES", "api,machine"))
	if err != nil {
		t.Fatalf("loadConfig with HUBGATE_ROUTES = %v", err)
	}
	want[2].Roles, want[2].Auth = []string{"admin", "ops"}, proxy.AuthZaikio
	if diff := cmp.Diff(want, c.proxyRoutes()); diff != "" {
		t.Errorf("HUBGATE_ROUTES (-want +got):\n%s", diff)
	}
	if c.bearerOn() || c.Bearer.Scope != "api" || !cmp.Equal(c.Bearer.OrganizationRoles, []string{"api", "machine"}) {
		t.Errorf("bearer from the environment = %+v; want off, the default scope api, [api machine]", c.Bearer)
	}
	if v, err := c.bearerVerifier(nil); v != nil || err != nil || bearerOf(v) != nil {
		t.Errorf("bearer.enabled false: verifier %v, %v; want none", v, err)
	}
}

// TestConfigRoutesRefused: every bad rule and bearer key is named.
func TestConfigRoutesRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		val  any
		env  []string
		want string
	}{
		{"routes", []any{map[string]any{"path": "/ok/"}, map[string]any{"path": "/_hubgate/x"}}, nil, "routes[1]"},
		{"routes", []any{map[string]any{"path": "relative"}}, nil, "routes[0]"},
		{"routes", []any{map[string]any{"path": "/a", "auth": "apikey"}}, nil, "routes[0]"},
		{"routes", []any{map[string]any{"path": "/a", "methods": []any{"get"}}}, nil, "routes[0]"},
		{"routes", []any{map[string]any{"path": "/a", "auth": "legacy", "roles": []any{"admin"}}}, nil, "routes[0]"},
		{"routes", []any{map[string]any{"path": "/a;b"}}, nil, "routes[0]"},
		{"routes", []any{map[string]any{"path": "/a", "colour": "red"}}, nil, "colour"},
		{"bearer.scope", "a.b.c", nil, "bearer.scope"},
		{"bearer.organization_roles", []any{"a:b"}, nil, "bearer.organization_roles"},
		{"bearer.revocation_refresh", "2h", nil, "bearer.revocation_refresh"},
		{"bearer.enabled", "sometimes", nil, "bearer.enabled"},
		{"", nil, []string{"HUBGATE_ROUTES", "/a"}, "HUBGATE_ROUTES"},
		{"", nil, []string{"HUBGATE_ROUTES", "/a zaikio colour=red"}, "HUBGATE_ROUTES"},
		{"", nil, []string{"HUBGATE_ROUTES", "/a/../b zaikio"}, "routes[0]"},
	} {
		tree := cfgMinimal()
		if tc.key != "" {
			tree = tree.set(tc.key, tc.val)
		}
		_, err := loadConfig(cfgFile(t, tree), cfgEnv(tc.env...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %v %v: loadConfig = %v; want an error naming %s", tc.key, tc.val, tc.env, err, tc.want)
		}
	}
}
