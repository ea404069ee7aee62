package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/internal/keyrate"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

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

// UpstreamHost names the Host header that upstream requests carry.
type UpstreamHost string

// Upstream Host choices.
const (
	// UpstreamHostPublic: the public URL's host and port.
	UpstreamHostPublic UpstreamHost = "public"
	// UpstreamHostUpstream: the upstream URL's host and port.
	UpstreamHostUpstream UpstreamHost = "upstream"
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
	// HubURL is the hub's base URL, e.g. https://hub.zaikio.com: the pages'
	// forms lead there (their Content-Security-Policy form-action names
	// it). Empty: pages may post only to hubgate itself.
	HubURL string
	// Claims mints and redeems claims. Nil means one built on Store with
	// the default TTL.
	Claims *claim.Service
	// Roles maps Zaikio membership roles to local roles. Zero: no roles.
	Roles roles.Map
	// SessionSecrets sign and encrypt cookies and seal server-side data: the
	// first signs, all verify (rotation). Each at least 32 bytes.
	SessionSecrets [][]byte
	// SessionTTL is a session's absolute lifetime, at least a minute. Zero
	// means 12 h.
	SessionTTL time.Duration
	// Revalidate is how often identity and roles are re-read from the hub
	// (with a rotated refresh token). Zero means 5 min.
	Revalidate time.Duration
	// RevalidateGrace is how long a session keeps working past a due
	// revalidation while the hub is unreachable. Zero means 15 min;
	// negative is refused.
	RevalidateGrace time.Duration
	// Mode is the initial mode when the store holds none. Zero: passthrough.
	Mode migration.Mode
	// LoginPaths are the legacy login endpoints (exact paths, or prefixes
	// ending in "/"), closed in enforce mode in every spelling an upstream
	// framework routes to them: letter case, trailing slash, ";params",
	// ".format" (see paths.go). Zero: none.
	LoginPaths []string
	// PublicPaths never require a session (exact paths, or prefixes ending
	// in "/"), matched exactly as written, letter for letter (see
	// paths.go). Zero: none.
	PublicPaths []string
	// Routes are the route rules: who authenticates which requests
	// (routes_rules.go). PublicPaths follow them as public rules. Zero:
	// none (every path but the public ones is zaikio).
	Routes []Route
	// Bearer verifies Zaikio access tokens sent as "Authorization: Bearer"
	// (bearer.go). Nil: bearer tokens are not accepted, and an
	// Authorization header is the upstream's alone.
	Bearer Bearer
	// BearerScope is the scope a bearer token must grant on a route whose
	// rule names none: "<scope>" of this app or "<app>.<scope>", with the
	// permission of the method (r for GET, HEAD and OPTIONS, w otherwise).
	// Zero: DefaultBearerScope ("api").
	BearerScope string
	// BearerOrgRoles are the local roles an organization token (and an
	// on-behalf token) holds in its linked legacy organization, as
	// "<org>:<role>" entries of X-Hubgate-Roles. Zero: none.
	BearerOrgRoles []string
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
	// public origin: "example.com" that host, ".example.com" it and its
	// subdomains, each with an optional ":port"; without one only the
	// scheme's default port. Only https, or http when PublicURL is http
	// (a return never downgrades). Zero: none.
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
	// spares the legacy app a thundering herd. A WebSocket holds its slot
	// only until the upstream accepts it (101); raise the bound for apps
	// that hold requests open (long polling, SSE).
	// Zero means 128; negative means no bound.
	UpstreamMaxConns int
	// UpstreamHost is the Host header upstream requests carry:
	// UpstreamHostPublic (the host and port of PublicURL, where the legacy
	// app is served) or UpstreamHostUpstream (the host and port of
	// Upstream, for apps that route by their internal name). Never the
	// client's Host. Zero means UpstreamHostPublic.
	UpstreamHost UpstreamHost
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
	// AppName names the legacy app to people: in the pages' heading and
	// title, in claim mails ("Link your <AppName> account to Zaikio").
	// Not provider.app_name, which is the access tokens' audience. Empty
	// means the public host, or no name at all when that host is an IP
	// address (pages then say "Sign-in", mails "your account").
	AppName string
	// ProviderName names the identity provider to people, where the pages
	// and claim mails say "Zaikio": "Keycloak", "Microsoft", … Empty or
	// "Zaikio": Zaikio.
	ProviderName string
	// LegacyLogout is the legacy app's sign-out endpoint (a path on
	// Upstream). hubgate's sign-out then also ends the legacy session:
	// it POSTs this path with the browser's cookies (hubgate's own
	// removed) and X-Hubgate-Logout: 1, and hands the Set-Cookie headers
	// of the answer to the browser. Empty: hubgate's sign-out ends only
	// hubgate's session.
	LegacyLogout string
	// Limits are the per-client budgets of the public pages. Zero: the
	// defaults Limits names.
	Limits Limits
	// PollInterval is how often mode and revocations are re-read from the
	// store (other replicas' changes). Zero means 1 s.
	PollInterval time.Duration
	// Metrics registers the proxy's Prometheus metrics. Nil: they are kept
	// but not registered anywhere.
	Metrics prometheus.Registerer
	// TracerProvider makes the spans of requests, upstream calls and hub
	// calls (trace.go). Nil: tracing off; the request path then creates no
	// span and allocates nothing for tracing.
	TracerProvider trace.TracerProvider
	// Logger receives access and event logs. Zero value: a disabled logger.
	Logger zerolog.Logger
	// LogProbes logs GET /_hubgate/healthz (liveness probes) like any other
	// request. Zero: those lines are left out of the access log.
	LogProbes bool
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Limits are the per-client budgets of the public pages (DESIGN §3: limits
// count abuse, not success, so that an office behind one address passes).
// A client is an IPv4 address or an IPv6 prefix (IPv6Prefix), as the peer
// or a trusted proxy names it. Each budget is a count per minute that a
// client may also spend at once; when it is spent the client gets a 429
// page until it refills. Zero means the default named; negative means no
// limit (tests, or a deployment that limits in front).
type Limits struct {
	// IPv6Prefix is how many leading bits of an IPv6 address make one
	// client (1–128). Zero means 64: one subscriber's network. A client
	// holding a shorter prefix (a /48 is a common allocation) gets one
	// budget per /64 in it; 56 or 48 bound such clients, at the cost of
	// neighbours sharing a budget.
	IPv6Prefix int
	// FlowStarts bounds the redirect flows (sign-in, claims) a client
	// starts that do not come back with a token the hub issued: a flow
	// whose callback succeeds gives its start back. Zero means 120.
	FlowStarts int
	// FailedCallbacks bounds the callbacks that fail (no live flow in this
	// browser, a code the hub refuses, a hub error): the budget is checked
	// before any hub call, so forged callbacks cannot make hubgate spend
	// its hub quota. Zero means 30.
	FailedCallbacks int
	// FailedClaims bounds the claim starts that fail (a dead, used or
	// unknown token; a failed form check; no legacy session). Successful
	// starts do not count. Zero means 20.
	FailedClaims int
	// ResendPerClient bounds "send me my link" requests per client. Zero
	// means 30.
	ResendPerClient int
	// ResendPerEmail bounds "send me my link" requests per email address.
	// Zero means 5.
	ResendPerEmail int
}

// withDefaults returns lim with the zero values replaced by the defaults.
func (lim Limits) withDefaults() Limits {
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&lim.IPv6Prefix, keyrate.DefaultIPv6Prefix}, {&lim.FlowStarts, 120}, {&lim.FailedCallbacks, 30},
		{&lim.FailedClaims, 20}, {&lim.ResendPerClient, 30}, {&lim.ResendPerEmail, 5},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return lim
}

// withDefaults returns cfg with every zero value that has a default
// replaced by it.
func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.SessionTTL, session.DefaultTTL)
	def(&cfg.Revalidate, session.DefaultRevalidate)
	def(&cfg.RevalidateGrace, session.DefaultGrace)
	def(&cfg.UpstreamTimeout, 60*time.Second)
	def(&cfg.BodyTimeout, 30*time.Second)
	def(&cfg.AssertionTTL, 60*time.Second)
	def(&cfg.PollInterval, time.Second)
	if cfg.Mode == "" {
		cfg.Mode = migration.Passthrough
	}
	if cfg.Unlinked == "" {
		cfg.Unlinked = UnlinkedDeny
	}
	if cfg.UpstreamHost == "" {
		cfg.UpstreamHost = UpstreamHostPublic
	}
	if cfg.PersonScope == "" {
		cfg.PersonScope = zaikio.PersonScope
	}
	if cfg.OrgScope == "" {
		cfg.OrgScope = "Per>Org.zaikio.organization.r"
	}
	if cfg.AssertionAudience == "" {
		cfg.AssertionAudience = strings.TrimRight(cfg.Upstream, "/")
	}
	if cfg.AppName == "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil && net.ParseIP(u.Hostname()) == nil {
			cfg.AppName = u.Hostname()
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits = cfg.Limits.withDefaults()
	return cfg
}

