package proxy

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/internal/keyrate"
	"github.com/hubgate/hubgate/internal/web"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// Hub is what the proxy needs from the Zaikio hub; *zaikio.Client implements it.
type Hub interface {
	// AuthCodeURL returns the authorize URL for a redirect flow. A provider
	// that reads its endpoints from discovery may have to call it first:
	// hence the context, and the error (ErrUnavailable-wrapping when the
	// provider cannot be reached).
	AuthCodeURL(ctx context.Context, state, verifier string, scopes []string, o zaikio.AuthOptions) (string, error)
	// Exchange trades a code and its PKCE verifier for a token.
	Exchange(ctx context.Context, code, verifier string) (*zaikio.Token, error)
	// Refresh trades a (single-use) refresh token for a new token.
	Refresh(ctx context.Context, refreshToken string) (*zaikio.Token, error)
	// Verify checks an access token's signature, issuer, audience, lifetime
	// and subject.
	Verify(ctx context.Context, t *zaikio.Token) (*zaikio.Claims, error)
	// Person reads the person a person token belongs to.
	Person(ctx context.Context, accessToken string) (*zaikio.Person, error)
	// Organization reads the organization an organization token belongs to
	// (its name for the page after an organization claim).
	Organization(ctx context.Context, accessToken string) (*zaikio.Organization, error)
	// Revoke revokes an access token.
	Revoke(ctx context.Context, accessToken string) error
	// CheckKeys reports whether the hub's token signing keys can be
	// fetched (readiness: without them no sign-in verifies).
	CheckKeys(ctx context.Context) error
}

var _ Hub = (*zaikio.Client)(nil)

// Server is hubgate's public face: the /_hubgate routes and the reverse proxy
// in front of the legacy app.
type Server struct {
	cfg      Config
	public   *url.URL
	upstream *url.URL
	hub      Hub
	store    Store
	claims   *claim.Service
	log      zerolog.Logger
	now      func() time.Time

	sessions   *session.Manager  // the session's whole life: cookie, identity, revalidation, revocation
	assertions *assertion.Signer // X-Hubgate-Assertion and its keys
	flowCodec  *session.Codec    // flow cookies (10 min max age)

	secure       bool   // cookies get Secure (public URL is https)
	cookiePrefix string // "__Host-" when secure
	personScope  []string
	orgScope     []string

	proxy *httputil.ReverseProxy
	mux   *http.ServeMux
	pages map[string]*template.Template
	mode  atomic.Pointer[migration.Mode]
	pol   atomic.Pointer[Policy]

	claimLimit *keyrate.Table // failed claim starts per client (limits.go)
	forms      *web.Forms     // CSRF defence of our form posts
	slots      chan struct{}  // upstream concurrency bound (nil: none)
	// originReferer replaces a Referer naming one of our pages (scrubReferer).
	originReferer []string

	resendQueue    chan resendJob
	resendByEmail  *keyrate.Table // "send me my link" per address
	resendByClient *keyrate.Table // … and per client address
	flowLimit      *keyrate.Table // unfinished redirect flows per client
	callbackLimit  *keyrate.Table // failed callbacks per client
	metrics        *metrics
	tracer         trace.Tracer                 // nil: tracing off
	signInLookups  signInLookups                // whoami calls of observed legacy logins (legacylogin.go)
	routeMetrics   *routeMetrics                // route rules (routes_rules.go)
	bearer         *bearerGate                  // bearer tokens (bearer.go); nil: not accepted
	caps           caps                         // the Hub's optional capabilities (provider.go)
	messages       map[string]map[string]string // the catalog naming cfg.ProviderName (pages.go)

	handler http.Handler
}

// New fills cfg's defaults, validates it and returns a Server. It does not
// start background work: call Start, then Run.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	pub, up, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return build(cfg, pub, up)
}

