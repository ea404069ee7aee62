package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// The identity the bench signs in as, and what the upstream must then see.
const (
	legacyUser    = "1"
	legacyOrgOwn  = "100" // Bounty Soap Inc.: Frank is owner → admin
	legacyOrgMemb = "200" // Galactic Print Inc.: Frank is member → user
)

// benchLinks are the links the bench makes before signing in.
var benchLinks = []claim.Link{
	{Kind: claim.KindPerson, LegacyID: legacyUser, ZaikioID: devhub.FrankID},
	{Kind: claim.KindOrg, LegacyID: legacyOrgOwn, ZaikioID: devhub.BountySoapID},
	{Kind: claim.KindOrg, LegacyID: legacyOrgMemb, ZaikioID: devhub.GalacticPrintID},
}

// moduleDir finds the hubgate module's root (where go.mod is).
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the hubgate module: run from the repository (or pass -module DIR)")
	}
	return filepath.Dir(mod), nil
}

// memStatsOverlay is added to package main of cmd/hubgate by -overlay: with
// HUBGATE_BENCH_MEMSTATS=addr set, the binary answers /__bench/memstats on
// addr; without it, it does nothing.
const memStatsOverlay = `package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	_ "net/http/pprof"
	"runtime"
)

func init() {
	addr := os.Getenv("HUBGATE_BENCH_MEMSTATS")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic("bench memstats: " + err.Error())
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/__bench/memstats" {
			http.DefaultServeMux.ServeHTTP(w, r) // /debug/pprof/ for -cpuprofile
			return
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		_ = json.NewEncoder(w).Encode(map[string]any{"mallocs": m.Mallocs, "frees": m.Frees, "heap_alloc": m.HeapAlloc,
			"heap_inuse": m.HeapInuse, "stack_inuse": m.StackInuse, "sys": m.Sys, "num_gc": m.NumGC, "goroutines": runtime.NumGoroutine()})
	}))
}
`

// buildHubgate runs CGO_ENABLED=0 go build -tags nodev -trimpath
// -ldflags "-s -w" -o dir/hubgate ./cmd/hubgate in the module.
// With overlay, the memStatsOverlay file joins package main (the repository
// is not touched: go build -overlay reads it from dir).
func buildHubgate(ctx context.Context, mod, dir string, overlay bool) (string, error) {
	bin := filepath.Join(dir, "hubgate")
	// As deploy/Dockerfile builds the binary users run: static, trimmed,
	// without the dev tools.
	args := []string{"build", "-tags", "nodev", "-trimpath", "-ldflags", "-s -w", "-o", bin}
	if overlay {
		src := filepath.Join(dir, "zz_bench_memstats.go")
		if err := os.WriteFile(src, []byte(memStatsOverlay), 0o600); err != nil {
			return "", err
		}
		ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(mod, "cmd", "hubgate", "zz_bench_memstats.go"): src}})
		ovPath := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ovPath, ov, 0o600); err != nil {
			return "", err
		}
		args = append(args, "-overlay", ovPath)
	}
	args = append(args, "./cmd/hubgate")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return bin, nil
}

// hubgateSetup is one hubgate configuration: addresses, secrets, files.
type hubgateSetup struct {
	bin, dir   string
	public     string // host:port
	admin      string
	hub        string
	memstats   string   // host:port of the overlay endpoint; "" without -overlay
	env        []string // -hubgate-env: extra KEY=value for hubgate only
	token      string   // admin API bearer token
	secret     string   // session secret
	webhook    string   // provider webhook secret (the dev hub requires one)
	upstream   string   // URL
	accessLog  string   // file | devnull | off
	configPath string
	storePath  string
	client     *http.Client // for the admin API and checks
}

// freePort returns a loopback address that was free a moment ago. hubgate
// takes its addresses from the config, so the bench must choose them.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomText(n int, enc func([]byte) string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return enc(b)
}

