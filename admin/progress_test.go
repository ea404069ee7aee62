package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// countingStats is admin.Counts over a real store that counts the calls
// and can be made to fail.
type countingStats struct {
	admin.Counts
	calls atomic.Int32
	fail  atomic.Bool
}

func (c *countingStats) Stats(ctx context.Context, now time.Time) (claim.Stats, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return claim.Stats{}, errors.New("store: connection refused")
	}
	return c.Counts.Stats(ctx, now)
}

// The progress gauges come from the store's counts, read at most once per
// max age however often they are scraped; a failing store keeps the last
// numbers, and nothing is reported before the store has answered once.
func TestProgressReadsTheStoreAtMostOncePerAge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	people := []claim.Person{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}, {ID: "3", Email: "c@example.com"}}
	if err := e.db.PutPeople(ctx, people, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	counts := &countingStats{Counts: e.db}
	now := t0
	var logs syncBuffer
	p := admin.NewProgress(counts, 30*time.Second, func() time.Time { return now }, zerolog.New(&logs))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p)
	gather := func() string {
		t.Helper()
		var b strings.Builder
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				b.WriteString(mf.GetName())
				for _, l := range m.GetLabel() {
					b.WriteString(" " + l.GetName() + "=" + l.GetValue())
				}
				fmt.Fprintf(&b, " %v\n", m.GetGauge().GetValue())
			}
		}
		return b.String()
	}

	counts.fail.Store(true)
	if got := gather(); got != "" || counts.calls.Load() != 1 {
		t.Errorf("before the store answered: %q after %d reads; want nothing after 1", got, counts.calls.Load())
	}
	if !strings.Contains(logs.String(), "metrics.progress") {
		t.Errorf("the failed read was not logged: %q", logs.String())
	}
	counts.fail.Store(false)
	now = now.Add(30 * time.Second)
	if got := gather(); got != "hubgate_claims_open kind=org 0\nhubgate_claims_open kind=person 0\nhubgate_directory_persons 3\nhubgate_linked_organizations 0\nhubgate_linked_persons 0\n" {
		t.Errorf("after the store answered:\n%s\nwant the 5 series, 3 persons in the directory", got)
	}
	calls := counts.calls.Load()
	for range 50 {
		gather()
	}
	if counts.calls.Load() != calls {
		t.Errorf("50 scrapes within the age read the store %d more times; want 0", counts.calls.Load()-calls)
	}
	// A link made meanwhile shows after the age, not before.
	if err := e.db.PutLink(ctx, claim.Link{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: "z-1", CreatedAt: t0, Via: "admin", By: "test"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gather(), "hubgate_linked_persons 0") {
		t.Errorf("within the age: %q; want the old count 0", gather())
	}
	now = now.Add(30 * time.Second)
	counts.fail.Store(true)
	if got := gather(); !strings.Contains(got, "hubgate_linked_persons 0") || !strings.Contains(got, "hubgate_directory_persons 3") {
		t.Errorf("store failing after the age: %q; want the last numbers kept", got)
	}
	counts.fail.Store(false)
	now = now.Add(30 * time.Second)
	if got := gather(); !strings.Contains(got, "hubgate_linked_persons 1") || !strings.Contains(got, "hubgate_claims_open kind=person 0") {
		t.Errorf("after the age: %q; want 1 linked person, no open claim", got)
	}
}

// Probes and scrapes stay out of the access log unless LogProbes says.
func TestAccessLogLeavesOutProbes(t *testing.T) {
	for _, logProbes := range []bool{false, true} {
		e := newEnv(t, func(c *admin.Config) {
			c.LogProbes = logProbes
			c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		})
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/mode"} {
			if st, _ := e.do(e.req("GET", p, "")); st != http.StatusOK {
				t.Fatalf("GET %s = %d", p, st)
			}
		}
		logs := e.logs.String()
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if got := strings.Contains(logs, `"path":"`+p+`"`); got != logProbes {
				t.Errorf("LogProbes %v: GET %s logged: %v; want %v", logProbes, p, got, logProbes)
			}
		}
		if !strings.Contains(logs, `"path":"/api/v1/mode"`) {
			t.Errorf("LogProbes %v: GET /api/v1/mode not logged", logProbes)
		}
	}
}
