package main

// Issue #14, "Config and CLI": every config error at once, unknown
// HUBGATE_* variables, warnings, secrets given twice, store_file,
// admin.tokens and `config print`, all through run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// cfgRunEnv runs hubgate in-process with getenv.
func cfgRunEnv(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestConfigAllErrorsAtOnce: one `config check` names every key at fault,
// from the file and the environment, in the order of the file and then of
// the schema, as a config error (exit 1), revealing no secret.
func TestConfigAllErrorsAtOnce(t *testing.T) {
	t.Parallel()
	doc := `public_url: "https://app.example.com/app"
upstream: "ftp://legacy"
provider:
  url: "https://hub.sandbox.zaikio.com"
  client_id: "my_app_client"
  client_secret: "` + cfgClientSecret + `"
session:
  secrets: ["` + cfgSessionSecret + `"]
  tll: 1h
  ttl: forever
legacy:
  login_paths: [/login, signin]
log: {level: loud}
`
	path := cfgWrite(t, "hubgate.yaml", doc)
	_, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_MODE", "strict", "HUBGATE_CLAIMS_TTL", "400d", "HUBGATE_ADMIN_TOKEN", "Kp3-short"), "config", "check", "--config", path)
	var es configErrors
	if err == nil || isUsage(err) || !errors.As(err, &es) {
		t.Fatalf("config check (many faults) = %v (%T); want configErrors (exit 1)", err, err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	// File faults by line; then the environment's, in schema order.
	want := []string{"public_url", "upstream", "session.tll", "session.ttl", "legacy.login_paths[1]", "log.level",
		"mode", "admin.token", "claims.ttl"}
	if !slices.Equal(keys, want) {
		t.Errorf("config check named %q; want %q", keys, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, fmt.Sprintf("config: %d errors:\n  public_url: ", len(want))) {
		t.Errorf("error starts %q; want config: %d errors: and one line per key", msg[:min(len(msg), 80)], len(want))
	}
	for _, part := range []string{
		"session.tll: unknown key (" + path + " line 9); did you mean session.ttl?",
		"legacy.login_paths[1]: \"signin\": want an absolute path outside /_hubgate (" + path + " line 12)",
		`mode: "strict": want passthrough, offer or enforce (from HUBGATE_MODE)`,
		"admin.token: want at least 16 characters (from HUBGATE_ADMIN_TOKEN)",
	} {
		if !strings.Contains(msg, part) {
			t.Errorf("error lacks %q:\n%s", part, msg)
		}
	}
	cfgNoSecrets(t, msg)
	if strings.Contains(msg, "Kp3-short") {
		t.Errorf("error reveals the short admin token:\n%s", msg)
	}

	// A fault that only follows from another is not news: a value the
	// walk set aside is not also "required".
	_, err = loadConfig(cfgFile(t, cfgFull().set("public_url", []any{"https://a"})), cfgEnv())
	if err == nil || errors.As(err, &es) || !strings.Contains(err.Error(), "public_url: want a single value, not a list") {
		t.Errorf("loadConfig(public_url list) = %v; want that one error", err)
	}
}

// TestConfigUnknownEnv: a HUBGATE_* variable that no key has and that is
// not one of otherEnv stops the start, with the name meant; the others
// hubgate and its tools read pass.
func TestConfigUnknownEnv(t *testing.T) {
	t.Parallel()
	path := cfgFile(t, cfgFull())
	tests := []struct {
		name, value, want string
	}{
		{"HUBGATE_SESION_TTL", "1h", "HUBGATE_SESION_TTL: unknown environment variable (no key has this name; see the README's reference); did you mean HUBGATE_SESSION_TTL?"},
		{"HUBGATE_SESSION_SECRET_FILE", "/run/secrets/s", "did you mean HUBGATE_SESSION_SECRETS_FILE?"},
		{"HUBGATE_ADMIN_TOKN", "x", "did you mean HUBGATE_ADMIN_TOKEN?"},
		{"HUBGATE_STORE_FLIE", "/x", "did you mean HUBGATE_STORE_FILE?"},
		{"HUBGATE_FROBNICATE", "1", "HUBGATE_FROBNICATE: unknown environment variable"},
	}
	for _, tt := range tests {
		_, _, err := cfgRunEnv(t, cfgEnv(tt.name, tt.value), "config", "check", "--config", path)
		if err == nil || isUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config check with %s set = %v; want a config error containing %q", tt.name, err, tt.want)
		}
	}
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_FROBNICATE", "1"), "config", "check", "--config", path); strings.Contains(fmt.Sprint(err), "did you mean") {
		t.Errorf("config check with HUBGATE_FROBNICATE = %v; want no guess", err)
	}
	var kv []string
	for name := range otherEnv() {
		kv = append(kv, name, "x")
	}
	kv = append(kv, "HUBGATE_SESSION_TTL", "2h", "HUBGATE_ADMIN_TOKENS", "", "PATH", "/bin", "HOME", "/root")
	if out, _, err := cfgRunEnv(t, cfgEnv(kv...), "config", "check", "--config", path); err != nil || !strings.Contains(out, ": ok") {
		t.Errorf("config check with hubgate's other variables = %q, %v; want ok", out, err)
	}
	// serve refuses to start, and so does dev.
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_SESION_TTL", "1h"), "serve", "--config", path); err == nil || !strings.Contains(err.Error(), "HUBGATE_SESION_TTL") {
		t.Errorf("serve with HUBGATE_SESION_TTL = %v; want it refused", err)
	}
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_SESION_TTL", "1h"), "dev", "--data", t.TempDir(), "--listen", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--hub", "127.0.0.1:0", "--app", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "HUBGATE_SESION_TTL") {
		t.Errorf("dev with HUBGATE_SESION_TTL = %v; want it refused", err)
	}
}

