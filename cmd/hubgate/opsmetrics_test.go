package main

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// msTimestampRE matches a log line's RFC 3339 time with milliseconds.
var msTimestampRE = regexp.MustCompile(`"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)"`)

// TestOpsMetricsAfterTraffic scrapes the metrics listener (no token) of a
// freshly started hubgate after real traffic — a claim, a signed-in
// request, a sign-in of an unlinked person, a sign-in the hub fails (its
// token endpoint answers 503, a dev hub knob), an anonymous request the
// gate sends to sign in under enforce, a legacy login post, and two
// requests held by a slow legacy app with one upstream slot — and checks
// the operations contract's series: duration histograms by class, in
// flight and slots while requests wait and after, store operations, hub
// errors, the unlinked and legacy-login counters, build info, readiness
// and the migration gauges.
func TestOpsMetricsAfterTraffic(t *testing.T) {
	rig := startOpsRig(t, func(c *Config) { c.UpstreamMaxConns = 1 })
	metricsURL := rig.metrics + "/metrics"
	for _, p := range []string{"/", "/readyz", "/healthz", "/api/v1/mode", "/metrics/x"} {
		resp, err := http.Get(rig.metrics + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("metrics listener GET %s = %d; want 404 (it serves /metrics only)", p, resp.StatusCode)
		}
	}

	// Passthrough: an anonymous request; Frank claims legacy person 1 and
	// then browses signed in.
	anon := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if st, body := rig.do(anon, "GET", rig.public+"/reports", nil); st != http.StatusOK || body != "user=" {
		t.Fatalf("anonymous GET /reports = %d %q", st, body)
	}
	rig.claim(rig.browser(), "1", devhub.FrankID)
	frank := rig.browser()
	if st, body := rig.signIn(frank, devhub.FrankID); st != http.StatusOK || body != "user=1" {
		t.Fatalf("Frank's sign-in = %d %q; want the legacy app as user 1", st, body)
	}
	// Erika has no link: the deny policy's page.
	if st, _ := rig.signIn(rig.browser(), devhub.ErikaID); st != http.StatusForbidden {
		t.Fatalf("Erika's sign-in = %d; want 403 (no linked account)", st)
	}
	// The hub's token endpoint fails once.
	knob := url.Values{"endpoint": {"token"}, "status": {"503"}}
	if resp, err := http.PostForm(rig.hubURL+"/__dev/fail", knob); err != nil || resp.StatusCode >= 400 {
		t.Fatalf("dev hub knob: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if st, _ := rig.signIn(rig.browser(), devhub.MaxID); st != http.StatusServiceUnavailable {
		t.Fatalf("sign-in while the hub fails = %d; want 503", st)
	}
	// Enforce: the gate sends an anonymous GET to sign in and refuses a
	// legacy login post.
	if st := rig.adminDo("PUT", "/api/v1/mode", `{"mode":"enforce"}`); st != http.StatusOK {
		t.Fatalf("PUT /api/v1/mode = %d", st)
	}
	if st, _ := rig.do(anon, "GET", rig.public+"/reports", nil); st != http.StatusFound {
		t.Fatalf("anonymous GET /reports in enforce = %d; want 302", st)
	}
	if st, _ := rig.do(anon, "POST", rig.public+"/login", url.Values{"user": {"frank"}}); st != http.StatusForbidden {
		t.Fatalf("legacy login POST in enforce = %d; want 403", st)
	}

	// Two slow requests with one upstream slot: one holds it, one waits.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if st, body := rig.do(frank, "GET", rig.public+"/slow", nil); st != http.StatusOK || body != "user=1" {
				t.Errorf("GET /slow = %d %q", st, body)
			}
		})
	}
	<-rig.slow
	var held series
	within(t, 5*time.Second, "one request waiting for the slot", func() bool {
		held = scrape(t, metricsURL)
		return held[auditKey("hubgate_upstream_slots_waiting")] == 1
	})
	for _, w := range []struct {
		key  string
		want float64
	}{
		{auditKey("hubgate_upstream_slots_capacity"), 1},
		{auditKey("hubgate_upstream_slots_in_use"), 1},
		{auditKey("hubgate_http_requests_in_flight"), 2},
	} {
		if got := held[w.key]; got != w.want {
			t.Errorf("while two requests are held: %s = %v; want %v", w.key, got, w.want)
		}
	}
	close(rig.release)
	wg.Wait()

	m := scrape(t, metricsURL)
	for _, w := range []struct {
		key  string
		want float64
	}{
		{auditKey("hubgate_upstream_slots_in_use"), 0},
		{auditKey("hubgate_upstream_slots_waiting"), 0},
		{auditKey("hubgate_http_requests_in_flight"), 0},
		{auditKey("hubgate_ready"), 1},
		// Migration: 3 people imported, 2 claim links, 1 redeemed.
		{auditKey("hubgate_directory_persons"), 3},
		{auditKey("hubgate_linked_persons"), 1},
		{auditKey("hubgate_linked_organizations"), 0},
		{auditKey("hubgate_claims_open", "kind", "person"), 1},
		{auditKey("hubgate_claims_open", "kind", "org"), 0},
		// The anonymous request, Frank's landing after sign-in, two slow ones.
		{auditKey("hubgate_http_request_duration_seconds_count", "class", "upstream", "code", "200"), 4},
		{auditKey("hubgate_http_request_duration_seconds_count", "class", "gate", "code", "302"), 1},
		{auditKey("hubgate_http_request_duration_seconds_count", "class", "gate", "code", "403"), 1},
		{auditKey("hubgate_http_request_duration_seconds_count", "class", "claim", "code", "200"), 1},
		{auditKey("hubgate_http_request_duration_seconds_count", "class", "signin", "code", "503"), 1},
		{auditKey("hubgate_legacy_login_requests_total", "mode", "enforce", "method", "POST"), 1},
		{auditKey("hubgate_signins_unlinked_total", "policy", "deny"), 1},
		{auditKey("hubgate_hub_errors_total", "op", "exchange", "reason", "unavailable"), 1},
		{auditKey("hubgate_logins_total", "outcome", "signed_in"), 1},
		{auditKey("hubgate_claims_total", "kind", "person", "outcome", "ok"), 1},
		{auditKey("hubgate_store_operation_duration_seconds_count", "op", "redeem_claim", "outcome", "ok"), 1},
	} {
		got, ok := m[w.key]
		if !ok || got != w.want {
			t.Errorf("%s = %v (present: %v); want %v", w.key, got, ok, w.want)
		}
	}
	// Erika's sign-in looked for her link (so did the claim, for Frank's).
	if k := auditKey("hubgate_store_operation_duration_seconds_count", "op", "link_by_zaikio", "outcome", "not_found"); m[k] < 1 {
		t.Errorf("%s = %v; want ≥ 1", k, m[k])
	}
	// The slow requests took ≥ the time the test held them: their buckets
	// below that stay empty.
	upstream := func(le string) float64 {
		return m[auditKey("hubgate_http_request_duration_seconds_bucket", "class", "upstream", "code", "200", "le", le)]
	}
	if upstream("+Inf") != 4 || upstream("30") != 4 || upstream("0.001") > 2 {
		t.Errorf("upstream buckets: ≤1 ms %v, ≤30 s %v, +Inf %v; want the 4 requests spread, the 2 slow ones above 1 ms", upstream("0.001"), upstream("30"), upstream("+Inf"))
	}
	var build []string
	for k, v := range m {
		if strings.HasPrefix(k, "hubgate_build_info{") {
			build = append(build, k)
			if v != 1 || !strings.Contains(k, `goversion="go`) || !strings.Contains(k, `version="`) || !strings.Contains(k, `revision="`) {
				t.Errorf("%s = %v; want 1 with version, revision and goversion", k, v)
			}
		}
	}
	sort.Strings(build)
	if len(build) != 1 {
		t.Errorf("build_info series: %q; want exactly one", build)
	}
	// Log lines carry millisecond timestamps.
	for _, l := range strings.Split(rig.logs.String(), "\n") {
		if strings.Contains(l, `"event":"request"`) && !msTimestampRE.MatchString(l) {
			t.Errorf("log line without a millisecond timestamp: %s", l)
		}
	}
	// The admin listener serves the same registry.
	if a := auditScrape(t, devRun{admin: rig.admin, token: rig.token}); a[auditKey("hubgate_linked_persons")] != 1 {
		t.Errorf("admin /metrics: hubgate_linked_persons = %v; want 1", a[auditKey("hubgate_linked_persons")])
	}
}
