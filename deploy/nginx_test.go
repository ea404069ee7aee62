package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// identityHeaders are the X-Hubgate-* headers hubgate sets, read from the
// Header* constants in proxy/forward.go so that the proxy examples cannot
// fall behind the code.
func identityHeaders(t *testing.T) []string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "proxy", "forward.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Header") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
				if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "X-Hubgate-") {
					out = append(out, v)
				}
			}
		}
		return true
	})
	if len(out) < 8 {
		t.Fatalf("proxy/forward.go: found identity headers %v; want the 8 of DESIGN §4", out)
	}
	return out
}

// nginxVar is the variable nginx gives a response header:
// X-Hubgate-Zaikio-Person → $upstream_http_x_hubgate_zaikio_person.
func nginxVar(header string) string {
	return "$upstream_http_" + strings.ReplaceAll(strings.ToLower(header), "-", "_")
}

// locationBlock returns the body of "location SPEC {" in an nginx file
// (no nested blocks in the locations of interest).
func locationBlock(t *testing.T, conf, spec string) string {
	t.Helper()
	loc := regexp.MustCompile(`(?m)^\s*location ` + regexp.QuoteMeta(spec) + ` \{`).FindStringIndex(conf)
	if loc == nil {
		t.Fatalf("nginx example: no location %s", spec)
	}
	body := conf[loc[0]:]
	end := strings.Index(body, "\n    }")
	if end < 0 {
		t.Fatalf("nginx example: location %s not closed", spec)
	}
	return body[:end]
}

// directives returns the non-comment directives of a block, whitespace
// collapsed, without the trailing ";".
func directives(block string) []string {
	var out []string
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || !strings.HasSuffix(l, ";") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(strings.TrimSuffix(l, ";")), " "))
	}
	return out
}

// ownLocation is the example's location for every spelling of /_hubgate.
const ownLocation = `~* "^/_hubgate(?:[/;\x5c]|$)"`

// The nginx example handles every identity header (captured from hubgate's
// answer and set, replacing client values, on the one location that
// reaches the app), sends every request but hubgate's through the auth
// subrequest (no location turns auth_request off: nginx chooses locations
// on its normalized $uri but forwards the raw target), and routes every
// letter-case spelling of /_hubgate to hubgate.
func TestNginxExample(t *testing.T) {
	conf := readFile(t, filepath.Join(repoRoot(t), "deploy", "nginx", "hubgate-forward-auth.conf"))
	main := directives(locationBlock(t, conf, "/"))
	own := directives(locationBlock(t, conf, ownLocation))
	auth := directives(locationBlock(t, conf, "= /_hubgate/auth"))
	for _, h := range identityHeaders(t) {
		v := "$hubgate_" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(h, "X-Hubgate-")), "-", "_")
		if h == "X-Hubgate-Zaikio-Person" {
			v = "$hubgate_person"
		}
		if !slices.Contains(main, "auth_request_set "+v+" "+nginxVar(h)) {
			t.Errorf("location /: want auth_request_set %s %s", v, nginxVar(h))
		}
		if !slices.Contains(main, "proxy_set_header "+h+" "+v) {
			t.Errorf("location /: want proxy_set_header %s %s", h, v)
		}
	}
	for _, want := range []string{"auth_request /_hubgate/auth", "error_page 401 = @hubgate_login", "proxy_pass http://legacy_app"} {
		if !slices.Contains(main, want) {
			t.Errorf("location /: want %s", want)
		}
	}
	for _, want := range []string{"internal", "proxy_pass http://hubgate", "proxy_pass_request_body off", `proxy_set_header Content-Length ""`, "proxy_set_header X-Original-URI $request_uri"} {
		if !slices.Contains(auth, want) {
			t.Errorf("location = /_hubgate/auth: want %s", want)
		}
	}
	if !slices.Contains(own, "proxy_pass http://hubgate") {
		t.Errorf("location %s: want proxy_pass http://hubgate", ownLocation)
	}
	// Only three locations reach anything, and only "/" reaches the app.
	locs := regexp.MustCompile(`(?m)^\s*location\s+(.*?)\s*\{`).FindAllStringSubmatch(conf, -1)
	var specs []string
	for _, m := range locs {
		specs = append(specs, m[1])
	}
	if want := []string{ownLocation, "= /_hubgate/auth", "/", "@hubgate_login"}; !slices.Equal(specs, want) {
		t.Errorf("locations %q; want %q (a public-path location with auth_request off is the bypass this example avoids)", specs, want)
	}
	if strings.Count(conf, "proxy_pass http://legacy_app;") != 1 {
		t.Errorf("want exactly one proxy_pass to the app (in location /, behind auth_request)")
	}
	for _, l := range strings.Split(conf, "\n") {
		if d := strings.TrimSpace(l); !strings.HasPrefix(d, "#") && strings.Contains(d, "auth_request off") {
			t.Errorf("auth_request off in %q: every request for the app goes through hubgate", d)
		}
	}
	// Browsers go where hubgate's 401 says (its return path validated);
	// scripts, whose 401 names no sign-in, get a 401.
	for _, want := range []string{"auth_request_set $hubgate_signin    $upstream_http_x_hubgate_signin;", "return 302 $hubgate_signin;", `if ($hubgate_signin = "") {`, "return 401 "} {
		if !strings.Contains(conf, want) {
			t.Errorf("@hubgate_login: want %s", want)
		}
	}
	for _, l := range strings.Split(conf, "\n") {
		if d := strings.TrimSpace(l); strings.HasPrefix(d, "proxy_set_header Host ") || strings.HasPrefix(d, "proxy_set_header X-Forwarded-Host ") {
			if !strings.HasSuffix(d, " $server_name;") {
				t.Errorf("%q: want $server_name, never the client's $host", d)
			}
		}
	}
	if !strings.Contains(conf, "underscores_in_headers off;") {
		t.Errorf("want underscores_in_headers off stated explicitly")
	}
}

