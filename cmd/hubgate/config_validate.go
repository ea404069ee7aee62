package main

// Validation of a loaded configuration, one function per section, in the
// order the file lists them: the first key at fault is named, with what was
// wanted. Validation also fills the few defaults that depend on other keys
// (the dev provider's URL and client, the memory governor's floor).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
)

// validate checks every key and names the one at fault.
func (c *Config) validate() error {
	for _, check := range []func() error{
		c.validateURLs,
		c.validateMode,
		c.validateProvider,
		c.validateSession,
		c.validateStore,
		c.validateAdmin,
		c.validateLegacy,
		c.validateRoles,
		c.validateClaims,
		c.validateAssertion,
		c.validateNetwork,
		c.validateLimits,
		c.validateMemory,
		c.validateLog,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateURLs checks public_url and upstream.
func (c *Config) validateURLs() error {
	if _, err := url.Parse(c.PublicURL); c.PublicURL == "" || err != nil {
		return &configError{Key: "public_url", Msg: "required: the URL browsers use, e.g. https://app.example.com"}
	}
	// No query, fragment or userinfo either: claim URLs are public_url +
	// "/_hubgate/claim/…", and the admin API refuses such a URL at start.
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return &configError{Key: "public_url", Msg: fmt.Sprintf("%q: want http(s)://host[:port] without a path", c.PublicURL)}
	}
	if u, err := url.Parse(c.Upstream); c.Upstream == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &configError{Key: "upstream", Msg: fmt.Sprintf("%q: want the legacy app's URL, e.g. http://127.0.0.1:3000", c.Upstream)}
	}
	return nil
}

func (c *Config) validateMode() error {
	if _, err := migration.ParseMode(c.Mode); err != nil {
		return &configError{Key: "mode", Msg: fmt.Sprintf("%q: want passthrough, offer or enforce", c.Mode)}
	}
	return nil
}

// validateProvider checks the provider section; for the dev hub it fills
// the URL and client that `hubgate serve` starts it with.
func (c *Config) validateProvider() error {
	switch c.Provider.Kind {
	case "zaikio":
		return c.validateZaikio()
	case "dev":
		if c.Provider.URL == "" {
			c.Provider.URL = "http://127.0.0.1:4190"
		}
		if u, err := url.Parse(c.Provider.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			return &configError{Key: "provider.url", Msg: fmt.Sprintf("%q: the dev hub listens on a loopback http URL", c.Provider.URL)}
		}
		if c.Provider.ClientID == "" {
			c.Provider.ClientID = "hubgate_dev"
		}
		if c.Provider.ClientSecret == "" {
			c.Provider.ClientSecret = "dev-secret"
		}
		return nil
	case "oidc":
		return &configError{Key: "provider.kind", Msg: "oidc is not supported in this version; use zaikio or dev"}
	default:
		return &configError{Key: "provider.kind", Msg: fmt.Sprintf("%q: want zaikio or dev", c.Provider.Kind)}
	}
}

func (c *Config) validateZaikio() error {
	if c.Provider.URL == "" {
		return &configError{Key: "provider.url", Msg: "required: the hub URL, e.g. https://hub.sandbox.zaikio.com"}
	}
	if u, err := url.Parse(c.Provider.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &configError{Key: "provider.url", Msg: fmt.Sprintf("%q: want an http(s) URL such as https://hub.sandbox.zaikio.com", c.Provider.URL)}
	}
	if c.Provider.ClientID == "" {
		return &configError{Key: "provider.client_id", Msg: "required"}
	}
	if c.Provider.ClientSecret == "" {
		return &configError{Key: "provider.client_secret", Msg: "required (or provider.client_secret_file)"}
	}
	return nil
}

func (c *Config) validateSession() error {
	if len(c.Session.Secrets) == 0 {
		return &configError{Key: "session.secrets", Msg: "required: at least one base64 secret of ≥32 bytes (hubgate keys new makes one)"}
	}
	for i := range c.Session.Secrets {
		if _, err := decodeSecret(c.Session.Secrets[i]); err != nil {
			return &configError{Key: fmt.Sprintf("session.secrets[%d]", i), Msg: err.Error()}
		}
	}
	if c.Session.TTL < duration(time.Minute) {
		return &configError{Key: "session.ttl", Msg: "want at least 1m"}
	}
	if c.Session.Revalidate < duration(time.Second) || c.Session.Revalidate > c.Session.TTL {
		return &configError{Key: "session.revalidate", Msg: "want between 1s and session.ttl"}
	}
	if c.Session.Grace < 0 {
		return &configError{Key: "session.grace", Msg: "want ≥ 0"}
	}
	return nil
}

func (c *Config) validateStore() error {
	if _, _, err := parseStore(c.Store); err != nil {
		return &configError{Key: "store", Msg: err.Error()}
	}
	return nil
}

