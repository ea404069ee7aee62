package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
)

func testStats(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(2 * time.Hour)
	soon := t0.Add(90 * time.Minute) // after the redemptions (t0+1h), before now

	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatalf("Stats(empty) = %v; want nil", err)
	}
	if diff := cmp.Diff(claim.Stats{}, st); diff != "" {
		t.Errorf("Stats(empty) mismatch (-want +got):\n%s", diff)
	}

	putPeople(t, s,
		claim.Person{ID: "p1", Email: "p1@example.com", Orgs: []string{"o1", "o2"}},
		claim.Person{ID: "p2", Orgs: []string{"o2"}},
		claim.Person{ID: "p3"},
	)
	putLink(t, s, adminLink(claim.KindPerson, "p1", zid(1)))

	open := newClaim("c1", claim.KindPerson, "p4")
	used := newClaim("c2", claim.KindPerson, "p2")
	expired := newClaim("c3", claim.KindPerson, "p3")
	expired.ExpiresAt = soon
	revoked := newClaim("c4", claim.KindPerson, "p5")
	revokedExpired := newClaim("c5", claim.KindPerson, "p6")
	revokedExpired.ExpiresAt = soon
	orgUsed := orgClaim("c6", "o1", "p1")
	orgOpen := orgClaim("c7", "o2", "p1")
	usedExpired := newClaim("c8", claim.KindPerson, "p8")
	usedExpired.ExpiresAt = soon
	createClaims(t, s, open, used, expired, revoked, revokedExpired, orgUsed, orgOpen, usedExpired)
	redeemOK(t, s, redeemFor(used, zid(2)))
	redeemOK(t, s, redeemFor(orgUsed, zid(100)))
	redeemOK(t, s, redeemFor(usedExpired, zid(8)))
	for _, id := range []string{"c4", "c5"} {
		if err := s.RevokeClaim(ctx, id, "admin-api", t0.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeClaim(%s) = %v; want nil", id, err)
		}
	}

	tests := []struct {
		at   time.Time
		want claim.Stats
	}{
		{now, claim.Stats{People: 3, Orgs: 2, LinkedPersons: 3, LinkedOrgs: 1,
			ClaimsOpen: 2, ClaimsOpenOrgs: 1, ClaimsUsed: 3, ClaimsExpired: 1, ClaimsRevoked: 2}},
		{t0, claim.Stats{People: 3, Orgs: 2, LinkedPersons: 3, LinkedOrgs: 1,
			ClaimsOpen: 3, ClaimsOpenOrgs: 1, ClaimsUsed: 3, ClaimsExpired: 0, ClaimsRevoked: 2}},
	}
	for _, tt := range tests {
		got, err := s.Stats(ctx, tt.at)
		if err != nil {
			t.Fatalf("Stats(%s) = %v; want nil", tt.at, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Stats(%s) mismatch (-want +got):\n%s", tt.at, diff)
		}
	}
}

