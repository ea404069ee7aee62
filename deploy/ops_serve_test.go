package deploy

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hubgate started with the manifests' metrics and shutdown settings behaves
// as they assume: the metrics listener serves /metrics (and nothing else)
// without a token, with the contract's gauges; after SIGTERM the readiness
// probe fails at once while the liveness path and the listeners keep
// answering for shutdown.delay, and the process exits 0 within the grace
// period.
func TestServeMetricsAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hubgate")
	}
	v := loadVariant(t, "bolt")
	c := v.hubgateContainer(t)
	bin := hubgateBinary(t)
	dir := t.TempDir()
	pub, adm, met, hub := freePort(t), freePort(t), freePort(t), freePort(t)
	const delay, timeout = 2 * time.Second, 5 * time.Second
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(repoRoot(t), "deploy", "config", "dev.yaml"))
	cmd.Dir = dir
	cmd.Env = baseEnv(map[string]string{
		"HUBGATE_LISTEN":           fmt.Sprintf("127.0.0.1:%d", pub),
		"HUBGATE_PUBLIC_URL":       fmt.Sprintf("http://127.0.0.1:%d", pub),
		"HUBGATE_ADMIN_LISTEN":     fmt.Sprintf("127.0.0.1:%d", adm),
		"HUBGATE_PROVIDER_URL":     fmt.Sprintf("http://127.0.0.1:%d", hub),
		"HUBGATE_STORE":            "bolt://" + filepath.Join(dir, "hubgate.db"),
		"HUBGATE_LOG_FORMAT":       "json",
		envFor("metrics.listen"):   fmt.Sprintf("127.0.0.1:%d", met),
		envFor("shutdown.delay"):   delay.String(),
		envFor("shutdown.timeout"): timeout.String(),
	})
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
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

	client := &http.Client{Timeout: 7 * time.Second}
	get := func(url string) (int, string) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	urlFor := func(p *probe) string {
		port := map[string]int{"public": pub, "admin": adm}[p.HTTPGet.Port.String()]
		if port == 0 {
			t.Fatalf("probe port %v", p.HTTPGet.Port)
		}
		return fmt.Sprintf("http://127.0.0.1:%d%s", port, p.HTTPGet.Path)
	}
	ready, live := urlFor(c.ReadinessProbe), urlFor(c.LivenessProbe)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", met)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := get(ready); code == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("hubgate exited (%v):\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200\n%s", ready, logs.String())
		}
	}
	if code, body := get(live); code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", live, code, body)
	}

	// The metrics listener: no token, the contract's gauges, a request
	// duration observed for one of hubgate's own routes (class other), and
	// nothing but /metrics.
	get(fmt.Sprintf("http://127.0.0.1:%d/_hubgate/jwks.json", pub))
	code, body := get(metricsURL)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", metricsURL, code, body)
	}
	for _, want := range []string{
		"hubgate_build_info{", "hubgate_ready 1",
		"hubgate_http_requests_in_flight ", "hubgate_upstream_slots_capacity ", "hubgate_upstream_slots_in_use ", "hubgate_upstream_slots_waiting ",
		"hubgate_linked_persons ", "hubgate_linked_organizations ", "hubgate_directory_persons ",
		`hubgate_http_request_duration_seconds_bucket{class="other"`,
	} {
		if !slices.ContainsFunc(strings.Split(body, "\n"), func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("GET %s: no line starting %q", metricsURL, want)
		}
	}
	for _, p := range []string{"/", "/healthz", "/readyz", "/api/v1/mode"} {
		if code, _ := get(fmt.Sprintf("http://127.0.0.1:%d%s", met, p)); code != http.StatusNotFound {
			t.Errorf("metrics listener GET %s: %d; want 404 (it serves /metrics only)", p, code)
		}
	}

	// SIGTERM: readiness fails at once, everything else keeps answering
	// for the delay, then hubgate exits 0.
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawNotReady := false
	for time.Since(start) < delay/2 && !sawNotReady {
		code, _ := get(ready)
		sawNotReady = code == http.StatusServiceUnavailable
		time.Sleep(50 * time.Millisecond)
	}
	if !sawNotReady {
		t.Errorf("readiness %s did not answer 503 within %v of SIGTERM", ready, delay/2)
	}
	if code, body := get(live); code != http.StatusOK {
		t.Errorf("%v after SIGTERM (shutdown.delay %v): liveness %s answered %d %s; want 200 while the delay runs", time.Since(start), delay, live, code, body)
	}
	if _, body := get(metricsURL); !strings.Contains(body, "\nhubgate_ready 0") {
		t.Errorf("%v after SIGTERM: /metrics has no hubgate_ready 0", time.Since(start))
	}
	select {
	case err := <-done:
		t.Fatalf("hubgate exited %v after SIGTERM (%v), before shutdown.delay %v", time.Since(start), err, delay)
	case <-time.After(delay - time.Since(start) - 200*time.Millisecond):
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM hubgate exited with %v; want 0\n%s", err, logs.String())
		}
		if took := time.Since(start); took < delay || took > delay+timeout+5*time.Second {
			t.Errorf("shutdown took %v; want between shutdown.delay %v and delay + timeout + 5 s", took, delay)
		}
	case <-time.After(delay + timeout + 5*time.Second):
		t.Fatalf("hubgate still running %v after SIGTERM\n%s", time.Since(start), logs.String())
	}
}
