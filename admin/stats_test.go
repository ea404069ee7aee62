package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

func TestStats(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var people []claim.Person
	for i := range 8 {
		people = append(people, claim.Person{ID: fmt.Sprintf("p%d", i), Orgs: []string{fmt.Sprintf("o%d", i%4)}})
	}
	if err := e.db.PutPeople(ctx, people, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	links := []struct {
		kind claim.Kind
		at   time.Time
	}{
		{claim.KindPerson, t0},                        // today
		{claim.KindPerson, t0.Add(-15 * time.Hour)},   // today, 00:00
		{claim.KindPerson, t0.Add(-16 * time.Hour)},   // yesterday, 23:00
		{claim.KindOrg, t0.Add(-day)},                 // yesterday
		{claim.KindPerson, t0.Add(-29 * day)},         // the oldest day counted
		{claim.KindOrg, t0.Add(-30 * day)},            // too old
		{claim.KindPerson, t0.Add(-400 * day)},        // far too old
		{claim.KindPerson, t0.Add(10 * time.Hour)},    // tomorrow (clock skew): not counted
		{claim.KindOrg, t0.Add(-3*day - time.Hour)},   // 3 days ago
		{claim.KindOrg, t0.Add(-3*day + time.Minute)}, // 3 days ago
	}
	for i, l := range links {
		err := e.db.PutLink(ctx, claim.Link{Kind: l.kind, LegacyID: fmt.Sprintf("x%d", i), ZaikioID: zid(i), CreatedAt: l.at, Via: "admin"})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		e.issue(fmt.Sprintf(`{"kind":"person","legacy_id":"c%d"}`, i))
	}
	is := e.issue(`{"kind":"person","legacy_id":"c9"}`)
	e.call("DELETE", "/api/v1/claims/"+is.ID, "", http.StatusNoContent, nil)

	var got admin.Stats
	e.call("GET", "/api/v1/stats", "", http.StatusOK, &got)
	wantStats := claim.Stats{People: 8, Orgs: 4, LinkedPersons: 6, LinkedOrgs: 4, ClaimsOpen: 4, ClaimsRevoked: 1}
	if diff := cmp.Diff(wantStats, got.Stats); diff != "" {
		t.Errorf("stats mismatch (-want +got):\n%s", diff)
	}
	if want := (admin.Percent{PersonsLinked: 75, OrgsLinked: 100, ClaimsUsed: 0}); got.Percent != want {
		t.Errorf("percent = %+v; want %+v", got.Percent, want)
	}
	if len(got.LinksByDay) != 30 {
		t.Fatalf("links_by_day has %d days; want 30", len(got.LinksByDay))
	}
	counted := map[string]admin.DayLinks{}
	for i, d := range got.LinksByDay {
		if want := t0.AddDate(0, 0, i-29).Format(time.DateOnly); d.Date != want {
			t.Errorf("links_by_day[%d].date = %s; want %s", i, d.Date, want)
		}
		if d.Persons != 0 || d.Orgs != 0 {
			counted[d.Date] = d
		}
	}
	want := map[string]admin.DayLinks{
		"2026-11-25": {Date: "2026-11-25", Persons: 2},
		"2026-11-24": {Date: "2026-11-24", Persons: 1, Orgs: 1},
		"2026-11-22": {Date: "2026-11-22", Orgs: 2},
		"2026-10-27": {Date: "2026-10-27", Persons: 1},
	}
	if diff := cmp.Diff(want, counted); diff != "" {
		t.Errorf("links_by_day mismatch (-want +got):\n%s", diff)
	}

	// The raw JSON has the counts at the top level, as claim.Stats names them.
	b := e.call("GET", "/api/v1/stats", "", http.StatusOK, nil)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"people", "orgs", "linked_persons", "linked_orgs", "claims_open", "claims_used", "claims_expired", "claims_revoked", "percent", "links_by_day"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stats JSON has no %q: %s", k, b)
		}
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	const n = 25
	for i := range n {
		ev := claim.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: fmt.Sprintf("test.%02d", i)}
		if err := e.db.AppendEvent(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	path := "/api/v1/audit?limit=10"
	for range 10 {
		var page admin.EventPage
		e.call("GET", path, "", http.StatusOK, &page)
		for _, ev := range page.Events {
			got = append(got, ev.Action)
		}
		if page.Next == 0 {
			break
		}
		path = fmt.Sprintf("/api/v1/audit?limit=10&before=%d", page.Next)
	}
	var want []string
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("test.%02d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit pages mismatch (-want +got):\n%s", diff)
	}

	var page admin.EventPage
	e.call("GET", "/api/v1/audit", "", http.StatusOK, &page)
	if len(page.Events) != n || page.Next != 0 {
		t.Errorf("GET /api/v1/audit = %d events, next %d; want %d, 0", len(page.Events), page.Next, n)
	}
	if ev := page.Events[0]; ev.Action != "test.24" || !ev.Time.Equal(t0.Add(24*time.Second)) || ev.Seq == 0 {
		t.Errorf("newest event = %+v; want test.24 at %s with a seq", ev, t0.Add(24*time.Second))
	}
	e.call("GET", "/api/v1/audit?limit=5000", "", http.StatusOK, &page)
	if len(page.Events) != n {
		t.Errorf("GET ?limit=5000 = %d events; want all %d (limit capped at 1000)", len(page.Events), n)
	}
	tests := []struct{ query, field string }{
		{"before=-1", "before"},
		{"before=x", "before"},
		{"limit=0", "limit"},
		{"limit=-3", "limit"},
	}
	for _, tt := range tests {
		var ae apiErr
		e.call("GET", "/api/v1/audit?"+tt.query, "", http.StatusBadRequest, &ae)
		if ae.Field != tt.field {
			t.Errorf("GET /api/v1/audit?%s = %+v; want invalid %s", tt.query, ae, tt.field)
		}
	}
}