func newHubgateSetup(bin, dir, upstream, accessLog string, overlay bool) (*hubgateSetup, error) {
	s := &hubgateSetup{bin: bin, dir: dir, upstream: upstream, accessLog: accessLog, client: newDebugClient(),
		token:      randomText(16, hex.EncodeToString),
		secret:     randomText(32, base64.StdEncoding.EncodeToString),
		webhook:    randomText(16, hex.EncodeToString),
		configPath: filepath.Join(dir, "hubgate.yaml"), storePath: filepath.Join(dir, "store", "hubgate.db")}
	addrs := []*string{&s.public, &s.admin, &s.hub}
	if overlay {
		addrs = append(addrs, &s.memstats)
	}
	for _, a := range addrs {
		var err error
		if *a, err = freePort(); err != nil {
			return nil, err
		}
	}
	return s, os.WriteFile(s.configPath, []byte(s.config()), 0o600)
}

// The app hubgate is registered as at the bench's dev hub.
const (
	benchClientID     = "hubgate_bench"
	benchClientSecret = "bench-secret"
)

// config is the hubgate.yaml the bench runs with: everything as a user
// would run it (json access log at info), signing in at a dev hub that runs
// in its own process, as Zaikio's hub is remote in production.
func (s *hubgateSetup) config() string {
	access := ""
	if s.accessLog == "off" {
		access = "\n  access: false"
	}
	return fmt.Sprintf(`# written by hubgate's bench
listen: %q
public_url: "http://%s"
upstream: %q
mode: passthrough
provider:
  kind: zaikio
  url: "http://%s"
  client_id: %s
  client_secret: %s
  webhook_secret: %q
session:
  secrets: [%q]
store: "bolt://%s"
admin:
  listen: %q
  token: %q
unlinked: pass
roles:
  owner: [admin]
  admin: [admin]
  member: [user]
bearer:
  organization_roles: [api]
log:
  level: info
  format: json%s
`, s.public, s.public, s.upstream, s.hub, benchClientID, benchClientSecret, s.webhook, s.secret, s.storePath, s.admin, s.token, access)
}

func (s *hubgateSetup) publicURL() string { return "http://" + s.public }
func (s *hubgateSetup) adminURL() string  { return "http://" + s.admin }

// start runs hubgate serve and waits until the public, admin and dev hub
// listeners answer. Its stderr (the json access log) goes to a file, or to
// /dev/null with -access-log devnull.
func (s *hubgateSetup) start(ctx context.Context, name string, o procOptions) (*proc, error) {
	logPath := filepath.Join(s.dir, name+".log")
	if s.accessLog == "devnull" {
		logPath = os.DevNull
	}
	if s.memstats != "" {
		o.Env = append(o.Env, "HUBGATE_BENCH_MEMSTATS="+s.memstats)
	}
	o.Env = append(o.Env, s.env...)
	p, err := startProc(name, logPath, s.bin, []string{"serve", "--config", s.configPath}, o)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ok := func(url string) func(context.Context) bool {
		return func(ctx context.Context) bool {
			_, status, err := get(ctx, c, url, "")
			return err == nil && status == http.StatusOK
		}
	}
	checks := []struct{ what, url string }{
		{"public listener " + s.public, s.publicURL() + "/_hubgate/healthz"},
		{"admin listener " + s.admin, s.adminURL() + "/healthz"},
		{"dev hub " + s.hub, "http://" + s.hub + "/api/v1/jwt_public_keys"},
	}
	wctx, cancel := context.WithTimeout(ctx, startTimeout) // for all three together
	defer cancel()
	for _, ck := range checks {
		if err := waitFor(wctx, p, ck.what, ok(ck.url)); err != nil {
			p.stop()
			return nil, err
		}
	}
	if s.memstats != "" {
		p.useMemStats("http://"+s.memstats+memStatsPath, "runtime.MemStats via the -overlay endpoint")
	} else if f := promMallocsReader(s.client, s.adminURL()+"/metrics", s.token); probe(ctx, f) {
		p.mallocs, p.mallocsFrom = f, "go_memstats_mallocs_total on the admin /metrics"
	} else {
		p.mallocsFrom = "n/a: hubgate exposes no go_memstats_mallocs_total (admin GET /metrics is missing); run with -overlay to measure"
	}
	return p, nil
}

