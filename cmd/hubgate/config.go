package main

// The configuration's schema (the Config struct, its defaults) and how it
// is loaded: the YAML file (config_yaml.go), then the environment and the
// *_file secrets (config_env.go), then defaults, then validation
// (config_validate.go).

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// Config is the configuration file (DESIGN §4). Every key can be overridden
// by the environment variable HUBGATE_<PATH> (path segments upper-cased and
// joined with "_", e.g. HUBGATE_PROVIDER_CLIENT_SECRET); list values in the
// environment are comma-separated. Secrets (the fields tagged secret) can
// also be read from files with the matching *_file key; giving both is an
// error. Each field's comment is its entry in the README's reference of
// every key (reference_test.go keeps the two in step): it says what the key
// means and what its zero value does.
type Config struct {
	Listen    string `yaml:"listen"`     // public listener, host:port
	PublicURL string `yaml:"public_url"` // required: the URL browsers use, http(s)://host[:port]; the callback is public_url + /_hubgate/callback
	Upstream  string `yaml:"upstream"`   // required: the legacy app's URL
	Mode      string `yaml:"mode"`       // initial mode (passthrough, offer or enforce), stored at the first start; then the store's mode applies
	Provider  struct {
		Kind              string `yaml:"kind"`                          // zaikio, oidc (any OpenID Connect provider), or dev (the built-in dev hub, started by serve)
		Name              string `yaml:"name"`                          // the provider's name to people, on pages and in claim mails ("Sign in with <name>"); empty: Zaikio, or with oidc the issuer's host
		URL               string `yaml:"url"`                           // the hub; required for zaikio (dev: http://127.0.0.1:4190); not with oidc (provider.issuer)
		ClientID          string `yaml:"client_id"`                     // the app's OAuth client id at the provider; required for zaikio and oidc (dev: hubgate_dev)
		ClientSecret      string `yaml:"client_secret" secret:"value"`  // the app's OAuth client secret; required for zaikio; oidc: empty for a public client (PKCE alone)
		ClientSecretFile  string `yaml:"client_secret_file"`            // file holding provider.client_secret
		AppName           string `yaml:"app_name"`                      // zaikio: the access tokens' expected audience; empty: client_id
		PersonScope       string `yaml:"person_scope"`                  // zaikio: OAuth scope of person sign-in and claims
		OrgScope          string `yaml:"org_scope"`                     // zaikio: OAuth scope of organization claims
		WebhookSecret     string `yaml:"webhook_secret" secret:"value"` // zaikio: verifies Loom webhooks (X-Loom-Signature); empty: webhooks refused
		WebhookSecretFile string `yaml:"webhook_secret_file"`           // file holding provider.webhook_secret
		// The keys of kind oidc (config_oidc.go): the provider is found by
		// discovery at issuer; person ids are made of issuer and subject.
		Issuer                string            `yaml:"issuer"`                   // oidc, required: the issuer exactly as the provider's discovery document names it; part of every person id, so changing it changes them all
		Scopes                []string          `yaml:"scopes"`                   // oidc: scopes asked for at sign-in ("openid" is always added); empty: openid, profile, email
		AuthParams            map[string]string `yaml:"auth_params"`              // oidc: extra authorize request parameters, e.g. access_type: offline; env: k=v;k=v
		UserInfo              bool              `yaml:"userinfo"`                 // oidc: read the userinfo endpoint after each sign-in and refresh, its claims over the ID token's
		AllowHMAC             bool              `yaml:"allow_hmac"`               // oidc: accept HS256/384/512 ID tokens keyed with the client secret (≥32 bytes) when discovery lists them
		PostLogoutRedirectURL string            `yaml:"post_logout_redirect_url"` // oidc: where the provider's end_session sends the browser after sign-out (register it there); empty: the provider's own page
		Memberships           struct {
			Claim string           `yaml:"claim"` // oidc: the claim whose values make organizations and roles (groups, roles, realm_access.roles); empty: no memberships, org claims off
			Rules []membershipRule `yaml:"rules"` // oidc: which claim values make which memberships, each {value, org, name, legacy, roles}; file only
		} `yaml:"memberships"`
	} `yaml:"provider"`
	Session struct {
		Secrets     []string `yaml:"secrets" secret:"value"` // required: base64 secrets of ≥32 bytes; the first signs cookies, all verify (hubgate keys new)
		SecretsFile string   `yaml:"secrets_file"`           // file holding session.secrets, whitespace-separated
		TTL         duration `yaml:"ttl"`                    // absolute session lifetime
		Revalidate  duration `yaml:"revalidate"`             // how often identity and roles are re-read from the hub
		Grace       duration `yaml:"grace"`                  // how long sessions keep working while the hub is down; zero: none
	} `yaml:"session"`
	Store     string `yaml:"store" secret:"url"` // bolt:///path/hubgate.db, a bare path, or postgres://user:pw@host/db (several replicas)
	StoreFile string `yaml:"store_file"`         // file holding store (it holds the database password)
	Admin     struct {
		Listen    string       `yaml:"listen"`               // admin API and dashboard listener; keep it private
		Token     string       `yaml:"token" secret:"value"` // operator token named admin, ≥16 characters; empty with no admin.tokens: no admin API
		TokenFile string       `yaml:"token_file"`           // file holding admin.token
		Tokens    []adminToken `yaml:"tokens"`               // named tokens, each {name, token or token_file, role}; env: name:role:token_file entries
		Debug     bool         `yaml:"debug"`                // net/http/pprof under /debug/pprof/ (operator tokens only)
	} `yaml:"admin"`
	Legacy struct {
		Name         string   `yaml:"name"`          // the app's name for people: page headings, claim mails, the dashboard (not provider.app_name, the token audience); empty: the public host, none for an IP address
		LoginPaths   []string `yaml:"login_paths"`   // the legacy login endpoints (prefix when ending in /)
		PublicPaths  []string `yaml:"public_paths"`  // paths that never require a session (prefix when ending in /)
		Whoami       string   `yaml:"whoami"`        // legacy endpoint naming the signed-in legacy user, for session-proven claims; empty: none
		ProvisionURL string   `yaml:"provision_url"` // legacy endpoint that creates an account, with unlinked: provision
		LogoutPath   string   `yaml:"logout_path"`   // legacy sign-out endpoint that hubgate's sign-out POSTs (with the browser's cookies) to end the legacy session too; empty: not ended
	} `yaml:"legacy"`
	// Routes are the route rules (config_routes.go): who authenticates
	// which requests; the first rule that matches decides.
	Routes []routeRule `yaml:"routes"` // route rules, each {methods, path, auth, roles, scope, cors}; env: "[METHODS ]PATH AUTH[ roles=a|b][ scope=s][ cors]" entries, ;-separated
	// Bearer sets how Zaikio access tokens that other apps send as
	// "Authorization: Bearer" are accepted.
	Bearer struct {
		Enabled           *bool    `yaml:"enabled"`            // accept Zaikio bearer tokens; unset: on with zaikio, off with oidc (which refuses it)
		Scope             string   `yaml:"scope"`              // the scope a token must grant where no route names one: <scope> of this app or <app>.<scope>, read for GET, HEAD and OPTIONS, write otherwise
		OrganizationRoles []string `yaml:"organization_roles"` // local roles an organization (or on-behalf) token holds in its linked organization; empty: none
		RevocationRefresh duration `yaml:"revocation_refresh"` // how old the hub's revocation list grows before it is fetched again, 1s to 1h; zero: 5m
	} `yaml:"bearer"`
	Unlinked string              `yaml:"unlinked"` // a Zaikio person without a link: deny, provision or pass
	Roles    map[string][]string `yaml:"roles"`    // Zaikio membership role → local roles; "*" for any other role; env: owner=admin;member=user|viewer
	Claims   struct {
		TTL      duration `yaml:"ttl"`               // how long claim links work
		SMTP     string   `yaml:"smtp" secret:"url"` // smtp://user:pw@host:587 or smtps://… to mail claim links; empty: no mail
		SMTPFile string   `yaml:"smtp_file"`         // file holding claims.smtp
		From     string   `yaml:"from"`              // From of claim mails
	} `yaml:"claims"`
	Assertion struct {
		Enabled  bool     `yaml:"enabled"`  // send X-Hubgate-Assertion, a signed JWT of the identity, upstream
		TTL      duration `yaml:"ttl"`      // lifetime of an assertion, 10s to 60s; zero: 60s
		Audience string   `yaml:"audience"` // the assertion's aud; empty: the upstream URL
	} `yaml:"assertion"`
	TrustedProxies       []string `yaml:"trusted_proxies"`        // CIDRs or addresses whose X-Forwarded-* and X-Original-URI are believed; empty: none
	AllowedRedirectHosts []string `yaml:"allowed_redirect_hosts"` // extra hosts return URLs may lead to; ".example.com" for subdomains, host:port for another port
	UpstreamTimeout      duration `yaml:"upstream_timeout"`       // wait for the upstream's response headers; zero: 60s
	UpstreamMaxConns     int      `yaml:"upstream_max_conns"`     // requests forwarded at once, beyond which they wait (an accepted WebSocket frees its slot); zero: 128, negative: no bound
	UpstreamHost         string   `yaml:"upstream_host"`          // the Host header upstream requests carry: public (public_url's host:port) or upstream (the upstream URL's); never the client's; empty: public
	// Limits are the per-client budgets of the public pages, each a count
	// per minute (proxy.Limits); zero means the default named, negative
	// no limit.
	Limits struct {
		IPv6Prefix      int `yaml:"ipv6_prefix"`       // leading bits of an IPv6 address that make one client; zero: 64
		FlowStarts      int `yaml:"flow_starts"`       // sign-in and claim flows started and not finished, per client and minute; zero: 120
		FailedCallbacks int `yaml:"failed_callbacks"`  // callbacks that fail, counted before any hub call; zero: 30
		FailedClaims    int `yaml:"failed_claims"`     // claim starts that fail (dead or unknown link, form check); zero: 20
		ResendPerClient int `yaml:"resend_per_client"` // "send me my link" requests per client and minute; zero: 30
		ResendPerEmail  int `yaml:"resend_per_email"`  // "send me my link" requests per email address and minute; zero: 5
	} `yaml:"limits"`
	// DevMail, set by `hubgate dev` only, receives the mails hubgate would
	// send when no claims.smtp is configured (consoleMailer).
	DevMail io.Writer `yaml:"-"`
	// OTLP is the span exporter's settings from the OTEL_EXPORTER_OTLP_*
	// variables, read with the config when tracing is on.
	OTLP otlpOptions `yaml:"-"`
	// Memory sets the memory governor (memory.go).
	Memory struct {
		Floor      string `yaml:"floor"`    // Go memory below which the GC runs as GOGC says; "off" or 0: no governor
		Headroom   int    `yaml:"headroom"` // above it, heap growth between collections as % of the live heap
		FloorBytes uint64 `yaml:"-"`        // Floor, parsed
	} `yaml:"memory"`
	Log struct {
		Level  string `yaml:"level"`  // debug, info, warn or error
		Format string `yaml:"format"` // json, or console for humans
		Access *bool  `yaml:"access"` // one log line per request; unset: on
		Probes bool   `yaml:"probes"` // access-log lines for probes and scrapes too (/_hubgate/healthz; the admin listener's /healthz, /readyz, /metrics); false: left out
	} `yaml:"log"`
	Metrics struct {
		Listen string `yaml:"listen"` // listener serving only GET /metrics, without a token, for Prometheus (e.g. ":9090"); empty: /metrics is on the admin listener only
	} `yaml:"metrics"`
	// Shutdown is what SIGTERM does: /readyz answers 503 at once, the
	// listeners keep serving for the delay, then stop accepting and drain.
	Shutdown struct {
		Delay   *duration `yaml:"delay"`   // how long the listeners keep serving after SIGTERM while /readyz answers 503, so that load balancers and Kubernetes endpoints stop routing here first; 0s: drain at once
		Timeout duration  `yaml:"timeout"` // how long in-flight requests may take to finish after the delay; then their connections are closed
	} `yaml:"shutdown"`
	Tracing struct {
		OTLPEndpoint string   `yaml:"otlp_endpoint"` // OpenTelemetry collector (OTLP/HTTP), e.g. http://otel-collector:4318 (/v1/traces is appended); empty: tracing off
		SampleRatio  *float64 `yaml:"sample_ratio"`  // share of new traces recorded, 0 to 1; a traceparent from trusted_proxies decides for its own trace (parent-based)
		ServiceName  string   `yaml:"service_name"`  // service.name of the spans
	} `yaml:"tracing"`
	// Timeouts of the listeners (public and admin) against slow clients;
	// zero means the default named.
	Timeouts struct {
		ReadHeader duration `yaml:"read_header"` // request line and headers; zero: 10s
		Idle       duration `yaml:"idle"`        // keep-alive between requests; zero: 120s
		Body       duration `yaml:"body"`        // body of a request hubgate reads itself (forms, webhooks); zero: 30s
	} `yaml:"timeouts"`
}

