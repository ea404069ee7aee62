package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/store/bolt"
)

const (
	token     = "admin-token-0123456789"
	publicURL = "https://app.example.com"
	claimPath = publicURL + "/_hubgate/claim/"
)

// t0 is the test clock: the admin server and the claim service both read it.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is an admin server on a real bbolt file behind a real listener.
type env struct {
	t       *testing.T
	db      *bolt.DB
	srv     *httptest.Server
	logs    *syncBuffer
	changes atomic.Int32 // OnChange calls
}

func newEnv(t *testing.T, edit ...func(*admin.Config)) *env {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open = %v; want nil", err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, logs: new(syncBuffer)}
	clock := func() time.Time { return t0 }
	cfg := admin.Config{
		Token:     token,
		Store:     db,
		Claims:    &claim.Service{Store: db, Now: clock},
		PublicURL: publicURL + "/",
		OnChange:  func() { e.changes.Add(1) },
		Logger:    zerolog.New(e.logs),
		Now:       clock,
	}
	for _, f := range edit {
		f(&cfg)
	}
	s, err := admin.New(cfg)
	if err != nil {
		t.Fatalf("admin.New = %v; want nil", err)
	}
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	return e
}

// req builds an authorized request; headers come as name, value pairs.
func (e *env) req(method, path, body string, headers ...string) *http.Request {
	e.t.Helper()
	r, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("NewRequest(%s %s) = %v", method, path, err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
			continue
		}
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// do sends r and returns the status and body.
func (e *env) do(r *http.Request) (int, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.Method, r.URL.Path, err)
	}
	return resp.StatusCode, b
}