// build wires a Server from a valid cfg.
func build(cfg Config, pub, up *url.URL) (*Server, error) {
	// The flow codec checks the session secrets before the metrics are
	// registered, so that a bad secret leaves nothing in the registry.
	fc, err := session.NewCodec(cfg.SessionSecrets, flowTTL)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("proxy: metrics: %w", err)
	}
	claims := cfg.Claims
	if claims == nil {
		claims = &claim.Service{Store: cfg.Store, Now: cfg.Now}
	}
	var tracer trace.Tracer
	if cfg.TracerProvider != nil {
		tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	s := &Server{
		cfg: cfg, public: pub, upstream: up, hub: timedHub{Hub: cfg.Hub, m: m, tracer: tracer}, store: cfg.Store, claims: claims, metrics: m, tracer: tracer,
		log: cfg.Logger, now: cfg.Now, flowCodec: fc,
		secure: pub.Scheme == "https", caps: capsOf(cfg.Hub), messages: catalogNaming(cfg.ProviderName),
		personScope: splitScopes(cfg.PersonScope),
		orgScope:    splitScopes(cfg.OrgScope),
	}
	if s.secure {
		s.cookiePrefix = "__Host-"
	}
	if s.routeMetrics, err = newRouteMetrics(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("proxy: metrics: %w", err)
	}
	if cfg.Bearer != nil {
		if s.bearer, err = newBearerGate(cfg, cfg.Store); err != nil {
			return nil, err
		}
	}
	if s.sessions, err = s.newSessions(); err != nil {
		return nil, err
	}
	if s.assertions, err = s.newAssertions(); err != nil {
		return nil, err
	}
	s.newLimits()
	s.originReferer = []string{s.origin() + "/"}
	if s.forms, err = s.newForms(); err != nil {
		return nil, err
	}
	pol := &Policy{Roles: cfg.Roles, LoginPaths: cfg.LoginPaths, PublicPaths: cfg.PublicPaths, Routes: cfg.Routes, DefaultMode: cfg.Mode}
	if err := pol.validate(); err != nil {
		return nil, err
	}
	pol.rules = compileRules(cfg.Routes, cfg.PublicPaths, s.routeMetrics)
	s.pol.Store(pol)
	mode := cfg.Mode
	s.mode.Store(&mode)
	m.setMode(mode)
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	switch {
	case cfg.UpstreamMaxConns == 0:
		s.slots = make(chan struct{}, 128)
	case cfg.UpstreamMaxConns > 0:
		s.slots = make(chan struct{}, cfg.UpstreamMaxConns)
	}
	if s.slots != nil {
		m.slots.Store(&s.slots)
	}
	s.proxy = s.newReverseProxy()
	if tracer != nil {
		s.proxy.Transport = tracedTransport{next: s.proxy.Transport, tracer: tracer}
	}
	s.mux = s.routes()
	s.handler = s.accessLog(http.HandlerFunc(s.serve))
	return s, nil
}

// newSessions builds the session manager: the session cookie is
// "__Host-hubgate" on https, and the session logs through the proxy's
// logger. With bearer tokens on, the bearer gate reads the revocation list
// the manager polls (revocationTap).
func (s *Server) newSessions() (*session.Manager, error) {
	var st session.Store = s.store
	if s.bearer != nil {
		st = revocationTap{Store: s.store, g: s.bearer}
	}
	return session.New(session.Config{
		Secrets: s.cfg.SessionSecrets, Store: st, Refresher: refresher{s: s},
		CookieName: s.cookiePrefix + "hubgate", Secure: s.secure,
		TTL: s.cfg.SessionTTL, Revalidate: s.cfg.Revalidate, Grace: s.cfg.RevalidateGrace,
		Logger: slog.New(zerolog.NewSlogHandler(s.log)), RequestID: requestID, Now: s.now,
	})
}

// newAssertions builds the assertion signer; its keys are sealed with the
// session secrets.
func (s *Server) newAssertions() (*assertion.Signer, error) {
	sealer, err := session.NewCodec(s.cfg.SessionSecrets, 0)
	if err != nil {
		return nil, err
	}
	return assertion.New(assertion.Config{
		Store: s.store, Sealer: sealer, Issuer: s.public.String(), Audience: s.cfg.AssertionAudience,
		TTL: s.cfg.AssertionTTL, Logger: s.log, Now: s.now,
	}), nil
}

func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// ServeHTTP is the whole public listener.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serve strips identity headers first, for every request, then dispatches:
// /_hubgate/ to hubgate's routes, everything else through the gate to the
// upstream.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	stripIdentityHeaders(r.Header)
	if ours(r.URL.Path) {
		s.mux.ServeHTTP(w, r)
		return
	}
	s.serveUpstream(w, r)
}

