package main

// Validation of a loaded configuration, one function per section, in the
// order the file lists them: every key at fault is named, with what was
// wanted (problems collects them; config_errors.go). Validation also fills
// the few defaults that depend on other keys (the dev provider's URL and
// client, the memory governor's floor). Warnings are what is allowed but
// probably a mistake.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
)

// validate checks every key; the error names each one at fault.
func (c *Config) validate() error {
	p := newProblems("")
	p.phase = phaseValidate
	c.check(p)
	return p.err()
}

// check adds a fault for every key at fault.
func (c *Config) check(p *problems) {
	for _, check := range []func(*problems){
		c.validateURLs,
		c.validateMode,
		c.validateProvider,
		c.validateSession,
		c.validateStore,
		c.validateAdmin,
		c.validateLegacy,
		c.validateRoutes, c.validateBearer,
		c.validateRoles,
		c.validateClaims,
		c.validateAssertion,
		c.validateNetwork,
		c.validateLimits, c.validateUpstreamHost,
		c.validateMemory,
		c.validateLog,
		c.validateOperations,
	} {
		check(p)
	}
}

// validateURLs checks public_url and upstream.
func (c *Config) validateURLs(p *problems) {
	if _, err := url.Parse(c.PublicURL); c.PublicURL == "" || err != nil {
		p.add("public_url", "required: the URL browsers use, e.g. https://app.example.com")
	} else if u, _ := url.Parse(c.PublicURL); (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		// No query, fragment or userinfo either: claim URLs are public_url +
		// "/_hubgate/claim/…", and the admin API refuses such a URL at start.
		p.addf("public_url", "%q: want http(s)://host[:port] without a path", c.PublicURL)
	}
	if u, err := url.Parse(c.Upstream); c.Upstream == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf("upstream", "%q: want the legacy app's URL, e.g. http://127.0.0.1:3000", c.Upstream)
	}
}

func (c *Config) validateMode(p *problems) {
	if _, err := migration.ParseMode(c.Mode); err != nil {
		p.addf("mode", "%q: want passthrough, offer or enforce", c.Mode)
	}
}

// validateProvider checks the provider section; for the dev hub it fills
// the URL and client that `hubgate serve` starts it with.
// What a build without the dev tools (devTools false: -tags nodev, the
// release build) says to `hubgate dev` and to provider.kind dev.
const (
	noDevTools     = "this hubgate is built without the dev tools (-tags nodev, the release build): "
	noDevToolsKind = noDevTools + "use zaikio or oidc"
)

func (c *Config) validateProvider(p *problems) {
	if n := c.Provider.Name; len(n) > 64 || strings.ContainsFunc(n, unicode.IsControl) || strings.Contains(n, "%") {
		p.add("provider.name", "want at most 64 bytes without control characters or %")
	}
	switch c.Provider.Kind {
	case "zaikio":
		c.validateZaikio(p)
		c.refuseOIDCKeys(p)
	case "oidc":
		c.validateOIDC(p)
	case "dev":
		if !devTools {
			p.add("provider.kind", noDevToolsKind)
			return
		}
		c.refuseOIDCKeys(p)
		if c.Provider.URL == "" {
			c.Provider.URL = "http://127.0.0.1:4190"
		}
		if u, err := url.Parse(c.Provider.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			p.addf("provider.url", "%q: the dev hub listens on a loopback http URL", c.Provider.URL)
		}
		if c.Provider.ClientID == "" {
			c.Provider.ClientID = "hubgate_dev"
		}
		if c.Provider.ClientSecret == "" {
			c.Provider.ClientSecret = "dev-secret"
		}
	default:
		p.addf("provider.kind", "%q: want zaikio, oidc or dev", c.Provider.Kind)
	}
}

func (c *Config) validateZaikio(p *problems) {
	if c.Provider.URL == "" {
		p.add("provider.url", "required: the hub URL, e.g. https://hub.sandbox.zaikio.com")
	} else if u, err := url.Parse(c.Provider.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf("provider.url", "%q: want an http(s) URL such as https://hub.sandbox.zaikio.com", c.Provider.URL)
	}
	if c.Provider.ClientID == "" {
		p.add("provider.client_id", "required")
	}
	if c.Provider.ClientSecret == "" {
		p.add("provider.client_secret", "required (or provider.client_secret_file)")
	}
}

