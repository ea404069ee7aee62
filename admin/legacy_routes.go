package admin

import "time"

// LegacyRoute is one legacy route rule and how many requests this instance
// forwarded under it since it started.
type LegacyRoute struct {
	Route    string // "[METHODS ]path", as hubgate_legacy_auth_requests_total labels it
	Requests uint64
}

// legacyRoutesView is the dashboard's card of legacy routes.
type legacyRoutesView struct {
	Routes []legacyRouteRow
	Since  time.Time
}

type legacyRouteRow struct {
	Route    string
	Requests int
}

// legacyRoutesCard is the card, or nil when no rule is a legacy one.
func (s *Server) legacyRoutesCard() *legacyRoutesView {
	if s.cfg.LegacyRoutes == nil {
		return nil
	}
	rs := s.cfg.LegacyRoutes()
	if len(rs) == 0 {
		return nil
	}
	v := &legacyRoutesView{Since: s.started}
	for _, r := range rs {
		v.Routes = append(v.Routes, legacyRouteRow{Route: r.Route, Requests: int(min(r.Requests, 1<<53))})
	}
	return v
}
