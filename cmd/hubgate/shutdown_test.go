package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsInFlightRequests runs the real binary, streams requests
// at a slow upstream through it, sends SIGTERM in the middle and checks that
// every request that had reached hubgate was answered in full; requests
// after the listener closed are refused at connect, never cut off.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hubgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var started atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		time.Sleep(400 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	port, hubPort := freeTCPPort(t), freeTCPPort(t)
	cfgPath := filepath.Join(dir, "hubgate.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: "http://127.0.0.1:%d"
upstream: %q
provider: {kind: dev, url: "http://127.0.0.1:%d", webhook_secret: "shutdown-test-secret"}
session: {secrets: ["c2h1dGRvd24tdGVzdC1zZWNyZXQtb2YtMzItYnl0ZXMhIQ=="]}
store: "bolt://%s"
log: {level: warn}
shutdown: {delay: 1s}
`, port, port, up.URL, hubPort, filepath.Join(dir, "hubgate.db"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(base + "/_hubgate/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hubgate did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// 20 clients stream requests; after 1 s hubgate gets SIGTERM.
	var (
		mu                  sync.Mutex
		ok, refused, broken int
		brokenErrs          []error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(base + "/work")
				mu.Lock()
				switch {
				case err == nil:
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil && resp.StatusCode == 200 && string(body) == "done" {
						ok++
					} else {
						broken++
						brokenErrs = append(brokenErrs, fmt.Errorf("status %d body %q read %v", resp.StatusCode, body, rerr))
					}
				case errors.Is(err, syscall.ECONNREFUSED):
					refused++
				default:
					// A keep-alive connection closed by the server between
					// requests is retried by net/http for idempotent GETs;
					// anything else counts as a lost request.
					broken++
					brokenErrs = append(brokenErrs, err)
				}
				mu.Unlock()
				var ne net.Error
				if err != nil && !errors.As(err, &ne) && !errors.Is(err, syscall.ECONNREFUSED) {
					return
				}
				if errors.Is(err, syscall.ECONNREFUSED) {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second)
	inflightAtSignal := started.Load()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("hubgate exited with %v after SIGTERM; want 0\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("hubgate did not exit within 40 s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	t.Logf("requests: %d answered, %d refused after shutdown, %d broken; %d had reached the upstream at SIGTERM", ok, refused, broken, inflightAtSignal)
	if broken > 0 {
		t.Errorf("%d requests were cut off: %v", broken, brokenErrs)
	}
	if ok == 0 || int64(ok) < inflightAtSignal {
		t.Errorf("%d requests answered; want at least the %d that had started at SIGTERM", ok, inflightAtSignal)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSecondSignalCutsTheDelayShort: after SIGTERM hubgate keeps serving
// for shutdown.delay, not ready; a second SIGTERM (an operator's second
// Ctrl-C) makes it drain and exit at once, with 0.
func TestSecondSignalCutsTheDelayShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildHubgate(t)
	dir := t.TempDir()
	port, adm, hubPort := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: "http://127.0.0.1:%d"
upstream: "http://127.0.0.1:9"
provider: {kind: dev, url: "http://127.0.0.1:%d"}
session: {secrets: ["c2h1dGRvd24tdGVzdC1zZWNyZXQtb2YtMzItYnl0ZXMhIQ=="]}
store: "bolt://%s"
admin: {listen: "127.0.0.1:%d", token: "second-signal-token-0123"}
shutdown: {delay: 60s}
log: {level: warn}
`, port, port, hubPort, filepath.Join(dir, "hubgate.db"), adm)
	cfgPath := filepath.Join(dir, "hubgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	status := func(u string) int {
		resp, err := http.Get(u)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", adm)
	within(t, 20*time.Second, "hubgate to be ready", func() bool { return status(ready) == http.StatusOK })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "readiness to fail after SIGTERM", func() bool { return status(ready) == http.StatusServiceUnavailable })
	if st := status(fmt.Sprintf("http://127.0.0.1:%d/_hubgate/healthz", port)); st != http.StatusOK {
		t.Errorf("during the delay the public listener answered %d; want 200", st)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after the second SIGTERM: %v; want 0\n%s", err, stderr.String())
		}
		t.Logf("exited %v after the second SIGTERM", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatalf("hubgate still running 10 s after a second SIGTERM (shutdown.delay 60s)\n%s", stderr.String())
	}
}
