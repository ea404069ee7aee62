package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// logLines are the access-log lines of logs, by path.
func logLines(t *testing.T, logs string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["event"] != "request" {
			continue
		}
		p, _ := m["path"].(string)
		out[p] = append(out[p], m)
	}
	return out
}

// The access-log line names the person and legacy user a request was
// forwarded as, the host, the user agent (cut at 256 bytes) and the time
// to the upstream's response headers; requests answered by hubgate have
// no upstream time. Liveness probes are left out unless LogProbes.
func TestAccessLogFields(t *testing.T) {
	e := newEnv(t, nil)
	e.linkDirect(claim.KindPerson, "42", devhub.FrankID)
	b := e.browser()
	b.follow(b.login(devhub.FrankID, "/"))
	longUA := strings.Repeat("x", 300)
	b.upstreamHeaders("/reports", "User-Agent", longUA)
	if r := b.get("/_hubgate/healthz"); r.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d", r.StatusCode)
	}
	e.browser().upstreamHeaders("/public")

	lines := logLines(t, e.logs.String())
	if len(lines["/_hubgate/healthz"]) != 0 {
		t.Errorf("the liveness probe was logged: %v", lines["/_hubgate/healthz"])
	}
	if len(lines["/reports"]) != 1 {
		t.Fatalf("log lines of /reports: %v; want 1", lines["/reports"])
	}
	l := lines["/reports"][0]
	for k, want := range map[string]any{"person": devhub.FrankID, "user": "42", "host": strings.TrimPrefix(e.srv.URL, "http://"),
		"user_agent": longUA[:256], "status": 200.0} {
		if l[k] != want {
			t.Errorf("/reports line %s = %v; want %v", k, l[k], want)
		}
	}
	if up, _ := l["upstream_ms"].(float64); up <= 0 || up > l["dur_ms"].(float64) {
		t.Errorf("/reports upstream_ms = %v (dur_ms %v); want > 0 and ≤ dur_ms", l["upstream_ms"], l["dur_ms"])
	}
	anon := lines["/public"]
	if len(anon) != 1 || anon[0]["person"] != nil || anon[0]["user"] != nil || anon[0]["upstream_ms"] == nil {
		t.Errorf("anonymous /public line: %v; want upstream_ms and no person or user", anon)
	}
	if cb := lines["/_hubgate/callback"]; len(cb) != 1 || cb[0]["upstream_ms"] != nil {
		t.Errorf("callback line: %v; want one, without upstream_ms (hubgate answered it)", cb)
	}

	e2 := newEnv(t, func(c *proxy.Config) { c.LogProbes = true })
	e2.browser().get("/_hubgate/healthz")
	if got := logLines(t, e2.logs.String())["/_hubgate/healthz"]; len(got) != 1 {
		t.Errorf("LogProbes: healthz lines %v; want 1", got)
	}
}
