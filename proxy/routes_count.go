package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// LegacyRoute is one legacy route rule (the upstream checks its own
// credentials) and how many requests it has forwarded.
type LegacyRoute struct {
	// Route is the rule as the metric labels it: "[METHODS ]path".
	Route string
	// Requests counts what this process forwarded under the rule since it
	// started (hubgate_legacy_auth_requests_total sums the replicas).
	Requests uint64
}

// LegacyRoutes lists the current policy's legacy route rules, in their
// order, with their counts: which integrations still depend on legacy
// credentials. Nil when no rule is a legacy one.
func (s *Server) LegacyRoutes() []LegacyRoute {
	var out []LegacyRoute
	for _, rl := range s.policy().rules.rules {
		if rl.legacy == nil {
			continue
		}
		out = append(out, LegacyRoute{Route: rl.label, Requests: counterValue(rl.legacy)})
	}
	return out
}

// counterValue reads a counter's current value.
func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return uint64(m.Counter.GetValue())
}