// The nginx example, run by a real nginx against a stub hubgate and a stub
// legacy app: sign-in redirect, identity headers only from hubgate (client
// spoofs in any spelling replaced or dropped), renewed cookies passed on,
// public paths decided by hubgate's answer with the client's identity
// headers stripped, the auth endpoint internal, other spellings of
// /_hubgate at hubgate. TestNginxExampleWithHubgate runs the same example
// against a real hubgate.
func TestNginxForwardAuth(t *testing.T) {
	nginx := findNginx(t)
	headers := identityHeaders(t)

	type seen struct {
		mu   sync.Mutex
		reqs map[string][]*http.Request
	}
	record := func(s *seen, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.reqs == nil {
			s.reqs = map[string][]*http.Request{}
		}
		s.reqs[r.URL.Path] = append(s.reqs[r.URL.Path], r.Clone(context.Background()))
	}
	last := func(s *seen, path string) *http.Request {
		s.mu.Lock()
		defer s.mu.Unlock()
		if rs := s.reqs[path]; len(rs) > 0 {
			return rs[len(rs)-1]
		}
		return nil
	}
	var hubSeen, appSeen seen
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(&hubSeen, r)
		switch r.URL.Path {
		case "/_hubgate/auth":
			c, _ := r.Cookie("__Host-hubgate")
			switch {
			case c != nil && c.Value == "linked":
				for _, h := range headers {
					w.Header().Set(h, "hub:"+h)
				}
				http.SetCookie(w, &http.Cookie{Name: "__Host-hubgate", Value: "renewed", Path: "/", Secure: true, HttpOnly: true})
			case c != nil && c.Value == "anonymous":
				w.Header().Set("X-Hubgate-Mode", "passthrough")
			case strings.HasPrefix(r.Header.Get("X-Original-Uri"), "/assets/"): // a public path
				w.Header().Set("X-Hubgate-Mode", "enforce")
			default: // as hubgate: the sign-in URL for page navigations only
				if r.Header.Get("Sec-Fetch-Mode") != "cors" {
					w.Header().Set("X-Hubgate-Signin", "/_hubgate/login?rd="+url.QueryEscape(r.Header.Get("X-Original-Uri")))
				}
				w.WriteHeader(http.StatusUnauthorized)
			}
		case "/_hubgate/login":
			fmt.Fprint(w, "hubgate login")
		default:
			http.Error(w, "hubgate: not found", http.StatusNotFound)
		}
	}))
	defer hub.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(&appSeen, r)
		fmt.Fprint(w, "legacy app")
	}))
	defer app.Close()

	httpsPort, httpPort := freePort(t), freePort(t)
	startNginx(t, nginx, hub.Listener.Addr().String(), app.Listener.Addr().String(), httpsPort, httpPort)

	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "app.example.com"}, //nolint:gosec // self-signed test certificate
			DisableKeepAlives: true,
		},
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", httpsPort)
	get := func(path string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = "app.example.com"
		for k, v := range h {
			req.Header[k] = []string{v} // exact spelling, not canonicalized
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp
	}
	spoof := map[string]string{"x-hubgate-user": "evil", "X_Hubgate_User": "evil2", "X-HUBGATE-ROLES": "1:admin"}
	for _, h := range headers {
		spoof[h] = "client"
	}

	t.Run("signed out: redirect to sign-in", func(t *testing.T) {
		resp := get("/private/page?tab=2", nil)
		if want := "/_hubgate/login?rd=%2Fprivate%2Fpage%3Ftab%3D2"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Errorf("GET /private/page = %d Location %q; want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		if last(&appSeen, "/private/page") != nil {
			t.Errorf("the legacy app was reached without a session")
		}
		ar := last(&hubSeen, "/_hubgate/auth")
		if ar == nil {
			t.Fatalf("hubgate's auth endpoint was not asked")
		}
		if got := ar.Header.Get("X-Original-Uri"); got != "/private/page?tab=2" {
			t.Errorf("auth subrequest X-Original-URI = %q", got)
		}
		if got := ar.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("auth subrequest X-Forwarded-Proto = %q; want https", got)
		}
		// A script: no redirect it cannot follow.
		if resp := get("/private/page", map[string]string{"Sec-Fetch-Mode": "cors"}); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
			t.Errorf("fetch() of /private/page = %d Location %q; want 401", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("linked: hubgate's identity replaces the client's", func(t *testing.T) {
		h := map[string]string{"Cookie": "__Host-hubgate=linked; legacy=1"}
		for k, v := range spoof {
			h[k] = v
		}
		resp := get("/dashboard", h)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /dashboard = %d; want 200", resp.StatusCode)
		}
		r := last(&appSeen, "/dashboard")
		if r == nil {
			t.Fatalf("the legacy app was not reached")
		}
		for _, name := range headers {
			if got := r.Header.Values(name); len(got) != 1 || got[0] != "hub:"+name {
				t.Errorf("app got %s = %q; want exactly hubgate's %q", name, got, "hub:"+name)
			}
		}
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "x-hubgate-") && !slices.Contains(headers, k) {
				t.Errorf("app got a client-made header %s = %q", k, r.Header[k])
			}
		}
		if got := resp.Header.Values("Set-Cookie"); len(got) != 1 || !strings.HasPrefix(got[0], "__Host-hubgate=renewed") {
			t.Errorf("browser got Set-Cookie %q; want hubgate's renewed session cookie", got)
		}
	})

	t.Run("anonymous pass: no identity but the mode", func(t *testing.T) {
		h := map[string]string{"Cookie": "__Host-hubgate=anonymous"}
		for k, v := range spoof {
			h[k] = v
		}
		if resp := get("/news", h); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /news = %d", resp.StatusCode)
		}
		r := last(&appSeen, "/news")
		for _, name := range headers {
			want := []string(nil)
			if name == "X-Hubgate-Mode" {
				want = []string{"passthrough"}
			}
			if got := r.Header.Values(name); !slices.Equal(got, want) {
				t.Errorf("app got %s = %q; want %q", name, got, want)
			}
		}
	})

	t.Run("public path: hubgate decides, identity stripped", func(t *testing.T) {
		if resp := get("/assets/app.css", spoof); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /assets/app.css = %d", resp.StatusCode)
		}
		r := last(&appSeen, "/assets/app.css")
		if r == nil {
			t.Fatal("the legacy app was not reached")
		}
		if ar := last(&hubSeen, "/_hubgate/auth"); ar == nil || ar.Header.Get("X-Original-Uri") != "/assets/app.css" {
			t.Errorf("hubgate was not asked about the public path")
		}
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "x-hubgate-") && (k != "X-Hubgate-Mode" || r.Header.Get(k) != "enforce") {
				t.Errorf("app got %s = %q on a public path; want only hubgate's X-Hubgate-Mode", k, r.Header[k])
			}
		}
	})

	t.Run("every spelling of /_hubgate goes to hubgate", func(t *testing.T) {
		for _, p := range []string{"/_Hubgate/claim/t0ken", "/_HUBGATE", "/_hubgate;x/claim/t0ken", "/%5FHubgate/claim/t0ken", "/x/../_hubGate/login"} {
			resp := get(p, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s = %d; want the stub hubgate's 404", p, resp.StatusCode)
			}
		}
		appSeen.mu.Lock()
		defer appSeen.mu.Unlock()
		for path := range appSeen.reqs {
			if strings.Contains(strings.ToLower(path), "hubgate") {
				t.Errorf("the app got %s", path)
			}
		}
	})

	t.Run("hubgate routes and the internal auth endpoint", func(t *testing.T) {
		if resp := get("/_hubgate/login?rd=/x", nil); resp.StatusCode != http.StatusOK || last(&hubSeen, "/_hubgate/login") == nil {
			t.Errorf("GET /_hubgate/login = %d; want hubgate's answer", resp.StatusCode)
		}
		count := func() int {
			hubSeen.mu.Lock()
			defer hubSeen.mu.Unlock()
			return len(hubSeen.reqs["/_hubgate/auth"])
		}
		n := count()
		if resp := get("/_hubgate/auth", map[string]string{"Cookie": "__Host-hubgate=linked"}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /_hubgate/auth from outside = %d; want 404 (internal)", resp.StatusCode)
		}
		if count() != n {
			t.Errorf("an outside request reached the auth endpoint")
		}
	})

	t.Run("plain http redirects to https", func(t *testing.T) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/x", httpPort), nil)
		req.Host = "app.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://app.example.com/x" {
			t.Errorf("http GET /x = %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// findNginx returns nginx's path, or skips the test.
func findNginx(t *testing.T) string {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx not installed (apt-get install nginx-light; ./validate --install does it)")
		}
		nginx = "/usr/sbin/nginx"
	}
	if testing.Short() {
		t.Skip("starts nginx")
	}
	return nginx
}

// startNginx runs the shipped example (deploy/nginx/hubgate-forward-auth.conf)
// with a real nginx until the test ends: only its listen addresses, its
// upstream servers (hubgate and the app) and its certificate are adapted.
func startNginx(t *testing.T, nginx, hubgateAddr, appAddr string, httpsPort, httpPort int) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir, "app.example.com")
	conf := readFile(t, filepath.Join(repoRoot(t), "deploy", "nginx", "hubgate-forward-auth.conf"))
	for _, r := range []struct{ old, new string }{
		{"server 127.0.0.1:4180;", "server " + hubgateAddr + ";"},
		{"server 127.0.0.1:3000;", "server " + appAddr + ";"},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", httpsPort)},
		{"listen [::]:443 ssl http2;", ""},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort)},
		{"listen [::]:80;", ""},
		{"/etc/nginx/tls/app.example.com.crt", certFile},
		{"/etc/nginx/tls/app.example.com.key", keyFile},
	} {
		if strings.Count(conf, r.old) != 1 {
			t.Fatalf("nginx example: want exactly one %q to adapt for the test", r.old)
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	site := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(site, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the test's temp files
	}
	main := fmt.Sprintf(`%s
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[3]s;
}
`, user, dir, site)
	mainConf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainConf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", mainConf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", mainConf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", httpsPort), filepath.Join(dir, "error.log"))
}

func waitListening(t *testing.T, addr, errorLog string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(errorLog)
			t.Fatalf("nothing listens on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeSelfSigned writes a throwaway certificate and key for host.
func writeSelfSigned(t *testing.T, dir, host string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
