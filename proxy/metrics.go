package proxy

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/zaikio"
)

// metrics are the proxy's Prometheus metrics. They are registered with the
// registerer of Config.Metrics and served by the admin and metrics
// listeners, never the public one.
type metrics struct {
	requests  *prometheus.CounterVec // route, code
	logins    *prometheus.CounterVec // outcome
	claims    *prometheus.CounterVec // kind, outcome
	mode      *prometheus.GaugeVec   // mode
	hub       *prometheus.HistogramVec
	hubErrors *prometheus.CounterVec   // op, reason
	duration  *prometheus.HistogramVec // class, code
	legacy    *prometheus.CounterVec   // mode, method
	unlinked  *prometheus.CounterVec   // policy
	// upstream holds the request counter of the "upstream" route per status
	// code, resolved once, so that counting a proxied request is one atomic
	// add (the hot path takes no map lookup or label hashing).
	upstream [600]atomic.Pointer[prometheus.Counter]
	// observers holds the duration histogram's series per class and status
	// code, resolved once like upstream: observing a request is a few
	// atomic adds.
	observers [numClasses][600]atomic.Pointer[prometheus.Observer]
	// inFlight counts the requests being served on the public listener,
	// waiting the requests queued for an upstream slot; both are read at
	// scrape time (GaugeFunc), so the hot path pays one atomic add each.
	inFlight atomic.Int64
	waiting  atomic.Int64
	// slots is the Server's upstream slot channel (nil: unbounded), read at
	// scrape time: its length is the slots in use, its capacity the bound.
	slots atomic.Pointer[chan struct{}]
}

// class is a request's class in hubgate_http_request_duration_seconds.
type class uint8

const (
	classUpstream    class = iota // forwarded to the legacy app
	classGate                     // answered by the gate: sign-in redirect, 401, 403, offer page
	classSignin                   // login, callback, logout, continue to the legacy login
	classClaim                    // the claim pages and "send me my link"
	classForwardAuth              // GET /_hubgate/auth
	classOther                    // hubgate's other routes: healthz, me, jwks, webhook, 404
	numClasses
)

var classNames = [numClasses]string{"upstream", "gate", "signin", "claim", "forward_auth", "other"}

