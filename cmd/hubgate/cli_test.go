package main

// Issue #14, CLI hygiene and the image's commands: -h everywhere,
// `hubgate version`, `hubgate healthcheck`, and the config warnings serve
// logs, through run.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestHelpEverywhere walks every command and subcommand: -h, -help and
// --help print the command's usage on stdout and succeed (exit 0), and
// the top-level usage names every one of them.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	env := cfgEnv("HUBGATE_ADMIN_TOKEN", "secret-token-from-env", "HUBGATE_MIGRATE_TO", "postgres://u:s3cret@h/db")
	var paths [][]string
	for name := range commands() {
		paths = append(paths, []string{name})
		for sub := range groups()[name] {
			paths = append(paths, []string{name, sub})
		}
	}
	slices.SortFunc(paths, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
	if len(paths) < 20 {
		t.Fatalf("found %d commands; want all of them", len(paths))
	}
	for _, path := range paths {
		for _, flag := range []string{"-h", "-help", "--help"} {
			args := append(slices.Clone(path), flag)
			stdout, stderr, err := cfgRunEnv(t, env, args...)
			if err != nil {
				t.Errorf("hubgate %s = %v; want nil (exit 0)", strings.Join(args, " "), err)
			}
			if !strings.HasPrefix(stdout, "Usage: hubgate "+path[0]) || stderr != "" {
				t.Errorf("hubgate %s printed stdout %q, stderr %q; want the usage on stdout only", strings.Join(args, " "), stdout, stderr)
			}
			if strings.Contains(stdout, "secret-token-from-env") || strings.Contains(stdout, "s3cret") {
				t.Errorf("hubgate %s shows a secret from the environment", strings.Join(args, " "))
			}
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		stdout, _, err := cfgRunEnv(t, env, args...)
		if err != nil || stdout != usage {
			t.Errorf("hubgate %q = %v; want the usage on stdout", args, err)
		}
	}
	lines := strings.Split(usage, "\n")
	for _, path := range paths {
		listed := slices.ContainsFunc(lines, func(l string) bool {
			rest, ok := strings.CutPrefix(l, "  hubgate "+path[0])
			return ok && (rest == "" || rest[0] == ' ') && (len(path) == 1 || strings.Contains(rest, path[1]))
		})
		if !listed {
			t.Errorf("usage does not list hubgate %s", strings.Join(path, " "))
		}
	}
	// keys new -h prints the help, never a key.
	stdout, _, _ := cfgRunEnv(t, env, "keys", "new", "-h")
	for _, line := range strings.Fields(stdout) {
		if b, err := base64.StdEncoding.DecodeString(line); err == nil && len(b) == 32 {
			t.Errorf("keys new -h printed a key: %q", stdout)
		}
	}
	// Mistakes stay usage errors (exit 2).
	for _, args := range [][]string{{"keys", "new", "extra"}, {"version", "--bogus"}, {"stats", "extra"}, {"sessions"}, {"sessions", "close"}} {
		if _, _, err := cfgRunEnv(t, env, args...); !isUsage(err) {
			t.Errorf("hubgate %q = %v; want a usage error", args, err)
		}
	}
}

// TestVersion: the text and JSON forms carry the build information of
// runtime/debug.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, err := cfgRunEnv(t, cfgEnv(), "version")
	if err != nil || !strings.HasPrefix(out, "hubgate ") {
		t.Fatalf("version = %q, %v; want hubgate <version> first", out, err)
	}
	for _, want := range []string{"\n  commit ", "\n  build time ", "\n  go ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "\n  modules:\n", "github.com/rs/zerolog "} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	out, _, err = cfgRunEnv(t, cfgEnv(), "version", "-json")
	var b buildInfo
	if err != nil || json.Unmarshal([]byte(out), &b) != nil {
		t.Fatalf("version -json = %q, %v; want JSON", out, err)
	}
	if b.Version == "" || b.Go != runtime.Version() || b.Platform != runtime.GOOS+"/"+runtime.GOARCH ||
		!slices.ContainsFunc(b.Modules, func(m module) bool { return m.Path == "go.yaml.in/yaml/v3" && m.Version != "" }) {
		t.Errorf("version -json = %+v; want version, go, platform and the modules", b)
	}
	if out, _, _ := cfgRunEnv(t, cfgEnv(), "--version"); !strings.HasPrefix(out, "hubgate ") {
		t.Errorf("--version = %q; want the version", out)
	}
}

// TestHealthcheck: 200 from /_hubgate/healthz is success without output;
// anything else, or nothing listening, is exit 1 within the timeout.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_hubgate/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer ts.Close()
	url := ts.URL + "/_hubgate/healthz"
	out, errOut, err := cfgRunEnv(t, cfgEnv(), "healthcheck", "--url", url)
	if err != nil || out != "" || errOut != "" {
		t.Errorf("healthcheck (200) = %v, stdout %q, stderr %q; want success, silent", err, out, errOut)
	}
	status = http.StatusServiceUnavailable
	if _, _, err := cfgRunEnv(t, cfgEnv(), "healthcheck", "--url", url); err == nil || isUsage(err) || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck (503) = %v; want exit 1 naming the status", err)
	}
	// The listen address of the configuration, or HUBGATE_LISTEN, on
	// loopback.
	status = http.StatusOK
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	path := cfgFile(t, cfgFull().set("listen", ":"+port))
	if _, _, err := cfgRunEnv(t, cfgEnv(), "healthcheck", "--config", path); err != nil {
		t.Errorf("healthcheck --config (listen :%s) = %v; want success", port, err)
	}
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_CONFIG", path), "healthcheck"); err != nil {
		t.Errorf("healthcheck with HUBGATE_CONFIG = %v; want success", err)
	}
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_LISTEN", "0.0.0.0:"+port), "healthcheck"); err != nil {
		t.Errorf("healthcheck with HUBGATE_LISTEN = %v; want success", err)
	}
	// Nothing listening, or a server that never answers: exit 1 in time.
	dead := fmt.Sprintf("http://127.0.0.1:%d/_hubgate/healthz", freeTCPPort(t))
	if _, _, err := cfgRunEnv(t, cfgEnv(), "healthcheck", "--url", dead); err == nil || isUsage(err) {
		t.Errorf("healthcheck (nothing listening) = %v; want exit 1", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	_, _, err = cfgRunEnv(t, cfgEnv(), "healthcheck", "--url", "http://"+ln.Addr().String()+"/_hubgate/healthz", "--timeout", "300ms")
	if err == nil || isUsage(err) || time.Since(start) > 5*time.Second {
		t.Errorf("healthcheck (silent server) = %v after %s; want exit 1 within the timeout", err, time.Since(start))
	}
	// Docker reserves exit 2: a bad flag is exit 1 too.
	if _, _, err := cfgRunEnv(t, cfgEnv(), "healthcheck", "--bogus"); err == nil || isUsage(err) {
		t.Errorf("healthcheck --bogus = %v; want exit 1, not 2", err)
	}
}

// TestHealthcheckServe: healthcheck against a real `hubgate serve`.
func TestHealthcheckServe(t *testing.T) {
	srv := serveInProcess(t, "", cfgEnv())
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_LISTEN", fmt.Sprintf("127.0.0.1:%d", srv.port)), "healthcheck"); err != nil {
		t.Errorf("healthcheck against serve = %v; want success", err)
	}
	srv.stop()
	if _, _, err := cfgRunEnv(t, cfgEnv("HUBGATE_LISTEN", fmt.Sprintf("127.0.0.1:%d", srv.port)), "healthcheck"); err == nil {
		t.Errorf("healthcheck after serve stopped = nil; want exit 1")
	}
}

