package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// buildHubgate builds the binary into the test's temp dir.
func buildHubgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hubgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// rolloutFront is a small load balancer as Kubernetes builds one from a
// Service's endpoints: round-robin over the ready backends. A backend is
// ready once its readiness probe (the admin listener's /readyz, every
// 200 ms) answers 200, and not ready after three failures in a row
// (failureThreshold: 3), so that requests keep arriving for a while after
// a replica stops being ready, as they do while an endpoint update
// propagates. It never retries: a request that fails at a backend fails
// for the client.
type rolloutFront struct {
	srv      *httptest.Server
	backends []*rolloutBackend
	next     atomic.Uint64
}

type rolloutBackend struct {
	public, ready string // base URL, readiness URL
	proxy         *httputil.ReverseProxy
	in            atomic.Bool  // in rotation
	served        atomic.Int64 // requests routed here
}

func newRolloutFront(t *testing.T, backends []*rolloutBackend) *rolloutFront {
	t.Helper()
	f := &rolloutFront{backends: backends}
	for _, b := range backends {
		b.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				target, _ := url.Parse(b.public) // set once the front's address is known
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				w.Header().Set("X-Front-Error", err.Error())
				w.WriteHeader(http.StatusBadGateway)
			},
		}
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := uint64(len(f.backends))
		for i := uint64(0); i < n; i++ {
			b := f.backends[(f.next.Add(1))%n]
			if b.in.Load() {
				b.served.Add(1)
				b.proxy.ServeHTTP(w, r)
				return
			}
		}
		http.Error(w, "no ready backend", http.StatusServiceUnavailable)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// probe keeps each backend's place in the rotation up to date until ctx