func testEvents(t *testing.T, s Store) {
	ctx := t.Context()
	if evs, err := s.Events(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Events(0, 10) on an empty log = %v, %v; want none, nil", evs, err)
	}
	const n = 30
	var want []claim.Event // newest first
	for i := range n {
		ev := claim.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: "system",
			Action: fmt.Sprintf("test.%d", i), Subject: fmt.Sprintf("person:p%d", i), Detail: "detail"}
		if err := s.AppendEvent(ctx, ev); err != nil {
			t.Fatalf("AppendEvent(%d) = %v; want nil", i, err)
		}
		want = append([]claim.Event{ev}, want...)
	}

	var got []claim.Event
	before := uint64(0)
	for range n {
		page, err := s.Events(ctx, before, 7)
		if err != nil {
			t.Fatalf("Events(%d, 7) = %v; want nil", before, err)
		}
		if len(page) > 7 {
			t.Fatalf("Events(%d, 7) = %d events; want at most 7", before, len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if before != 0 && ev.Seq >= before {
				t.Errorf("Events(%d, 7) returned Seq %d; want < %d", before, ev.Seq, before)
			}
		}
		got = append(got, page...)
		before = page[len(page)-1].Seq
	}
	if diff := cmp.Diff(want, got, cmpOpts, ignoreSeq); diff != "" {
		t.Fatalf("Events in pages of 7 mismatch (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq >= got[i-1].Seq {
			t.Errorf("Events: Seq %d follows %d; want strictly decreasing (newest first)", got[i].Seq, got[i-1].Seq)
		}
	}

	// A cursor past the newest event returns from the newest.
	page, err := s.Events(ctx, got[0].Seq+1000, 3)
	if err != nil {
		t.Fatalf("Events(%d, 3) = %v; want nil", got[0].Seq+1000, err)
	}
	if diff := cmp.Diff(want[:3], page, cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("Events(past newest, 3) mismatch (-want +got):\n%s", diff)
	}
	// The cursor is exclusive.
	page, err = s.Events(ctx, got[5].Seq, 2)
	if err != nil {
		t.Fatalf("Events(%d, 2) = %v; want nil", got[5].Seq, err)
	}
	if diff := cmp.Diff(got[6:8], page, cmpOpts); diff != "" {
		t.Errorf("Events(Seq of the 6th newest, 2) mismatch (-want +got):\n%s", diff)
	}

	// New events get higher Seqs than every old one.
	if err := s.AppendEvent(ctx, claim.Event{Time: t0, Actor: "system", Action: "test.last"}); err != nil {
		t.Fatalf("AppendEvent(last) = %v; want nil", err)
	}
	page, err = s.Events(ctx, 0, 1)
	if err != nil || len(page) != 1 {
		t.Fatalf("Events(0, 1) = %v, %v; want one event", page, err)
	}
	if page[0].Action != "test.last" || page[0].Seq <= got[0].Seq {
		t.Errorf("Events(0, 1) = %+v; want test.last with Seq > %d", page[0], got[0].Seq)
	}
}

func testMode(t *testing.T, s Store) {
	ctx := t.Context()
	if mode, err := s.Mode(ctx); err != nil || mode != "" {
		t.Errorf("Mode() on a new store = %q, %v; want \"\", nil", mode, err)
	}
	var want []claim.Event
	for i, mode := range []migration.Mode{"offer", "enforce", "passthrough"} {
		ev := claim.Event{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "cli", Action: "mode.set",
			Subject: "mode", Detail: string(mode)}
		if err := s.SetMode(ctx, mode, ev); err != nil {
			t.Fatalf("SetMode(%q) = %v; want nil", mode, err)
		}
		if got, err := s.Mode(ctx); err != nil || got != mode {
			t.Errorf("Mode() after SetMode(%q) = %q, %v; want %q, nil", mode, got, err, mode)
		}
		want = append([]claim.Event{ev}, want...)
	}
	if diff := cmp.Diff(want, allEvents(t, s), cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("events after SetMode mismatch (-want +got):\n%s", diff)
	}
}