// TestServeLogsWarnings: serve starts with plain http outside loopback,
// and says so in its log.
func TestServeLogsWarnings(t *testing.T) {
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{ClientID: "warn_test", ClientSecret: "warn-secret",
		Name: "warn_test", RedirectURIs: []string{"http://hubgate.example.test/_hubgate/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	defer hubSrv.Close()
	port := freeTCPPort(t)
	cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\npublic_url: \"http://hubgate.example.test\"\nupstream: \"http://127.0.0.1:9\"\n"+
		"provider: {url: %q, client_id: warn_test, client_secret: warn-secret}\nsession: {secrets: [%q]}\nstore: \"bolt://%s\"\nshutdown: {delay: 0s}\n",
		port, hubSrv.URL, cfgSessionSecret, filepath.Join(t.TempDir(), "hubgate.db"))
	path := filepath.Join(t.TempDir(), "hubgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, cfgEnv(), &syncBuffer{}, logs) }()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), `"event":"listen"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve = %v\n%s", err, logs)
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		warned = warned || strings.Contains(line, `"level":"warn","event":"config.warning"`) &&
			strings.Contains(line, `"message":"public_url: \"http://hubgate.example.test\" is plain http outside loopback`)
	}
	if !warned {
		t.Errorf("serve's log lacks the config.warning about public_url:\n%s", logs)
	}
	if strings.Contains(logs.String(), "provider.url") {
		t.Errorf("serve warned about a loopback hub:\n%s", logs)
	}
}
