package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
)

func TestMode(t *testing.T) {
	e := newEnv(t)
	var m admin.Mode
	e.call("GET", "/api/v1/mode", "", http.StatusOK, &m)
	if want := (admin.Mode{Mode: "passthrough", Default: "passthrough"}); m != want {
		t.Errorf("GET /api/v1/mode = %+v; want %+v", m, want)
	}

	steps := []struct {
		name      string
		body      string
		actor     string
		want      int
		wantMode  string
		wantField string
		wantEvent *claim.Event // newest event after the step; nil: no new event
	}{
		{"enforce", `{"mode":"enforce"}`, "cli:ann@ops", 200, "enforce", "",
			&claim.Event{Time: t0, Actor: "admin-api:cli:ann@ops", Action: "mode.set", Subject: "mode", Detail: "passthrough → enforce"}},
		{"enforce again", `{"mode":"enforce"}`, "cli:ann@ops", 200, "enforce", "", nil},
		{"unknown mode", `{"mode":"lockdown"}`, "", 400, "", "mode", nil},
		{"empty mode", `{}`, "", 400, "", "mode", nil},
		{"default is config", `{"mode":"offer","default":"offer"}`, "", 400, "", "default", nil},
		{"offer, actor sanitized", `{"mode":"offer"}`, "cli:\tb\u00f3b@ops" + strings.Repeat("x", 100), 200, "offer", "",
			&claim.Event{Time: t0, Actor: "admin-api:cli:bb@ops" + strings.Repeat("x", 64-len("cli:bb@ops")),
				Action: "mode.set", Subject: "mode", Detail: "enforce → offer"}},
	}
	for _, st := range steps {
		before := len(e.events())
		changes := e.changes.Load()
		status, b := e.do(e.req("PUT", "/api/v1/mode", st.body, "X-Hubgate-Actor", st.actor))
		if status != st.want {
			t.Fatalf("%s: PUT /api/v1/mode = %d %s; want %d", st.name, status, b, st.want)
		}
		if st.wantField != "" && !strings.Contains(string(b), `"field":"`+st.wantField+`"`) {
			t.Errorf("%s: answer %s; want it to name %s", st.name, b, st.wantField)
		}
		if st.wantMode != "" {
			var got admin.Mode
			e.call("GET", "/api/v1/mode", "", http.StatusOK, &got)
			if got.Mode != st.wantMode {
				t.Errorf("%s: mode = %q; want %q", st.name, got.Mode, st.wantMode)
			}
		}
		evs := e.events()
		if st.wantEvent == nil {
			if len(evs) != before || e.changes.Load() != changes {
				t.Errorf("%s: %d new events, %d OnChange calls; want none", st.name, len(evs)-before, e.changes.Load()-changes)
			}
			continue
		}
		if len(evs) != before+1 || e.changes.Load() != changes+1 {
			t.Fatalf("%s: %d new events, %d OnChange calls; want 1 and 1", st.name, len(evs)-before, e.changes.Load()-changes)
		}
		got := evs[0]
		got.Seq = 0
		if diff := cmp.Diff(*st.wantEvent, got); diff != "" {
			t.Errorf("%s: event mismatch (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestModeCustom(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.Modes, c.DefaultMode = []migration.Mode{"a", "b"}, "b" })
	var m admin.Mode
	e.call("GET", "/api/v1/mode", "", http.StatusOK, &m)
	if m.Mode != "b" || m.Default != "b" {
		t.Errorf("GET /api/v1/mode = %+v; want b (default b)", m)
	}
	e.call("PUT", "/api/v1/mode", `{"mode":"enforce"}`, http.StatusBadRequest, nil)
	e.call("PUT", "/api/v1/mode", `{"mode":"a"}`, http.StatusOK, &m)
	if m.Mode != "a" {
		t.Errorf("PUT a = %+v; want mode a", m)
	}
}

func TestRevokeSessions(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.SessionTTL = 2 * time.Hour })
	person := "00000000-0000-4000-8000-0000000000aa"
	e.call("DELETE", "/api/v1/sessions/"+strings.ToUpper(person), "", http.StatusNoContent, nil, "X-Hubgate-Actor", "cli:ann@ops")
	rvs, err := e.db.Revocations(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []session.Revocation{{Kind: session.RevokePerson, Subject: person, At: t0,
		Until: t0.Add(2*time.Hour + time.Minute), Actor: "admin-api:cli:ann@ops", Reason: "admin"}}
	if diff := cmp.Diff(want, rvs); diff != "" {
		t.Errorf("revocations mismatch (-want +got):\n%s", diff)
	}
	if n := e.changes.Load(); n != 1 {
		t.Errorf("OnChange called %d times; want 1", n)
	}
	evs := e.events()
	if len(evs) != 1 || evs[0].Action != "session.revoke" || evs[0].Subject != "zaikio:"+person || evs[0].Actor != "admin-api:cli:ann@ops" {
		t.Errorf("events = %+v; want one session.revoke of zaikio:%s", evs, person)
	}
	var ae apiErr
	e.call("DELETE", "/api/v1/sessions/42", "", http.StatusBadRequest, &ae)
	if ae.Field != "zaikio_person" {
		t.Errorf("DELETE /api/v1/sessions/42 = %+v; want invalid zaikio_person", ae)
	}
}
