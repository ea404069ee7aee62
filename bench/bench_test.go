package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve the helper roles: the bench starts
// its own executable with -role, and under go test that is this binary.
func TestMain(m *testing.M) {
	if isRole(os.Args[1:]) {
		if err := runRole(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestPipeline runs the whole orchestration with tiny durations: build,
// start, link, sign in, verify, warm up, a round of every target, the RSS
// phase, the report. It checks that every target produced numbers, never
// how good they are.
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hubgate and starts five processes")
	}
	// The run itself takes seconds; the deadline covers building hubgate
	// with -trimpath, whose cache entries go test's builds do not share: on
	// a cold cache (a new machine, a new toolchain) and 2 busy cores that
	// took over 3 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "results.json")
	args := []string{"-short", "-duration=300ms", "-warmup=100ms", "-rounds=1", "-conns=4",
		"-conns-rss=20", "-rss-duration=300ms", "-pin=false", "-overlay", "-out=" + out}
	if err := run(ctx, args, os.Getenv, io.Discard, testLog{t}); err != nil {
		t.Fatalf("run(%q) = %v; want nil", args, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("results: %v\n%s", err, b)
	}
	if got := res.Identity["X-Hubgate-User"]; got != legacyUser {
		t.Errorf("identity X-Hubgate-User = %q; want %q", got, legacyUser)
	}
	if got := res.BearerIdentity["X-Hubgate-Auth"]; got != "bearer" {
		t.Errorf("bearer identity X-Hubgate-Auth = %q; want bearer", got)
	}
	if len(res.Targets) != 5 {
		t.Fatalf("%d targets; want 5", len(res.Targets))
	}
	for _, tr := range res.Targets {
		if tr.ReqPerSec <= 0 || tr.P50Micros <= 0 || tr.P99Micros <= 0 || tr.Requests == 0 || tr.ServerCPUMicrosPerReq < 0 || tr.PeakRSSMiB <= 0 {
			t.Errorf("target %s: req/s %v p50 %v p99 %v requests %d RSS %v; want all > 0", tr.Name, tr.ReqPerSec, tr.P50Micros, tr.P99Micros, tr.Requests, tr.PeakRSSMiB)
		}
		if tr.AllocsPerReq == nil || *tr.AllocsPerReq <= 0 {
			t.Errorf("target %s: allocs/req %v; want > 0", tr.Name, tr.AllocsPerReq)
		}
		if tr.Errors != 0 {
			t.Errorf("target %s: %d errors (%s); want 0", tr.Name, tr.Errors, tr.FirstError)
		}
	}
	if res.Ratios.HubgateReqPerSec <= 0 || res.Ratios.HubgateP99 <= 0 || res.Ratios.EnforceReqPerSec <= 0 || res.Ratios.BearerReqPerSec <= 0 || res.Ratios.BearerP99 <= 0 {
		t.Errorf("ratios %+v; want all > 0", res.Ratios)
	}
	if len(res.ConnsRSS) != 2 {
		t.Fatalf("%d RSS phases; want 2 (bare, hubgate)", len(res.ConnsRSS))
	}
	for _, c := range res.ConnsRSS {
		if c.ReqPerSec <= 0 || c.PeakRSSMiB <= 0 || c.Errors != 0 {
			t.Errorf("RSS phase %s: req/s %v, peak RSS %v, errors %d; want > 0, > 0, 0", c.Target, c.ReqPerSec, c.PeakRSSMiB, c.Errors)
		}
	}
	if len(res.Checks) == 0 {
		t.Error("no checks reported")
	}
}

// testLog sends the bench's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