// ends.
func (f *rolloutFront) probe(ctx context.Context) {
	// A probe answers in milliseconds; the generous timeout keeps a replica
	// that is merely slow on a loaded CI machine in rotation (a 503 or a
	// refused connection still takes it out after three probes).
	client := &http.Client{Timeout: 3 * time.Second}
	fails := make([]int, len(f.backends))
	for ctx.Err() == nil {
		for i, b := range f.backends {
			resp, err := client.Get(b.ready)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			if ok {
				fails[i] = 0
				b.in.Store(true)
			} else if fails[i]++; fails[i] >= 3 {
				b.in.Store(false)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rolloutReplica is one hubgate process of the rollout test.
type rolloutReplica struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

func startRolloutReplica(t *testing.T, bin, cfgPath string) *rolloutReplica {
	t.Helper()
	r := &rolloutReplica{logs: &syncBuffer{}, done: make(chan error, 1)}
	r.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// TestRollingRestartDropsNothing runs two hubgate processes on one
// PostgreSQL database behind a round-robin front that follows their
// readiness, sends signed-in and anonymous GETs and POSTs through it
// without pause, restarts one replica (SIGTERM, then a new process on the
// same ports) and checks that every request was answered by the legacy
// app, as the right person, and that the restarted replica exited 0 and
// its successor took traffic.
func TestRollingRestartDropsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn := pgtest.DSN(t)
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{}) // the schema, before two processes race to make it
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	dir := t.TempDir()
	bin := buildHubgate(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond) // requests are in flight when SIGTERM comes
		fmt.Fprintf(w, "user=%s body=%d", r.Header.Get("X-Hubgate-User"), n)
	}))
	t.Cleanup(up.Close)

	// The front's address comes first: it is every replica's public_url.
	backends := []*rolloutBackend{{}, {}}
	front := newRolloutFront(t, backends)
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{ClientID: "rollout_test", ClientSecret: "rollout-secret",
		Name: "rollout_test", RedirectURIs: []string{front.srv.URL + "/_hubgate/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	const token = "rollout-admin-token-0123456789"
	const delay = 1500 * time.Millisecond
	secret := base64.StdEncoding.EncodeToString([]byte("rollout-test-session-secret-32b!"))
	cfgs := make([]string, len(backends))
	for i, b := range backends {
		pub, adm := freeTCPPort(t), freeTCPPort(t)
		b.public, b.ready = fmt.Sprintf("http://127.0.0.1:%d", pub), fmt.Sprintf("http://127.0.0.1:%d/readyz", adm)
		cfgs[i] = filepath.Join(dir, fmt.Sprintf("hubgate-%d.yaml", i))
		cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: %q
upstream: %q
provider: {kind: zaikio, url: %q, client_id: rollout_test, client_secret: rollout-secret}
session: {secrets: [%q]}
store: %q
admin: {listen: "127.0.0.1:%d", token: %q}
shutdown: {delay: %s, timeout: 10s}
log: {level: warn}
`, pub, front.srv.URL, up.URL, hubSrv.URL, secret, dsn, adm, token, delay)
		if err := os.WriteFile(cfgs[i], []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	replicas := []*rolloutReplica{startRolloutReplica(t, bin, cfgs[0]), startRolloutReplica(t, bin, cfgs[1])}
	ctx, stopProbes := context.WithCancel(context.Background())
	defer stopProbes()
	go front.probe(ctx)
	within(t, 30*time.Second, "both replicas ready", func() bool { return backends[0].in.Load() && backends[1].in.Load() })

	// Legacy person 7 is Frank at the hub; Frank signs in through the front.
	req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(backends[1].ready, "/readyz")+"/api/v1/links/persons/7",
		strings.NewReader(`{"zaikio_id":"`+devhub.FrankID+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("link legacy 7 to Frank: %v %v", resp, err)
	}
	hub.AutoApprove(devhub.FrankID, "")
	jar, _ := cookiejar.New(nil)
	signedIn := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	resp, err := signedIn.Get(front.srv.URL + "/_hubgate/login?rd=%2F")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "user=7 body=0" {
		t.Fatalf("after sign-in: %d %q at %s (front: %q); want the legacy app as user 7\n%s\n%s", resp.StatusCode, body, resp.Request.URL, resp.Header.Get("X-Front-Error"), replicas[0].logs, replicas[1].logs)
	}
	anonymous := &http.Client{Timeout: 15 * time.Second}

	// Load: 8 workers, half signed in, alternating GET and POST.
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c, want := anonymous, "user="
			if w%2 == 0 {
				c, want = signedIn, "user=7"
			}
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				var resp *http.Response
				var err error
				wantBody := want + " body=0"
				if i%2 == 0 {
					resp, err = c.Get(front.srv.URL + "/reports")
				} else {
					resp, err = c.Post(front.srv.URL+"/orders", "application/x-www-form-urlencoded", strings.NewReader("item=42&qty=1"))
					wantBody = want + " body=13"
				}
				sent.Add(1)
				var got string
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					got = string(b)
					if resp.StatusCode != http.StatusOK {
						got = fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("X-Front-Error"), got)
					}
				} else {
					got = err.Error()
				}
				if got != wantBody {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %s", time.Now().Format("15:04:05.000"), got))
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Second)

	// Restart replica 0: SIGTERM, wait for its exit, start its successor.
	before := backends[0].served.Load()
	term := time.Now()
	if err := replicas[0].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the front to take replica 0 out of rotation", func() bool { return !backends[0].in.Load() })
	select {
	case err := <-replicas[0].done:
		if err != nil {
			t.Errorf("replica 0 exited with %v after SIGTERM; want 0\n%s", err, replicas[0].logs)
		}
		if took := time.Since(term); took < delay {
			t.Errorf("replica 0 exited %v after SIGTERM, before shutdown.delay %v", took, delay)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("replica 0 still running 20 s after SIGTERM\n%s", replicas[0].logs)
	}
	drained := backends[0].served.Load()
	replicas[0] = startRolloutReplica(t, bin, cfgs[0])
	within(t, 30*time.Second, "the new replica 0 in rotation", func() bool { return backends[0].in.Load() })
	time.Sleep(time.Second)
	close(stopLoad)
	wg.Wait()

	after := backends[0].served.Load() - drained
	t.Logf("requests: %d sent, %d failed; replica 0 took %d before SIGTERM, %d between SIGTERM and its exit, its successor %d; replica 1 took %d",
		sent.Load(), failed.Load(), before, drained-before, after, backends[1].served.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart:\n%s", failed.Load(), sent.Load(), strings.Join(failures[:min(len(failures), 20)], "\n"))
	}
	if before == 0 || drained == before || after == 0 {
		t.Errorf("replica 0 took %d requests before SIGTERM, %d after it, and its successor %d; want all > 0 (the test must exercise the rotation)",
			before, drained-before, after)
	}
	if sent.Load() < 50 {
		t.Errorf("only %d requests sent; the load did not run", sent.Load())
	}
	for i, r := range replicas {
		if strings.Contains(r.logs.String(), `"level":"error"`) {
			t.Errorf("replica %d logged errors:\n%s", i, r.logs)
		}
	}
}
