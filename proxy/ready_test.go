package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// hubFront stands between the hub client and the dev hub on a fixed
// loopback address, and can take the hub off the network (the listener
// closes: connections are refused) and bring it back on the same address.
type hubFront struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex // guards srv
	srv    *http.Server
}

func newHubFront(t *testing.T, target string) *hubFront {
	t.Helper()
	f := &hubFront{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.down)
	return f
}

func (f *hubFront) URL() string { return "http://" + f.addr }

func (f *hubFront) serve(ln net.Listener) {
	target := mustURL(f.target)
	srv := &http.Server{Handler: &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}, ErrorLog: log.New(io.Discard, "", 0)}}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every connection.
func (f *hubFront) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		_ = f.srv.Close()
		f.srv = nil
	}
}

// up listens on the same address again.
func (f *hubFront) up() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen on %s again: %v", f.addr, err)
	}
	f.serve(ln)
}

// reopenedStore is the env's store whose Ping — all that readiness asks of
// a store — goes to the bolt file as currently opened, so that a test can
// close the file and open it again.
type reopenedStore struct {
	proxy.Store
	db atomic.Pointer[bolt.DB]
}

func (s *reopenedStore) Ping(ctx context.Context) error { return s.db.Load().Ping(ctx) }

// readyEnv is an env whose hub client reaches the dev hub through a
// hubFront (with a 1 s timeout) and whose store can be closed and reopened,
// with the admin API's /readyz wired to the proxy's Ready as hubgate serve
// wires it.
type readyEnv struct {
	*env
	front  *hubFront
	store  *reopenedStore
	dbPath string
	readyz string // the admin listener's /readyz URL
}

func newReadyEnv(t *testing.T) *readyEnv {
	t.Helper()
	r := &readyEnv{store: &reopenedStore{}}
	r.env = newEnv(t, func(c *proxy.Config) {
		r.front = newHubFront(t, c.Hub.(*spyHub).Client.BaseURL())
		hc, err := zaikio.New(zaikio.Config{URL: r.front.URL(), ClientID: testClient, ClientSecret: testSecret, AppName: testApp,
			RedirectURL: c.PublicURL + "/_hubgate/callback", Now: c.Now,
			HTTPClient: &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}})
		if err != nil {
			t.Fatal(err)
		}
		c.Hub = &spyHub{Client: hc}
		db := c.Store.(*bolt.DB)
		r.dbPath = db.Path()
		r.store.Store = db
		r.store.db.Store(db)
		c.Store = r.store
	})
	adm, err := admin.New(admin.Config{Token: "ready-test-admin-token", Store: r.env.store, Claims: r.claims,
		PublicURL: r.srv.URL, Ready: r.px.Ready, Logger: zerolog.New(r.logs), Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	admSrv := httptest.NewServer(adm)
	t.Cleanup(admSrv.Close)
	r.readyz = admSrv.URL + "/readyz"
	return r
}

// want checks that Ready and the admin listener's /readyz agree that the
// replica is ready (reason "") or not, naming reason.
func (r *readyEnv) want(what, reason string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := r.px.Ready(ctx)
	if took := time.Since(start); took > 3*time.Second {
		r.t.Errorf("%s: Ready took %s; want an answer within the hub client's bounds", what, took)
	}
	switch {
	case reason == "" && err != nil:
		r.t.Errorf("%s: Ready = %v; want ready", what, err)
	case reason != "" && err == nil:
		r.t.Errorf("%s: Ready = nil; want an error naming %q", what, reason)
	case reason != "" && !strings.HasPrefix(err.Error(), reason+": "):
		r.t.Errorf("%s: Ready = %q; want it to name %q", what, err, reason)
	}
	resp, herr := http.Get(r.readyz)
	if herr != nil {
		r.t.Fatalf("%s: GET /readyz: %v", what, herr)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if reason == "" {
		if resp.StatusCode != http.StatusOK || string(body) != "ready\n" {
			r.t.Errorf("%s: GET /readyz = %d %q; want 200 ready", what, resp.StatusCode, body)
		}
		return
	}
	var e struct{ Error, Message string }
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Error != "not_ready" || !strings.HasPrefix(e.Message, reason+": ") {
		r.t.Errorf("%s: GET /readyz = %d %s; want 503 not_ready naming %q", what, resp.StatusCode, body, reason)
	}
}

// TestReadyReflectsStoreAndHubKeys: the replica is ready when its store
// answers and the hub's signing keys can be fetched; it says which of the
// two fails (store closed; hub off the network, answering 5xx, slower than
// the client's timeout, publishing no keys) through Ready and the admin
// /readyz, and is ready again once they recover. A success at the hub is
// remembered for a minute (the probe does not hit the hub every time), so
// hub failures show once that minute has passed.
func TestReadyReflectsStoreAndHubKeys(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		r := newReadyEnv(t)
		r.want("store open, hub up", "")
		if err := r.store.db.Load().Close(); err != nil {
			t.Fatal(err)
		}
		r.want("store file closed", "store")
		db, err := bolt.Open(r.dbPath, bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		r.store.db.Store(db)
		r.want("store file open again", "")
	})
	t.Run("store checked first", func(t *testing.T) {
		r := newReadyEnv(t)
		r.want("all up", "")
		r.front.down()
		if err := r.store.db.Load().Close(); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(2 * time.Minute)
		r.want("store closed and hub down", "store")
	})
	for _, tc := range []struct {
		name    string
		fault   func(r *readyEnv)
		recover func(r *readyEnv)
	}{
		{"hub off the network", func(r *readyEnv) { r.front.down() }, func(r *readyEnv) { r.front.up() }},
		{"keys 500", func(r *readyEnv) {
			r.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 500, Times: 2})
		}, nil},
		{"keys 503 beyond the retries", func(r *readyEnv) {
			r.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 503, Times: 6})
		}, nil},
		{"keys slower than the client's timeout", func(r *readyEnv) {
			r.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Delay: 3 * time.Second, Times: 2})
		}, nil},
		{"no keys published", func(r *readyEnv) {
			r.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Status: 200, Error: "x", Times: 2})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each has its own hub, store and clock
			r := newReadyEnv(t)
			r.want("hub up", "")
			tc.fault(r)
			r.clock.Advance(61 * time.Second) // past the remembered success
			r.want(tc.name, "hub keys")
			if tc.recover != nil {
				tc.recover(r)
			}
			r.want("hub back", "")
			// The recovery is remembered: the hub failing again within
			// the minute does not flap the probe.
			keys := r.hub.Requests(devhub.EndpointKeys)
			r.want("again at once", "")
			if got := r.hub.Requests(devhub.EndpointKeys); got != keys {
				t.Errorf("a second probe within the minute fetched the keys %d more times; want 0", got-keys)
			}
		})
	}
}

// TestReadyNeedsNoSignIn: readiness is about this replica, not a person:
// it holds before anyone signed in, and it does not spend hub calls other
// than the key set.
func TestReadyNeedsNoSignIn(t *testing.T) {
	r := newReadyEnv(t)
	token := r.hub.Requests(devhub.EndpointToken)
	r.want("fresh replica", "")
	if got := r.hub.Requests(devhub.EndpointToken); got != token {
		t.Errorf("Ready called the token endpoint %d times; want 0", got-token)
	}
	if r.hub.Requests(devhub.EndpointKeys) == 0 {
		t.Error("Ready did not fetch the hub's keys")
	}
}