func probe(ctx context.Context, f func(context.Context) (uint64, error)) bool {
	_, err := f(ctx)
	return err == nil
}

// errNoRoute means the admin API lacks a route the bench needs.
var errNoRoute = errors.New("admin route missing")

// linkViaAdmin makes the bench links with the admin API:
// PUT /api/v1/links/{persons|orgs}/{legacy_id} {"zaikio_id": …}.
func (s *hubgateSetup) linkViaAdmin(ctx context.Context) error {
	for _, l := range benchLinks {
		kind := "persons"
		if l.Kind == claim.KindOrg {
			kind = "orgs"
		}
		u := s.adminURL() + "/api/v1/links/" + kind + "/" + l.LegacyID
		status, body, err := s.adminCall(ctx, http.MethodPut, u, map[string]string{"zaikio_id": l.ZaikioID})
		if err != nil {
			return err
		}
		switch status {
		case http.StatusOK, http.StatusCreated:
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return fmt.Errorf("PUT %s: %d: %w", u, status, errNoRoute)
		default:
			return fmt.Errorf("PUT %s: status %d: %s", u, status, body)
		}
	}
	return nil
}

// linkViaStore writes the bench links straight into the bbolt file; hubgate
// must not be running (bbolt locks the file).
func (s *hubgateSetup) linkViaStore(ctx context.Context) error {
	db, err := bolt.Open(s.storePath, bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, l := range benchLinks {
		l.CreatedAt, l.Via, l.By = time.Now().UTC(), "admin", "bench"
		if err := db.PutLink(ctx, l); err != nil && !errors.Is(err, claim.ErrConflict) {
			return fmt.Errorf("link %s %s: %w", l.Kind, l.LegacyID, err)
		}
	}
	return nil
}

// setMode switches the mode with PUT /api/v1/mode; hubgate applies it at
// once (the admin API's OnChange refreshes the proxy).
func (s *hubgateSetup) setMode(ctx context.Context, mode string) error {
	u := s.adminURL() + "/api/v1/mode"
	status, body, err := s.adminCall(ctx, http.MethodPut, u, map[string]string{"mode": mode})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("PUT %s {mode: %s}: status %d: %s", u, mode, status, body)
	}
	return nil
}

