package main

// Tracing: OpenTelemetry spans exported over OTLP/HTTP when
// tracing.otlp_endpoint is set. The proxy makes the request, upstream and
// hub spans (proxy/trace.go, where the traceparent rule is explained), the
// store decorator the store spans (storeobs.go); this file builds the SDK.

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// newTracing returns the tracer provider tracing.* describes, or nil when
// tracing.otlp_endpoint is empty. It contacts nothing: spans are batched
// and sent in the background (the OTEL_EXPORTER_OTLP_HEADERS,
// _TIMEOUT and _COMPRESSION variables apply); stop it with stopTracing.
func newTracing(cfg *Config, logger zerolog.Logger) (*sdktrace.TracerProvider, error) {
	if cfg.Tracing.OTLPEndpoint == "" {
		return nil, nil
	}
	exp, err := newOTLPExporter(tracesURL(cfg.Tracing.OTLPEndpoint), cfg.OTLP)
	if err != nil {
		return nil, &configError{Key: "tracing.otlp_endpoint", Msg: err.Error()}
	}
	ratio := 0.1
	if cfg.Tracing.SampleRatio != nil {
		ratio = *cfg.Tracing.SampleRatio
	}
	routeOTelErrors(logger)
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		// Parent-based: a request whose trusted caller sent a traceparent is
		// recorded when the caller's trace is; a new trace is recorded at
		// sample_ratio.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", cfg.Tracing.ServiceName),
			attribute.String("service.version", readBuildInfo().Version),
		)),
	), nil
}

// tracesURL is the OTLP/HTTP traces URL of a collector's base URL:
// base + /v1/traces, unless the URL already names that path.
func tracesURL(base string) string {
	u, err := url.Parse(base)
	if err != nil || strings.HasSuffix(u.Path, "/v1/traces") {
		return base
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	return u.String()
}

// tracerProvider is tp as the proxy takes it: nil when tracing is off (a
// nil *TracerProvider in the interface would not be).
func tracerProvider(tp *sdktrace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return nil
	}
	return tp
}

// stopTracing sends the spans still batched and stops the exporter,
// waiting at most 5 s for the collector.
func stopTracing(tp *sdktrace.TracerProvider, logger zerolog.Logger) {
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn().Err(err).Str("event", "tracing.stop").Msg("could not send the last spans")
	}
}

// otelErrors makes routeOTelErrors set the handler once per process.
var otelErrors sync.Once

// routeOTelErrors sends the OpenTelemetry SDK's errors (a collector that
// cannot be reached) to hubgate's log instead of its own stderr logger.
// The SDK has one handler per process: the first instance's logger keeps
// it.
func routeOTelErrors(logger zerolog.Logger) {
	otelErrors.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			logger.Warn().Err(err).Str("event", "tracing.error").Send()
		}))
	})
}