// adminToken is one entry of admin.tokens.
type adminToken struct {
	Name      string `yaml:"name"`                 // names the token in the audit log (admin-api:<name>): A-Z a-z 0-9 . _ @ -
	Token     string `yaml:"token" secret:"value"` // the bearer token, ≥16 characters
	TokenFile string `yaml:"token_file"`           // file holding the token
	Role      string `yaml:"role"`                 // read (GET routes only) or operator (everything)
}

// membershipRule is one entry of provider.memberships.rules (oidc.Rule).
type membershipRule struct {
	Value  string   `yaml:"value"`  // required: a claim value, exact or with one {org} standing for the organization key, e.g. "{org}-admins"
	Org    string   `yaml:"org"`    // the organization key; empty: the {org} of value
	Name   string   `yaml:"name"`   // the organization's display name ({org} is replaced); empty: the key
	Legacy string   `yaml:"legacy"` // the legacy organization id it maps to ({org} is replaced), without an org claim; empty: linked by an org claim or the admin API
	Roles  []string `yaml:"roles"`  // required: the person's roles there, as the roles map names them (owner, admin, member, …)
}

// routeRule is one entry of routes.
type routeRule struct {
	Methods []string `yaml:"methods"` // the methods it covers, upper case; empty: every method
	Path    string   `yaml:"path"`    // required: an exact path, or a prefix ending in /
	Auth    string   `yaml:"auth"`    // public, legacy (the upstream checks its own API keys) or zaikio (a session or bearer token); empty: zaikio
	Roles   []string `yaml:"roles"`   // zaikio: local roles, one of which the identity must hold for some organization (enforce mode); empty: none
	Scope   string   `yaml:"scope"`   // zaikio: the scope a bearer token must grant here; empty: bearer.scope
	CORS    bool     `yaml:"cors"`    // CORS preflights pass to the upstream without credentials or identity
}