func (c *Config) validateAdmin() error {
	if c.Admin.Token != "" && len(c.Admin.Token) < 16 {
		return &configError{Key: "admin.token", Msg: "want at least 16 characters"}
	}
	return nil
}

// validateLegacy checks the legacy section and unlinked, which may need
// legacy.provision_url.
func (c *Config) validateLegacy() error {
	for _, paths := range []struct {
		key  string
		list []string
	}{{"legacy.login_paths", c.Legacy.LoginPaths}, {"legacy.public_paths", c.Legacy.PublicPaths}} {
		for i, p := range paths.list {
			if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/_hubgate") {
				return &configError{Key: fmt.Sprintf("%s[%d]", paths.key, i), Msg: fmt.Sprintf("%q: want an absolute path outside /_hubgate", p)}
			}
		}
	}
	if c.Legacy.Whoami != "" && !strings.HasPrefix(c.Legacy.Whoami, "/") {
		return &configError{Key: "legacy.whoami", Msg: fmt.Sprintf("%q: want a path on the upstream", c.Legacy.Whoami)}
	}
	switch proxy.Unlinked(c.Unlinked) {
	case proxy.UnlinkedDeny, proxy.UnlinkedPass:
	case proxy.UnlinkedProvision:
		if c.Legacy.ProvisionURL == "" {
			return &configError{Key: "legacy.provision_url", Msg: "required with unlinked: provision"}
		}
	default:
		return &configError{Key: "unlinked", Msg: fmt.Sprintf("%q: want deny, provision or pass", c.Unlinked)}
	}
	return nil
}

func (c *Config) validateRoles() error {
	if _, err := c.roleMap(); err != nil {
		return &configError{Key: "roles", Msg: err.Error()}
	}
	return nil
}

func (c *Config) validateClaims() error {
	if c.Claims.TTL <= 0 || time.Duration(c.Claims.TTL) > claim.MaxTTL {
		return &configError{Key: "claims.ttl", Msg: "want between 1s and 366d"}
	}
	if c.Claims.SMTP != "" {
		if u, err := url.Parse(c.Claims.SMTP); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			return &configError{Key: "claims.smtp", Msg: "want smtp://[user:pw@]host:port or smtps://…"}
		}
	}
	return nil
}

func (c *Config) validateAssertion() error {
	if c.Assertion.TTL != 0 && (c.Assertion.TTL < duration(10*time.Second) || c.Assertion.TTL > duration(time.Minute)) {
		return &configError{Key: "assertion.ttl", Msg: "want between 10s and 60s"}
	}
	return nil
}

// validateNetwork checks trusted_proxies and the listeners' timeouts.
func (c *Config) validateNetwork() error {
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	for _, t := range []struct {
		key string
		d   duration
	}{{"timeouts.read_header", c.Timeouts.ReadHeader}, {"timeouts.idle", c.Timeouts.Idle}, {"timeouts.body", c.Timeouts.Body}} {
		if t.d < 0 {
			return &configError{Key: t.key, Msg: "want a positive duration, e.g. 10s"}
		}
	}
	return nil
}

// validateMemory fills and checks the memory governor's settings.
func (c *Config) validateMemory() error {
	if c.Memory.Floor == "" {
		c.Memory.Floor = "32MiB"
	}
	floor, err := parseSize(c.Memory.Floor)
	if err != nil {
		return &configError{Key: "memory.floor", Msg: err.Error()}
	}
	c.Memory.FloorBytes = floor
	if c.Memory.Headroom == 0 {
		c.Memory.Headroom = 50
	}
	if c.Memory.Headroom < 10 || c.Memory.Headroom > 100 {
		return &configError{Key: "memory.headroom", Msg: fmt.Sprintf("%d: want a percentage from 10 to 100 (Go's own default is 100)", c.Memory.Headroom)}
	}
	return nil
}

func (c *Config) validateLog() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &configError{Key: "log.level", Msg: fmt.Sprintf("%q: want debug, info, warn or error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return &configError{Key: "log.format", Msg: fmt.Sprintf("%q: want json or console", c.Log.Format)}
	}
	return nil
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
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, &configError{Key: fmt.Sprintf("trusted_proxies[%d]", i), Msg: fmt.Sprintf("%q: want a CIDR like 10.0.0.0/8 or an address", s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
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

// redactURL hides a password in a URL for messages and logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable url]"
	}
	return u.Redacted()
}

// validateLimits checks the per-client budgets: only the IPv6 prefix has a
// range (every count is fine; negative turns a limit off).
func (c *Config) validateLimits() error {
	if p := c.Limits.IPv6Prefix; p != 0 && (p < 1 || p > 128) {
		return &configError{Key: "limits.ipv6_prefix", Msg: fmt.Sprintf("%d: want a prefix length from 1 to 128 (default 64)", p)}
	}
	return nil
}
