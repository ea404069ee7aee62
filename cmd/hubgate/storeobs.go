package main

// The store as the rest of hubgate sees it: every operation measured, and
// traced when it serves a traced request.

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
)

// observedStore measures every operation of the store it wraps in
// hubgate_store_operation_duration_seconds{op,outcome} and, with tracing
// on, gives each operation of a traced request a client span. Background
// work (the mode and revocation polls, session clean-up) is measured but
// starts no trace of its own. It embeds the store, so that a method added
// to the stores' interfaces compiles and is delegated, unmeasured until it
// is listed here.
type observedStore struct {
	store
	ops    *prometheus.HistogramVec
	tracer trace.Tracer // nil: tracing off
}

var _ store = (*observedStore)(nil)

// newStoreMetrics is hubgate_store_operation_duration_seconds, registered
// with reg.
func newStoreMetrics(reg prometheus.Registerer) (*prometheus.HistogramVec, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "hubgate", Name: "store_operation_duration_seconds",
		Help: "Latency of store operations by operation and outcome (ok; not_found; error: the store failed — a refusal by the rules, such as a used claim or a taken link, is ok).",
		// From an in-memory bbolt read (tens of µs) to a slow PostgreSQL
		// transaction.
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
		[]string{"op", "outcome"})
	return h, reg.Register(h)
}

// storeOutcome is the outcome label of an operation that returned err
// under ctx; "" when the caller gave up (its context was cancelled: the
// client went away), which says nothing about the store.
func storeOutcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, claim.ErrNotFound), errors.Is(err, session.ErrNotFound):
		return "not_found"
	case errors.Is(err, claim.ErrExpired), errors.Is(err, claim.ErrUsed), errors.Is(err, claim.ErrRevoked),
		errors.Is(err, claim.ErrConflict), errors.Is(err, claim.ErrForbidden), errors.Is(err, claim.ErrInvalid),
		errors.Is(err, session.ErrConflict), errors.Is(err, session.ErrEnded):
		return "ok"
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return ""
	}
	return "error"
}

// begin starts measuring op: a span when tracing is on and ctx belongs
// to a trace.
func (s *observedStore) begin(ctx context.Context, op string) (context.Context, trace.Span, time.Time) {
	var span trace.Span
	if s.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = s.tracer.Start(ctx, "store "+op, trace.WithSpanKind(trace.SpanKindClient))
	}
	return ctx, span, time.Now()
}

func (s *observedStore) end(ctx context.Context, op string, span trace.Span, start time.Time, err error) {
	o := storeOutcome(ctx, err)
	if o != "" {
		s.ops.WithLabelValues(op, o).Observe(time.Since(start).Seconds())
	}
	if span != nil {
		if o == "error" {
			span.SetStatus(codes.Error, "store error")
		}
		span.End()
	}
}

// do runs one operation that returns only an error.
func (s *observedStore) do(ctx context.Context, op string, f func(context.Context) error) error {
	ctx, span, start := s.begin(ctx, op)
	err := f(ctx)
	s.end(ctx, op, span, start, err)
	return err
}

// get runs one operation that returns a value.
func get[T any](s *observedStore, ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	ctx, span, start := s.begin(ctx, op)
	v, err := f(ctx)
	s.end(ctx, op, span, start, err)
	return v, err
}

func (s *observedStore) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", s.store.Ping)
}

func (s *observedStore) Mode(ctx context.Context) (migration.Mode, error) {
	return get(s, ctx, "mode", s.store.Mode)
}

func (s *observedStore) SetMode(ctx context.Context, mode migration.Mode, ev claim.Event) error {
	return s.do(ctx, "set_mode", func(ctx context.Context) error { return s.store.SetMode(ctx, mode, ev) })
}

func (s *observedStore) Stats(ctx context.Context, now time.Time) (claim.Stats, error) {
	return get(s, ctx, "stats", func(ctx context.Context) (claim.Stats, error) { return s.store.Stats(ctx, now) })
}

func (s *observedStore) AppendEvent(ctx context.Context, ev claim.Event) error {
	return s.do(ctx, "append_event", func(ctx context.Context) error { return s.store.AppendEvent(ctx, ev) })
}

func (s *observedStore) Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error) {
	return get(s, ctx, "events", func(ctx context.Context) ([]claim.Event, error) { return s.store.Events(ctx, before, limit) })
}

// Claims.

func (s *observedStore) CreateClaims(ctx context.Context, claims []claim.Claim, ev claim.Event) error {
	return s.do(ctx, "create_claims", func(ctx context.Context) error { return s.store.CreateClaims(ctx, claims, ev) })
}

func (s *observedStore) Claim(ctx context.Context, id string) (claim.Claim, error) {
	return get(s, ctx, "claim", func(ctx context.Context) (claim.Claim, error) { return s.store.Claim(ctx, id) })
}

func (s *observedStore) ClaimByHash(ctx context.Context, h claim.Hash) (claim.Claim, error) {
	return get(s, ctx, "claim_by_hash", func(ctx context.Context) (claim.Claim, error) { return s.store.ClaimByHash(ctx, h) })
}

func (s *observedStore) Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error) {
	return get(s, ctx, "claims", func(ctx context.Context) ([]claim.Claim, error) { return s.store.Claims(ctx, after, limit) })
}

