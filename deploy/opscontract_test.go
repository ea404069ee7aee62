package deploy

import (
	"strings"
	"testing"
	"time"
)

// The operations contract of issue 14 (config keys and metric names agreed
// between cmd/hubgate and deploy/): the alert rules, the dashboard and the
// manifests here are written against it, and the tests check them against
// this copy. Renaming a metric or key means changing it here, in the code
// and in every file that names it, together.

// metricType is how a metric is exposed: a histogram as _bucket, _sum and
// _count series.
type metricType int

const (
	counter metricType = iota
	gauge
	histogram
)

// opsMetric is one metric family of the contract.
type opsMetric struct {
	typ    metricType
	labels []string
	// values lists, per label, the values the contract fixes; a label not
	// listed here takes any value.
	values map[string][]string
}

var hubOps = []string{"exchange", "refresh", "person", "revoke", "verify", "organization"}

// opsMetrics are hubgate's metric families (all prefixed hubgate_).
var opsMetrics = map[string]opsMetric{
	"hubgate_http_requests_total": {typ: counter, labels: []string{"route", "code"}},
	"hubgate_logins_total":        {typ: counter, labels: []string{"outcome"}},
	"hubgate_claims_total":        {typ: counter, labels: []string{"kind", "outcome"}},
	"hubgate_mode":                {typ: gauge, labels: []string{"mode"}, values: map[string][]string{"mode": {"passthrough", "offer", "enforce"}}},
	"hubgate_hub_request_duration_seconds": {typ: histogram, labels: []string{"op", "outcome"},
		values: map[string][]string{"op": hubOps}},
	"hubgate_http_request_duration_seconds": {typ: histogram, labels: []string{"class", "code"},
		values: map[string][]string{"class": {"upstream", "gate", "signin", "claim", "forward_auth", "other"}}},
	"hubgate_http_requests_in_flight": {typ: gauge},
	"hubgate_upstream_slots_capacity": {typ: gauge},
	"hubgate_upstream_slots_in_use":   {typ: gauge},
	"hubgate_upstream_slots_waiting":  {typ: gauge},
	"hubgate_store_operation_duration_seconds": {typ: histogram, labels: []string{"op", "outcome"},
		values: map[string][]string{"outcome": {"ok", "error", "not_found"}}},
	"hubgate_hub_errors_total": {typ: counter, labels: []string{"op", "reason"},
		values: map[string][]string{"op": hubOps, "reason": {"unavailable", "timeout", "rate_limited", "invalid_grant", "bad_response", "other"}}},
	"hubgate_build_info":           {typ: gauge, labels: []string{"version", "revision", "goversion"}},
	"hubgate_linked_persons":       {typ: gauge},
	"hubgate_linked_organizations": {typ: gauge},
	"hubgate_directory_persons":    {typ: gauge},
	"hubgate_claims_open":          {typ: gauge, labels: []string{"kind"}},
	"hubgate_legacy_login_requests_total": {typ: counter, labels: []string{"mode", "method"},
		values: map[string][]string{"mode": {"passthrough", "offer", "enforce"}}},
	"hubgate_signins_unlinked_total": {typ: counter, labels: []string{"policy"},
		values: map[string][]string{"policy": {"deny", "provision", "pass"}}},
	"hubgate_ready": {typ: gauge},
}

// prometheusSeries are the series Prometheus itself makes that the rules
// and the dashboard may use.
var prometheusSeries = map[string]opsMetric{
	"up":     {typ: gauge},
	"ALERTS": {typ: gauge, labels: []string{"alertname", "alertstate", "severity"}, values: map[string][]string{"alertstate": {"pending", "firing"}}},
}

// targetLabels are attached to every scraped series by Prometheus (job,
// instance) and the Prometheus Operator's ServiceMonitor (the rest).
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// seriesOf resolves a series name to its family: a histogram's _bucket (with
// the le label), _sum and _count series, every other family by its name.
func seriesOf(name string) (family string, m opsMetric, extra []string, ok bool) {
	if m, ok := opsMetrics[name]; ok && m.typ != histogram {
		return name, m, nil, true
	}
	if m, ok := prometheusSeries[name]; ok {
		return name, m, nil, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if m, ok := opsMetrics[base]; found && ok && m.typ == histogram {
			if suffix == "_bucket" {
				extra = []string{"le"}
			}
			return base, m, extra, true
		}
	}
	return "", opsMetric{}, nil, false
}

// opsConfigKeys are the configuration keys of the contract that deploy/
// uses or documents.
var opsConfigKeys = []string{
	"metrics.listen",
	"shutdown.delay", "shutdown.timeout",
	"tracing.otlp_endpoint", "tracing.sample_ratio", "tracing.service_name",
	"log.probes",
}

// shutdownDefaults are shutdown.delay and shutdown.timeout when unset.
func shutdownDefaults() (delay, timeout time.Duration) {
	return 10 * time.Second, 30 * time.Second
}

// envFor is the environment variable of a config key.
func envFor(key string) string {
	return "HUBGATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// The contract's keys are cmd/hubgate's: each is a key of its Config
// (so `hubgate config check` accepts the manifests that set them) with the
// environment variable the manifests may use.
func TestOpsContractKeys(t *testing.T) {
	known := knownEnv(t)
	for _, k := range opsConfigKeys {
		if !known[envFor(k)] {
			t.Errorf("contract key %s (%s) is not a key of cmd/hubgate's Config", k, envFor(k))
		}
	}
}
