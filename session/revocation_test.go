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