// duration is a time.Duration in YAML and the environment; it also accepts
// a "d" suffix for days ("14d").
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return &valueError{line: n.Line, err: err}
	}
	*d = duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 12h, 90m or 14d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 12h, 90m or 14d", s)
	}
	return v, nil
}

// defaults fills what the file and environment left empty.
func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = ":4180"
	}
	if c.Mode == "" {
		c.Mode = string(migration.Passthrough)
	}
	if c.Provider.Kind == "" {
		c.Provider.Kind = "zaikio"
	}
	if c.Provider.PersonScope == "" && c.Provider.Kind != "oidc" {
		c.Provider.PersonScope = "zaikio.person.r"
	}
	if c.Provider.OrgScope == "" && c.Provider.Kind != "oidc" {
		c.Provider.OrgScope = "Per>Org.zaikio.organization.r"
	}
	if c.Session.TTL == 0 {
		c.Session.TTL = duration(12 * time.Hour)
	}
	if c.Session.Revalidate == 0 {
		c.Session.Revalidate = duration(5 * time.Minute)
	}
	if c.Store == "" {
		c.Store = "bolt://hubgate.db"
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:4181"
	}
	if c.Unlinked == "" {
		c.Unlinked = string(proxy.UnlinkedDeny)
	}
	if c.Bearer.Scope == "" {
		c.Bearer.Scope = proxy.DefaultBearerScope
	}
	if c.Claims.TTL == 0 {
		c.Claims.TTL = duration(claim.DefaultTTL)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Shutdown.Delay == nil {
		d := duration(10 * time.Second)
		c.Shutdown.Delay = &d
	}
	if c.Shutdown.Timeout == 0 {
		c.Shutdown.Timeout = duration(30 * time.Second)
	}
	if c.Tracing.SampleRatio == nil {
		r := 0.1
		c.Tracing.SampleRatio = &r
	}
	if c.Tracing.ServiceName == "" {
		c.Tracing.ServiceName = "hubgate"
	}
}