// TestProcessEnvNames: main's getenv names the process's HUBGATE_*
// variables, and only those.
func TestProcessEnvNames(t *testing.T) {
	t.Setenv("HUBGATE_SESION_TTL", "1h")
	t.Setenv("NOT_HUBGATE_X", "1")
	names := strings.Fields(processEnv(envNamesKey))
	if !slices.Contains(names, "HUBGATE_SESION_TTL") || slices.Contains(names, "NOT_HUBGATE_X") {
		t.Errorf("processEnv(envNamesKey) = %q; want HUBGATE_SESION_TTL and no other prefix", names)
	}
	if got := processEnv("HUBGATE_SESION_TTL"); got != "1h" {
		t.Errorf("processEnv(HUBGATE_SESION_TTL) = %q; want 1h", got)
	}
}

// TestConfigWarnings: plain http outside loopback (and outside the dev
// provider) is allowed with a warning that config check prints.
func TestConfigWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  cfgTree
		want []string
	}{
		{"https", cfgFull(), nil},
		{"http public_url", cfgFull().set("public_url", "http://app.example.com"), []string{"public_url"}},
		{"http hub", cfgFull().set("provider.url", "http://hub.internal"), []string{"provider.url"}},
		{"both", cfgFull().set("public_url", "http://app.example.com").set("provider.url", "http://10.0.0.7:8080"), []string{"public_url", "provider.url"}},
		{"loopback", cfgFull().set("public_url", "http://127.0.0.1:4180").set("provider.url", "http://localhost:4190"), nil},
		{"ipv6 loopback", cfgFull().set("public_url", "http://[::1]:4180"), nil},
		{"dev provider", cfgFull().set("public_url", "http://app.example.com").set("provider.kind", "dev").set("provider.url", "http://127.0.0.1:4190"), nil},
	}
	for _, tt := range tests {
		out, stderr, err := cfgRunEnv(t, cfgEnv(), "config", "check", "--config", cfgFile(t, tt.cfg))
		if err != nil || !strings.Contains(out, ": ok") {
			t.Errorf("%s: config check = %q, %v; want ok (warnings do not fail it)", tt.name, out, err)
			continue
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if key, ok := strings.CutPrefix(line, "warning: "); ok {
				key, _, _ = strings.Cut(key, ":")
				got = append(got, key)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: config check warned about %q; want %q\n%s", tt.name, got, tt.want, stderr)
		}
	}
}