// call sends an authorized request and wants status; it decodes a JSON answer
// into out when out is not nil.
func (e *env) call(method, path, body string, want int, out any, headers ...string) []byte {
	e.t.Helper()
	status, b := e.do(e.req(method, path, body, headers...))
	if status != want {
		e.t.Fatalf("%s %s = %d %s; want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// apiErr is the JSON of an error answer.
type apiErr struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// issue mints a claim through the API and returns the answer. The legacy
// ids of these tests are not in the directory, so the request is forced
// (an unknown id is refused otherwise: TestIssueRefusesUnknownID).
func (e *env) issue(body string) admin.Issued {
	e.t.Helper()
	body = strings.Replace(body, "{", `{"force":true,`, 1)
	var is admin.Issued
	e.call("POST", "/api/v1/claims", body, http.StatusCreated, &is)
	return is
}

// tokenOf extracts and parses the token of a claim URL.
func tokenOf(t *testing.T, url string) claim.Token {
	t.Helper()
	raw, ok := strings.CutPrefix(url, claimPath)
	if !ok {
		t.Fatalf("claim URL %q; want prefix %s", url, claimPath)
	}
	tok, err := claim.ParseToken(raw)
	if err != nil {
		t.Fatalf("ParseToken(token of %q) = %v; want nil", url, err)
	}
	return tok
}

// events returns the whole audit log, newest first.
func (e *env) events() []claim.Event {
	e.t.Helper()
	evs, err := e.db.Events(e.t.Context(), 0, 0)
	if err != nil {
		e.t.Fatalf("Events = %v", err)
	}
	return evs
}

// noSecretsLogged fails when the log holds any of the secrets.
func (e *env) noSecretsLogged(secrets ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("log contains the secret %q", s)
		}
	}
	if strings.Contains(logs, "/_hubgate/claim/") {
		e.t.Errorf("log contains a claim URL")
	}
}

func TestNewValidates(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := admin.Config{Token: token, Store: db, Claims: &claim.Service{Store: db}, PublicURL: publicURL}
	tests := []struct {
		name string
		edit func(*admin.Config)
	}{
		{"short token", func(c *admin.Config) { c.Token = "short" }},
		{"no store", func(c *admin.Config) { c.Store = nil }},
		{"no claims", func(c *admin.Config) { c.Claims = nil }},
		{"relative public url", func(c *admin.Config) { c.PublicURL = "/app" }},
		{"default mode not a mode", func(c *admin.Config) { c.DefaultMode = "open" }},
		{"empty modes", func(c *admin.Config) { c.Modes = []migration.Mode{} }},
		{"negative import limit", func(c *admin.Config) { c.ImportLimit = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			if _, err := admin.New(cfg); err == nil {
				t.Errorf("New(%s) = nil error; want one", tt.name)
			}
		})
	}
	if _, err := admin.New(good); err != nil {
		t.Errorf("New(good) = %v; want nil", err)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string // Authorization header; "-" = none
		want       int
		challenge  bool   // want WWW-Authenticate
		wantErr    string // error code of a JSON answer
		wantAllow  string
		wantPrefix string // body prefix of a text answer
	}{
		{"no token", "GET", "/api/v1/mode", "-", 401, true, "unauthorized", "", ""},
		{"wrong token", "GET", "/api/v1/mode", "Bearer " + token + "x", 401, true, "unauthorized", "", ""},
		{"token prefix", "GET", "/api/v1/mode", "Bearer " + token[:10], 401, true, "unauthorized", "", ""},
		{"basic scheme", "GET", "/api/v1/mode", "Basic " + token, 401, true, "unauthorized", "", ""},
		{"empty bearer", "GET", "/api/v1/mode", "Bearer ", 401, true, "unauthorized", "", ""},
		{"right token", "GET", "/api/v1/mode", "Bearer " + token, 200, false, "", "", ""},
		{"scheme in lower case", "GET", "/api/v1/stats", "bearer " + token, 200, false, "", "", ""},
		{"healthz without token", "GET", "/healthz", "-", 200, false, "", "", "ok"},
		{"readyz without token", "GET", "/readyz", "-", 200, false, "", "", "ready"},
		{"unknown path without token", "GET", "/api/v1/nope", "-", 401, true, "unauthorized", "", ""},
		{"unknown path", "GET", "/api/v1/nope", "Bearer " + token, 404, false, "not_found", "", ""},
		{"wrong method", "PATCH", "/api/v1/mode", "Bearer " + token, 405, false, "method_not_allowed", "GET, PUT", ""},
		{"wrong method without token", "PATCH", "/api/v1/mode", "-", 401, true, "unauthorized", "", ""},
		{"dashboard with the bearer token", "GET", "/", "Bearer " + token, 200, false, "", "", "<!doctype html>"},
		{"dashboard with a wrong bearer token", "GET", "/", "Bearer " + token + "x", 401, true, "", "", "<!doctype html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.req(tt.method, tt.path, "")
			r.Header.Del("Authorization")
			if tt.auth != "-" {
				r.Header.Set("Authorization", tt.auth)
			}
			resp, err := e.srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.path, resp.StatusCode, b, tt.want)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (got != "") != tt.challenge {
				t.Errorf("WWW-Authenticate = %q; want present: %v", got, tt.challenge)
			}
			if tt.wantErr != "" {
				var ae apiErr
				if err := json.Unmarshal(b, &ae); err != nil || ae.Error != tt.wantErr || ae.Message == "" {
					t.Errorf("body = %s (%v); want JSON error %q with a message", b, err, tt.wantErr)
				}
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q; want %q", got, tt.wantAllow)
			}
			if !strings.HasPrefix(string(b), tt.wantPrefix) {
				t.Errorf("body = %q; want prefix %q", b, tt.wantPrefix)
			}
		})
	}
	if logs := e.logs.String(); strings.Contains(logs, token) {
		t.Errorf("log contains the admin token")
	}
}

func TestReadyz(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) {
		c.Ready = func(ctx context.Context) error { return errors.New("hub keys not fetched yet") }
	})
	r := e.req("GET", "/readyz", "", "Authorization", "")
	status, b := e.do(r)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(b), "hub keys not fetched yet") {
		t.Errorf("GET /readyz = %d %s; want 503 naming the reason", status, b)
	}
}