// validate checks cfg (with defaults filled) and returns the parsed public
// and upstream URLs. The session secrets are checked where they are used
// (session.NewCodec).
func (cfg Config) validate() (pub, up *url.URL, err error) {
	pub, err = url.Parse(cfg.PublicURL)
	// A query, fragment or userinfo would end up in every claim URL
	// (PublicURL + "/_hubgate/claim/…") and in the origin checks.
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" || (pub.Path != "" && pub.Path != "/") ||
		pub.RawQuery != "" || pub.ForceQuery || pub.Fragment != "" || pub.User != nil {
		return nil, nil, fmt.Errorf("proxy: public url %q: want http(s)://host[:port] without a path", cfg.PublicURL)
	}
	if _, ok := portOf(pub); !ok {
		return nil, nil, fmt.Errorf("proxy: public url %q: port: want 1 to 65535, plain decimal", cfg.PublicURL)
	}
	pub.Path = ""
	up, err = url.Parse(cfg.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, nil, fmt.Errorf("proxy: upstream %q: want http(s)://host[:port]", cfg.Upstream)
	}
	if cfg.UpstreamHost != UpstreamHostPublic && cfg.UpstreamHost != UpstreamHostUpstream {
		return nil, nil, fmt.Errorf("proxy: upstream host %q: want public or upstream", cfg.UpstreamHost)
	}
	if cfg.Hub == nil {
		return nil, nil, errors.New("proxy: no hub")
	}
	if cfg.Store == nil {
		return nil, nil, errors.New("proxy: no store")
	}
	if cfg.SessionTTL < time.Minute || cfg.Revalidate < time.Second || cfg.RevalidateGrace < 0 {
		return nil, nil, fmt.Errorf("proxy: session ttl %s / revalidate %s / grace %s out of range", cfg.SessionTTL, cfg.Revalidate, cfg.RevalidateGrace)
	}
	if _, err := migration.ParseMode(string(cfg.Mode)); err != nil {
		return nil, nil, err
	}
	if err := cfg.validateLegacy(); err != nil {
		return nil, nil, err
	}
	if cfg.BodyTimeout < 0 {
		return nil, nil, fmt.Errorf("proxy: body timeout %s: want > 0", cfg.BodyTimeout)
	}
	if p := cfg.Limits.IPv6Prefix; p < 1 || p > 128 {
		return nil, nil, fmt.Errorf("proxy: limits: ipv6 prefix /%d: want 1 to 128", p)
	}
	if err := validRedirectHosts(cfg.AllowedRedirectHosts); err != nil {
		return nil, nil, err
	}
	if cfg.AssertionTTL < 10*time.Second || cfg.AssertionTTL > 60*time.Second {
		return nil, nil, fmt.Errorf("proxy: assertion ttl %s: want between 10s and 60s", cfg.AssertionTTL)
	}
	return pub, up, nil
}

