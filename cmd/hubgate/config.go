package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
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

// valueError is a bad value the YAML decoder met, with its line, so that
// loadConfig can name the key.
type valueError struct {
	line int
	err  error
}

func (e *valueError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// keyAtLine returns the dotted key whose scalar value sits on line of the
// YAML document raw ("" if none).
func keyAtLine(raw []byte, line int) string {
	return findKey(raw, func(_, v *yaml.Node) bool { return v.Kind == yaml.ScalarNode && v.Line == line })
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .+$`)
	reWrongType    = regexp.MustCompile(`^line (\d+): cannot unmarshal !!(\w+) (?:` + "`([^`]*)`" + ` )?into (\S+)$`)
)

// typeError turns one of yaml.v3's type errors ("line 6: field sesion not
// found in type main.Config") into a configError that names the key, the
// file and line, and what was wanted, without Go type names.
func typeError(raw []byte, path, msg string) error {
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		key := mapKeyAtLine(raw, line, m[2])
		if key == "" {
			key = m[2]
		}
		hint := ""
		if near := nearestKey(key); near != "" {
			hint = fmt.Sprintf("; did you mean %s?", near)
		}
		return &configError{Key: key, Msg: fmt.Sprintf("unknown key (%s line %d)%s", path, line, hint)}
	}
	if m := reWrongType.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		kind := map[string]yaml.Kind{"map": yaml.MappingNode, "seq": yaml.SequenceNode}[m[2]]
		if kind == 0 {
			kind = yaml.ScalarNode
		}
		key := valueKeyAtLine(raw, line, kind)
		into := m[4]
		want := map[string]string{"string": "a single value", "bool": "true or false", "int": "a whole number"}[into]
		switch {
		case strings.HasPrefix(into, "[]"):
			want = "a list"
		case strings.HasPrefix(into, "map["), strings.HasPrefix(into, "struct"):
			want = "a mapping of keys"
		case want == "":
			want = "another kind of value"
		}
		got := "a " + yamlKind(m[2])
		if m[3] != "" && !sensitiveKey(key) && len(m[3]) <= 64 {
			got = strconv.Quote(m[3])
		}
		if key != "" {
			return &configError{Key: key, Msg: fmt.Sprintf("want %s, not %s (%s line %d)", want, got, path, line)}
		}
	}
	return fmt.Errorf("config: %s: %s", path, msg)
}

// sensitiveKey reports whether a key's value may be a secret (never quoted
// in errors).
func sensitiveKey(key string) bool {
	for _, w := range []string{"secret", "token", "smtp", "store", "password", "key", "dsn"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return key == ""
}

func yamlKind(tag string) string {
	switch tag {
	case "map":
		return "mapping"
	case "seq":
		return "list"
	case "str", "int", "bool", "float", "null":
		return "single value"
	}
	return tag
}

// mapKeyAtLine returns the dotted path of the mapping key called name on
// line ("" if none).
func mapKeyAtLine(raw []byte, line int, name string) string {
	return findKey(raw, func(k, _ *yaml.Node) bool { return k.Line == line && k.Value == name })
}

// valueKeyAtLine returns the dotted path of the key whose value is a node
// of kind starting on line.
func valueKeyAtLine(raw []byte, line int, kind yaml.Kind) string {
	return findKey(raw, func(_, v *yaml.Node) bool { return v.Line == line && v.Kind == kind })
}

// findKey walks the mappings of raw and returns the dotted path of the first
// key for which match(key, value) holds.
func findKey(raw []byte, match func(k, v *yaml.Node) bool) string {
	var root yaml.Node
	if yaml.Unmarshal(raw, &root) != nil {
		return ""
	}
	var walk func(n *yaml.Node, prefix string) string
	walk = func(n *yaml.Node, prefix string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if k := walk(c, prefix); k != "" {
					return k
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if prefix != "" {
					key = prefix + "." + key
				}
				if match(n.Content[i], n.Content[i+1]) {
					return key
				}
				if k := walk(n.Content[i+1], key); k != "" {
					return k
				}
			}
		}
		return ""
	}
	return walk(&root, "")
}

// nearestKey suggests the known key closest to the dotted key (same parent,
// at most two edits away), or "".
func nearestKey(key string) string {
	parent, name := "", key
	if i := strings.LastIndex(key, "."); i >= 0 {
		parent, name = key[:i], key[i+1:]
	}
	t := reflect.TypeOf(Config{})
	if parent != "" {
		for _, part := range strings.Split(parent, ".") {
			f, ok := fieldByTag(t, part)
			if !ok || f.Type.Kind() != reflect.Struct {
				return ""
			}
			t = f.Type
		}
	}
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if d := editDistance(name, tag); d < bestD {
			best, bestD = tag, d
		}
	}
	if best == "" {
		return ""
	}
	if parent != "" {
		return parent + "." + best
	}
	return best
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// editDistance is the Levenshtein distance of a and b (short strings).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
		c.Mode = string(proxy.ModePassthrough)
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
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			var ve *valueError
			if errors.As(err, &ve) {
				if key := keyAtLine(raw, ve.line); key != "" {
					return nil, &configError{Key: key, Msg: fmt.Sprintf("%v (%s line %d)", ve.err, path, ve.line)}
				}
			}
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 {
				return nil, typeError(raw, path, te.Errors[0])
			}
			return nil, fmt.Errorf("config: %s: %w", path, err)
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

// applyEnv walks the config struct and sets each leaf from HUBGATE_<PATH>.
func applyEnv(v reflect.Value, prefix, key string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		k := tag
		if key != "" {
			k = key + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, k, getenv); err != nil {
				return err
			}
			continue
		}
		val := getenv(name)
		if val == "" {
			continue
		}
		switch {
		case fv.Type() == reflect.TypeOf(duration(0)):
			d, err := parseDuration(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: err.Error()}
			}
			fv.SetInt(int64(d))
		case fv.Kind() == reflect.String:
			fv.SetString(val)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			var parts []string
			for _, p := range strings.Split(val, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			fv.Set(reflect.ValueOf(parts))
		case fv.Kind() == reflect.Int:
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: fmt.Sprintf("%q: want a whole number", val)}
			}
			fv.SetInt(int64(n))
		case fv.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: "want true or false"}
			}
			fv.SetBool(b)
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: "want true or false"}
			}
			fv.Set(reflect.ValueOf(&b))
		case fv.Kind() == reflect.Map:
			// roles: "owner=admin;member=user|viewer"
			m := map[string][]string{}
			for _, e := range strings.Split(val, ";") {
				z, locals, ok := strings.Cut(e, "=")
				if !ok {
					return &configError{Key: k + " (" + name + ")", Msg: "want zaikio_role=local|local;… entries"}
				}
				m[strings.TrimSpace(z)] = strings.Split(strings.TrimSpace(locals), "|")
			}
			fv.Set(reflect.ValueOf(m))
		}
	}
	return nil
}