func (s *hubgateSetup) adminCall(ctx context.Context, method, u string, v any) (int, string, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// hiddenInput matches the dev hub's hidden form fields.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// login signs Frank in through the real flow and returns the Cookie header
// a browser would then send to hubgate:
//
//	GET  hubgate /_hubgate/login?rd=/     → 302 to the hub's authorize URL
//	GET  hub /oauth/authorize?…           → the account chooser page
//	POST hub /oauth/authorize (Frank's form: its hidden fields + person)
//	                                      → 302 to hubgate's callback
//	GET  hubgate /_hubgate/callback?code… → 302 to /, session cookie set
func (s *hubgateSetup) login(ctx context.Context) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	step := func(method, u string, form url.Values, want int) (*http.Response, []byte, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("login: %s %s: %w", method, u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != want {
			return nil, nil, fmt.Errorf("login: %s %s: status %d, want %d: %.300s", method, u, resp.StatusCode, want, b)
		}
		return resp, b, nil
	}
	location := func(resp *http.Response) (string, error) {
		l, err := resp.Location()
		if err != nil {
			return "", fmt.Errorf("login: %s: no Location", resp.Request.URL)
		}
		return l.String(), nil
	}

	resp, _, err := step(http.MethodGet, s.publicURL()+"/_hubgate/login?rd=/", nil, http.StatusFound)
	if err != nil {
		return "", err
	}
	authorize, err := location(resp)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(authorize, "http://"+s.hub+"/oauth/authorize?") {
		return "", fmt.Errorf("login: hubgate sent us to %s, want the dev hub's /oauth/authorize", authorize)
	}
	_, page, err := step(http.MethodGet, authorize, nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	form, err := personForm(page, devhub.FrankID)
	if err != nil {
		return "", err
	}
	au, _ := url.Parse(authorize)
	if got, want := form.Get("state"), au.Query().Get("state"); got != want {
		return "", fmt.Errorf("login: the form's state %q is not the authorize URL's %q", got, want)
	}
	resp, _, err = step(http.MethodPost, "http://"+s.hub+"/oauth/authorize", form, http.StatusFound)
	if err != nil {
		return "", err
	}
	callback, err := location(resp)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(callback, s.publicURL()+"/_hubgate/callback?") {
		return "", fmt.Errorf("login: the hub sent us to %s, want hubgate's callback", callback)
	}
	resp, _, err = step(http.MethodGet, callback, nil, http.StatusFound)
	if err != nil {
		return "", err
	}
	if l, _ := location(resp); l != "/" && l != s.publicURL()+"/" {
		return "", fmt.Errorf("login: the callback sent us to %q, want /", l)
	}
	pub, _ := url.Parse(s.publicURL())
	var parts []string
	for _, ck := range jar.Cookies(pub) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		return "", errors.New("login: the callback set no cookie")
	}
	return strings.Join(parts, "; "), nil
}

// personForm reads the dev hub's account chooser and returns the form that
// signs in as person: its hidden fields plus person=<id>.
func personForm(page []byte, person string) (url.Values, error) {
	p := string(page)
	i := strings.Index(p, `name="person" value="`+person+`"`)
	if i < 0 {
		return nil, fmt.Errorf("login: the hub's page offers no button for person %s", person)
	}
	start := strings.LastIndex(p[:i], "<form")
	if start < 0 {
		return nil, errors.New("login: no <form> around the person's button")
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p[start:i], -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("client_id") == "" || form.Get("state") == "" {
		return nil, fmt.Errorf("login: the person's form lacks client_id or state: %v", slices.Sorted(maps.Keys(form)))
	}
	form.Set("person", person)
	return form, nil
}

// verifyIdentity asks the upstream, through hubgate with the cookie, which
// identity headers it received, and checks them against the links.
func (s *hubgateSetup) verifyIdentity(ctx context.Context, cookie string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.publicURL()+echoPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cookie", cookie)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer resp.Body.Close()
	var e echoed
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("verify: GET %s through hubgate: status %d", echoPath, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return nil, fmt.Errorf("verify: the upstream's echo: %w", err)
	}
	h := e.Headers
	sorted := func(s string) string {
		p := strings.Split(s, ",")
		slices.Sort(p)
		return strings.Join(p, ",")
	}
	var bad []string
	if h["X-Hubgate-User"] != legacyUser {
		bad = append(bad, fmt.Sprintf("X-Hubgate-User = %q, want %q", h["X-Hubgate-User"], legacyUser))
	}
	if got, want := sorted(h["X-Hubgate-Orgs"]), legacyOrgOwn+","+legacyOrgMemb; got != want {
		bad = append(bad, fmt.Sprintf("X-Hubgate-Orgs = %q, want %q", h["X-Hubgate-Orgs"], want))
	}
	if got, want := sorted(h["X-Hubgate-Roles"]), legacyOrgOwn+":admin,"+legacyOrgMemb+":user"; got != want {
		bad = append(bad, fmt.Sprintf("X-Hubgate-Roles = %q, want %q", h["X-Hubgate-Roles"], want))
	}
	if h["X-Hubgate-Zaikio-Person"] != devhub.FrankID {
		bad = append(bad, fmt.Sprintf("X-Hubgate-Zaikio-Person = %q, want %q", h["X-Hubgate-Zaikio-Person"], devhub.FrankID))
	}
	if len(bad) > 0 {
		return h, fmt.Errorf("verify: the upstream did not get the signed-in identity through hubgate:\n  %s", strings.Join(bad, "\n  "))
	}
	return h, nil
}

// checkStatus makes one request and compares the status (and for a
// redirect, that it goes to the sign-in).
func checkStatus(ctx context.Context, u, cookie string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", u, resp.StatusCode, want)
	}
	if want == http.StatusFound && !strings.Contains(resp.Header.Get("Location"), "/_hubgate/login") {
		return fmt.Errorf("GET %s: redirect to %q, want the sign-in", u, resp.Header.Get("Location"))
	}
	return nil
}
