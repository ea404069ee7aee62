package proxy

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (Config.TracerProvider; off when nil, and then none of this
// runs). Each request on the public listener gets a server span; a request
// forwarded to the upstream a client span whose W3C traceparent the
// upstream receives; hub calls get client spans (timedHub).
//
// A client's traceparent is believed only from trusted_proxies, like its
// X-Forwarded-For. A trace id chosen by anyone would be harmless, but the
// sampled flag decides what the parent-based sampler records: any client
// could make every one of its requests sampled and so multiply the spans
// exported, or stitch its requests into another trace. From anyone else
// the request starts a trace of its own (sampled at tracing.sample_ratio),
// and the traceparent and tracestate it sent are replaced by ours on the
// way to the upstream.

// traceContext reads and writes W3C traceparent and tracestate headers.
var traceContext propagation.TraceContext

// tracerName names the proxy's spans' instrumentation scope.
const tracerName = "github.com/hubgate/hubgate/proxy"

// startSpan begins r's server span, as the child of the traceparent a
// trusted proxy sent, and returns r carrying it.
func (s *Server) startSpan(r *http.Request) (*http.Request, trace.Span) {
	ctx := r.Context()
	if s.trusted(remoteIP(r)) {
		ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	return r.WithContext(ctx), span
}

// endSpan names the server span after the route that answered, records
// what the access log records (the path with claim tokens masked, never
// the query), and ends it.
func (s *Server) endSpan(span trace.Span, r *http.Request, c class, status int) {
	if span.IsRecording() {
		route := r.Pattern
		if route == "" {
			route = r.Method + " " + classNames[c]
		}
		span.SetName(route)
		span.SetAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", route),
			attribute.String("url.path", logPath(r)),
			attribute.Int("http.response.status_code", status),
			attribute.String("hubgate.class", classNames[c]),
			attribute.String("hubgate.request_id", requestID(r)),
		)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	span.End()
}

// tracedTransport gives each request to the upstream a client span and
// sends its context along as traceparent, replacing whatever the client
// sent (startSpan says why).
type tracedTransport struct {
	next   http.RoundTripper
	tracer trace.Tracer
}

func (t tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), "upstream", trace.WithSpanKind(trace.SpanKindClient))
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	delete(out.Header, "Traceparent")
	delete(out.Header, "Tracestate")
	traceContext.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.next.RoundTrip(out)
	switch {
	case err != nil:
		span.SetStatus(codes.Error, "upstream unreachable")
	case span.IsRecording():
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
	}
	span.End()
	return resp, err
}
