package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{"32MiB", 32 << 20, false}, {"512KiB", 512 << 10, false}, {"2GiB", 2 << 30, false}, {"1 MiB", 1 << 20, false},
		{"64MB", 64 << 20, false}, {"4096", 4096, false}, {"0", 0, false}, {"off", 0, false},
		{"", 0, true}, {"MiB", 0, true}, {"-1MiB", 0, true}, {"1.5MiB", 0, true}, {"32 mebibytes", 0, true}, {"99999999999GiB", 0, true},
	} {
		got, err := parseSize(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// gcUntil collects until the governor has updated n more times than before.
func gcUntil(t *testing.T, g *memoryGovernor, n uint64) {
	t.Helper()
	want := g.updates.Load() + n
	deadline := time.Now().Add(5 * time.Second)
	for g.updates.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("governor updated %d times after collections; want %d", g.updates.Load(), want)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMemoryGovernor: after each collection the runtime's soft limit is
// max(floor, non-heap + live × (1 + headroom)); stop restores the limit
// from before. Not parallel: the limit is process-wide.
func TestMemoryGovernor(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	gogcBefore := debug.SetGCPercent(100)
	debug.SetGCPercent(gogcBefore)
	g := startMemoryGovernor(1<<20, 50, true)
	if g == nil {
		t.Fatal("startMemoryGovernor = nil; want a governor")
	}
	defer g.stop()
	if got := debug.SetMemoryLimit(-1); got == before || got != g.limit.Load() {
		t.Errorf("limit right after start = %d; want one set by the governor (%d), not the old %d", got, g.limit.Load(), before)
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GOGC while the governor runs with gogcOff = %d; want off (-1)", p)
	}
	if startMemoryGovernor(1<<20, 50, true) != nil {
		t.Error("a second governor started while one runs")
	}

	// 96 MiB that stay live through the collections below.
	live := make([][]byte, 96)
	for i := range live {
		live[i] = bytes.Repeat([]byte{byte(i)}, 1<<20)
	}
	gcUntil(t, g, 2)
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	heapLive := s[0].Value.Uint64()
	limit := debug.SetMemoryLimit(-1)
	runtime.KeepAlive(live)
	if limit != g.limit.Load() {
		t.Errorf("runtime limit %d; governor says it set %d", limit, g.limit.Load())
	}
	if lo, hi := int64(heapLive*3/2), int64(heapLive*3/2)+64<<20; limit < lo || limit > hi {
		t.Errorf("limit %.1f MiB with %.1f MiB live; want live × 1.5 plus non-heap memory: %.1f–%.1f MiB",
			float64(limit)/(1<<20), float64(heapLive)/(1<<20), float64(lo)/(1<<20), float64(hi)/(1<<20))
	}

	// A floor above that wins.
	g.mu.Lock()
	g.floor = 8 << 30
	g.mu.Unlock()
	gcUntil(t, g, 1)
	if got := debug.SetMemoryLimit(-1); got != 8<<30 {
		t.Errorf("limit with an 8 GiB floor = %d; want %d", got, int64(8<<30))
	}

	g.stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after stop = %d; want the one before, %d", got, before)
	}
	if p := debug.SetGCPercent(gogcBefore); p != gogcBefore {
		t.Errorf("GOGC after stop = %d; want the one before, %d", p, gogcBefore)
	}
	runtime.GC()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after stop and two collections = %d; want %d", got, before)
	}
	if g2 := startMemoryGovernor(1<<20, 50, false); g2 == nil {
		t.Error("no governor starts after the first stopped")
	} else {
		g2.stop()
	}
	if startMemoryGovernor(0, 50, true) != nil {
		t.Error("a governor started with floor 0 (off)")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeMemoryGovernorLog: hubgate serve says whether the governor runs
// and why not; with GOMEMLIMIT set it leaves the runtime's limit alone.
// Not parallel: serve runs in this process and the limit is process-wide.
func TestServeMemoryGovernorLog(t *testing.T) {
	for _, tc := range []struct {
		name, extra, gomemlimit, want string
	}{
		{"default", "", "", `"event":"memory.governor","state":"on","floor_bytes":33554432,"headroom_pct":50,"gogc_off":true`},
		{"configured", "memory: {floor: 64MiB, headroom: 25}\n", "", `"state":"on","floor_bytes":67108864,"headroom_pct":25`},
		{"GOMEMLIMIT set", "", "100MiB", `"event":"memory.governor","state":"off","reason":"GOMEMLIMIT is set"`},
		{"GOGC set", "", "gogc", `"state":"on","floor_bytes":33554432,"headroom_pct":50,"gogc_off":false`},
		{"floor off", "memory: {floor: off}\n", "", `"state":"off","reason":"memory.floor is off"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := debug.SetMemoryLimit(-1)
			env := cfgEnv("GOMEMLIMIT", tc.gomemlimit)
			if tc.gomemlimit == "gogc" {
				env = cfgEnv("GOGC", "100")
			}
			srv := serveInProcess(t, tc.extra, env)
			stderr := srv.stderr
			if tc.gomemlimit != "" && tc.gomemlimit != "gogc" {
				runtime.GC()
				runtime.GC()
				if got := debug.SetMemoryLimit(-1); got != before {
					t.Errorf("with GOMEMLIMIT set the limit changed from %d to %d", before, got)
				}
			}
			srv.stop()
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("serve's log lacks %s:\n%s", tc.want, stderr.String())
			}
			if got := debug.SetMemoryLimit(-1); got != before {
				t.Errorf("limit after serve returned = %d; want %d", got, before)
			}
		})
	}
}

// inProcess is a `hubgate serve` running in the test process.
type inProcess struct {
	port   int
	stderr *syncBuffer
	stop   func() // cancels and waits; fails the test if serve failed
}

// serveInProcess runs `hubgate serve` in this process on a fresh bolt store
// in dir (default: a new temp folder) with the dev hub, the config's extra
// lines appended, until stop (or the test's end). It returns once the
// public listener answers.
func serveInProcess(t *testing.T, extra string, getenv func(string) string, dir ...string) *inProcess {
	t.Helper()
	d := t.TempDir()
	if len(dir) > 0 {
		d = dir[0]
	}
	port, hubPort := freeTCPPort(t), freeTCPPort(t)
	cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\npublic_url: \"http://127.0.0.1:%d\"\nupstream: \"http://127.0.0.1:9\"\n"+
		"provider: {kind: dev, url: \"http://127.0.0.1:%d\"}\nsession: {secrets: [\"c2h1dGRvd24tdGVzdC1zZWNyZXQtb2YtMzItYnl0ZXMhIQ==\"]}\n"+
		"store: \"bolt://%s\"\nshutdown: {delay: 0s}\n%s", port, port, hubPort, filepath.Join(d, "hubgate.db"), extra)
	path := filepath.Join(t.TempDir(), "hubgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &inProcess{port: port, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path}, getenv, &bytes.Buffer{}, srv.stderr)
	}()
	var once sync.Once
	srv.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve = %v\n%s", err, srv.stderr.String())
			}
		})
	}
	t.Cleanup(srv.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/_hubgate/healthz", port))
		if err == nil {
			resp.Body.Close()
			return srv
		}
		select {
		case err := <-done:
			done <- err // for stop
			t.Fatalf("serve returned before it answered: %v\n%s", err, srv.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", srv.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
