package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// spansOf records the spans record makes, and returns them as the SDK hands them to an exporter.
func spansOf(t *testing.T, record func(tr trace.Tracer)) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	record(tp.Tracer("test/scope", trace.WithInstrumentationVersion("1.2")))
	_ = tp.Shutdown(context.Background())
	return rec.Ended()
}

// TestOTLPExporterSendsProtobuf: the exporter's request is what a collector
// takes (POST, protobuf, the OTEL_EXPORTER_OTLP_* headers, gzip), and
// every span field arrives: ids, parent, kind, times, each attribute type,
// events, links, status in OTLP's numbering (not the SDK's).
func TestOTLPExporterSendsProtobuf(t *testing.T) {
	rc := newOTLPReceiver(t)
	var hdr http.Header
	var mu sync.Mutex
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hdr = r.Header.Clone()
		mu.Unlock()
		rc.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cr%20t,tenant=acme", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_COMPRESSION": "none"}
	o, err := otlpOptionsFrom(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	e, err := newOTLPExporter(front.URL+"/v1/traces", o)
	if err != nil {
		t.Fatal(err)
	}
	spans := spansOf(t, func(tr trace.Tracer) {
		ctx, parent := tr.Start(context.Background(), "GET /x", trace.WithSpanKind(trace.SpanKindServer))
		_, child := tr.Start(ctx, "hub.token", trace.WithSpanKind(trace.SpanKindClient), trace.WithLinks(trace.Link{SpanContext: parent.SpanContext()}))
		child.SetAttributes(attribute.Bool("b", true), attribute.Int64("i", 42), attribute.Float64("f", 1.5), attribute.String("s", "v"),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2}))
		child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
		child.SetStatus(codes.Error, "hub down")
		child.End()
		parent.SetStatus(codes.Ok, "")
		parent.End()
	})
	if err := e.ExportSpans(context.Background(), spans); err != nil {
		t.Fatalf("ExportSpans = %v", err)
	}
	mu.Lock()
	if hdr.Get("X-Api-Key") != "s3cr t" || hdr.Get("Tenant") != "acme" || hdr.Get("Content-Encoding") != "gzip" {
		t.Errorf("request headers %v; want the OTEL_EXPORTER_OTLP_HEADERS (decoded) and gzip (the _TRACES_ variable first)", hdr)
	}
	mu.Unlock()
	rc.mu.Lock()
	got := rc.spans
	rc.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("collector got %d spans; want 2", len(got))
	}
	byName := map[string]*tracepb.Span{got[0].GetName(): got[0], got[1].GetName(): got[1]}
	p, c := byName["GET /x"], byName["hub.token"]
	if p == nil || c == nil {
		t.Fatalf("spans %v", got)
	}
	if string(c.GetParentSpanId()) != string(p.GetSpanId()) || string(c.GetTraceId()) != string(p.GetTraceId()) || len(p.GetParentSpanId()) != 0 {
		t.Errorf("parent/trace ids do not chain: parent %x/%x, child %x/%x (parent %x)", p.GetTraceId(), p.GetSpanId(), c.GetTraceId(), c.GetSpanId(), c.GetParentSpanId())
	}
	if p.GetKind() != tracepb.Span_SPAN_KIND_SERVER || c.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v, %v; want server, client", p.GetKind(), c.GetKind())
	}
	if p.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_OK || c.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || c.GetStatus().GetMessage() != "hub down" {
		t.Errorf("status %v, %v; want OK and ERROR \"hub down\"", p.GetStatus(), c.GetStatus())
	}
	if c.GetStartTimeUnixNano() == 0 || c.GetEndTimeUnixNano() < c.GetStartTimeUnixNano() {
		t.Errorf("times %d..%d", c.GetStartTimeUnixNano(), c.GetEndTimeUnixNano())
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range c.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue()
	}
	if attrs["b"].GetBoolValue() != true || attrs["i"].GetIntValue() != 42 || attrs["f"].GetDoubleValue() != 1.5 || attrs["s"].GetStringValue() != "v" {
		t.Errorf("scalar attributes b, i, f, s = %v, %v, %v, %v; want true, 42, 1.5, v", attrs["b"], attrs["i"], attrs["f"], attrs["s"])
	}
	if ss := attrs["ss"].GetArrayValue().GetValues(); len(ss) != 2 || ss[0].GetStringValue() != "a" || ss[1].GetStringValue() != "b" {
		t.Errorf("attribute ss = %v; want [a b]", attrs["ss"])
	}
	if is := attrs["is"].GetArrayValue().GetValues(); len(is) != 2 || is[0].GetIntValue() != 1 || is[1].GetIntValue() != 2 {
		t.Errorf("attribute is = %v; want [1 2]", attrs["is"])
	}
	if len(c.GetEvents()) != 1 || c.GetEvents()[0].GetName() != "retry" || len(c.GetLinks()) != 1 || string(c.GetLinks()[0].GetSpanId()) != string(p.GetSpanId()) {
		t.Errorf("events %v, links %v; want the retry event and the link to the parent", c.GetEvents(), c.GetLinks())
	}
}

