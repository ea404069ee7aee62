package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// needTool finds an external program the test needs. On a laptop without it
// the test is skipped; under CI=true it fails, because CI must exercise it.
func needTool(t *testing.T, name string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range extra {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed, and CI must run this test (.ci/run installs it)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNginxAuthRequest puts a real nginx in front of an upstream, with
// auth_request to hubgate's /_hubgate/auth, as deploy/nginx shows.
func TestNginxAuthRequest(t *testing.T) {
	nginx := needTool(t, "nginx", "/usr/sbin/nginx")
	e, b := rolesEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce; c.Assertion = true })
	app := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(app.Close)
	dir := t.TempDir()
	port := freePort(t)
	hubgate := strings.TrimPrefix(e.srv.URL, "http://")
	upstream := strings.TrimPrefix(app.URL, "http://")
	var sets, headers strings.Builder
	for _, h := range []string{"user", "zaikio_person", "email", "name", "orgs", "roles", "mode", "assertion"} {
		name := "X-Hubgate-" + strings.ReplaceAll(strings.Title(strings.ReplaceAll(h, "_", " ")), " ", "-") //nolint:staticcheck // ASCII names
		fmt.Fprintf(&sets, "      auth_request_set $hg_%s $upstream_http_x_hubgate_%s;\n", h, h)
		fmt.Fprintf(&headers, "      proxy_set_header %s $hg_%s;\n", name, h)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location = /_hubgate/auth {
      internal;
      proxy_pass http://%[3]s/_hubgate/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }
    location /_hubgate/ { proxy_pass http://%[3]s; }
    location @login { return 302 /_hubgate/login?rd=$request_uri; }
    location / {
      auth_request /_hubgate/auth;
%[5]s%[6]s      error_page 401 = @login;
      proxy_pass http://%[4]s;
    }
  }
}
`, dir, port, hubgate, upstream, sets.String(), headers.String())
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// No session: redirected to sign in, the upstream never asked.
	anon := e.browser()
	resp := anon.get(base + "/reports?year=2026")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || strings.TrimPrefix(loc, base) != "/_hubgate/login?rd=/reports?year=2026" {
		t.Errorf("nginx without session = %d Location %q; want 302 to /_hubgate/login?rd=/reports?year=2026", resp.StatusCode, loc)
	}
	// With the session cookie (same host, another port: cookies are per
	// host), the upstream gets the identity; spoofed headers are overwritten.
	resp = b.get(base+"/reports", "X-Hubgate-User", "evil", "X-Hubgate-Roles", "7:admin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("nginx with session = %d\n%s", resp.StatusCode, resp.body)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("upstream answer %q: %v", resp.body, err)
	}
	if got["X-Hubgate-User"] != "1" || got["X-Hubgate-Roles"] != "100:admin,200:user" || got["X-Hubgate-Mode"] != "enforce" || got["X-Hubgate-Assertion"] == "" {
		t.Errorf("upstream behind nginx received %v; want user 1, roles 100:admin,200:user, mode enforce and an assertion", got)
	}
}
