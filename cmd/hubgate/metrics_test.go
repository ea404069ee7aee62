package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// auditSeries is one scrape of /metrics: value by `name{label="value",…}`
// (labels sorted; histograms as name_count).
type auditSeries map[string]float64

func auditKey(name string, labels ...string) string {
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, labels[i]+"="+`"`+labels[i+1]+`"`)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// auditScrape reads /metrics on the admin listener with the bearer token
// and parses the Prometheus text format.
func auditScrape(t *testing.T, d devRun) auditSeries {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("admin GET /metrics = %d %q; want 200 text/plain\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	out := auditSeries{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[auditKey(name, labels...)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[auditKey(name, labels...)] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[auditKey(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// auditChoose posts the dev hub's chooser form for person on hubPage (the
// authorize page) and returns the client's final response.
func auditChoose(t *testing.T, c *http.Client, d devRun, hubPage, person string) (*http.Response, string) {
	t.Helper()
	forms := strings.Split(hubPage, `<form method="post" action="/oauth/authorize" class="person">`)
	choice := url.Values{"person": {person}}
	found := false
	for _, f := range forms[1:] {
		f = f[:strings.Index(f, "</form>")]
		if !strings.Contains(f, person) {
			continue
		}
		for _, h := range hiddenRE.FindAllStringSubmatch(f, -1) {
			choice.Set(h[1], h[2])
		}
		found = true
	}
	if !found {
		t.Fatalf("no chooser form for %s on the dev hub's page:\n%s", person, hubPage)
	}
	req, _ := http.NewRequest(http.MethodPost, d.hub+"/oauth/authorize", strings.NewReader(choice.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", d.hub)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestMetricsCountTraffic runs `hubgate dev` (the real wiring of
// proxy metrics into the admin listener), sends proxied requests, a dead
// claim link, a whole claim, a whole sign-in and a mode switch through it,
// and checks that GET /metrics on the admin listener counts exactly those
// by route and status, the claim and the sign-in by outcome, the hub
// exchanges, and shows the current mode.
func TestMetricsCountTraffic(t *testing.T) {
	d := startDev(t)
	m0 := auditScrape(t, d)
	for mode, want := range map[string]float64{"passthrough": 1, "offer": 0, "enforce": 0} {
		if got, ok := m0[auditKey("hubgate_mode", "mode", mode)]; !ok || got != want {
			t.Errorf("before: hubgate_mode{mode=%q} = %v (present %v); want %v", mode, got, ok, want)
		}
	}
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(c *http.Client, method, target string, form url.Values) (int, string, *url.URL) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", d.public)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Request.URL
	}

	// Two proxied requests.
	for _, p := range []string{"/", "/reports"} {
		if st, _, _ := status(plain, "GET", d.public+p, nil); st != http.StatusOK {
			t.Fatalf("GET %s through hubgate = %d; want 200 from the demo app", p, st)
		}
	}
	// A well-formed but unknown claim link.
	if st, _, _ := status(plain, "GET", d.public+"/_hubgate/claim/"+strings.Repeat("A", 43), nil); st != http.StatusNotFound {
		t.Fatalf("unknown claim link = %d; want 404", st)
	}
	// A claim: Alice's printed link, linked to Frank at the dev hub.
	jar, _ := cookiejar.New(nil)
	claimer := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	st, page, _ := status(claimer, "GET", d.claims["1"], nil)
	m := csrfFieldRE.FindStringSubmatch(page)
	if st != http.StatusOK || m == nil {
		t.Fatalf("claim page = %d without a form\n%s", st, page)
	}
	st, hubPage, at := status(claimer, "POST", d.claims["1"], url.Values{"csrf": {m[1]}})
	if st != http.StatusOK || !strings.HasPrefix(at.String(), d.hub+"/oauth/authorize") {
		t.Fatalf("after confirming the claim: %d at %s; want the dev hub's page", st, at)
	}
	resp, done := auditChoose(t, claimer, d, hubPage, devhub.FrankID)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), d.public+"/_hubgate/linked") || !strings.Contains(done, "Frank") {
		t.Fatalf("claim callback: %d at %s; want the success page naming Frank\n%s", resp.StatusCode, resp.Request.URL, done)
	}
	// A sign-in of the now linked Frank in another browser.
	jar2, _ := cookiejar.New(nil)
	signer := &http.Client{Jar: jar2, Timeout: 10 * time.Second}
	st, hubPage, at = status(signer, "GET", d.public+"/_hubgate/login?rd=%2F", nil)
	if st != http.StatusOK || !strings.HasPrefix(at.String(), d.hub+"/oauth/authorize") {
		t.Fatalf("sign-in start: %d at %s; want the dev hub's page", st, at)
	}
	resp, home := auditChoose(t, signer, d, hubPage, devhub.FrankID)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != d.public+"/" || !strings.Contains(home, "as legacy user <b>1</b>") {
		t.Fatalf("after sign-in: %d at %s; want the legacy home as legacy user 1\n%s", resp.StatusCode, resp.Request.URL, home)
	}
	// Switch to enforce through the admin API; an anonymous request is then
	// sent to sign-in by the gate.
	req, _ := http.NewRequest(http.MethodPut, d.admin+"/api/v1/mode", strings.NewReader(`{"mode":"enforce"}`))
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/mode enforce = %v, %v", r, err)
	} else {
		r.Body.Close()
	}
	if st, _, _ := status(plain, "GET", d.public+"/reports", nil); st != http.StatusFound {
		t.Fatalf("anonymous GET /reports in enforce = %d; want 302", st)
	}

	m1 := auditScrape(t, d)
	delta := func(key string) float64 { return m1[key] - m0[key] }
	for _, w := range []struct {
		key  string
		want float64
	}{
		// Proxied: /, /reports, and / after the sign-in; then the gate's 302.
		{auditKey("hubgate_http_requests_total", "route", "upstream", "code", "200"), 3},
		{auditKey("hubgate_http_requests_total", "route", "upstream", "code", "302"), 1},
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/claim/{token}", "code", "404"), 1},
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/claim/{token}", "code", "200"), 1},
		{auditKey("hubgate_http_requests_total", "route", "POST /_hubgate/claim/{token}", "code", "302"), 1},
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/callback", "code", "303"), 1}, // claim: post/redirect/get
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/linked", "code", "200"), 1},   // claim success page
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/callback", "code", "302"), 1}, // sign-in
		{auditKey("hubgate_http_requests_total", "route", "GET /_hubgate/login", "code", "302"), 1},
		{auditKey("hubgate_logins_total", "outcome", "signed_in"), 1},
		{auditKey("hubgate_claims_total", "kind", "person", "outcome", "ok"), 1},
		{auditKey("hubgate_hub_request_duration_seconds_count", "op", "exchange", "outcome", "ok"), 2},
	} {
		if _, ok := m1[w.key]; !ok {
			t.Errorf("%s missing from /metrics", w.key)
			continue
		}
		if got := delta(w.key); got != w.want {
			t.Errorf("%s rose by %v; want %v", w.key, got, w.want)
		}
	}
	var seen []string
	for k := range m1 {
		if strings.HasPrefix(k, "hubgate_http_requests_total{") && delta(k) != 0 {
			seen = append(seen, k)
		}
	}
	if len(seen) != 9 {
		sort.Strings(seen)
		t.Errorf("request series that changed: %d; want exactly the 9 above:\n%s", len(seen), strings.Join(seen, "\n"))
	}
	for mode, want := range map[string]float64{"passthrough": 0, "offer": 0, "enforce": 1} {
		if got := m1[auditKey("hubgate_mode", "mode", mode)]; got != want {
			t.Errorf("after the switch: hubgate_mode{mode=%q} = %v; want %v", mode, got, want)
		}
	}
	for k, v := range m1 {
		if strings.HasPrefix(k, "hubgate_logins_total{") && !strings.Contains(k, "signed_in") && v != 0 {
			t.Errorf("%s = %v; no sign-in failed", k, v)
		}
	}
}
