package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// opsRig is one hubgate wired as `serve` wires it (newInstance, serve),
// in this process, on loopback listeners — public, admin and metrics —
// with the dev hub and a legacy app of the test's own in front of a bolt
// store holding three legacy people (1, 2, 3) and a claim link each for 1
// and 2.
type opsRig struct {
	t                      *testing.T
	hub                    *devhub.Hub
	hubURL                 string
	public, admin, metrics string // base URLs
	token                  string
	claims                 map[string]string // legacy id → claim URL
	logs                   *syncBuffer
	in                     *instance

	// The legacy app answers "user=<X-Hubgate-User>"; GET /slow waits
	// until release is closed, after telling slow.
	slow    chan struct{}
	release chan struct{}
	mu      sync.Mutex // guards seen
	seen    []http.Header
}

const opsToken = "ops-admin-token-0123456789abcdef"

func startOpsRig(t *testing.T, edit func(*Config)) *opsRig {
	t.Helper()
	rig := &opsRig{t: t, token: opsToken, claims: map[string]string{}, logs: &syncBuffer{},
		slow: make(chan struct{}, 16), release: make(chan struct{})}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rig.mu.Lock()
		rig.seen = append(rig.seen, r.Header.Clone())
		rig.mu.Unlock()
		if r.URL.Path == "/slow" {
			rig.slow <- struct{}{}
			select {
			case <-rig.release:
			case <-r.Context().Done():
			}
		}
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-Hubgate-User"))
	}))
	t.Cleanup(up.Close)
	var lns [3]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	rig.public, rig.admin, rig.metrics = "http://"+lns[0].Addr().String(), "http://"+lns[1].Addr().String(), "http://"+lns[2].Addr().String()
	hub, err := devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{ClientID: "ops_test", ClientSecret: "ops-secret", Name: "ops_test",
		RedirectURIs: []string{rig.public + "/_hubgate/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	rig.hub, rig.hubURL = hub, hubSrv.URL

	cfg := &Config{Listen: lns[0].Addr().String(), PublicURL: rig.public, Upstream: up.URL,
		Store: "bolt://" + filepath.Join(t.TempDir(), "hubgate.db")}
	cfg.Provider.Kind, cfg.Provider.URL, cfg.Provider.ClientID, cfg.Provider.ClientSecret = "zaikio", hubSrv.URL, "ops_test", "ops-secret"
	cfg.Session.Secrets = []string{base64.StdEncoding.EncodeToString([]byte("ops-test-session-secret-32-bytes"))}
	cfg.Admin.Listen, cfg.Admin.Token = lns[1].Addr().String(), opsToken
	cfg.Metrics.Listen = lns[2].Addr().String()
	cfg.Legacy.LoginPaths = []string{"/login"}
	noDelay := duration(0)
	cfg.Shutdown.Delay = &noDelay
	if edit != nil {
		edit(cfg)
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	logger := newLogger(cfg, rig.logs)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := newHubClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(cfg, st, hc, logger)
	if err != nil {
		t.Fatal(err)
	}
	people := []claim.Person{{ID: "1", Email: "frank@example.com", Name: "Frank"}, {ID: "2", Email: "erika@example.com", Name: "Erika"},
		{ID: "3", Email: "max@example.com", Name: "Max"}}
	if err := in.store.PutPeople(ctx, people, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2"} {
		is, err := in.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: id, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		rig.claims[id] = rig.public + "/_hubgate/claim/" + is.Token.Reveal()
	}
	rig.in = in
	done := make(chan error, 1)
	go func() {
		done <- in.serve(ctx, lns[0], lns[1], server{name: "metrics", ln: lns[2], handler: metricsHandler(in.metrics)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
		if t.Failed() {
			t.Logf("hubgate log:\n%s", rig.logs)
		}
	})
	within(t, 10*time.Second, "hubgate to answer", func() bool {
		resp, err := http.Get(rig.public + "/_hubgate/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return rig
}

// browser is a client with its own cookie jar.
func (rig *opsRig) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second}
}

// do sends a request and returns the status and body of the final answer.
func (rig *opsRig) do(c *http.Client, method, target string, form url.Values, header ...string) (int, string) {
	rig.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", rig.public)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		rig.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signIn signs c in as the Zaikio person; the dev hub approves at once.
func (rig *opsRig) signIn(c *http.Client, person string, header ...string) (int, string) {
	rig.t.Helper()
	rig.hub.AutoApprove(person, "")
	return rig.do(c, "GET", rig.public+"/_hubgate/login?rd=%2F", nil, header...)
}

// claim redeems legacy person id's claim link as the Zaikio person in c.
func (rig *opsRig) claim(c *http.Client, id, person string) {
	rig.t.Helper()
	st, page := rig.do(c, "GET", rig.claims[id], nil)
	m := csrfFieldRE.FindStringSubmatch(page)
	if st != http.StatusOK || m == nil {
		rig.t.Fatalf("claim page of %s = %d without a form\n%s", id, st, page)
	}
	rig.hub.AutoApprove(person, "")
	if st, page := rig.do(c, "POST", rig.claims[id], url.Values{"csrf": {m[1]}}); st != http.StatusOK || !strings.Contains(page, "Frank") {
		rig.t.Fatalf("claim of %s as %s = %d; want the success page naming Frank\n%s", id, person, st, page)
	}
}

// adminDo calls the admin API with the operator token.
func (rig *opsRig) adminDo(method, path, body string) int {
	rig.t.Helper()
	req, _ := http.NewRequest(method, rig.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+rig.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// upstreamSaw returns the headers of the requests the legacy app got.
func (rig *opsRig) upstreamSaw() []http.Header {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return append([]http.Header(nil), rig.seen...)
}

// series is one scrape: value by `name{label="value",…}` (labels sorted);
// histograms as name_count, name_sum and name_bucket with le.
type series map[string]float64

// scrape reads target (a /metrics URL, no token) and parses it.
func scrape(t *testing.T, target string) series {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", target, resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", target, err, body)
	}
	out := series{}
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
				h := m.GetHistogram()
				out[auditKey(name+"_count", labels...)] = float64(h.GetSampleCount())
				out[auditKey(name+"_sum", labels...)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[auditKey(name+"_bucket", append(labels, "le", fmt.Sprint(b.GetUpperBound()))...)] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}
