package proxy

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/roles"
)

// Policy is the part of the configuration that can change while hubgate
// runs (SIGHUP): role mapping, legacy paths and the default mode.
type Policy struct {
	Roles       roles.Map
	LoginPaths  []string
	PublicPaths []string
	// Routes are the route rules (Config.Routes).
	Routes []Route
	// DefaultMode applies while the store holds no mode.
	DefaultMode migration.Mode

	rules ruleSet // Routes and PublicPaths, compiled by the server
}

func (p Policy) validate() error {
	for _, x := range append(append([]string{}, p.LoginPaths...), p.PublicPaths...) {
		if !strings.HasPrefix(x, "/") || strings.HasPrefix(x, "/_hubgate") {
			return fmt.Errorf("proxy: path %q: want an absolute path outside /_hubgate", x)
		}
	}
	for i, rt := range p.Routes {
		if err := rt.validate(i); err != nil {
			return err
		}
	}
	if _, err := migration.ParseMode(string(p.DefaultMode)); err != nil {
		return err
	}
	return nil
}

// policy returns the policy in force.
func (s *Server) policy() *Policy { return s.pol.Load() }

// Reload swaps in a new policy; requests already running keep the old one.
// Sessions pick up new role mappings at their next revalidation.
func (s *Server) Reload(ctx context.Context, p Policy) error {
	if p.DefaultMode == "" {
		p.DefaultMode = migration.Passthrough
	}
	if err := p.validate(); err != nil {
		return err
	}
	p.rules = compileRules(p.Routes, p.PublicPaths, s.routeMetrics)
	s.pol.Store(&p)
	if m, err := s.store.Mode(ctx); err == nil && m == "" && *s.mode.Load() != p.DefaultMode {
		mode := p.DefaultMode
		s.mode.Store(&mode)
		s.metrics.setMode(mode)
	}
	s.log.Info().Str("event", "policy.reloaded").Int("login_paths", len(p.LoginPaths)).Int("public_paths", len(p.PublicPaths)).Int("routes", len(p.Routes)).Int("roles", len(p.Roles.Roles)).Send()
	return nil
}
