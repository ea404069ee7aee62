package proxy

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/zaikio"
)

// metrics are the proxy's Prometheus metrics. They are registered with the
// registerer of Config.Metrics and served by the admin listener, never the
// public one.
type metrics struct {
	requests *prometheus.CounterVec // route, code
	logins   *prometheus.CounterVec // outcome
	claims   *prometheus.CounterVec // kind, outcome
	mode     *prometheus.GaugeVec   // mode
	hub      *prometheus.HistogramVec
	// upstream holds the request counter of the "upstream" route per status
	// code, resolved once, so that counting a proxied request is one atomic
	// add (the hot path takes no map lookup or label hashing).
	upstream [600]atomic.Pointer[prometheus.Counter]
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "http_requests_total",
			Help: "Requests on the public listener by route (upstream or a /_hubgate route) and status code."}, []string{"route", "code"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "logins_total",
			Help: "Finished sign-in flows by outcome."}, []string{"outcome"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "claims_total",
			Help: "Claim redemptions by kind and outcome."}, []string{"kind", "outcome"}),
		mode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "hubgate", Name: "mode",
			Help: "1 for the current mode."}, []string{"mode"}),
		hub: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "hubgate", Name: "hub_request_duration_seconds",
			Help: "Latency of calls to the Zaikio hub by operation and outcome.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 11)},
			[]string{"op", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.logins, m.claims, m.mode, m.hub} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// countUpstream counts one proxied request with status code.
func (m *metrics) countUpstream(code int) {
	if code < 100 || code >= len(m.upstream) {
		code = 500
	}
	p := m.upstream[code].Load()
	if p == nil {
		c := m.requests.WithLabelValues("upstream", strconv.Itoa(code))
		m.upstream[code].Store(&c)
		p = &c
	}
	(*p).Inc()
}

func (m *metrics) setMode(mode migration.Mode) {
	for _, x := range migration.Modes {
		v := 0.0
		if x == mode {
			v = 1
		}
		m.mode.WithLabelValues(string(x)).Set(v)
	}
}

// outcome names an error for a metric label.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return classify(err).key
}

// timedHub measures every hub call but CheckKeys (readiness probes are
// not sign-in latency).
type timedHub struct {
	Hub
	m *metrics
}

func (h timedHub) observe(op string, start time.Time, err error) {
	o := "ok"
	switch {
	case errors.Is(err, zaikio.ErrInvalidGrant):
		o = "invalid_grant"
	case errors.Is(err, zaikio.ErrUnavailable):
		o = "unavailable"
	case err != nil:
		o = "error"
	}
	h.m.hub.WithLabelValues(op, o).Observe(time.Since(start).Seconds())
}

func (h timedHub) Exchange(ctx context.Context, code, verifier string) (t *zaikio.Token, err error) {
	defer func(start time.Time) { h.observe("exchange", start, err) }(time.Now())
	return h.Hub.Exchange(ctx, code, verifier)
}

func (h timedHub) Refresh(ctx context.Context, rt string) (t *zaikio.Token, err error) {
	defer func(start time.Time) { h.observe("refresh", start, err) }(time.Now())
	return h.Hub.Refresh(ctx, rt)
}

func (h timedHub) Person(ctx context.Context, at string) (p *zaikio.Person, err error) {
	defer func(start time.Time) { h.observe("person", start, err) }(time.Now())
	return h.Hub.Person(ctx, at)
}

func (h timedHub) Revoke(ctx context.Context, at string) (err error) {
	defer func(start time.Time) { h.observe("revoke", start, err) }(time.Now())
	return h.Hub.Revoke(ctx, at)
}

func (h timedHub) Verify(ctx context.Context, t *zaikio.Token) (c *zaikio.Claims, err error) {
	defer func(start time.Time) { h.observe("verify", start, err) }(time.Now())
	return h.Hub.Verify(ctx, t)
}

func (h timedHub) Organization(ctx context.Context, at string) (o *zaikio.Organization, err error) {
	defer func(start time.Time) { h.observe("organization", start, err) }(time.Now())
	return h.Hub.Organization(ctx, at)
}
