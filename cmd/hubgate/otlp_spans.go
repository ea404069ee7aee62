package main

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// tracesData is spans in OTLP's protobuf form, grouped by resource and
// instrumentation scope (on the wire the same as the collector's
// ExportTraceServiceRequest).
func tracesData(spans []sdktrace.ReadOnlySpan) *tracepb.TracesData {
	type scopeKey struct{ name, version, schema string }
	out := &tracepb.TracesData{}
	resources := map[string]*tracepb.ResourceSpans{}
	scopes := map[*tracepb.ResourceSpans]map[scopeKey]*tracepb.ScopeSpans{}
	for _, sp := range spans {
		res := sp.Resource()
		rkey := res.Encoded(attribute.DefaultEncoder())
		rs, ok := resources[rkey]
		if !ok {
			rs = &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: keyValues(res.Attributes())}, SchemaUrl: res.SchemaURL()}
			resources[rkey] = rs
			scopes[rs] = map[scopeKey]*tracepb.ScopeSpans{}
			out.ResourceSpans = append(out.ResourceSpans, rs)
		}
		is := sp.InstrumentationScope()
		skey := scopeKey{is.Name, is.Version, is.SchemaURL}
		ss, ok := scopes[rs][skey]
		if !ok {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: is.Name, Version: is.Version}, SchemaUrl: is.SchemaURL}
			scopes[rs][skey] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, span(sp))
	}
	return out
}

// span is one span in OTLP's form.
func span(sp sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := sp.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	s := &tracepb.Span{
		TraceId: tid[:], SpanId: sid[:], TraceState: sc.TraceState().String(),
		Name: sp.Name(), Kind: tracepb.Span_SpanKind(sp.SpanKind()), Flags: uint32(sc.TraceFlags()),
		StartTimeUnixNano: uint64(sp.StartTime().UnixNano()), EndTimeUnixNano: uint64(sp.EndTime().UnixNano()),
		Attributes: keyValues(sp.Attributes()), DroppedAttributesCount: uint32(sp.DroppedAttributes()),
		DroppedEventsCount: uint32(sp.DroppedEvents()), DroppedLinksCount: uint32(sp.DroppedLinks()),
		Status: &tracepb.Status{Message: sp.Status().Description},
	}
	// Flags bits 8 and 9 (OTLP 1.x): whether the parent is known, and
	// whether it was remote (a trusted caller's traceparent).
	s.Flags |= 0x100
	if p := sp.Parent(); p.SpanID().IsValid() {
		pid := p.SpanID()
		s.ParentSpanId = pid[:]
		if p.IsRemote() {
			s.Flags |= 0x200
		}
	}
	switch sp.Status().Code {
	case codes.Ok:
		s.Status.Code = tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		s.Status.Code = tracepb.Status_STATUS_CODE_ERROR
	}
	for _, ev := range sp.Events() {
		s.Events = append(s.Events, &tracepb.Span_Event{Name: ev.Name, TimeUnixNano: uint64(ev.Time.UnixNano()),
			Attributes: keyValues(ev.Attributes), DroppedAttributesCount: uint32(ev.DroppedAttributeCount)})
	}
	for _, l := range sp.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		s.Links = append(s.Links, &tracepb.Span_Link{TraceId: ltid[:], SpanId: lsid[:], TraceState: l.SpanContext.TraceState().String(),
			Attributes: keyValues(l.Attributes), DroppedAttributesCount: uint32(l.DroppedAttributeCount), Flags: uint32(l.SpanContext.TraceFlags())})
	}
	return s
}

// keyValues is attributes in OTLP's form.
func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// anyValue is one attribute value in OTLP's form.
func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), attribute.StringValue)
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.Emit()}}
}

// array is a slice attribute as OTLP's array value.
func array[T any](vs []T, of func(T) attribute.Value) *commonpb.AnyValue {
	arr := &commonpb.ArrayValue{}
	for _, v := range vs {
		arr.Values = append(arr.Values, anyValue(of(v)))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
}
