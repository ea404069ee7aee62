package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// The helper roles run in their own processes (the bench binary started
// again with -role), so that each server's allocations, CPU time and peak
// RSS can be read separately.
const (
	roleUpstream = "upstream" // the legacy app stand-in: a fixed ~1 KB answer
	roleBare     = "bare"     // the baseline: a bare httputil.ReverseProxy
	roleHub      = "hub"      // the dev hub hubgate signs in with, as a remote hub

	echoPath     = "/__bench/echo"     // upstream: answers the identity headers it got
	memStatsPath = "/__bench/memstats" // every role, on its separate stats listener
)

// isRole reports whether args ask for a helper role.
func isRole(args []string) bool {
	return len(args) > 0 && (args[0] == "-role" || args[0] == "--role" ||
		strings.HasPrefix(args[0], "-role=") || strings.HasPrefix(args[0], "--role="))
}

// runRole serves one helper role until ctx ends. Once both listeners are
// open it prints "ready <addr> <stats addr>" on stdout; the bench waits for
// that line.
func runRole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench -role", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "upstream or bare")
	listen := fs.String("listen", "127.0.0.1:0", "listener")
	stats := fs.String("stats", "127.0.0.1:0", "listener for "+memStatsPath)
	upstream := fs.String("upstream", "", "bare: the upstream URL")
	maxIdle := fs.Int("max-idle", 1024, "bare: idle upstream connections kept per host")
	body := fs.Int("body", 1024, "upstream: response body bytes")
	public := fs.String("public", "", "hub: hubgate's public URL (callback and webhook)")
	webhook := fs.String("webhook-secret", "", "hub: the secret webhooks are signed with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var h http.Handler
	switch *role {
	case roleUpstream:
		h = upstreamHandler(*body)
	case roleBare:
		var err error
		if h, err = bareProxy(*upstream, *maxIdle); err != nil {
			return err
		}
	case roleHub:
		var err error
		// Access tokens live an hour (the hub issues 10 to 60 minutes), so
		// that the bearer target's one token outlasts a full run.
		if h, err = devhub.New(devhub.Config{Seed: true, AccessTTL: time.Hour, Apps: []devhub.App{{
			ClientID: benchClientID, ClientSecret: benchClientSecret, Name: benchClientID,
			RedirectURIs: []string{*public + "/_hubgate/callback"},
			WebhookURL:   *public + "/_hubgate/webhook", WebhookSecret: *webhook,
		}}}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("bench: role %q: want %s, %s or %s", *role, roleUpstream, roleBare, roleHub)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", *role, err)
	}
	sl, err := net.Listen("tcp", *stats)
	if err != nil {
		ln.Close()
		return fmt.Errorf("bench: %s stats: %w", *role, err)
	}
	errLog := log.New(stderr, *role+": ", log.LstdFlags)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Minute, ErrorLog: errLog}
	ss := &http.Server{Handler: memStatsHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- ss.Serve(sl) }()
	fmt.Fprintf(stdout, "ready %s %s\n", ln.Addr(), sl.Addr())
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	srv.Close()
	ss.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// upstreamHandler answers every GET with the same body of size bytes, the
// way a cached page of a legacy app would; echoPath answers the identity
// headers it received as JSON. The header values are shared slices, so the
// handler allocates nothing of its own.
func upstreamHandler(size int) http.Handler {
	body := bytes.Repeat([]byte("hubgate bench upstream ~1 KB page. "), size/35+1)[:size]
	body[size-1] = '\n'
	ctype := []string{"text/plain; charset=utf-8"}
	clen := []string{strconv.Itoa(size)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == echoPath {
			echo(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = ctype
		h["Content-Length"] = clen
		_, _ = w.Write(body)
	})
}

// echoed is what the upstream saw of a request on echoPath.
type echoed struct {
	Headers map[string]string `json:"headers"` // X-Hubgate-* only
	Cookies []string          `json:"cookies"` // cookie names
}

func echo(w http.ResponseWriter, r *http.Request) {
	e := echoed{Headers: map[string]string{}, Cookies: []string{}}
	for k, v := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-hubgate-") {
			e.Headers[http.CanonicalHeaderKey(k)] = strings.Join(v, ",")
		}
	}
	for _, c := range r.Cookies() {
		e.Cookies = append(e.Cookies, c.Name)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

// bareProxy is the baseline: httputil.ReverseProxy with Rewrite and SetURL
// and a transport that keeps enough idle connections for the whole load.
func bareProxy(upstream string, maxIdle int) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bench: bare: upstream %q: want http://host:port", upstream)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * maxIdle,
		MaxIdleConnsPerHost: maxIdle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: tr,
	}, nil
}

// memStatsHandler answers the process's runtime.MemStats counters.
func memStatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != memStatsPath {
			http.NotFound(w, r)
			return
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(memStats{Mallocs: m.Mallocs, Frees: m.Frees, HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse,
			StackInuse: m.StackInuse, Sys: m.Sys, NumGC: m.NumGC, Goroutines: runtime.NumGoroutine()})
	})
}