func (s *observedStore) RedeemClaim(ctx context.Context, r claim.Redemption) (c claim.Claim, l claim.Link, err error) {
	err = s.do(ctx, "redeem_claim", func(ctx context.Context) error {
		c, l, err = s.store.RedeemClaim(ctx, r)
		return err
	})
	return c, l, err
}

func (s *observedStore) RevokeClaim(ctx context.Context, id, actor string, at time.Time) error {
	return s.do(ctx, "revoke_claim", func(ctx context.Context) error { return s.store.RevokeClaim(ctx, id, actor, at) })
}

// Links.

func (s *observedStore) Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error) {
	return get(s, ctx, "link", func(ctx context.Context) (claim.Link, error) { return s.store.Link(ctx, kind, legacyID) })
}

func (s *observedStore) LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error) {
	return get(s, ctx, "link_by_zaikio", func(ctx context.Context) (claim.Link, error) { return s.store.LinkByZaikio(ctx, kind, zaikioID) })
}

func (s *observedStore) Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error) {
	return get(s, ctx, "links", func(ctx context.Context) ([]claim.Link, error) { return s.store.Links(ctx, kind, after, limit) })
}

func (s *observedStore) PutLink(ctx context.Context, l claim.Link) error {
	return s.do(ctx, "put_link", func(ctx context.Context) error { return s.store.PutLink(ctx, l) })
}

func (s *observedStore) DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error) {
	return get(s, ctx, "delete_link", func(ctx context.Context) (claim.Link, error) {
		return s.store.DeleteLink(ctx, kind, legacyID, actor, at)
	})
}

// The directory.

func (s *observedStore) Person(ctx context.Context, id string) (claim.Person, error) {
	return get(s, ctx, "person", func(ctx context.Context) (claim.Person, error) { return s.store.Person(ctx, id) })
}

func (s *observedStore) EmailHolders(ctx context.Context, emails []string) (map[string][]string, error) {
	return get(s, ctx, "email_holders", func(ctx context.Context) (map[string][]string, error) { return s.store.EmailHolders(ctx, emails) })
}

func (s *observedStore) PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error {
	return s.do(ctx, "put_people", func(ctx context.Context) error { return s.store.PutPeople(ctx, people, ev) })
}

// Deliveries.

func (s *observedStore) FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error) {
	return get(s, ctx, "first_delivery", func(ctx context.Context) (bool, error) { return s.store.FirstDelivery(ctx, id, until) })
}

func (s *observedStore) ForgetDelivery(ctx context.Context, id string) error {
	return s.do(ctx, "forget_delivery", func(ctx context.Context) error { return s.store.ForgetDelivery(ctx, id) })
}

// Sessions and revocations.

func (s *observedStore) Session(ctx context.Context, id string) (session.Record, error) {
	return get(s, ctx, "session", func(ctx context.Context) (session.Record, error) { return s.store.Session(ctx, id) })
}

func (s *observedStore) PutSession(ctx context.Context, rec session.Record, prev uint64) error {
	return s.do(ctx, "put_session", func(ctx context.Context) error { return s.store.PutSession(ctx, rec, prev) })
}

func (s *observedStore) DeleteSession(ctx context.Context, id string) error {
	return s.do(ctx, "delete_session", func(ctx context.Context) error { return s.store.DeleteSession(ctx, id) })
}

func (s *observedStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return get(s, ctx, "delete_expired_sessions", func(ctx context.Context) (int, error) { return s.store.DeleteExpiredSessions(ctx, now) })
}

func (s *observedStore) AddRevocation(ctx context.Context, rv session.Revocation) error {
	return s.do(ctx, "add_revocation", func(ctx context.Context) error { return s.store.AddRevocation(ctx, rv) })
}

func (s *observedStore) Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error) {
	return get(s, ctx, "revocations", func(ctx context.Context) ([]session.Revocation, error) { return s.store.Revocations(ctx, now) })
}

// Assertion signing keys.

func (s *observedStore) SigningKeys(ctx context.Context) ([]assertion.Key, error) {
	return get(s, ctx, "signing_keys", s.store.SigningKeys)
}

func (s *observedStore) AddSigningKey(ctx context.Context, k assertion.Key) error {
	return s.do(ctx, "add_signing_key", func(ctx context.Context) error { return s.store.AddSigningKey(ctx, k) })
}

func (s *observedStore) DeleteSigningKey(ctx context.Context, id string) error {
	return s.do(ctx, "delete_signing_key", func(ctx context.Context) error { return s.store.DeleteSigningKey(ctx, id) })
}

// Legacy sign-ins (the readiness view).

func (s *observedStore) RecordLegacySignIn(ctx context.Context, legacyID string, at time.Time) error {
	return s.do(ctx, "record_legacy_signin", func(ctx context.Context) error { return s.store.RecordLegacySignIn(ctx, legacyID, at) })
}

func (s *observedStore) LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error) {
	return get(s, ctx, "legacy_signins", func(ctx context.Context) (map[string]time.Time, error) { return s.store.LegacySignIns(ctx, since) })
}

func (s *observedStore) FirstLegacySignIn(ctx context.Context) (time.Time, error) {
	return get(s, ctx, "first_legacy_signin", s.store.FirstLegacySignIn)
}