// loadConfig reads the YAML file (unknown keys are errors: a typo must not
// silently fall back to a default), applies the environment (unknown
// HUBGATE_* variables are errors too), reads *_file secrets, fills defaults
// and validates. It goes on past a fault, so that the error names every key
// at fault (config_errors.go).
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	var c Config
	p := newProblems(path)
	if path != "" {
		raw, err := readBounded(path, maxConfigFile)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeConfigFile(raw, &c, p); err != nil {
			return nil, err
		}
	}
	if err := c.finish(getenv, p); err != nil {
		return nil, err
	}
	return &c, nil
}

// finish loads the rest onto what the file (or `hubgate dev`) set: the
// environment, the secret files, the defaults, and validation.
func (c *Config) finish(getenv func(string) string, p *problems) error {
	p.phase = phaseEnv
	checkEnvNames(getenv, p)
	applyEnv(reflect.ValueOf(c).Elem(), "HUBGATE", "", getenv, p)
	p.phase = phaseSecrets
	c.readSecretFiles(p)
	c.defaults()
	p.phase = phaseValidate
	c.check(p)
	if c.Tracing.OTLPEndpoint != "" {
		var err error
		if c.OTLP, err = otlpOptionsFrom(getenv); err != nil {
			p.add("tracing.otlp_endpoint", err.Error())
		}
	}
	return p.err()
}

// Bounds on the files the config reads: a path that names a device or a
// huge file by mistake (/dev/zero, a log file) fails with a message instead
// of exhausting memory.
const (
	maxConfigFile = 1 << 20
	maxSecretFile = 64 << 10
)

// readBounded reads the file at path, refusing files larger than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// adminTokens are admin.tokens as the admin package takes them.
func (c *Config) adminTokens() []admin.Token {
	var out []admin.Token
	for _, t := range c.Admin.Tokens {
		out = append(out, admin.Token{Name: t.Name, Value: t.Token, Role: admin.Role(t.Role)})
	}
	return out
}
