package main

// Serving and stopping: the listeners, readiness, and what SIGTERM does.
//
// On SIGTERM (the context ending) this replica stops being ready at once —
// /readyz answers 503 and hubgate_ready drops to 0 — but the listeners keep
// serving for shutdown.delay, so that a load balancer or Kubernetes has
// time to take it out of rotation while requests still arrive (endpoint
// removal reaches kube-proxy and ingress controllers seconds after the pod
// is told to stop). Meanwhile answers carry "Connection: close", so that
// clients with kept-alive connections move to another replica
// (closeWhenDraining). Then the
// listeners stop accepting, in-flight requests get shutdown.timeout to
// finish, and serve returns. A second signal ends the delay early.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// errShuttingDown is /readyz's reason after SIGTERM.
var errShuttingDown = errors.New("shutting down (SIGTERM): leaving the load balancer's rotation")

// readiness is this replica's answer to /readyz and hubgate_ready: the
// proxy's checks (the store answers, the hub's keys can be fetched), and
// not ready from SIGTERM on.
type readiness struct {
	check    func(ctx context.Context) error
	draining atomic.Bool

	mu sync.Mutex // guards at and ok
	at time.Time  // when check last ran
	ok bool       // what it said
}

// readyMaxAge is how old the last check may be for hubgate_ready to use
// it; a scrape after a longer quiet (no probe ran) checks again.
const readyMaxAge = 15 * time.Second

// Ready is the admin listener's readiness check.
func (r *readiness) Ready(ctx context.Context) error {
	if r.draining.Load() {
		return errShuttingDown
	}
	err := r.check(ctx)
	r.mu.Lock()
	r.at, r.ok = time.Now(), err == nil
	r.mu.Unlock()
	return err
}

// value is hubgate_ready: 0 once draining, else the last check's answer
// when it is recent (the orchestrator probes every few seconds), else a
// fresh check.
func (r *readiness) value() float64 {
	if r.draining.Load() {
		return 0
	}
	r.mu.Lock()
	at, ok := r.at, r.ok
	r.mu.Unlock()
	if time.Since(at) > readyMaxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok = r.Ready(ctx) == nil
		cancel()
	}
	if ok && !r.draining.Load() {
		return 1
	}
	return 0
}

// opsCollectors are the process-level metrics: hubgate_ready and
// hubgate_build_info.
func opsCollectors(ready *readiness) []prometheus.Collector {
	b := readBuildInfo()
	if b.Commit == "" {
		b.Commit = "unknown" // an empty label is no label to Prometheus
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hubgate", Name: "build_info",
		Help:        "Always 1: the version, VCS revision and Go version this binary was built from.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Commit, "goversion": b.Go}})
	info.Set(1)
	return []prometheus.Collector{info,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "hubgate", Name: "ready",
			Help: "1 when this replica is ready (store and hub keys reachable), 0 when not or shutting down."}, ready.value),
	}
}

// metricsHandler serves the registry: GET /metrics and nothing else,
// without a token (the metrics listener).
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// server is one listener with its handler.
type server struct {
	name    string
	ln      net.Listener
	handler http.Handler
}

// shutdownDelay is shutdown.delay (unset: none).
func (c *Config) shutdownDelay() time.Duration {
	if c.Shutdown.Delay == nil {
		return 0
	}
	return time.Duration(*c.Shutdown.Delay)
}

// hurryOnSecondSignal returns a channel that closes when the process gets
// SIGINT or SIGTERM a second time: the first one started the shutdown,
// the second one asks not to wait out shutdown.delay.
func hurryOnSecondSignal() (hurry <-chan struct{}, stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	c, done := make(chan struct{}), make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-done:
				return
			case <-sig:
				if n++; n == 2 {
					close(c)
					return
				}
			}
		}
	}()
	return c, func() { signal.Stop(sig); close(done) }
}

// serve runs the listeners until ctx ends, then shuts down as the top of
// this file says. Background work (mode and revocation polls, change
// notifications, mail) runs until the drain is over, so that a replica
// still serving applies a mode switch or a revocation.
func (in *instance) serve(ctx context.Context, pub, adm net.Listener, extra ...server) error {
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	defer stopTracing(in.tracing, in.log)
	servers := []server{{name: "public", ln: pub, handler: in.proxy}}
	if adm != nil && in.admin != nil {
		servers = append(servers, server{name: "admin", ln: adm, handler: in.admin})
	}
	servers = append(servers, extra...)
	if err := in.proxy.Start(bg); err != nil {
		return err
	}
	go func() { _ = in.proxy.Run(bg) }()
	if in.watch != nil {
		go func() { _ = in.watch.Watch(bg, func(string) { in.proxy.Refresh(bg) }) }()
	}
	errc := make(chan error, len(servers))
	var hs []*http.Server
	for _, sv := range servers {
		h := &http.Server{
			Handler:           in.closeWhenDraining(sv.handler),
			ReadHeaderTimeout: orDefault(in.cfg.Timeouts.ReadHeader, 10*time.Second),
			IdleTimeout:       orDefault(in.cfg.Timeouts.Idle, 120*time.Second),
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          log.New(zerologWriter{in.log}, "", 0),
		}
		hs = append(hs, h)
		in.log.Info().Str("event", "listen").Str("listener", sv.name).Str("addr", sv.ln.Addr().String()).Send()
		go func(sv server) {
			if err := h.Serve(sv.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", sv.name, err)
			}
		}(sv)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	in.ready.draining.Store(true)
	if delay := in.cfg.shutdownDelay(); err == nil && delay > 0 {
		in.log.Info().Str("event", "shutdown.delay").Dur("delay", delay).Msg("not ready; serving on until the load balancer has stopped routing here")
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case err = <-errc:
		case <-in.hurry:
		}
		t.Stop()
	}
	if e := in.drain(hs); err == nil {
		err = e
	}
	in.log.Info().Str("event", "stopped").Send()
	return err
}

// closeWhenDraining answers with "Connection: close" from SIGTERM on, so
// that a client with a kept-alive connection (an L4 balancer such as
// kube-proxy keeps it on this replica) opens a new one for its next
// request, which goes elsewhere. Idle connections are left alone until
// the drain: closing them at SIGTERM would race with a request being sent
// on one, and a POST is not retried.
func (in *instance) closeWhenDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A protocol switch (WebSocket) keeps its connection whatever it is
		// told, and its answer must say "Connection: Upgrade" alone.
		if in.ready.draining.Load() && r.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// drain stops the listeners and waits up to shutdown.timeout for the
// requests in flight, then closes the connections still open.
func (in *instance) drain(hs []*http.Server) error {
	timeout := orDefault(in.cfg.Shutdown.Timeout, 30*time.Second)
	in.log.Info().Str("event", "shutdown").Dur("timeout", timeout).Msg("draining in-flight requests")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			if err := h.Shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("shutdown: %w", err)
				_ = h.Close()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// orDefault is d, or def when d is zero.
func orDefault(d duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