// ours reports whether p is, or cleans to, a path under /_hubgate: such
// paths are never forwarded (the mux redirects unclean ones to the clean
// path), so "//_hubgate/claim/…" or "/x/../_hubgate/claim/…" cannot carry
// a claim token to the upstream.
func ours(p string) bool {
	if strings.HasPrefix(p, "/_hubgate/") || p == "/_hubgate" {
		return true
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/.") {
		c := path.Clean(p)
		return strings.HasPrefix(c, "/_hubgate/") || c == "/_hubgate"
	}
	return false
}

// Start loads what the request path needs from the store (mode,
// revocations, assertion keys) before the first request is served.
func (s *Server) Start(ctx context.Context) error {
	s.Refresh(ctx)
	if s.cfg.Assertion {
		if err := s.assertions.Load(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Run keeps the mode, the revocation list and the assertion keys fresh until
// ctx ends (other replicas' changes arrive within PollInterval), and deletes
// expired session records now and then.
func (s *Server) Run(ctx context.Context) error {
	go s.runResend(ctx)
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	lastKeys, lastGC := s.now(), time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Refresh(ctx)
			now := s.now()
			if s.cfg.Assertion && now.Sub(lastKeys) >= time.Minute {
				lastKeys = now
				if err := s.assertions.Load(ctx); err != nil {
					s.log.Warn().Err(err).Str("event", "signing_keys.load").Send()
				}
			}
			if now.Sub(lastGC) >= 10*time.Minute {
				lastGC = now
				if s.bearer != nil {
					s.bearer.sweep()
				}
				if n, err := s.sessions.DeleteExpired(ctx); err != nil {
					s.log.Warn().Err(err).Str("event", "sessions.gc").Send()
				} else if n > 0 {
					s.log.Info().Int("deleted", n).Str("event", "sessions.gc").Send()
				}
			}
		}
	}
}

// Refresh re-reads the mode and the revocation list from the store now.
func (s *Server) Refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if m, err := s.store.Mode(ctx); err != nil {
		s.log.Warn().Err(err).Str("event", "mode.load").Send()
	} else if m != "" {
		if pm, err := migration.ParseMode(string(m)); err == nil && pm != *s.mode.Load() {
			s.mode.Store(&pm)
			s.metrics.setMode(pm)
			s.log.Info().Str("event", "mode.changed").Str("mode", string(m)).Send()
		}
	}
	if err := s.sessions.LoadRevocations(ctx); err != nil {
		s.log.Warn().Err(err).Str("event", "revocations.load").Send()
	}
}

// Mode returns the current mode.
func (s *Server) Mode() migration.Mode { return *s.mode.Load() }

// Ready reports whether this replica can serve sign-ins (for /readyz): the
// store answers and the hub's signing keys can be fetched; with bearer
// tokens on, also the hub's revocation list (fetched now, so that the first
// bearer request does not wait for it).
func (s *Server) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := s.cfg.Hub.CheckKeys(ctx); err != nil {
		return fmt.Errorf("hub keys: %w", err)
	}
	if s.bearer != nil {
		if err := s.bearer.v.Prefetch(ctx); err != nil {
			return fmt.Errorf("bearer tokens: %w", err)
		}
	}
	return nil
}

// remoteIP is the peer address of r without the port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientIP is the address of the client for rate limits and logs: the
// peer, or — when the peer is one of trusted_proxies — the right-most
// address in X-Forwarded-For that is not a trusted proxy (the left part of
// the header is the client's to write). Garbage in the header stops the
// walk at the proxy.
func (s *Server) clientIP(r *http.Request) string {
	ip := remoteIP(r)
	if !s.trusted(ip) {
		return ip
	}
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			var part string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				part, v = v, ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, err := netip.ParseAddr(part)
			if err != nil {
				return ip
			}
			if !s.trusted(a.String()) {
				return a.Unmap().String()
			}
		}
	}
	return ip
}

// Handler is ServeHTTP as an http.Handler, for callers that want a value.
func (s *Server) Handler() http.Handler { return s }

// PublicURL returns the configured public URL (no trailing slash).
func (s *Server) PublicURL() string { return s.public.String() }
