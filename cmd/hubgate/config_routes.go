package main

// The route rules (routes) and bearer tokens (bearer.*): their validation,
// their environment form, and what the proxy and the hub client get from
// them.

import (
	"fmt"
	"strings"
	"time"

	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/zaikio"
)

// validateRoutes checks each route rule, naming it routes[i].
func (c *Config) validateRoutes(p *problems) {
	for i, r := range c.Routes {
		if err := r.route().Check(); err != nil {
			p.add(fmt.Sprintf("routes[%d]", i), err.Error())
		}
	}
}

// validateBearer checks the bearer section.
func (c *Config) validateBearer(p *problems) {
	if !proxy.ValidScope(c.Bearer.Scope) {
		p.addf("bearer.scope", "%q: want <scope> or <app>.<scope> (letters, digits, _ and -)", c.Bearer.Scope)
	}
	if _, err := roles.New(map[string][]string{"organization": c.Bearer.OrganizationRoles}, nil); err != nil {
		p.add("bearer.organization_roles", "want local roles, [A-Za-z0-9._@-]{1,64} each")
	}
	if d := time.Duration(c.Bearer.RevocationRefresh); d != 0 && (d < time.Second || d > zaikio.DefaultRevocationMaxAge) {
		p.addf("bearer.revocation_refresh", "%s: want 1s to 1h (zaikio-jwt_auth trusts the list for an hour)", formatDuration(d))
	}
}

// route is the rule as the proxy takes it.
func (r routeRule) route() proxy.Route {
	return proxy.Route{Methods: r.Methods, Path: r.Path, Auth: proxy.Auth(r.Auth), Roles: r.Roles, Scope: r.Scope, CORS: r.CORS}
}

// proxyRoutes are routes as the proxy takes them.
func (c *Config) proxyRoutes() []proxy.Route {
	out := make([]proxy.Route, 0, len(c.Routes))
	for _, r := range c.Routes {
		out = append(out, r.route())
	}
	return out
}

// bearerOn reports whether bearer tokens are accepted (bearer.enabled,
// unset: on). Bearer tokens are Zaikio's: never with kind oidc.
func (c *Config) bearerOn() bool {
	return c.Provider.Kind != "oidc" && (c.Bearer.Enabled == nil || *c.Bearer.Enabled)
}

// bearerVerifier is the verifier of bearer tokens, on the Zaikio hub's key
// set; nil when bearer.enabled is false or the provider is not Zaikio.
func (c *Config) bearerVerifier(hub proxy.Hub) (*zaikio.BearerVerifier, error) {
	hc, ok := hub.(*zaikio.Client)
	if !c.bearerOn() || !ok {
		return nil, nil
	}
	v, err := zaikio.NewBearerVerifier(hc, zaikio.BearerConfig{RevocationRefresh: time.Duration(c.Bearer.RevocationRefresh)})
	if err != nil {
		return nil, &configError{Key: "bearer", Msg: err.Error()}
	}
	return v, nil
}

// parseEnvRoutes reads HUBGATE_ROUTES: ";"-separated entries, each
// "[METHODS ]PATH AUTH[ roles=a|b][ scope=s][ cors]" with METHODS
// comma-separated, e.g.
//
//	POST,PUT /api/v1/ legacy; /status public; /admin/ zaikio roles=admin; /api/ zaikio scope=orders cors
func parseEnvRoutes(val string) ([]routeRule, string) {
	var out []routeRule
	for i, e := range splitList(val, ";") {
		f := strings.Fields(e)
		var r routeRule
		if len(f) > 0 && !strings.HasPrefix(f[0], "/") {
			r.Methods, f = splitList(f[0], ","), f[1:]
		}
		if len(f) < 2 {
			return nil, fmt.Sprintf("entry %d: want \"[METHODS ]PATH AUTH[ roles=a|b][ scope=s][ cors]\" entries, ;-separated", i+1)
		}
		r.Path, r.Auth = f[0], f[1]
		for _, opt := range f[2:] {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "roles":
				r.Roles = splitList(v, "|")
			case "scope":
				r.Scope = v
			case "cors":
				r.CORS = true
			default:
				return nil, fmt.Sprintf("entry %d: %q: want roles=a|b, scope=s or cors", i+1, opt)
			}
		}
		out = append(out, r)
	}
	return out, ""
}

// bearerOf is v as the proxy takes it: a nil verifier is no Bearer at all
// (not an interface holding a nil pointer).
func bearerOf(v *zaikio.BearerVerifier) proxy.Bearer {
	if v == nil {
		return nil
	}
	return v
}