// testTimes stores times with nanoseconds in another zone and wants them back
// in UTC, to the microsecond; zero times come back zero.
func testTimes(t *testing.T, s Store) {
	ctx := t.Context()
	zone := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 3, 1, 17, 30, 0, 123_456_789, zone)

	c := newClaim("c1", claim.KindPerson, "p1")
	c.CreatedAt, c.ExpiresAt = at, at.Add(claim.DefaultTTL)
	unused := newClaim("c2", claim.KindPerson, "p2")
	createClaims(t, s, c, unused)
	got := getClaim(t, s, "c1")
	inUTC(t, "Claim(c1)", got.CreatedAt, got.ExpiresAt)
	if !sameTime(got.CreatedAt, at.UTC()) || !sameTime(got.ExpiresAt, c.ExpiresAt.UTC()) {
		t.Errorf("Claim(c1) times = %s, %s; want %s, %s", got.CreatedAt, got.ExpiresAt, at.UTC(), c.ExpiresAt.UTC())
	}
	if got := getClaim(t, s, "c2"); !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("Claim(c2) UsedAt, RevokedAt = %s, %s; want zero times", got.UsedAt, got.RevokedAt)
	}

	r := redeemFor(c, zid(1))
	r.At = at.Add(time.Hour)
	gotClaim, gotLink := redeemOK(t, s, r)
	stored := getClaim(t, s, "c1")
	link := getLink(t, s, claim.KindPerson, "p1")
	inUTC(t, "redeemed claim and link", gotClaim.UsedAt, stored.UsedAt, gotLink.CreatedAt, link.CreatedAt)
	for _, ts := range []time.Time{gotClaim.UsedAt, stored.UsedAt, gotLink.CreatedAt, link.CreatedAt} {
		if !sameTime(ts, r.At.UTC()) {
			t.Errorf("redemption time came back as %s; want %s", ts, r.At.UTC())
		}
	}

	if err := s.RevokeClaim(ctx, "c2", "cli", at); err != nil {
		t.Fatalf("RevokeClaim(c2) = %v; want nil", err)
	}
	if got := getClaim(t, s, "c2"); !sameTime(got.RevokedAt, at.UTC()) {
		t.Errorf("Claim(c2).RevokedAt = %s; want %s in UTC", got.RevokedAt, at.UTC())
	}

	if err := s.AppendEvent(ctx, claim.Event{Time: at, Actor: "system", Action: "test.time"}); err != nil {
		t.Fatalf("AppendEvent = %v; want nil", err)
	}
	evs := allEvents(t, s)
	if ev := evs[0]; !sameTime(ev.Time, at.UTC()) {
		t.Errorf("event time = %s; want %s in UTC", ev.Time, at.UTC())
	}
	for _, ev := range evs {
		inUTC(t, "event "+ev.Action, ev.Time)
	}

	putLink(t, s, claim.Link{Kind: claim.KindOrg, LegacyID: "o1", ZaikioID: zid(2), CreatedAt: at, Via: "admin"})
	if l := getLink(t, s, claim.KindOrg, "o1"); !sameTime(l.CreatedAt, at.UTC()) {
		t.Errorf("Link(org, o1).CreatedAt = %s; want %s in UTC", l.CreatedAt, at.UTC())
	}

	if err := s.PutSession(ctx, session.Record{ID: "s1", Person: zid(1), ExpiresAt: at}, 0); err != nil {
		t.Fatalf("PutSession(s1) = %v; want nil", err)
	}
	rec, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatalf("Session(s1) = %v; want nil", err)
	}
	if !sameTime(rec.ExpiresAt, at.UTC()) {
		t.Errorf("Session(s1).ExpiresAt = %s; want %s in UTC", rec.ExpiresAt, at.UTC())
	}

	rv := session.Revocation{Kind: session.RevokePerson, Subject: zid(1), At: at, Until: at.Add(time.Hour)}
	if err := s.AddRevocation(ctx, rv); err != nil {
		t.Fatalf("AddRevocation = %v; want nil", err)
	}
	rvs, err := s.Revocations(ctx, at)
	if err != nil || len(rvs) != 1 {
		t.Fatalf("Revocations(%s) = %v, %v; want one", at, rvs, err)
	}
	if !sameTime(rvs[0].At, at.UTC()) || !sameTime(rvs[0].Until, rv.Until.UTC()) {
		t.Errorf("revocation times = %s, %s; want %s, %s in UTC", rvs[0].At, rvs[0].Until, at.UTC(), rv.Until.UTC())
	}

	k := assertion.Key{ID: "k1", Sealed: []byte("sealed"), CreatedAt: at, RetiresAt: at.Add(time.Hour), DeleteAt: at.Add(2 * time.Hour)}
	if err := s.AddSigningKey(ctx, k); err != nil {
		t.Fatalf("AddSigningKey = %v; want nil", err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys() = %v, %v; want one", keys, err)
	}
	if g := keys[0]; !sameTime(g.CreatedAt, k.CreatedAt.UTC()) || !sameTime(g.RetiresAt, k.RetiresAt.UTC()) || !sameTime(g.DeleteAt, k.DeleteAt.UTC()) {
		t.Errorf("key times = %s, %s, %s; want %s, %s, %s in UTC", g.CreatedAt, g.RetiresAt, g.DeleteAt,
			k.CreatedAt.UTC(), k.RetiresAt.UTC(), k.DeleteAt.UTC())
	}
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v; want nil", err)
	}
}