// TestConfigSecretAndFile: for every secret with a *_file form, giving
// both is an error naming both keys, from the file or the environment.
func TestConfigSecretAndFile(t *testing.T) {
	t.Parallel()
	file := cfgWrite(t, "secret", "from-a-file-0123456789\n")
	type secretCase struct {
		key string
		cfg cfgTree
		env []string
	}
	tests := []secretCase{
		{"provider.client_secret", cfgFull().set("provider.client_secret_file", file), nil},
		{"provider.webhook_secret", cfgFull().set("provider.webhook_secret_file", file), nil},
		{"session.secrets", cfgFull().set("session.secrets_file", file), nil},
		{"store", cfgFull().set("store_file", file), nil},
		{"admin.token", cfgFull().set("admin.token_file", file), nil},
		{"admin.tokens[0].token", cfgFull().set("admin.tokens", []any{map[string]any{"name": "ci", "role": "read", "token": "ci-token-0123456789abc", "token_file": file}}), nil},
		{"claims.smtp", cfgFull().set("claims.smtp_file", file), nil},
		{"admin.token", cfgFull().set("admin.token", nil), []string{"HUBGATE_ADMIN_TOKEN", cfgAdminToken, "HUBGATE_ADMIN_TOKEN_FILE", file}},
		{"store", cfgFull(), []string{"HUBGATE_STORE_FILE", file}},
	}
	// Every secret with a _file form has a case.
	withToken := cfgFull().set("admin.tokens", []any{map[string]any{"name": "ci", "role": "read", "token": "ci-token-0123456789abc"}})
	c, err := loadConfig(cfgFile(t, withToken), cfgEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, sf := range c.secretFields() {
		if !slices.ContainsFunc(tests, func(tt secretCase) bool { return tt.key == sf.key }) {
			t.Errorf("secret %s has a _file form but no case here", sf.key)
		}
	}
	for _, tt := range tests {
		_, _, err := cfgRunEnv(t, cfgEnv(tt.env...), "config", "check", "--config", cfgFile(t, tt.cfg))
		want := "both " + tt.key + " and " + tt.key + "_file are set: keep one"
		if err == nil || isUsage(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("config check with %s and %s_file (env %q) = %v; want an error containing %q", tt.key, tt.key, tt.env, err, want)
			continue
		}
		cfgNoSecrets(t, err.Error())
	}
}

// TestConfigStoreFile: the store URL can come from a file; its password is
// never shown, in config check, config print or an error.
func TestConfigStoreFile(t *testing.T) {
	t.Parallel()
	storeURL := "postgres://hubgate:" + cfgStorePassword + "@db.internal/hubgate?sslmode=disable"
	file := cfgWrite(t, "store", storeURL+"\n")
	path := cfgFile(t, cfgFull().set("store", nil).set("store_file", file))
	c, err := loadConfig(path, cfgEnv())
	if err != nil || c.Store != storeURL {
		t.Fatalf("loadConfig(store_file) = %+v, %v; want store %s", c, err, storeURL)
	}
	out, _, err := cfgRunEnv(t, cfgEnv(), "config", "check", "--config", path)
	if err != nil || !strings.Contains(out, "store postgres") {
		t.Errorf("config check (store_file) = %q, %v; want ok, store postgres", out, err)
	}
	cfgNoSecrets(t, out)
	out, _, err = cfgRunEnv(t, cfgEnv(), "config", "print", "--config", path)
	if err != nil || !strings.Contains(out, "store: postgres://hubgate:***@db.internal/hubgate?sslmode=disable\n") {
		t.Errorf("config print (store_file) = %v; want the store with its password masked:\n%s", err, out)
	}
	cfgNoSecrets(t, out)
	// From the environment too, and a bad URL in the file says so without it.
	env := cfgEnv("HUBGATE_STORE_FILE", cfgWrite(t, "bad", "postgres://hubgate:"+cfgStorePassword+"%zz@db.internal/x\n"))
	_, _, err = cfgRunEnv(t, env, "config", "check", "--config", cfgFile(t, cfgFull().set("store", nil)))
	if err == nil || !strings.Contains(err.Error(), "store: postgres url does not parse") {
		t.Errorf("config check (HUBGATE_STORE_FILE with a bad URL) = %v; want a store error", err)
	}
	cfgNoSecrets(t, fmt.Sprint(err))
	// A query password is masked like the userinfo's.
	if got, want := redactURL("postgres://db/x?password=s3cret&sslmode=disable"), "postgres://db/x?password=xxxxx&sslmode=disable"; got != want {
		t.Errorf("redactURL(query password) = %q; want %q", got, want)
	}
}

// TestConfigPrint: the effective configuration — file, environment,
// defaults — with every key of the schema and every secret masked.
func TestConfigPrint(t *testing.T) {
	t.Parallel()
	tokenFile := cfgWrite(t, "ci.token", "ci-token-from-a-file-0123\n")
	cfg := cfgFull().set("admin.tokens", []any{map[string]any{"name": "ci", "role": "read", "token_file": tokenFile}})
	env := cfgEnv("HUBGATE_SESSION_TTL", "3h", "HUBGATE_SESSION_SECRETS", cfgSessionSecret+","+cfgSessionSecret2)
	out, _, err := cfgRunEnv(t, env, "config", "print", "--config", cfgFile(t, cfg))
	if err != nil {
		t.Fatalf("config print = %v", err)
	}
	cfgNoSecrets(t, out)
	for _, s := range []string{"ci-token-from-a-file", "whsec-1"} {
		if strings.Contains(out, s) {
			t.Errorf("config print shows the secret %q:\n%s", s, out)
		}
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("config print is not YAML: %v\n%s", err, out)
	}
	get := func(key string) any {
		var v any = doc
		for _, part := range strings.Split(key, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			if v, ok = m[part]; !ok {
				return "(missing)"
			}
		}
		return v
	}
	for _, k := range schemaKeys(reflect.TypeFor[Config](), "") {
		if !strings.Contains(k.key, "[]") && get(k.key) == "(missing)" {
			t.Errorf("config print lacks %s", k.key)
		}
	}
	tests := []struct {
		key  string
		want any
	}{
		{"provider.client_secret", "***"},
		{"provider.webhook_secret", "***"},
		{"admin.token", "***"},
		{"session.secrets", []any{"***", "***"}},
		{"session.ttl", "3h"},
		{"claims.ttl", "7d"},
		{"claims.smtp", "smtp://mailer:***@mail.internal:587"},
		{"store", "postgres://hubgate:***@db.internal/hubgate"},
		{"admin.tokens", []any{map[string]any{"name": "ci", "role": "read", "token": "***", "token_file": tokenFile}}},
		{"memory.floor", "48MiB"},
		{"log.level", "debug"},
		{"listen", ":8080"},
	}
	for _, tt := range tests {
		if got := get(tt.key); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("config print: %s = %#v; want %#v", tt.key, got, tt.want)
		}
	}
	// Defaults of a minimal file.
	out, _, err = cfgRunEnv(t, cfgEnv(), "config", "print", "--config", cfgFile(t, cfgMinimal()))
	for _, want := range []string{"listen: :4180\n", "mode: passthrough\n", "  ttl: 12h\n", "  revalidate: 5m\n", "store: bolt://hubgate.db\n", "  ttl: 14d\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("config print (minimal) = %v; lacks the default %q:\n%s", err, want, out)
		}
	}
	// A bad configuration prints its errors, not a config.
	out, _, err = cfgRunEnv(t, cfgEnv(), "config", "print", "--config", cfgFile(t, cfgFull().set("mode", "strict")))
	if err == nil || out != "" || !strings.Contains(err.Error(), "mode") {
		t.Errorf("config print (bad mode) = %q, %v; want the error only", out, err)
	}
	if _, _, err := cfgRunEnv(t, cfgEnv(), "config", "print"); !isUsage(err) {
		t.Errorf("config print without --config = %v; want a usage error", err)
	}
}