func (c *Config) validateSession(p *problems) {
	if len(c.Session.Secrets) == 0 {
		p.add("session.secrets", "required: at least one base64 secret of ≥32 bytes (hubgate keys new makes one)")
	}
	for i := range c.Session.Secrets {
		if _, err := decodeSecret(c.Session.Secrets[i]); err != nil {
			p.add(fmt.Sprintf("session.secrets[%d]", i), err.Error())
		}
	}
	if c.Session.TTL < duration(time.Minute) {
		p.add("session.ttl", "want at least 1m")
	}
	if c.Session.Revalidate < duration(time.Second) || c.Session.Revalidate > c.Session.TTL {
		p.add("session.revalidate", "want between 1s and session.ttl")
	}
	if c.Session.Grace < 0 {
		p.add("session.grace", "want ≥ 0")
	}
}

func (c *Config) validateStore(p *problems) {
	if _, _, err := parseStore(c.Store); err != nil {
		p.add("store", err.Error())
	}
}

// validateAdmin checks admin.token and admin.tokens: the rules of
// admin.New, said in the file's terms, so that `config check` finds what
// the start would refuse.
func (c *Config) validateAdmin(p *problems) {
	if c.Admin.Token != "" && len(c.Admin.Token) < 16 {
		p.add("admin.token", "want at least 16 characters")
	}
	names := map[string]string{}
	if c.Admin.Token != "" {
		names[admin.LegacyTokenName] = "admin.token"
	}
	values := map[string]string{}
	if c.Admin.Token != "" {
		values[c.Admin.Token] = "admin.token"
	}
	for i, t := range c.Admin.Tokens {
		key := fmt.Sprintf("admin.tokens[%d]", i)
		if !validTokenName(t.Name) {
			p.addf(key+".name", "%q: want 1 to 64 of A-Z a-z 0-9 . _ @ -", t.Name)
		} else if other, dup := names[t.Name]; dup {
			p.addf(key+".name", "%q is taken by %s", t.Name, other)
		} else {
			names[t.Name] = key
		}
		if t.Role != string(admin.RoleRead) && t.Role != string(admin.RoleOperator) {
			p.addf(key+".role", "%q: want read (GET routes only) or operator (everything)", t.Role)
		}
		switch other, dup := values[t.Token]; {
		case t.Token == "":
			p.add(key+".token", "required (or token_file)")
		case len(t.Token) < 16:
			p.add(key+".token", "want at least 16 characters")
		case dup:
			p.addf(key+".token", "the same token as %s: give each its own", other)
		default:
			values[t.Token] = key
		}
	}
}

// validTokenName is admin's rule for token names, which go into audit
// entries as they are.
func validTokenName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return false
		}
	}
	return true
}

// validateLegacy checks the legacy section and unlinked, which may need
// legacy.provision_url.
func (c *Config) validateLegacy(p *problems) {
	for _, paths := range []struct {
		key  string
		list []string
	}{{"legacy.login_paths", c.Legacy.LoginPaths}, {"legacy.public_paths", c.Legacy.PublicPaths}} {
		for i, path := range paths.list {
			if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/_hubgate") {
				p.addf(fmt.Sprintf("%s[%d]", paths.key, i), "%q: want an absolute path outside /_hubgate", path)
			}
		}
	}
	if c.Legacy.Whoami != "" && !strings.HasPrefix(c.Legacy.Whoami, "/") {
		p.addf("legacy.whoami", "%q: want a path on the upstream", c.Legacy.Whoami)
	}
	if lp := c.Legacy.LogoutPath; lp != "" && (!strings.HasPrefix(lp, "/") || strings.HasPrefix(lp, "//") || strings.HasPrefix(lp, "/_hubgate")) {
		p.addf("legacy.logout_path", "%q: want a path on the upstream, outside /_hubgate", lp)
	}
	if n := c.Legacy.Name; len(n) > 100 || strings.ContainsFunc(n, unicode.IsControl) {
		p.add("legacy.name", "want at most 100 bytes without control characters")
	}
	switch proxy.Unlinked(c.Unlinked) {
	case proxy.UnlinkedDeny, proxy.UnlinkedPass:
	case proxy.UnlinkedProvision:
		if c.Legacy.ProvisionURL == "" {
			p.add("legacy.provision_url", "required with unlinked: provision")
		}
	default:
		p.addf("unlinked", "%q: want deny, provision or pass", c.Unlinked)
	}
}

