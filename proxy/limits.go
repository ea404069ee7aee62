package proxy

import (
	"fmt"
	"net/http"

	"github.com/hubgate/hubgate/internal/keyrate"
)

// limiterMax bounds the keys each limit table remembers (keyrate.Table:
// of the least recently used keys, one with a full bucket goes first).
// About 210 bytes a key, so a full table holds 10 MB; a new key costs a
// few microseconds once a table is full.
const limiterMax = 50000

// newLimits sets up the per-client budgets (Config.Limits) and the resend
// queue. A budget is spent when an attempt starts, so that parallel
// attempts cannot outrun it, and given back when the attempt succeeds:
// what stays spent is failures (DESIGN §3, "Limits count abuse").
func (s *Server) newLimits() {
	s.resendQueue = make(chan resendJob, 1024)
	lim := s.cfg.Limits
	s.resendByEmail = keyrate.PerMinute(lim.ResendPerEmail, limiterMax, s.now)
	s.resendByClient = keyrate.PerMinute(lim.ResendPerClient, limiterMax, s.now)
	s.claimLimit = keyrate.PerMinute(lim.FailedClaims, limiterMax, s.now)
	s.flowLimit = keyrate.PerMinute(lim.FlowStarts, limiterMax, s.now)
	s.callbackLimit = keyrate.PerMinute(lim.FailedCallbacks, limiterMax, s.now)
}

// clientKey is r's client for per-client limits: its address (clientIP),
// an IPv6 address cut to Limits.IPv6Prefix, so that the addresses of one
// network share one budget.
func (s *Server) clientKey(r *http.Request) string {
	return keyrate.ClientKey(s.clientIP(r), s.cfg.Limits.IPv6Prefix)
}

// allowClaimStart spends one of the client's failed-claims tokens for a
// claim start, or answers 429 and reports false when none is left. The
// token comes back when the start reaches its flow (startFlow).
func (s *Server) allowClaimStart(w http.ResponseWriter, r *http.Request) bool {
	key := s.clientKey(r)
	if s.claimLimit.Allow(key) {
		return true
	}
	s.fail(w, r, tooMany(w, "failed claims", key))
	return false
}

// tooMany is the "too many attempts" page (429, Retry-After) for a client
// whose budget named what is spent.
func tooMany(w http.ResponseWriter, what, key string) error {
	w.Header().Set("Retry-After", "60")
	return &pageError{status: http.StatusTooManyRequests, key: "rate_limited", err: fmt.Errorf("%s budget of client %s is spent", what, key)}
}