// TestConfigAdminTokens: admin.tokens from the file and the environment,
// and the faults the admin API would refuse at start, found by the check.
func TestConfigAdminTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ann, ci := write("ann", "ann-token-0123456789-xyz"), write("ci", "ci-token-0123456789-xyz")
	c, err := loadConfig(cfgFile(t, cfgFull()), cfgEnv("HUBGATE_ADMIN_TOKENS", "ann:operator:"+ann+", ci:read:"+ci))
	if err != nil {
		t.Fatalf("loadConfig(HUBGATE_ADMIN_TOKENS) = %v", err)
	}
	want := []adminToken{{Name: "ann", Role: "operator", Token: "ann-token-0123456789-xyz", TokenFile: ann},
		{Name: "ci", Role: "read", Token: "ci-token-0123456789-xyz", TokenFile: ci}}
	if !reflect.DeepEqual(c.Admin.Tokens, want) {
		t.Errorf("admin.tokens from the environment = %+v; want %+v", c.Admin.Tokens, want)
	}
	tok := func(name, role, token string) map[string]any {
		return map[string]any{"name": name, "role": role, "token": token}
	}
	bad := []struct {
		name   string
		tokens []any
		env    []string
		want   []string
	}{
		{"bad name, role and short token", []any{tok("ann smith", "admin", "short")},
			nil, []string{"admin.tokens[0].name", "admin.tokens[0].role", "admin.tokens[0].token: want at least 16"}},
		{"no token", []any{map[string]any{"name": "ci", "role": "read"}}, nil, []string{"admin.tokens[0].token: required (or token_file)"}},
		{"name taken by admin.token", []any{tok("admin", "read", "another-token-0123456789")}, nil, []string{`admin.tokens[0].name: "admin" is taken by admin.token`}},
		{"same name twice", []any{tok("ci", "read", "one-token-0123456789"), tok("ci", "read", "two-token-0123456789")}, nil,
			[]string{`admin.tokens[1].name: "ci" is taken by admin.tokens[0]`}},
		{"same token as admin.token", []any{tok("ci", "read", cfgAdminToken)}, nil, []string{"admin.tokens[0].token: the same token as admin.token"}},
		{"bad env entry", nil, []string{"HUBGATE_ADMIN_TOKENS", "ann:operator"}, []string{"admin.tokens (HUBGATE_ADMIN_TOKENS): entry 1: want name:role:token_file"}},
		{"unreadable token file", nil, []string{"HUBGATE_ADMIN_TOKENS", "ann:operator:/nonexistent/hubgate/ann"}, []string{"admin.tokens[0].token_file"}},
	}
	for _, tt := range bad {
		cfg := cfgFull()
		if tt.tokens != nil {
			cfg.set("admin.tokens", tt.tokens)
		}
		_, _, err := cfgRunEnv(t, cfgEnv(tt.env...), "config", "check", "--config", cfgFile(t, cfg))
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: config check = %v; want %q", tt.name, err, w)
			}
		}
		cfgNoSecrets(t, fmt.Sprint(err))
	}
}