// durationBuckets are Prometheus' default buckets with 1 ms, 2.5 ms and
// 30 s added: most of hubgate's own answers take well under 5 ms, and an
// upstream may take up to upstream_timeout (60 s).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

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
		hubErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "hub_errors_total",
			Help: "Failed calls to the Zaikio hub by operation and reason (unavailable, timeout, rate_limited, invalid_grant, bad_response, other)."},
			[]string{"op", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "hubgate", Name: "http_request_duration_seconds",
			Help:    "Time to answer a request on the public listener, by class (upstream, gate, signin, claim, forward_auth, other) and status code.",
			Buckets: durationBuckets}, []string{"class", "code"}),
		legacy: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "legacy_login_requests_total",
			Help: "Requests for the legacy login paths (legacy.login_paths) by mode and method (GET, HEAD, POST or other)."}, []string{"mode", "method"}),
		unlinked: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "signins_unlinked_total",
			Help: "Sign-ins of a Zaikio person without a linked legacy account, by the unlinked policy applied (deny, provision, pass)."}, []string{"policy"}),
	}
	if reg == nil {
		return m, nil
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "hubgate", Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{m.requests, m.logins, m.claims, m.mode, m.hub, m.hubErrors, m.duration, m.legacy, m.unlinked,
		gauge("http_requests_in_flight", "Requests being served on the public listener.", func() float64 { return float64(m.inFlight.Load()) }),
		gauge("upstream_slots_capacity", "Requests that may be forwarded at once (upstream_max_conns); 0: unbounded.", func() float64 {
			if p := m.slots.Load(); p != nil {
				return float64(cap(*p))
			}
			return 0
		}),
		gauge("upstream_slots_in_use", "Requests being forwarded that hold an upstream slot.", func() float64 {
			if p := m.slots.Load(); p != nil {
				return float64(len(*p))
			}
			return 0
		}),
		gauge("upstream_slots_waiting", "Requests waiting for an upstream slot.", func() float64 { return float64(m.waiting.Load()) }),
	} {
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

// observe records one request's duration in its class with its status
// code; the series is resolved on its first use only.
func (m *metrics) observe(c class, code int, d time.Duration) {
	if code < 100 || code >= len(m.upstream) {
		code = 500
	}
	p := m.observers[c][code].Load()
	if p == nil {
		o := m.duration.WithLabelValues(classNames[c], strconv.Itoa(code))
		m.observers[c][code].Store(&o)
		p = &o
	}
	(*p).Observe(d.Seconds())
}

// legacyLogin counts a request for a legacy login path. Methods beyond
// the usual ones share "other": the label's values stay bounded whatever
// clients send.
func (m *metrics) legacyLogin(mode migration.Mode, method string) {
	switch method {
	case "GET", "HEAD", "POST":
	default:
		method = "other"
	}
	m.legacy.WithLabelValues(string(mode), method).Inc()
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

// hubReason names why a hub call failed, for hubgate_hub_errors_total.
func hubReason(err error) string {
	var ze *zaikio.Error
	isZ := errors.As(err, &ze)
	var ne net.Error
	switch {
	case errors.Is(err, zaikio.ErrInvalidGrant):
		return "invalid_grant"
	case isZ && ze.Status == 429:
		return "rate_limited"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, zaikio.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, zaikio.ErrInvalidToken), isZ && ze.Status != 0:
		// The hub answered, but not what the protocol promises: a 4xx, a
		// body that does not decode, a token that does not verify.
		return "bad_response"
	}
	return "other"
}

// timedHub measures every hub call but CheckKeys (readiness probes are
// not sign-in latency), counts the failed ones by reason, and, with
// tracing on, wraps each in a client span.
type timedHub struct {
	Hub
	m      *metrics
	tracer trace.Tracer // nil: tracing off
}

// start begins a hub call: a span when tracing is on.
func (h timedHub) start(ctx context.Context, op string) (context.Context, trace.Span) {
	if h.tracer == nil {
		return ctx, nil
	}
	return h.tracer.Start(ctx, "hub "+op, trace.WithSpanKind(trace.SpanKindClient))
}

func (h timedHub) observe(op string, start time.Time, span trace.Span, err error) {
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
	if err != nil {
		h.m.hubErrors.WithLabelValues(op, hubReason(err)).Inc()
	}
	if span != nil {
		if err != nil {
			span.SetStatus(codes.Error, hubReason(err))
		}
		span.End()
	}
}

func (h timedHub) Exchange(ctx context.Context, code, verifier string) (t *zaikio.Token, err error) {
	ctx, span := h.start(ctx, "exchange")
	defer func(start time.Time) { h.observe("exchange", start, span, err) }(time.Now())
	return h.Hub.Exchange(ctx, code, verifier)
}

func (h timedHub) Refresh(ctx context.Context, rt string) (t *zaikio.Token, err error) {
	ctx, span := h.start(ctx, "refresh")
	defer func(start time.Time) { h.observe("refresh", start, span, err) }(time.Now())
	return h.Hub.Refresh(ctx, rt)
}

func (h timedHub) Person(ctx context.Context, at string) (p *zaikio.Person, err error) {
	ctx, span := h.start(ctx, "person")
	defer func(start time.Time) { h.observe("person", start, span, err) }(time.Now())
	return h.Hub.Person(ctx, at)
}

func (h timedHub) Revoke(ctx context.Context, at string) (err error) {
	ctx, span := h.start(ctx, "revoke")
	defer func(start time.Time) { h.observe("revoke", start, span, err) }(time.Now())
	return h.Hub.Revoke(ctx, at)
}

func (h timedHub) Verify(ctx context.Context, t *zaikio.Token) (c *zaikio.Claims, err error) {
	ctx, span := h.start(ctx, "verify")
	defer func(start time.Time) { h.observe("verify", start, span, err) }(time.Now())
	return h.Hub.Verify(ctx, t)
}

func (h timedHub) Organization(ctx context.Context, at string) (o *zaikio.Organization, err error) {
	ctx, span := h.start(ctx, "organization")
	defer func(start time.Time) { h.observe("organization", start, span, err) }(time.Now())
	return h.Hub.Organization(ctx, at)
}