func (c *Config) validateRoles(p *problems) {
	if _, err := c.roleMap(); err != nil {
		p.add("roles", err.Error())
	}
}

func (c *Config) validateClaims(p *problems) {
	if c.Claims.TTL <= 0 || time.Duration(c.Claims.TTL) > claim.MaxTTL {
		p.add("claims.ttl", "want between 1s and 366d")
	}
	if c.Claims.SMTP != "" {
		if u, err := url.Parse(c.Claims.SMTP); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			p.add("claims.smtp", "want smtp://[user:pw@]host:port or smtps://…")
		}
	}
}

func (c *Config) validateAssertion(p *problems) {
	if c.Assertion.TTL != 0 && (c.Assertion.TTL < duration(10*time.Second) || c.Assertion.TTL > duration(time.Minute)) {
		p.add("assertion.ttl", "want between 10s and 60s")
	}
}

// validateNetwork checks trusted_proxies and the listeners' timeouts.
func (c *Config) validateNetwork(p *problems) {
	for i, s := range c.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			p.addf(fmt.Sprintf("trusted_proxies[%d]", i), "%q: want a CIDR like 10.0.0.0/8 or an address", s)
		}
	}
	for _, t := range []struct {
		key string
		d   duration
	}{{"timeouts.read_header", c.Timeouts.ReadHeader}, {"timeouts.idle", c.Timeouts.Idle}, {"timeouts.body", c.Timeouts.Body}} {
		if t.d < 0 {
			p.add(t.key, "want a positive duration, e.g. 10s")
		}
	}
}

// validateMemory fills and checks the memory governor's settings.
func (c *Config) validateMemory(p *problems) {
	if c.Memory.Floor == "" {
		c.Memory.Floor = "32MiB"
	}
	if floor, err := parseSize(c.Memory.Floor); err != nil {
		p.add("memory.floor", err.Error())
	} else {
		c.Memory.FloorBytes = floor
	}
	if c.Memory.Headroom == 0 {
		c.Memory.Headroom = 50
	}
	if c.Memory.Headroom < 10 || c.Memory.Headroom > 100 {
		p.addf("memory.headroom", "%d: want a percentage from 10 to 100 (Go's own default is 100)", c.Memory.Headroom)
	}
}

func (c *Config) validateLog(p *problems) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.addf("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		p.addf("log.format", "%q: want json or console", c.Log.Format)
	}
}

// validateOperations checks what platform teams set: the metrics
// listener, the shutdown sequence and tracing.
func (c *Config) validateOperations(p *problems) {
	if l := c.Metrics.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
			p.addf("metrics.listen", "%q: want host:port or :port, e.g. \":9090\"", l)
		} else if l == c.Listen || l == c.Admin.Listen {
			p.addf("metrics.listen", "%q is also another listener's address: give the metrics listener its own port", l)
		}
	}
	if c.Shutdown.Delay != nil && *c.Shutdown.Delay < 0 {
		p.add("shutdown.delay", "want a duration of 0s or more, e.g. 10s")
	}
	if c.Shutdown.Timeout < 0 {
		p.add("shutdown.timeout", "want a positive duration, e.g. 30s")
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			p.addf("tracing.otlp_endpoint", "%q: want the collector's OTLP/HTTP URL, e.g. http://otel-collector:4318", redactURL(e))
		}
	}
	if r := c.Tracing.SampleRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		p.addf("tracing.sample_ratio", "%v: want a number from 0 to 1", *r)
	}
}

