package main

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// otlpReceiver is an OpenTelemetry collector's OTLP/HTTP traces endpoint:
// it decodes what hubgate exports and keeps the spans with their
// service.name.
type otlpReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex // guards spans and service
	spans   []*tracepb.Span
	service []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s (%s); want POST /v1/traces, protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					rc.service = append(rc.service, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// trace returns the received spans of the trace id (hex).
func (rc *otlpReceiver) trace(id string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.GetTraceId()) == id {
			out = append(out, s)
		}
	}
	return out
}

// spanNamed finds the span called name.
func spanNamed(spans []*tracepb.Span, name string) *tracepb.Span {
	for _, s := range spans {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

func spanNames(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.GetName())
	}
	return out
}

// TestTracingFollowsTrustedTraceparent runs hubgate with tracing on (an
// OTLP/HTTP receiver of the test's own; sample_ratio 0, so that only a
// caller's sampled flag records a trace) and trusted_proxies 127.0.0.2.
// A request from the trusted proxy with a sampled traceparent is traced in
// that trace — server span, upstream span — and the legacy app receives a
// traceparent of the same trace whose parent is the upstream span; a
// sign-in sent that way has hub and store spans in its trace. The same
// header from any other address is not believed: no span of that trace is
// recorded, and the legacy app gets another trace id.
func TestTracingFollowsTrustedTraceparent(t *testing.T) {
	rc := newOTLPReceiver(t)
	rig := startOpsRig(t, func(c *Config) {
		c.Tracing.OTLPEndpoint = rc.srv.URL
		zero := 0.0
		c.Tracing.SampleRatio = &zero
		c.Tracing.ServiceName = "hubgate-trace-test"
		c.TrustedProxies = []string{"127.0.0.2"}
	})
	fromProxy := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
	t.Cleanup(fromProxy.CloseIdleConnections)
	jar, _ := cookiejar.New(nil)
	proxied := &http.Client{Transport: fromProxy, Jar: jar, Timeout: 15 * time.Second}
	const (
		trusted   = "4bf92f3577b34da6a3ce929d0e0e4736"
		signin    = "5cf92f3577b34da6a3ce929d0e0e4737"
		untrusted = "6df92f3577b34da6a3ce929d0e0e4738"
		parent    = "00f067aa0ba902b7"
	)
	tp := func(trace string) string { return "00-" + trace + "-" + parent + "-01" }

	if st, body := rig.do(proxied, "GET", rig.public+"/reports", nil, "Traceparent", tp(trusted)); st != http.StatusOK || body != "user=" {
		t.Fatalf("GET /reports from the trusted proxy = %d %q", st, body)
	}
	saw := rig.upstreamSaw()
	upTP := saw[len(saw)-1].Get("Traceparent")
	if !strings.HasPrefix(upTP, "00-"+trusted+"-") || strings.Contains(upTP, parent) {
		t.Errorf("the legacy app got traceparent %q; want trace %s with hubgate's span as parent", upTP, trusted)
	}

	// A sign-in, every request of it from the trusted proxy in one trace.
	if st := rig.adminDo("PUT", "/api/v1/links/persons/1", `{"zaikio_id":"`+devhub.FrankID+`"}`); st >= 300 {
		t.Fatalf("link 1 to Frank = %d", st)
	}
	if st, body := rig.signIn(proxied, devhub.FrankID, "Traceparent", tp(signin)); st != http.StatusOK || body != "user=1" {
		t.Fatalf("sign-in from the trusted proxy = %d %q", st, body)
	}

	// The same header from elsewhere.
	if st, _ := rig.do(&http.Client{Timeout: 15 * time.Second}, "GET", rig.public+"/reports", nil, "Traceparent", tp(untrusted)); st != http.StatusOK {
		t.Fatalf("GET /reports = %d", st)
	}
	saw = rig.upstreamSaw()
	if got := saw[len(saw)-1].Get("Traceparent"); strings.Contains(got, untrusted) || !strings.HasPrefix(got, "00-") {
		t.Errorf("from an untrusted client the legacy app got traceparent %q; want one of hubgate's own traces", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rig.in.tracing.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	spans := rc.trace(trusted)
	server, up := spanNamed(spans, "GET upstream"), spanNamed(spans, "upstream")
	switch {
	case server == nil || up == nil:
		t.Errorf("trace %s has spans %q; want the server span \"GET upstream\" and the client span \"upstream\"", trusted, spanNames(spans))
	default:
		if hex.EncodeToString(server.GetParentSpanId()) != parent || server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("server span: parent %x, kind %v; want the proxy's span %s, server", server.GetParentSpanId(), server.GetKind(), parent)
		}
		if string(up.GetParentSpanId()) != string(server.GetSpanId()) || up.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("upstream span: parent %x, kind %v; want the server span %x, client", up.GetParentSpanId(), up.GetKind(), server.GetSpanId())
		}
		if want := "00-" + trusted + "-" + hex.EncodeToString(up.GetSpanId()) + "-01"; upTP != want {
			t.Errorf("the legacy app got traceparent %q; want %q (the upstream span)", upTP, want)
		}
	}
	spans = rc.trace(signin)
	for _, name := range []string{"GET /_hubgate/login", "GET /_hubgate/callback", "hub exchange", "hub verify", "hub person", "store link_by_zaikio"} {
		if spanNamed(spans, name) == nil {
			t.Errorf("sign-in trace %s has spans %q; want %q among them", signin, spanNames(spans), name)
		}
	}
	if spans := rc.trace(untrusted); len(spans) > 0 {
		t.Errorf("the untrusted client's trace %s has spans %q; want none (its sampled flag is not believed)", untrusted, spanNames(spans))
	}
	rc.mu.Lock()
	services := rc.service
	rc.mu.Unlock()
	for _, s := range services {
		if s != "hubgate-trace-test" {
			t.Errorf("service.name %q; want tracing.service_name", s)
		}
	}
}

// tracing.otlp_endpoint is the collector's base URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT is: the traces path is appended once.
func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://otel-collector:4318":              "http://otel-collector:4318/v1/traces",
		"http://otel-collector:4318/":             "http://otel-collector:4318/v1/traces",
		"https://otel.example.com/otlp":           "https://otel.example.com/otlp/v1/traces",
		"https://otel.example.com/otlp/v1/traces": "https://otel.example.com/otlp/v1/traces",
	} {
		if got := tracesURL(in); got != want {
			t.Errorf("tracesURL(%q) = %q; want %q", in, got, want)
		}
	}
}
