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

// otlpOptions are the exporter's settings from the standard variables of
// the OTLP exporters (the _TRACES_ form first): OTEL_EXPORTER_OTLP_HEADERS
// (k=v,k2=v2, values URL-encoded), OTEL_EXPORTER_OTLP_TIMEOUT (ms, default
// 10 s) and OTEL_EXPORTER_OTLP_COMPRESSION (gzip or none). The config reads
// them (Config.OTLP), so that `config check` refuses bad ones.
type otlpOptions struct {
	Headers http.Header
	Timeout time.Duration
	Gzip    bool
}

func otlpOptionsFrom(getenv func(string) string) (otlpOptions, error) {
	env := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	o := otlpOptions{Headers: http.Header{}, Timeout: 10 * time.Second}
	if v := env("HEADERS"); v != "" {
		for i, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			dv, derr := url.PathUnescape(strings.TrimSpace(val))
			if !ok || k == "" || derr != nil {
				// The values are often API keys: the message names the
				// pair and its key only.
				return o, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: pair %d (key %q): want key=value pairs separated by commas, values URL-encoded", i+1, k)
			}
			o.Headers.Add(k, dv)
		}
	}
	if v := env("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return o, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT: %q: want milliseconds", v)
		}
		o.Timeout = time.Duration(ms) * time.Millisecond
	}
	switch c := env("COMPRESSION"); c {
	case "", "none":
	case "gzip":
		o.Gzip = true
	default:
		return o, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION: %q: want gzip or none", c)
	}
	return o, nil
}

// otlpExporter is an sdktrace.SpanExporter for one collector URL.
type otlpExporter struct {
	url string
	otlpOptions
	client *http.Client

	mu      sync.Mutex // guards stopped
	stopped bool
}

var _ sdktrace.SpanExporter = (*otlpExporter)(nil)

// newOTLPExporter sends to tracesURL with o.
func newOTLPExporter(tracesURL string, o otlpOptions) (*otlpExporter, error) {
	u, err := url.Parse(tracesURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want an http(s) URL", redactURL(tracesURL))
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	// No client timeout: ExportSpans bounds each batch by o.Timeout.
	return &otlpExporter{url: u.String(), otlpOptions: o, client: &http.Client{}}, nil
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
	if e.Gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for wait := time.Second; ; wait *= 2 {
		retry, err := e.post(ctx, body)
		if retry <= 0 {
			return err
		}
		if retry < wait {
			retry = wait
		}
		if time.Until(deadline) < retry {
			return err // no time left to wait for: do not hold the batcher
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
	for k, v := range e.Headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.Gzip {
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
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("otlp: collector answered %s", resp.Status)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/") {
		return 0, fmt.Errorf("otlp: collector answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return 0, fmt.Errorf("otlp: collector answered %s", resp.Status) // a protobuf Status: not for a log line
}

// retryAfter reads Retry-After in seconds or as an HTTP date; 1 s when it
// says nothing usable.
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && time.Until(t) > 0 {
		return time.Until(t)
	}
	return time.Second
}

// Shutdown stops exporting; the SDK has flushed the batch before.
func (e *otlpExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.client.CloseIdleConnections()
	return nil
}
