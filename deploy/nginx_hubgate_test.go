package deploy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// recordingApp is the legacy app behind nginx (and behind hubgate, which
// forwards to it too): it counts every request that reaches it and keeps
// the raw targets.
type recordingApp struct {
	mu      sync.Mutex // guards targets and last
	targets []string
	last    *http.Request
	srv     *httptest.Server
}

func newRecordingApp(t *testing.T) *recordingApp {
	a := &recordingApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.targets = append(a.targets, r.RequestURI)
		a.last = r.Clone(context.Background())
		a.mu.Unlock()
		fmt.Fprint(w, "legacy app")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *recordingApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.targets)
}

// lockedBuffer collects hubgate's log.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testdataLines reads one of proxy's path corpora (proxy/testdata): one
// entry a line, "#" comments.
func testdataLines(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(readFile(t, filepath.Join(repoRoot(t), "proxy", "testdata", name)), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestNginxExampleWithHubgate runs the shipped nginx example (deploy/nginx)
// in front of a real hubgate (proxy.New with the dev hub and a bbolt store,
// enforce mode, public paths "/assets/" and "/docs", legacy login "/login")
// and a recording app, and sends the gate's whole path corpus through it
// as raw request targets, with and without a session:
//
//   - no request reaches the app through nginx unless hubgate's gate, asked
//     directly about the same target and session, forwards it too (nginx
//     chooses locations on its normalized $uri and forwards the raw target,
//     so a public location there was a bypass);
//   - the public paths pass without a session;
//   - no spelling of the legacy login reaches the app, session or not;
//   - no spelling of /_hubgate reaches the app, and no claim token reaches
//     hubgate's log.
//
// It is also what proxy's TestSecurityPathForwardAuthDecidesLikeTheGate
// cannot be: a test of nginx's location matching in front of the rules.
func TestNginxExampleWithHubgate(t *testing.T) {
	nginx := findNginx(t)
	httpsPort, httpPort := freePort(t), freePort(t)
	public := fmt.Sprintf("https://app.example.com:%d", httpsPort)
	app := newRecordingApp(t)
	hg := startHubgate(t, public, app.srv.URL)
	startNginx(t, nginx, hg.addr, app.srv.Listener.Addr().String(), httpsPort, httpPort)
	nginxAddr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	cookie := hg.signIn(t, public, nginxAddr)

	// send sends one raw request through nginx (TLS) or straight to hubgate
	// and reports the status and whether the app was reached.
	send := func(viaNginx bool, method, target, cookie string) (int, bool) {
		t.Helper()
		var c net.Conn
		var err error
		if viaNginx {
			c, err = tls.Dial("tcp", nginxAddr, &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
		} else {
			c, err = net.Dial("tcp", hg.addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: app.example.com:%d\r\nContent-Length: 0\r\nConnection: close\r\n", method, target, httpsPort)
		if cookie != "" {
			raw += "Cookie: " + cookie + "\r\n"
		}
		before := app.count()
		if _, err := io.WriteString(c, raw+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, app.count() > before
	}
	// likeTheGate sends a request through nginx and straight to hubgate:
	// nginx must let nothing through that hubgate's own gate does not
	// forward, and must pass what the gate forwards, unless nginx refuses
	// the target itself (400 before any location: "/%2e%2e/assets/x"
	// climbs above the root for nginx).
	var refusedByNginx []string
	likeTheGate := func(method, target, cookie string) (status int, reached bool) {
		t.Helper()
		status, reached = send(true, method, target, cookie)
		_, direct := send(false, method, target, cookie)
		switch {
		case reached && !direct:
			t.Errorf("%s %s (session %v) reached the app through nginx (%d), but hubgate's gate does not forward it", method, target, cookie != "", status)
		case direct && !reached && status == http.StatusBadRequest:
			refusedByNginx = append(refusedByNginx, method+" "+target)
		case direct && !reached:
			t.Errorf("%s %s (session %v) = %d through nginx; hubgate's gate forwards it", method, target, cookie != "", status)
		}
		return status, reached
	}
	defer func() {
		if len(refusedByNginx) > 0 {
			t.Logf("nginx refused %d targets itself that hubgate would forward (fail closed): %q", len(refusedByNginx), refusedByNginx)
		}
	}()

	t.Run("path corpus", func(t *testing.T) {
		n := 0
		for _, line := range testdataLines(t, "paths.txt") {
			f := strings.SplitN(line, " ", 3)
			outcome, target := f[0], f[1]
			for _, c := range []string{"", cookie} {
				n++
				status, reached := likeTheGate("GET", target, c)
				switch {
				case outcome == "refused" && reached:
					t.Errorf("GET %s (session %v) = %d reached the app; hubgate refuses it", target, c != "", status)
				case outcome == "gated" && c == "" && reached:
					t.Errorf("GET %s = %d reached the app without a session", target, status)
				case outcome == "public" && !reached && status != http.StatusBadRequest:
					t.Errorf("GET %s (session %v) = %d; want the public path served", target, c != "", status)
				}
			}
		}
		// The review's bypasses of the old example, spelled out.
		for _, target := range []string{"/assets/..;/private/admin", "/assets/%252e%252e/private/admin", "/assets/..%3b/private/admin", "/assets/..%3B/x/../private/admin"} {
			if status, reached := likeTheGate("GET", target, ""); reached {
				t.Errorf("GET %s = %d reached the app without a session", target, status)
			}
		}
		if n < 150 {
			t.Fatalf("sent %d requests; want the whole corpus", n)
		}
	})

	t.Run("sweep of dot segments and separators", func(t *testing.T) {
		// The same sweep as proxy's
		// TestSecurityPathSessionlessRequestsNeverReachProtectedPaths.
		dots := []string{"..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..;", "..%3b", "%252e%252e", "..%5c", "%c0%ae%c0%ae", "%u002e%u002e"}
		seps := []string{"/", "%2f", "%2F", "%5c", "\\", "//", "/./", "%252f", ";/"}
		for _, pre := range []string{"/assets", "/docs", "/assets/x", "", "/login"} {
			for _, d := range dots {
				for _, s := range seps {
					target := pre + s + d + s + "admin"
					if !strings.HasPrefix(target, "/") {
						target = "/" + target
					}
					likeTheGate("GET", target, "")
				}
			}
		}
	})

	t.Run("legacy login in every spelling", func(t *testing.T) {
		for _, target := range testdataLines(t, "login-spellings.txt") {
			for _, c := range []string{"", cookie} {
				for _, method := range []string{"GET", "POST"} {
					if status, reached := likeTheGate(method, target, c); reached {
						t.Errorf("%s %s (session %v) = %d reached the legacy login in enforce mode", method, target, c != "", status)
					}
				}
			}
		}
	})

	t.Run("scripts get 401, pages the sign-in", func(t *testing.T) {
		ask := func(method, target, cookie string, hdr ...string) (*http.Response, string) {
			t.Helper()
			conn, err := tls.Dial("tcp", nginxAddr, &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: app.example.com:%d\r\nContent-Length: 0\r\nConnection: close\r\n", method, target, httpsPort)
			if cookie != "" {
				raw += "Cookie: " + cookie + "\r\n"
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				raw += hdr[i] + ": " + hdr[i+1] + "\r\n"
			}
			fmt.Fprint(conn, raw+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(body)
		}
		for _, tc := range []struct {
			name   string
			method string
			hdr    []string
		}{
			{"fetch()", "GET", []string{"Sec-Fetch-Mode", "cors", "Accept", "*/*"}},
			{"jQuery", "GET", []string{"X-Requested-With", "XMLHttpRequest"}},
			{"a JSON client", "GET", []string{"Accept", "application/json"}},
			{"a form post", "POST", []string{"Sec-Fetch-Mode", "navigate", "Accept", "application/json"}},
			// A client cannot make nginx redirect it: the header is read
			// from hubgate's answer, never from the request.
			{"a script sending X-Hubgate-Signin", "GET", []string{"Sec-Fetch-Mode", "cors", "X-Hubgate-Signin", "https://evil.example/"}},
		} {
			before := app.count()
			resp, body := ask(tc.method, "/private/orders?page=2", "", tc.hdr...)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
				t.Errorf("%s: %d (Location %q); want 401 without a redirect", tc.name, resp.StatusCode, resp.Header.Get("Location"))
				continue
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !strings.Contains(body, `"error":"signin_required"`) ||
				resp.Header.Get("WWW-Authenticate") != `Bearer realm="hubgate"` || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: 401 with Content-Type %q, WWW-Authenticate %q, Cache-Control %q, body %q; want hubgate's JSON contract", tc.name, ct,
					resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Cache-Control"), body)
			}
			if app.count() != before {
				t.Errorf("%s reached the app", tc.name)
			}
		}
		for _, tc := range []struct{ name, target, want string }{
			{"a navigation", "/private/orders?page=2", "/_hubgate/login?rd=%2Fprivate%2Forders%3Fpage%3D2"},
			{"the closed legacy login", "/login", "/_hubgate/login?rd=%2F"},
		} {
			resp, _ := ask("GET", tc.target, "", "Sec-Fetch-Mode", "navigate", "Accept", "text/html")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
				t.Errorf("%s: %d to %q; want 302 to %q", tc.name, resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		}
		before := app.count()
		if resp, _ := ask("GET", "/private/orders", cookie, "Sec-Fetch-Mode", "cors"); resp.StatusCode != http.StatusOK || app.count() != before+1 {
			t.Errorf("fetch() with a session: %d; want the app's 200", resp.StatusCode)
		}
	})

	t.Run("the app never gets the client's Host", func(t *testing.T) {
		for _, c := range []string{"", cookie} {
			conn, err := tls.Dial("tcp", nginxAddr, &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
			if err != nil {
				t.Fatal(err)
			}
			raw := "GET /assets/app.css HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n"
			if c != "" {
				raw += "Cookie: " + c + "\r\n"
			}
			fmt.Fprint(conn, raw+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			conn.Close()
			app.mu.Lock()
			r := app.last
			app.mu.Unlock()
			if resp.StatusCode != http.StatusOK || r == nil {
				t.Fatalf("GET /assets/app.css with Host: evil.example = %d; want the public file", resp.StatusCode)
			}
			if r.Host != "app.example.com" || r.Header.Get("X-Forwarded-Host") != "app.example.com" {
				t.Errorf("the app got Host %q, X-Forwarded-Host %q; want app.example.com (the server's name, never the client's)", r.Host, r.Header.Values("X-Forwarded-Host"))
			}
		}
	})

	t.Run("every spelling of /_hubgate stays with hubgate", func(t *testing.T) {
		tok := hg.issue(t)
		for _, line := range testdataLines(t, "own-spellings.txt") {
			target := strings.ReplaceAll(line, "TOKEN", tok)
			for _, c := range []string{"", cookie} {
				for _, method := range []string{"GET", "POST"} {
					if status, reached := likeTheGate(method, target, c); reached {
						t.Errorf("%s %s (session %v) = %d reached the app", method, strings.ReplaceAll(line, "TOKEN", "…"), c != "", status)
					}
				}
			}
		}
		if logs := hg.logs.String(); strings.Contains(logs, tok[:12]) || strings.Contains(logs, tok[len(tok)-12:]) {
			t.Errorf("a claim token appears in hubgate's log")
		}
	})
}

// testHubgate is a real hubgate on a loopback listener, with the dev hub.
type testHubgate struct {
	addr   string
	hub    *devhub.Hub
	claims *claim.Service
	logs   *lockedBuffer
}

// startHubgate starts hubgate as the nginx example expects it: public URL
// behind nginx, nginx trusted, enforce mode.
func startHubgate(t *testing.T, public, upstream string) *testHubgate {
	t.Helper()
	hg := &testHubgate{logs: &lockedBuffer{}}
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hg.addr = srv.Listener.Addr().String()
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{
		ClientID: "hubgate_deploy", ClientSecret: "deploy-secret", Name: "hubgate_deploy",
		RedirectURIs: []string{public + "/_hubgate/callback"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	hg.hub = hub
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	hc, err := zaikio.New(zaikio.Config{URL: hubSrv.URL, ClientID: "hubgate_deploy", ClientSecret: "deploy-secret", AppName: "hubgate_deploy",
		RedirectURL: public + "/_hubgate/callback"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hg.claims = &claim.Service{Store: db}
	px, err := proxy.New(proxy.Config{
		PublicURL: public, Upstream: upstream, Hub: hc, HubURL: hubSrv.URL, Store: db, Claims: hg.claims,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("d"), 32)}, Unlinked: proxy.UnlinkedPass, Mode: migration.Enforce,
		LoginPaths: []string{"/login"}, PublicPaths: []string{"/assets/", "/docs"}, Limits: proxy.Limits{FailedClaims: -1},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:         zerolog.New(hg.logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	handler = px
	return hg
}

// signIn signs the dev hub's Frank in through nginx, as a browser would,
// and returns the session cookie as a Cookie header value.
func (hg *testHubgate) signIn(t *testing.T, public, nginxAddr string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	pub, _ := url.Parse(public)
	client := &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed test certificate
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == pub.Host {
					addr = nginxAddr
				}
				return dialer.DialContext(ctx, network, addr)
			},
		},
	}
	hg.hub.AutoApprove(devhub.FrankID, "")
	defer hg.hub.AutoApprove("", "")
	next := public + "/_hubgate/login?rd=/"
	for range 5 {
		resp, err := client.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if resp.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("sign-in through nginx: GET %s = %d", next, resp.StatusCode)
		}
		if loc.Path == "/" {
			break
		}
		next = loc.String()
	}
	for _, c := range jar.Cookies(pub) {
		if c.Name == "__Host-hubgate" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("sign-in through nginx set no session cookie")
	return ""
}

// issue mints a claim token for the legacy person "42".
func (hg *testHubgate) issue(t *testing.T) string {
	t.Helper()
	is, err := hg.claims.Issue(context.Background(), claim.Request{Kind: claim.KindPerson, LegacyID: "42", CreatedBy: "deploy test"})
	if err != nil {
		t.Fatal(err)
	}
	return is.Token.Reveal()
}