func (c *Config) readSecretFiles() error {
	read := func(key, path string, dst *string) error {
		if path == "" {
			return nil
		}
		b, err := readBounded(path, maxSecretFile)
		if err != nil {
			return &configError{Key: key, Msg: err.Error()}
		}
		*dst = strings.TrimSpace(string(b))
		return nil
	}
	if err := read("provider.client_secret_file", c.Provider.ClientSecretFile, &c.Provider.ClientSecret); err != nil {
		return err
	}
	if err := read("provider.webhook_secret_file", c.Provider.WebhookSecretFile, &c.Provider.WebhookSecret); err != nil {
		return err
	}
	if err := read("admin.token_file", c.Admin.TokenFile, &c.Admin.Token); err != nil {
		return err
	}
	if err := read("claims.smtp_file", c.Claims.SMTPFile, &c.Claims.SMTP); err != nil {
		return err
	}
	if c.Session.SecretsFile != "" {
		var all string
		if err := read("session.secrets_file", c.Session.SecretsFile, &all); err != nil {
			return err
		}
		c.Session.Secrets = strings.Fields(all)
	}
	return nil
}

// validate checks every key and names the one at fault.
func (c *Config) validate() error {
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
	if _, err := proxy.ParseMode(c.Mode); err != nil {
		return &configError{Key: "mode", Msg: fmt.Sprintf("%q: want passthrough, offer or enforce", c.Mode)}
	}
	switch c.Provider.Kind {
	case "zaikio":
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
	case "oidc":
		return &configError{Key: "provider.kind", Msg: "oidc is not supported in this version; use zaikio or dev"}
	default:
		return &configError{Key: "provider.kind", Msg: fmt.Sprintf("%q: want zaikio or dev", c.Provider.Kind)}
	}
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
	if _, _, err := parseStore(c.Store); err != nil {
		return &configError{Key: "store", Msg: err.Error()}
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < 16 {
		return &configError{Key: "admin.token", Msg: "want at least 16 characters"}
	}
	for i, p := range c.Legacy.LoginPaths {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/_hubgate") {
			return &configError{Key: fmt.Sprintf("legacy.login_paths[%d]", i), Msg: fmt.Sprintf("%q: want an absolute path outside /_hubgate", p)}
		}
	}
	for i, p := range c.Legacy.PublicPaths {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/_hubgate") {
			return &configError{Key: fmt.Sprintf("legacy.public_paths[%d]", i), Msg: fmt.Sprintf("%q: want an absolute path outside /_hubgate", p)}
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
	if _, err := c.roleMap(); err != nil {
		return &configError{Key: "roles", Msg: err.Error()}
	}
	if c.Claims.TTL <= 0 || time.Duration(c.Claims.TTL) > claim.MaxTTL {
		return &configError{Key: "claims.ttl", Msg: "want between 1s and 366d"}
	}
	if c.Claims.SMTP != "" {
		if u, err := url.Parse(c.Claims.SMTP); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			return &configError{Key: "claims.smtp", Msg: "want smtp://[user:pw@]host:port or smtps://…"}
		}
	}
	if c.Assertion.TTL != 0 && (c.Assertion.TTL < duration(10*time.Second) || c.Assertion.TTL > duration(time.Minute)) {
		return &configError{Key: "assertion.ttl", Msg: "want between 10s and 60s"}
	}
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
