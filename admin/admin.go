// Package admin is hubgate's operator surface: the JSON admin API and the
// dashboard, served on their own listener (default loopback), never on the
// public one. It owns the operator's verbs (issue, import, revoke, link,
// unlink, switch the mode, end sessions), their JSON shapes and pages, and
// the storage pieces they need (store.go). It never decides a claim or
// link rule (claim does), never serves a legacy user, and keeps nothing
// durable of its own.
//
// Every API route but the probes (/healthz, /readyz, /metrics) wants a
// bearer token (DESIGN §3): named tokens with a role, read or operator
// (tokens.go), so that the audit log names who acted. The dashboard (GET /,
// dashboard*.go) is server-rendered HTML for browsers, which sign in with
// any token through a form and then carry a sealed session cookie; its
// forms are guarded against CSRF (internal/web). Routes are listed in routes.go;
// errors reach API clients through one funnel (errors.go) and browsers
// through another (dashboard_pages.go); [Client] is the typed client the
// CLI uses.
package admin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/internal/keyrate"
	"github.com/hubgate/hubgate/internal/web"
	"github.com/hubgate/hubgate/migration"
)

// DefaultImportLimit bounds an import body when Config.ImportLimit is zero.
const DefaultImportLimit = 32 << 20

// maxBody bounds every other request body: the API's JSON bodies are small.
const maxBody = 64 << 10

// Config configures the admin Server. Store, Claims, PublicURL and a token
// (Token or Tokens) are required.
type Config struct {
	// Token is an operator bearer token (at least 16 characters), named
	// LegacyTokenName ("admin"); requests with it are audited as
	// "admin-api" plus the client's X-Hubgate-Actor, as before named
	// tokens. Empty: only Tokens.
	Token string
	// Tokens are named bearer tokens with their roles; the audit log names
	// the token ("admin-api:<name>"). Nil: only Token.
	Tokens []Token
	Store  Store
	// Claims mints claims.
	Claims *claim.Service
	// PublicURL is hubgate's public URL; claim URLs are
	// PublicURL + "/_hubgate/claim/" + token.
	PublicURL string
	// Modes are the modes an operator may switch to, DefaultMode the one
	// in force when the store holds none. Nil Modes: migration.Modes. Empty
	// DefaultMode: Modes[0].
	Modes       []migration.Mode
	DefaultMode migration.Mode
	// OnChange is called after the mode or the revocation list changed, so
	// that this replica applies the change at once (others poll). Nil: none.
	OnChange func()
	// Ready reports readiness for /readyz (store reachable, hub keys
	// fetched). Nil: the store's Ping.
	Ready func(ctx context.Context) error
	// SessionTTL is the longest a session lives; person revocations are kept
	// that long. Zero means 12 h.
	SessionTTL time.Duration
	// Metrics serves GET /metrics (Prometheus exposition), without the
	// bearer token like the probes: the admin listener is private. Nil: 404.
	Metrics http.Handler
	// LogProbes logs GET /healthz, /readyz and /metrics (orchestrator probes
	// and Prometheus scrapes) like any other request. Zero: those lines are
	// left out of the access log.
	LogProbes bool
	// Debug mounts net/http/pprof under /debug/pprof/, behind the bearer
	// token. Zero: off.
	Debug bool
	// ImportLimit bounds the body of POST /api/v1/claims/import in bytes.
	// Zero means DefaultImportLimit (32 MiB).
	ImportLimit int64
	// Mailer mails the claim links of an import with send=true, all over
	// one connection; *mail.Sender implements it. Nil: send=true is refused
	// with 400 (claims.smtp is not configured).
	Mailer Mailer
	// SignInsRecorded says that the proxy records legacy sign-ins
	// (legacy.whoami is configured), for the readiness view. False: the view
	// explains that without whoami hubgate cannot tell who would be locked
	// out.
	SignInsRecorded bool
	// AppName names the legacy application in claim mails and on the
	// dashboard (legacy.name). Empty: the public URL's host, as the
	// proxy's pages and mails do, or none when that host is an IP address.
	AppName string
	// ProviderName names the identity provider in claim mails where they
	// say "Zaikio" (provider.name). Empty: Zaikio.
	ProviderName string
	// LegacyRoutes lists the legacy route rules (routes with auth: legacy)
	// and what this instance forwarded under each since it started, for the
	// dashboard: which integrations still depend on legacy credentials.
	// Nil, or an empty list: no card.
	LegacyRoutes func() []LegacyRoute
	Logger       zerolog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Server serves the admin API and dashboard.
type Server struct {
	cfg       Config
	publicURL string                     // cfg.PublicURL without a trailing slash
	appName   string                     // cfg.AppName, or the public host
	tokens    []*tokenEntry              // Token and Tokens, hashed
	sessions  *securecookie.SecureCookie // seals dashboard session cookies; keys derived from the tokens
	forms     *web.Forms                 // CSRF defence of the dashboard's forms
	logins    *keyrate.Table             // failed dashboard sign-ins per client address
	pages     map[string]*template.Template
	log       zerolog.Logger
	mux       *http.ServeMux
	handler   http.Handler
	requests  atomic.Uint64 // request id counter
	started   time.Time     // when New ran: since when LegacyRoutes counts
}

// New validates cfg and returns the admin server.
func New(cfg Config) (*Server, error) {
	tokens, err := newTokens(cfg.Token, cfg.Tokens)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil || cfg.Claims == nil || cfg.PublicURL == "" {
		return nil, errors.New("admin: store, claims and public url are required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("admin: public url %q: want an absolute http(s) URL without query", cfg.PublicURL)
	}
	if cfg.Modes == nil {
		cfg.Modes = migration.Modes
	}
	if len(cfg.Modes) == 0 {
		return nil, errors.New("admin: modes: want at least one")
	}
	if cfg.DefaultMode == "" {
		cfg.DefaultMode = cfg.Modes[0]
	}
	if !slices.Contains(cfg.Modes, cfg.DefaultMode) {
		return nil, fmt.Errorf("admin: default mode %q is not one of %q", cfg.DefaultMode, cfg.Modes)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SessionTTL < 0 {
		return nil, fmt.Errorf("admin: session ttl %s, want > 0", cfg.SessionTTL)
	}
	if cfg.ImportLimit == 0 {
		cfg.ImportLimit = DefaultImportLimit
	}
	if cfg.ImportLimit < 0 {
		return nil, fmt.Errorf("admin: import limit %d, want > 0", cfg.ImportLimit)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	secret := tokenSecret(tokens)
	s := &Server{
		cfg:       cfg,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		appName:   cfg.AppName,
		tokens:    tokens,
		sessions:  sessionCodec(secret),
		logins:    keyrate.New(loginEvery, loginBurst, limiterMax),
		pages:     pages,
		log:       cfg.Logger,
	}
	s.started = s.now()
	if s.appName == "" && net.ParseIP(u.Hostname()) == nil {
		s.appName = u.Hostname() // an IP address is no name: mails then say "your account"
	}
	if s.forms, err = newForms(secret); err != nil {
		return nil, err
	}
	s.mux = s.routes()
	s.handler = s.accessLog(s.mux)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// now is the configured clock in UTC.
func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// changed tells this replica that the mode or the revocation list changed.
func (s *Server) changed() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// claimURL is the link a claim's token is redeemed at. It is the only place
// a token is revealed; callers hand it to the client once and never log it.
func (s *Server) claimURL(tok claim.Token) string {
	return s.publicURL + "/_hubgate/claim/" + tok.Reveal()
}
