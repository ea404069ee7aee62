package proxy

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/internal/keyrate"
	"github.com/hubgate/hubgate/internal/web"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// Hub is what the proxy needs from the Zaikio hub; *zaikio.Client implements it.
type Hub interface {
	// AuthCodeURL returns the authorize URL for a redirect flow.
	AuthCodeURL(state, verifier string, scopes []string, o zaikio.AuthOptions) string
	// Exchange trades a code and its PKCE verifier for a token.
	Exchange(ctx context.Context, code, verifier string) (*zaikio.Token, error)
	// Refresh trades a (single-use) refresh token for a new token.
	Refresh(ctx context.Context, refreshToken string) (*zaikio.Token, error)
	// Verify checks an access token's signature, issuer, audience, lifetime
	// and subject.
	Verify(ctx context.Context, t *zaikio.Token) (*zaikio.Claims, error)
	// Person reads the person a person token belongs to.
	Person(ctx context.Context, accessToken string) (*zaikio.Person, error)
	// Revoke revokes an access token.
	Revoke(ctx context.Context, accessToken string) error
}

var _ Hub = (*zaikio.Client)(nil)

// Store is what the proxy needs from storage.
type Store interface {
	claim.Store
	Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error)
	LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error)
	Person(ctx context.Context, id string) (claim.Person, error)
	PersonByEmail(ctx context.Context, email string) (claim.Person, error)
	PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error
	PutLink(ctx context.Context, l claim.Link) error
	DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error)
	AppendEvent(ctx context.Context, ev claim.Event) error
	Mode(ctx context.Context) (string, error)

	Session(ctx context.Context, id string) (session.Record, error)
	PutSession(ctx context.Context, rec session.Record, prev uint64) error
	DeleteSession(ctx context.Context, id string) error
	AddRevocation(ctx context.Context, rv session.Revocation) error
	Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error)
	FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error)
	ForgetDelivery(ctx context.Context, id string) error
	SigningKeys(ctx context.Context) ([]session.Key, error)
	AddSigningKey(ctx context.Context, k session.Key) error
	DeleteSigningKey(ctx context.Context, id string) error
	Ping(ctx context.Context) error
}

// Unlinked is the policy for a Zaikio person with no linked legacy person.
type Unlinked string

// Unlinked policies.
const (
	// UnlinkedDeny: a page says no account is linked and how to claim one.
	UnlinkedDeny Unlinked = "deny"
	// UnlinkedProvision: the legacy app creates an account through a webhook.
	UnlinkedProvision Unlinked = "provision"
	// UnlinkedPass: forwarded with Zaikio identity only.
	UnlinkedPass Unlinked = "pass"
)