// validateLegacy checks what hubgate is told about the legacy app: the
// unlinked policy and its provision URL, the login and public paths, whoami.
func (cfg Config) validateLegacy() error {
	switch cfg.Unlinked {
	case UnlinkedDeny, UnlinkedPass:
	case UnlinkedProvision:
		if u, err := url.Parse(cfg.ProvisionURL); err != nil || (u.Host == "" && !strings.HasPrefix(cfg.ProvisionURL, "/")) {
			return fmt.Errorf("proxy: unlinked policy provision needs a provision url (absolute, or a path on the upstream), got %q", cfg.ProvisionURL)
		}
	default:
		return fmt.Errorf("proxy: unlinked policy %q, want deny, provision or pass", cfg.Unlinked)
	}
	for _, p := range append(append([]string{}, cfg.LoginPaths...), cfg.PublicPaths...) {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/_hubgate") {
			return fmt.Errorf("proxy: path %q: want an absolute path outside /_hubgate", p)
		}
	}
	if cfg.Whoami != "" && !strings.HasPrefix(cfg.Whoami, "/") {
		return fmt.Errorf("proxy: whoami %q: want a path on the upstream", cfg.Whoami)
	}
	if cfg.LegacyLogout != "" && (!strings.HasPrefix(cfg.LegacyLogout, "/") || strings.HasPrefix(cfg.LegacyLogout, "//") || strings.HasPrefix(cfg.LegacyLogout, "/_hubgate")) {
		return fmt.Errorf("proxy: legacy logout %q: want a path on the upstream, outside /_hubgate", cfg.LegacyLogout)
	}
	if strings.Contains(cfg.ProviderName, "%") {
		return fmt.Errorf("proxy: provider name %q: no %%, please", cfg.ProviderName)
	}
	return nil
}