// TestOTLPExporterRetriesAndRefusals: a busy collector (503 with
// Retry-After) is asked again and the spans arrive once; a refusal is an
// error naming the status and the collector's words; after Shutdown
// nothing is sent; bad OTEL_EXPORTER_OTLP_* values are refused.
func TestOTLPExporterRetriesAndRefusals(t *testing.T) {
	var calls atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer busy.Close()
	spans := spansOf(t, func(tr trace.Tracer) { _, s := tr.Start(context.Background(), "x"); s.End() })
	e, err := newOTLPExporter(busy.URL+"/v1/traces", otlpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.ExportSpans(context.Background(), spans); err != nil || calls.Load() != 2 || time.Since(start) < time.Second {
		t.Errorf("busy collector: %v after %d calls in %s; want success on the second call, after Retry-After", err, calls.Load(), time.Since(start))
	}
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad tenant", http.StatusBadRequest)
	}))
	defer refuse.Close()
	e, _ = newOTLPExporter(refuse.URL+"/v1/traces", otlpOptions{})
	if err := e.ExportSpans(context.Background(), spans); err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "bad tenant") {
		t.Errorf("refusing collector: %v; want the status and its message", err)
	}
	_ = e.Shutdown(context.Background())
	if err := e.ExportSpans(context.Background(), spans); err != nil {
		t.Errorf("after Shutdown: %v; want nothing sent, no error", err)
	}
	// Bad variables are refused, naming the variable and never a header's
	// value (often an API key).
	for name, v := range map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%ZZsecret-token", "OTEL_EXPORTER_OTLP_TIMEOUT": "10s", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"} {
		_, err := otlpOptionsFrom(func(k string) string {
			if k == name {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s=%s: %v; want an error naming it, without the header's value", name, v, err)
		}
	}
	// A Retry-After beyond the timeout ends the attempt at once: the
	// batcher is not held.
	var later atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		later.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer slow.Close()
	e, _ = newOTLPExporter(slow.URL+"/v1/traces", otlpOptions{Timeout: 2 * time.Second})
	start = time.Now()
	if err := e.ExportSpans(context.Background(), spans); err == nil || later.Load() != 1 || time.Since(start) > time.Second {
		t.Errorf("Retry-After 3600 with a 2 s timeout: %v after %d calls in %s; want the 429 at once", err, later.Load(), time.Since(start))
	}
	if d := retryAfter(time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)); d < 80*time.Second || d > 90*time.Second {
		t.Errorf("Retry-After as an HTTP date 90 s ahead = %s", d)
	}
}

// `config check` refuses a bad OTEL_EXPORTER_OTLP_* variable when tracing
// is on (not only serve), without echoing a header's value; with tracing
// off the variables are not read.
func TestConfigChecksOTLPVariables(t *testing.T) {
	bad := cfgEnv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%ZZsecret-token")
	_, err := loadConfig(cfgFile(t, cfgMinimal().set("tracing.otlp_endpoint", "http://collector:4318")), bad)
	if err == nil || !strings.Contains(err.Error(), "tracing.otlp_endpoint") || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_HEADERS") || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("loadConfig with a bad OTEL_EXPORTER_OTLP_HEADERS = %v; want an error naming it, not the value", err)
	}
	if _, err := loadConfig(cfgFile(t, cfgMinimal()), bad); err != nil {
		t.Errorf("loadConfig without tracing = %v; want the variables unread", err)
	}
	_, err = loadConfig(cfgFile(t, cfgMinimal().set("tracing.otlp_endpoint", "http://user:hunter2@collector:4318/x?y")), cfgEnv())
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an otlp_endpoint with a password: %v; want refused without the password", err)
	}
}