// Config configures a Server. PublicURL, Upstream, Hub, Store and
// SessionSecrets are required; every other zero value has the meaning its
// comment gives.
type Config struct {
	// PublicURL is what browsers see, e.g. https://app.example.com. The
	// callback is PublicURL + /_hubgate/callback.
	PublicURL string
	// Upstream is the legacy app, e.g. http://127.0.0.1:3000.
	Upstream string
	Hub      Hub
	Store    Store
	// Claims mints and redeems claims. Nil means one built on Store with
	// the default TTL.
	Claims *claim.Service
	// Roles maps Zaikio membership roles to local roles. Zero: no roles.
	Roles roles.Map
	// SessionSecrets sign and encrypt cookies and seal server-side data: the
	// first signs, all verify (rotation). Each at least 32 bytes.
	SessionSecrets [][]byte
	// SessionTTL is a session's absolute lifetime. Zero means 12 h.
	SessionTTL time.Duration
	// Revalidate is how often identity and roles are re-read from the hub
	// (with a rotated refresh token). Zero means 5 min.
	Revalidate time.Duration
	// RevalidateGrace is how long a session keeps working past a due
	// revalidation while the hub is unreachable. Zero means 15 min.
	RevalidateGrace time.Duration
	// Mode is the initial mode when the store holds none. Zero: passthrough.
	Mode Mode
	// LoginPaths are the legacy login endpoints (exact paths, or prefixes
	// ending in "/"). Zero: none.
	LoginPaths []string
	// PublicPaths never require a session (exact paths, or prefixes ending
	// in "/"). Zero: none.
	PublicPaths []string
	// Whoami is a legacy endpoint (path on Upstream) that names the legacy
	// user of the browser's legacy session; it enables GET /_hubgate/claim.
	// Empty disables that route.
	Whoami string
	// Unlinked is the policy for Zaikio persons with no legacy link. Zero
	// means deny.
	Unlinked Unlinked
	// ProvisionURL is where UnlinkedProvision POSTs new persons: an absolute
	// URL or a path on the upstream. Required with that policy.
	ProvisionURL string
	// PersonScope is the scope for sign-in and person claims. Zero:
	// zaikio.person.r.
	PersonScope string
	// OrgScope is the scope for organization claims. Zero:
	// Per>Org.zaikio.organization.r.
	OrgScope string
	// AllowedRedirectHosts may appear in absolute return URLs besides the
	// public host; ".example.com" allows subdomains. Zero: none.
	AllowedRedirectHosts []string
	// TrustedProxies are the peers whose X-Forwarded-* and Forwarded
	// headers are believed. Zero: none (client values are dropped).
	TrustedProxies []netip.Prefix
	// UpstreamTimeout bounds the wait for the upstream's response headers.
	// Zero means 60 s.
	UpstreamTimeout time.Duration
	// BodyTimeout bounds how long a client may take to send the body of a
	// request that hubgate reads itself (forms, webhooks), so that a client
	// trickling its body is cut off. Zero means 30 s.
	BodyTimeout time.Duration
	// UpstreamMaxConns bounds the requests forwarded at once (and so the
	// connections to the upstream); requests beyond it wait for a slot.
	// It keeps memory flat when thousands of clients are connected, and
	// spares the legacy app a thundering herd. Upgrades (WebSocket) take no
	// slot; raise it for apps that hold requests open (long polling, SSE).
	// Zero means 128; negative means no bound.
	UpstreamMaxConns int
	// Transport talks to the upstream. Nil means a pooled transport tuned for
	// one busy upstream.
	Transport http.RoundTripper
	// WebhookSecret verifies Loom webhooks (X-Loom-Signature). Empty
	// disables /_hubgate/webhook.
	WebhookSecret []byte
	// Assertion adds X-Hubgate-Assertion, a signed ES256 JWT of the
	// identity, to upstream requests and forward-auth answers. Zero: off.
	Assertion bool
	// AssertionTTL is the assertion's lifetime, at most 60 s. Zero means 60 s.
	AssertionTTL time.Duration
	// AssertionAudience is the assertion's "aud". Empty means the Upstream URL.
	AssertionAudience string
	// Mailer sends claim links for "send me my link" (POST
	// /_hubgate/resend). Nil disables that route.
	Mailer Mailer
	// AppName names the legacy app in mails. Empty means the public host.
	AppName string
	// ClaimRate limits claim starts per client address: at most ClaimRate
	// per minute with bursts of as many. Zero means 20; negative means no
	// limit (tests, or a deployment that limits in front).
	ClaimRate int
	// PollInterval is how often mode and revocations are re-read from the
	// store (other replicas' changes). Zero means 1 s.
	PollInterval time.Duration
	// Metrics registers the proxy's Prometheus metrics. Nil: they are kept
	// but not registered anywhere.
	Metrics prometheus.Registerer
	// Logger receives access and event logs. Zero value: a disabled logger.
	Logger zerolog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Server is hubgate's public face: the /_hubgate routes and the reverse proxy
// in front of the legacy app.
type Server struct {
	cfg       Config
	public    *url.URL
	upstream  *url.URL
	hub       Hub
	store     Store
	claims    *claim.Service
	log       zerolog.Logger
	now       func() time.Time
	codec     *codec // session cookie and sealed server data
	flowCodec *codec // flow cookies (10 min max age)

	secure       bool   // cookies get Secure (public URL is https)
	cookiePrefix string // "__Host-" when secure
	sessionName  string // session cookie name
	personScope  []string
	orgScope     []string

	proxy    *httputil.ReverseProxy
	mux      *http.ServeMux
	pages    map[string]*template.Template
	mode     atomic.Pointer[Mode]
	pol      atomic.Pointer[Policy]
	revoked  atomic.Pointer[revocationSet]
	ids      *identityCache
	inflight sync.Map   // session id → *refresh: revalidations running in this process
	retries  retryTable // sessions whose revalidation failed: no new attempt before the time noted

	claimLimit *keyrate.Table // claim POSTs per client address
	forms      *web.Forms     // CSRF defence of our form posts
	keys       keyring        // assertion signing keys
	slots      chan struct{}  // upstream concurrency bound (nil: none)
	// originReferer replaces a Referer naming one of our pages (scrubReferer).
	originReferer []string

	resendQueue    chan resendJob
	resendByEmail  *keyrate.Table // "send me my link" per address
	resendByClient *keyrate.Table // … and per client address
	metrics        *metrics

	handler http.Handler
}

// New validates cfg, fills defaults and returns a Server. It does not start
// background work: call Run.
func New(cfg Config) (*Server, error) {
	pub, err := url.Parse(cfg.PublicURL)
	// A query, fragment or userinfo would end up in every claim URL
	// (PublicURL + "/_hubgate/claim/…") and in the origin checks.
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" || (pub.Path != "" && pub.Path != "/") ||
		pub.RawQuery != "" || pub.ForceQuery || pub.Fragment != "" || pub.User != nil {
		return nil, fmt.Errorf("proxy: public url %q: want http(s)://host[:port] without a path", cfg.PublicURL)
	}
	pub.Path = ""
	up, err := url.Parse(cfg.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q: want http(s)://host[:port]", cfg.Upstream)
	}
	if cfg.Hub == nil {
		return nil, errors.New("proxy: no hub")
	}
	if cfg.Store == nil {
		return nil, errors.New("proxy: no store")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Revalidate == 0 {
		cfg.Revalidate = 5 * time.Minute
	}
	if cfg.RevalidateGrace == 0 {
		cfg.RevalidateGrace = 15 * time.Minute
	}
	if cfg.SessionTTL < time.Minute || cfg.Revalidate < time.Second || cfg.RevalidateGrace < 0 {
		return nil, fmt.Errorf("proxy: session ttl %s / revalidate %s / grace %s out of range", cfg.SessionTTL, cfg.Revalidate, cfg.RevalidateGrace)
	}
	if cfg.Mode == "" {
		cfg.Mode = ModePassthrough
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.Unlinked == "" {
		cfg.Unlinked = UnlinkedDeny
	}
	switch cfg.Unlinked {
	case UnlinkedDeny, UnlinkedPass:
	case UnlinkedProvision:
		if u, err := url.Parse(cfg.ProvisionURL); err != nil || (u.Host == "" && !strings.HasPrefix(cfg.ProvisionURL, "/")) {
			return nil, fmt.Errorf("proxy: unlinked policy provision needs a provision url (absolute, or a path on the upstream), got %q", cfg.ProvisionURL)
		}
	default:
		return nil, fmt.Errorf("proxy: unlinked policy %q, want deny, provision or pass", cfg.Unlinked)
	}
	for _, p := range append(append([]string{}, cfg.LoginPaths...), cfg.PublicPaths...) {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/_hubgate") {
			return nil, fmt.Errorf("proxy: path %q: want an absolute path outside /_hubgate", p)
		}
	}
	if cfg.Whoami != "" && !strings.HasPrefix(cfg.Whoami, "/") {
		return nil, fmt.Errorf("proxy: whoami %q: want a path on the upstream", cfg.Whoami)
	}
	if cfg.PersonScope == "" {
		cfg.PersonScope = zaikio.PersonScope
	}
	if cfg.OrgScope == "" {
		cfg.OrgScope = "Per>Org.zaikio.organization.r"
	}
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = 60 * time.Second
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.BodyTimeout < 0 {
		return nil, fmt.Errorf("proxy: body timeout %s: want > 0", cfg.BodyTimeout)
	}
	if cfg.AssertionTTL == 0 {
		cfg.AssertionTTL = 60 * time.Second
	}
	if cfg.AssertionTTL < 10*time.Second || cfg.AssertionTTL > 60*time.Second {
		return nil, fmt.Errorf("proxy: assertion ttl %s: want between 10s and 60s", cfg.AssertionTTL)
	}
	if cfg.AssertionAudience == "" {
		cfg.AssertionAudience = strings.TrimRight(cfg.Upstream, "/")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sc, err := newCodec(cfg.SessionSecrets, cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	fc, err := newCodec(cfg.SessionSecrets, flowTTL)
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
	s := &Server{
		cfg: cfg, public: pub, upstream: up, hub: timedHub{Hub: cfg.Hub, m: m}, store: cfg.Store, claims: claims, metrics: m,
		log: cfg.Logger, now: cfg.Now, codec: sc, flowCodec: fc,
		secure:      pub.Scheme == "https",
		personScope: splitScopes(cfg.PersonScope),
		orgScope:    splitScopes(cfg.OrgScope),
		ids:         newIdentityCache(),
	}
	if cfg.AppName == "" {
		cfg.AppName = pub.Hostname()
		s.cfg.AppName = cfg.AppName
	}
	s.resendQueue = make(chan resendJob, 1024)
	// limiterMax bounds the keys each table remembers.
	const limiterMax = 50000
	s.resendByEmail = keyrate.New(time.Minute/5, 5, limiterMax)
	s.resendByClient = keyrate.New(time.Minute/30, 30, limiterMax)
	switch {
	case cfg.ClaimRate == 0:
		s.claimLimit = keyrate.New(time.Minute/20, 20, limiterMax)
	case cfg.ClaimRate > 0:
		s.claimLimit = keyrate.New(time.Minute/time.Duration(cfg.ClaimRate), cfg.ClaimRate, limiterMax)
	}
	if s.secure {
		s.cookiePrefix = "__Host-"
	}
	s.sessionName = s.cookiePrefix + "hubgate"
	s.originReferer = []string{s.origin() + "/"}
	if s.forms, err = s.newForms(); err != nil {
		return nil, err
	}
	s.pol.Store(&Policy{Roles: cfg.Roles, LoginPaths: cfg.LoginPaths, PublicPaths: cfg.PublicPaths, DefaultMode: cfg.Mode})
	mode := cfg.Mode
	s.mode.Store(&mode)
	m.setMode(mode)
	s.revoked.Store(&revocationSet{})
	s.pages, err = parsePages()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.UpstreamMaxConns == 0:
		s.slots = make(chan struct{}, 128)
	case cfg.UpstreamMaxConns > 0:
		s.slots = make(chan struct{}, cfg.UpstreamMaxConns)
	}
	s.proxy = s.newReverseProxy()
	s.mux = s.routes()
	s.handler = s.accessLog(http.HandlerFunc(s.serve))
	return s, nil
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
		if err := s.loadKeys(ctx); err != nil {
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
				if err := s.loadKeys(ctx); err != nil {
					s.log.Warn().Err(err).Str("event", "signing_keys.load").Send()
				}
			}
			if gc, ok := s.store.(interface {
				DeleteExpiredSessions(context.Context, time.Time) (int, error)
			}); ok && now.Sub(lastGC) >= 10*time.Minute {
				lastGC = now
				if n, err := gc.DeleteExpiredSessions(ctx, now); err != nil {
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
		if pm, err := ParseMode(m); err == nil && pm != *s.mode.Load() {
			s.mode.Store(&pm)
			s.metrics.setMode(pm)
			s.log.Info().Str("event", "mode.changed").Str("mode", m).Send()
		}
	}
	rvs, err := s.store.Revocations(ctx, s.now())
	if err != nil {
		s.log.Warn().Err(err).Str("event", "revocations.load").Send()
		return
	}
	s.revoked.Store(newRevocationSet(rvs))
}

// Mode returns the current mode.
func (s *Server) Mode() Mode { return *s.mode.Load() }

// Ready reports whether this replica can serve sign-ins (for /readyz): the
// store answers and the hub's signing keys can be fetched.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if k, ok := s.cfg.Hub.(interface{ CheckKeys(context.Context) error }); ok {
		if err := k.CheckKeys(ctx); err != nil {
			return fmt.Errorf("hub keys: %w", err)
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
