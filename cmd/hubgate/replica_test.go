package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// replica is one running hubgate (public and admin listener) of a cluster.
type replica struct {
	public, admin string // base URLs
	token         string
	logs          *bytes.Buffer
}

// startReplica runs one hubgate with cfg's shape on a store opened from
// storeURL, on loopback listeners, until the test ends.
func startReplica(t *testing.T, hubURL, storeURL, secret string, pub net.Listener) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{PublicURL: "http://" + pub.Addr().String(), Upstream: "http://127.0.0.1:1", Store: storeURL}
	cfg.Provider.Kind, cfg.Provider.URL, cfg.Provider.ClientID, cfg.Provider.ClientSecret = "zaikio", hubURL, "replica_test", "replica-secret"
	cfg.Session.Secrets = []string{secret}
	cfg.Admin.Token = "replica-admin-token-0123456789"
	cfg.Unlinked = "pass"
	cfg.Legacy.PublicPaths = []string{"/assets/"}
	noDelay := duration(0) // stopped by the test's end, with no load balancer to wait for
	cfg.Shutdown.Delay = &noDelay
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := zerolog.New(lockedWriter{&mu, &logs}).Level(zerolog.WarnLevel)
	st, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := newHubClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(cfg, st, hc, logger)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica serve: %v", err)
		}
		st.Close()
	})
	return &replica{public: cfg.PublicURL, admin: "http://" + adm.Addr().String(), token: cfg.Admin.Token, logs: &logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// adminDo calls the replica's admin API.
func (r *replica) adminDo(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.admin+path, rd)
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// within polls cond until it holds or d passes, and returns how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestReplicasShareOnePostgreSQL runs two hubgate servers on one database:
// what one does, the other sees — links at once, mode switches and session
// revocations within 2 s.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	lns := make([]net.Listener, 2)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{ClientID: "replica_test", ClientSecret: "replica-secret", Name: "replica_test",
		RedirectURIs: []string{"http://" + lns[0].Addr().String() + "/_hubgate/callback", "http://" + lns[1].Addr().String() + "/_hubgate/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("r"), 32))
	// Open once first so the schema exists before both replicas start.
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	r1 := startReplica(t, hubSrv.URL, dsn, secret, lns[0])
	r2 := startReplica(t, hubSrv.URL, dsn, secret, lns[1])

	// A claim minted and a link made through server 1 are visible on server 2 at once.
	st, body := r1.adminDo(t, "POST", "/api/v1/claims", map[string]any{"kind": "person", "legacy_id": "42", "force": true})
	if st != http.StatusCreated {
		t.Fatalf("issue claim on r1 = %d %s", st, body)
	}
	var issued struct{ URL string }
	_ = json.Unmarshal(body, &issued)
	tokenPath := issued.URL[strings.Index(issued.URL, "/_hubgate/claim/"):]
	if resp, err := http.Get(r2.public + tokenPath); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("claim page of r1's claim on r2 = %v, %v; want 200", resp, err)
	}
	if st, body := r1.adminDo(t, "PUT", "/api/v1/links/persons/7", map[string]string{"zaikio_id": devhub.FrankID}); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("link on r1 = %d %s", st, body)
	}
	if st, body := r2.adminDo(t, "GET", "/api/v1/links/persons/7", nil); st != http.StatusOK || !strings.Contains(string(body), devhub.FrankID) {
		t.Fatalf("link on r2 = %d %s", st, body)
	}

	// A session signed in on server 1 works on server 2 (same secret).
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	hub.AutoApprove(devhub.FrankID, "")
	resp, err := c.Get(r1.public + "/_hubgate/me")
	if err == nil {
		resp.Body.Close()
	}
	resp, err = c.Get(r1.public + "/_hubgate/login?rd=%2F_hubgate%2Fme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	me := func(base string) int {
		resp, err := c.Get(base + "/_hubgate/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if me(r1.public) != 200 || me(r2.public) != 200 {
		t.Fatalf("session after sign-in on r1: /me r1=%d r2=%d; want 200 on both", me(r1.public), me(r2.public))
	}

	// A mode switch on server 1 is enforced by server 2 within 2 s.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(base, path string) int {
		resp, err := noRedirect.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(r2.public, "/reports"); got == http.StatusFound {
		t.Fatalf("r2 redirects to sign-in before the switch (status %d)", got)
	}
	if st, body := r1.adminDo(t, "PUT", "/api/v1/mode", map[string]string{"mode": "enforce"}); st != http.StatusOK {
		t.Fatalf("mode on r1 = %d %s", st, body)
	}
	took := within(t, 2*time.Second, "enforce on r2", func() bool { return status(r2.public, "/reports") == http.StatusFound })
	t.Logf("mode switch reached replica 2 after %s", took.Round(time.Millisecond))

	// A session revocation on server 1 ends the session on server 2 within 2 s.
	if st, body := r1.adminDo(t, "DELETE", "/api/v1/sessions/"+devhub.FrankID, nil); st != http.StatusNoContent {
		t.Fatalf("revoke sessions on r1 = %d %s", st, body)
	}
	took = within(t, 2*time.Second, "revocation on r2", func() bool { return me(r2.public) == http.StatusUnauthorized })
	t.Logf("session revocation reached replica 2 after %s", took.Round(time.Millisecond))
	if me(r1.public) != http.StatusUnauthorized {
		t.Error("session still valid on r1 after its own revocation")
	}

}