// warnings are what the configuration allows but is probably a mistake:
// plain http outside a developer's machine, where cookies lose Secure and
// the OAuth client secret and codes cross the network readable.
func (c *Config) warnings() []string {
	var out []string
	if c.Provider.Kind == "dev" {
		return nil
	}
	for _, u := range []struct{ key, url, why string }{
		{"public_url", c.PublicURL, "cookies go without Secure and sessions can be read on the way; put TLS in front and use https://"},
		{"provider.url", c.Provider.URL, "the client secret, codes and tokens cross the network readable; use https://"},
		{"provider.issuer", c.Provider.Issuer, "the client secret, codes, tokens and the signing keys cross the network readable; use https://"},
	} {
		if pu, err := url.Parse(u.url); err == nil && pu.Scheme == "http" && !loopbackHost(pu.Hostname()) {
			out = append(out, fmt.Sprintf("%s: %q is plain http outside loopback: %s", u.key, u.url, u.why))
		}
	}
	return out
}

// loopbackHost reports whether host is this machine: localhost or a
// loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// roleMap builds the role mapping; the key "*" is the default for Zaikio
// roles the map does not name.
func (c *Config) roleMap() (roles.Map, error) {
	m := map[string][]string{}
	var def []string
	keys := make([]string, 0, len(c.Roles))
	for k := range c.Roles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "*" {
			def = c.Roles[k]
			continue
		}
		m[k] = c.Roles[k]
	}
	return roles.New(m, def)
}

func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range c.TrustedProxies {
		pr, err := parseProxy(s)
		if err != nil {
			return nil, &configError{Key: fmt.Sprintf("trusted_proxies[%d]", i), Msg: fmt.Sprintf("%q: want a CIDR like 10.0.0.0/8 or an address", s)}
		}
		out = append(out, pr)
	}
	return out, nil
}

// parseProxy reads one trusted_proxies entry: a CIDR or an address.
func parseProxy(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, aerr
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// decodeSecret reads a base64 (standard or URL alphabet, padded or not)
// secret of at least 32 bytes.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < 32 {
				return nil, fmt.Errorf("decodes to %d bytes, want at least 32", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64 (hubgate keys new makes one)")
}

// parseStore reads the store URL: bolt:///abs/path, bolt://rel/path, a
// bare path (bolt), or postgres://… / postgresql://….
func parseStore(s string) (kind, target string, err error) {
	switch {
	case strings.HasPrefix(s, "bolt://"):
		p := strings.TrimPrefix(s, "bolt://")
		if p == "" {
			return "", "", fmt.Errorf("%q: want bolt:///path/to/hubgate.db", s)
		}
		return "bolt", p, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		// url.Parse's error quotes the whole URL, password included: say
		// what is wrong without it.
		if _, err := url.Parse(s); err != nil {
			return "", "", errors.New("postgres url does not parse: check the port and percent-escape special characters in the password")
		}
		return "postgres", s, nil
	case strings.Contains(s, "://"):
		return "", "", fmt.Errorf("%q: want bolt://… or postgres://…", redactURL(s))
	case s != "":
		return "bolt", s, nil
	}
	return "", "", errors.New("required")
}

// redactURL hides a password in a URL for messages and logs: the
// userinfo's, and a password query parameter (which PostgreSQL URLs may
// carry).
func redactURL(s string) string {
	return maskURL(s, "xxxxx")
}

// maskURL replaces the passwords of the URL s with mask; a URL that does
// not parse is masked whole.
func maskURL(s, mask string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable url]"
	}
	// The mask goes in after encoding, as it is ("***" unescaped).
	const placeholder = "hubgatemask"
	if q := u.Query(); q.Has("password") {
		q.Set("password", placeholder)
		u.RawQuery = q.Encode()
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), placeholder)
	}
	return strings.ReplaceAll(u.String(), placeholder, mask)
}

// validateLimits checks the per-client budgets: only the IPv6 prefix has a
// range (every count is fine; negative turns a limit off).
func (c *Config) validateUpstreamHost(p *problems) {
	switch proxy.UpstreamHost(c.UpstreamHost) {
	case "", proxy.UpstreamHostPublic, proxy.UpstreamHostUpstream:
	default:
		p.addf("upstream_host", "%q: want public or upstream", c.UpstreamHost)
	}
}

func (c *Config) validateLimits(p *problems) {
	if n := c.Limits.IPv6Prefix; n != 0 && (n < 1 || n > 128) {
		p.addf("limits.ipv6_prefix", "%d: want a prefix length from 1 to 128 (default 64)", n)
	}
}
