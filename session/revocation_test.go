package session

import (
	"fmt"
	"testing"
	"time"
)

// TestStaleByOrg: an "org:<id>" revalidation mark makes stale exactly the
// sessions validated before it whose Orgs list holds that id.
func TestStaleByOrg(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rs := newRevocationSet([]Revocation{{Kind: Revalidate, Subject: "org:200", At: t0}})
	for _, tc := range []struct {
		orgs      string
		validated time.Time
		want      bool
	}{
		{"100,200", t0.Add(-time.Second), true},
		{"200", t0.Add(-time.Second), true},
		{"100,200", t0.Add(time.Second), false}, // validated after the mark
		{"100,20", t0.Add(-time.Second), false},
		{"100,2000", t0.Add(-time.Second), false},
		{"", t0.Add(-time.Second), false},
	} {
		id := &Identity{Person: "p", Orgs: tc.orgs, Validated: tc.validated}
		if got := rs.stale(id, t0.Add(time.Minute)); got != tc.want {
			t.Errorf("stale(orgs %q, validated %v) = %v; want %v", tc.orgs, tc.validated.Sub(t0), got, tc.want)
		}
	}
	if rs := newRevocationSet([]Revocation{{Kind: Revalidate, Subject: "p", At: t0}}); !rs.stale(&Identity{Person: "p", Validated: t0.Add(-1)}, t0) {
		t.Error("a person mark does not make the person's session stale at once")
	}
}

// TestStaleEveryoneSpread: an "everyone" mark makes each session due at its
// own point within staleSpread, so one event does not send every session to
// the hub in the same second; all are due once the window has passed.
func TestStaleEveryoneSpread(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rs := newRevocationSet([]Revocation{{Kind: Revalidate, Subject: "*", At: t0}})
	dueAt := map[time.Duration]int{}
	for i := range 1000 {
		id := &Identity{Person: fmt.Sprint("p", i), SessionID: NewID(), Validated: t0.Add(-time.Second)}
		if rs.stale(id, t0.Add(staleSpread)) != true {
			t.Fatalf("session %d not due after the whole window", i)
		}
		if rs.stale(&Identity{Person: id.Person, SessionID: id.SessionID, Validated: t0.Add(time.Second)}, t0.Add(time.Hour)) {
			t.Fatalf("session %d validated after the mark is due", i)
		}
		for s := time.Duration(0); s < staleSpread; s += time.Second {
			if rs.stale(id, t0.Add(s)) {
				dueAt[s]++
				break
			}
		}
	}
	if len(dueAt) < 20 {
		t.Errorf("1000 sessions fall due in only %d distinct seconds of %s; want them spread", len(dueAt), staleSpread)
	}
	for s, n := range dueAt {
		if n > 100 {
			t.Errorf("%d of 1000 sessions fall due in second %s; want at most 100", n, s)
		}
	}
}

// TestUnlinkDropsWhatWasUnlinked: an Unlink entry takes its legacy person
// or organization out of exactly the identities validated before it that
// carry it, and leaves everything else of them as it was.
func TestUnlinkDropsWhatWasUnlinked(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rs := newRevocationSet([]Revocation{
		{Kind: Unlink, Subject: "person:42", At: t0},
		{Kind: Unlink, Subject: "org:200", At: t0},
		{Kind: Unlink, Subject: "nonsense", At: t0},
	})
	before, after := t0.Add(-time.Millisecond), t0.Add(time.Millisecond)
	type fields struct{ user, orgs, roles string }
	for _, tc := range []struct {
		name      string
		in        fields
		validated time.Time
		unlinked  bool
		want      fields
	}{
		{"person and org", fields{"42", "100,200", "100:admin,200:user"}, before, true, fields{"", "100", "100:admin"}},
		{"org only", fields{"7", "200,300", "200:admin,200:user,300:user"}, before, true, fields{"7", "300", "300:user"}},
		{"a role of the org only", fields{"7", "100", "100:user,200:user"}, before, true, fields{"7", "100", "100:user"}},
		{"person only", fields{"42", "", ""}, before, true, fields{}},
		{"validated after", fields{"42", "200", "200:user"}, after, false, fields{"42", "200", "200:user"}},
		{"validated at", fields{"42", "200", "200:user"}, t0, false, fields{"42", "200", "200:user"}},
		{"look-alikes", fields{"4", "20,2000", "20:user,2000:admin"}, before, false, fields{"4", "20,2000", "20:user,2000:admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := &Identity{SessionID: "s", Person: "p", JTI: "j", User: tc.in.user, Email: "e@example.com", Name: "N",
				Orgs: tc.in.orgs, Roles: tc.in.roles, Created: before.Add(-time.Hour), Validated: tc.validated, Expires: t0.Add(time.Hour)}
			id.prepare()
			if got := rs.unlinked(id); got != tc.unlinked {
				t.Fatalf("unlinked(%+v) = %v; want %v", tc.in, got, tc.unlinked)
			}
			if got := rs.stale(id, t0); got != tc.unlinked {
				t.Errorf("stale(%+v) = %v; want %v (an identity carrying something unlinked is never reused)", tc.in, got, tc.unlinked)
			}
			nid := rs.without(id)
			if got := (fields{nid.User, nid.Orgs, nid.Roles}); got != tc.want {
				t.Errorf("without(%+v) = %+v; want %+v", tc.in, got, tc.want)
			}
			if nid.SessionID != id.SessionID || nid.Person != id.Person || nid.Email != id.Email || nid.Name != id.Name || nid.JTI != id.JTI ||
				!nid.Created.Equal(id.Created) || !nid.Validated.Equal(id.Validated) || !nid.Expires.Equal(id.Expires) {
				t.Errorf("without(%+v) changed more than the unlinked parts", tc.in)
			}
			if got := nid.Headers().User; (tc.want.user == "") != (got == nil) {
				t.Errorf("without(%+v): prepared user header %q; want %q", tc.in, got, tc.want.user)
			}
			if rs.unlinked(nid) {
				t.Errorf("without(%+v) still carries something unlinked", tc.in)
			}
		})
	}
}
