package main

// The OTLP/HTTP span exporter: spans as protobuf to a collector's
// /v1/traces (OTLP 1.x, "OTLP/HTTP" with a protobuf payload). It is
// written here rather than taken from otlptracehttp, whose configuration
// package links gRPC: about 2 MiB more resident memory in every hubgate
// process, tracing on or off (measured with go run ./bench's 1,000
// connection phase: 60.0 against 57.8 MiB peak).

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"
)

// otlpExporter is an sdktrace.SpanExporter for one collector URL.
type otlpExporter struct {
	url     string
	headers http.Header
	gzip    bool
	timeout time.Duration
	client  *http.Client

	mu      sync.Mutex // guards stopped
	stopped bool
}

var _ sdktrace.SpanExporter = (*otlpExporter)(nil)

// newOTLPExporter sends to tracesURL, with the standard variables of the
// OTLP exporters (the _TRACES_ form first): OTEL_EXPORTER_OTLP_HEADERS
// (k=v,k2=v2, values URL-encoded), OTEL_EXPORTER_OTLP_TIMEOUT (ms, default
// 10 s) and OTEL_EXPORTER_OTLP_COMPRESSION (gzip or none).
func newOTLPExporter(tracesURL string, getenv func(string) string) (*otlpExporter, error) {
	u, err := url.Parse(tracesURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want an http(s) URL", tracesURL)
	}
	env := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	e := &otlpExporter{url: u.String(), headers: http.Header{}, timeout: 10 * time.Second}
	if v := env("HEADERS"); v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			dv, derr := url.PathUnescape(strings.TrimSpace(val))
			if !ok || k == "" || derr != nil {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %q: want key=value pairs separated by commas", kv)
			}
			e.headers.Add(k, dv)
		}
	}
	if v := env("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT: %q: want milliseconds", v)
		}
		e.timeout = time.Duration(ms) * time.Millisecond
	}
	switch c := env("COMPRESSION"); c {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION: %q: want gzip or none", c)
	}
	e.client = &http.Client{Timeout: e.timeout}
	return e, nil
}

// ExportSpans sends one batch. A collector that answers 429, 502, 503 or
// 504 is asked again (after its Retry-After, else 1 s, 2 s, …) until the
// timeout; any other refusal is the error the SDK hands to its error
// handler (hubgate's log, routeOTelErrors).
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped || len(spans) == 0 {
		return nil
	}
	body, err := proto.Marshal(tracesData(spans))
	if err != nil {
		return fmt.Errorf("otlp: encode: %w", err)
	}
	if e.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	for wait := time.Second; ; wait *= 2 {
		retry, err := e.post(ctx, body)
		if retry <= 0 {
			return err
		}
		if retry < wait {
			retry = wait
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(retry):
		}
	}
}

// post sends body once; retry > 0 says the collector wants it again after
// that long.
func (e *otlpExporter) post(ctx context.Context, body []byte) (retry time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range e.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return time.Second, fmt.Errorf("otlp: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		retry = time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retry = time.Duration(s) * time.Second
		}
		return retry, fmt.Errorf("otlp: collector answered %s", resp.Status)
	}
	return 0, fmt.Errorf("otlp: collector answered %s: %s", resp.Status, bytes.TrimSpace(msg))
}

// Shutdown stops exporting; the SDK has flushed the batch before.
func (e *otlpExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.client.CloseIdleConnections()
	return nil
}
