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

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// Config is the configuration file (DESIGN §4). Every key can be overridden
// by the environment variable HUBGATE_<PATH> (path segments upper-cased and
// joined with "_", e.g. HUBGATE_PROVIDER_CLIENT_SECRET); list values in the
// environment are comma-separated. Secrets can also be read from files with
// the matching *_file key.
type Config struct {
	Listen    string `yaml:"listen"`
	PublicURL string `yaml:"public_url"`
	Upstream  string `yaml:"upstream"`
	Mode      string `yaml:"mode"`
	Provider  struct {
		Kind              string `yaml:"kind"`
		URL               string `yaml:"url"`
		ClientID          string `yaml:"client_id"`
		ClientSecret      string `yaml:"client_secret"`
		ClientSecretFile  string `yaml:"client_secret_file"`
		AppName           string `yaml:"app_name"`
		PersonScope       string `yaml:"person_scope"`
		OrgScope          string `yaml:"org_scope"`
		WebhookSecret     string `yaml:"webhook_secret"`
		WebhookSecretFile string `yaml:"webhook_secret_file"`
	} `yaml:"provider"`
	Session struct {
		Secrets     []string `yaml:"secrets"`
		SecretsFile string   `yaml:"secrets_file"`
		TTL         duration `yaml:"ttl"`
		Revalidate  duration `yaml:"revalidate"`
		Grace       duration `yaml:"grace"`
	} `yaml:"session"`
	Store string `yaml:"store"`
	Admin struct {
		Listen    string `yaml:"listen"`
		Token     string `yaml:"token"`
		TokenFile string `yaml:"token_file"`
		Debug     bool   `yaml:"debug"`
	} `yaml:"admin"`
	Legacy struct {
		LoginPaths   []string `yaml:"login_paths"`
		PublicPaths  []string `yaml:"public_paths"`
		Whoami       string   `yaml:"whoami"`
		ProvisionURL string   `yaml:"provision_url"`
	} `yaml:"legacy"`
	Unlinked string              `yaml:"unlinked"`
	Roles    map[string][]string `yaml:"roles"`
	Claims   struct {
		TTL      duration `yaml:"ttl"`
		SMTP     string   `yaml:"smtp"`
		SMTPFile string   `yaml:"smtp_file"`
		From     string   `yaml:"from"`
	} `yaml:"claims"`
	Assertion struct {
		Enabled  bool     `yaml:"enabled"`
		TTL      duration `yaml:"ttl"`
		Audience string   `yaml:"audience"`
	} `yaml:"assertion"`
	TrustedProxies       []string `yaml:"trusted_proxies"`
	AllowedRedirectHosts []string `yaml:"allowed_redirect_hosts"`
	UpstreamTimeout      duration `yaml:"upstream_timeout"`
	UpstreamMaxConns     int      `yaml:"upstream_max_conns"`
	// Limits are the per-client budgets of the public pages, each a count
	// per minute (proxy.Limits); zero means the default named, negative
	// no limit.
	Limits struct {
		IPv6Prefix      int `yaml:"ipv6_prefix"`       // leading bits of an IPv6 address that make one client; 64
		FlowStarts      int `yaml:"flow_starts"`       // sign-in and claim flows started and not finished; 120
		FailedCallbacks int `yaml:"failed_callbacks"`  // callbacks that fail, counted before any hub call; 30
		FailedClaims    int `yaml:"failed_claims"`     // claim starts that fail (dead or unknown link, form check); 20
		ResendPerClient int `yaml:"resend_per_client"` // "send me my link" requests; 30
		ResendPerEmail  int `yaml:"resend_per_email"`  // … for one email address; 5
	} `yaml:"limits"`
	// DevMail, set by `hubgate dev` only, receives the mails hubgate would
	// send when no claims.smtp is configured (consoleMailer).
	DevMail io.Writer `yaml:"-"`
	// Memory sets the memory governor (memory.go).
	Memory struct {
		Floor      string `yaml:"floor"`    // Go memory below which the GC runs as GOGC says; "off" or 0: no governor
		Headroom   int    `yaml:"headroom"` // above it, heap growth between collections as % of the live heap
		FloorBytes uint64 `yaml:"-"`        // Floor, parsed
	} `yaml:"memory"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
		Access *bool  `yaml:"access"`
	} `yaml:"log"`
	// Timeouts of the listeners (public and admin) against slow clients;
	// zero means the default named.
	Timeouts struct {
		ReadHeader duration `yaml:"read_header"` // request line and headers; 10s
		Idle       duration `yaml:"idle"`        // keep-alive between requests; 120s
		Body       duration `yaml:"body"`        // body of a request hubgate reads itself (forms, webhooks); 30s
	} `yaml:"timeouts"`
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

// configError names the key at fault.
type configError struct {
	Key string
	Msg string
}

func (e *configError) Error() string { return "config: " + e.Key + ": " + e.Msg }

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
	if c.Provider.PersonScope == "" {
		c.Provider.PersonScope = "zaikio.person.r"
	}
	if c.Provider.OrgScope == "" {
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
	if c.Claims.TTL == 0 {
		c.Claims.TTL = duration(claim.DefaultTTL)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
}

// loadConfig reads the YAML file (unknown keys are errors: a typo must not
// silently fall back to a default), applies the environment, reads *_file
// secrets, fills defaults and validates.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	var c Config
	if path != "" {
		raw, err := readBounded(path, maxConfigFile)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeConfigFile(raw, path, &c); err != nil {
			return nil, err
		}
	}
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "HUBGATE", "", getenv); err != nil {
		return nil, err
	}
	if err := c.readSecretFiles(); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
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
