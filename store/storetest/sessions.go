package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/session"
)

func getSession(t *testing.T, s Store, id string) session.Record {
	t.Helper()
	rec, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%q) = %v; want nil", id, err)
	}
	return rec
}

func putSession(t *testing.T, s Store, rec session.Record, prev uint64) {
	t.Helper()
	if err := s.PutSession(t.Context(), rec, prev); err != nil {
		t.Fatalf("PutSession(%s, prev %d) = %v; want nil", rec.ID, prev, err)
	}
}

func newSession(id string, expires time.Time) session.Record {
	return session.Record{ID: id, Person: zid(1), Data: []byte("sealed " + id), ExpiresAt: expires}
}

func testSessionCreateAndSwap(t *testing.T, s Store) {
	rec := newSession("s1", t0.Add(12*time.Hour))
	rec.Version = 42 // ignored: the store sets prev+1
	putSession(t, s, rec, 0)
	want := rec
	want.Version = 1
	if diff := cmp.Diff(want, getSession(t, s, "s1"), cmpOpts); diff != "" {
		t.Errorf("Session(s1) after create mismatch (-want +got):\n%s", diff)
	}

	for prev := uint64(1); prev <= 3; prev++ {
		rec.Data = fmt.Appendf(nil, "version %d", prev+1)
		rec.ExpiresAt = rec.ExpiresAt.Add(time.Hour)
		putSession(t, s, rec, prev)
		want := rec
		want.Version = prev + 1
		if diff := cmp.Diff(want, getSession(t, s, "s1"), cmpOpts); diff != "" {
			t.Errorf("Session(s1) after PutSession(prev %d) mismatch (-want +got):\n%s", prev, diff)
		}
	}
}

// testListSessions: Sessions pages through every record in id order, with
// its current version, expired records included.
func testListSessions(t *testing.T, s Store) {
	ctx := t.Context()
	if got, err := s.Sessions(ctx, "", 0); err != nil || len(got) != 0 {
		t.Fatalf("Sessions on an empty store = %v, %v; want none", got, err)
	}
	var want []session.Record
	for i := range 7 {
		rec := newSession(fmt.Sprintf("s%d", i), t0.Add(time.Duration(i-2)*time.Hour)) // s0, s1 expired
		putSession(t, s, rec, 0)
		rec.Version = 1
		if i == 3 {
			rec.Data = []byte("refreshed")
			putSession(t, s, rec, 1)
			rec.Version = 2
		}
		want = append(want, rec)
	}
	all, err := s.Sessions(ctx, "", 0)
	if err != nil {
		t.Fatalf("Sessions(all) = %v", err)
	}
	if diff := cmp.Diff(want, all, cmpOpts); diff != "" {
		t.Errorf("Sessions(all) mismatch (-want +got):\n%s", diff)
	}
	var paged []session.Record
	after := ""
	for range 10 {
		page, err := s.Sessions(ctx, after, 3)
		if err != nil {
			t.Fatalf("Sessions(after %q, 3) = %v", after, err)
		}
		if len(page) > 3 {
			t.Fatalf("Sessions(after %q, 3) returned %d records", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, paged, cmpOpts); diff != "" {
		t.Errorf("Sessions paged by 3 mismatch (-want +got):\n%s", diff)
	}
}

func testSessionConflict(t *testing.T, s Store) {
	ctx := t.Context()
	_, err := s.Session(ctx, "nope")
	wantErr(t, `Session("nope")`, err, session.ErrNotFound)

	rec := newSession("s1", t0.Add(time.Hour))
	putSession(t, s, rec, 0)
	putSession(t, s, rec, 1)
	stored := getSession(t, s, "s1")

	other := rec
	other.Data = []byte("lost write")
	for _, prev := range []uint64{0, 1, 3} {
		err := s.PutSession(ctx, other, prev)
		wantErr(t, fmt.Sprintf("PutSession(s1 at version 2, prev %d)", prev), err, session.ErrConflict)
	}
	if diff := cmp.Diff(stored, getSession(t, s, "s1"), cmpOpts); diff != "" {
		t.Errorf("Session(s1) after conflicts mismatch (-want +got):\n%s", diff)
	}

	err = s.PutSession(ctx, newSession("s2", t0.Add(time.Hour)), 1)
	wantErr(t, "PutSession(missing s2, prev 1)", err, session.ErrConflict)
	_, err = s.Session(ctx, "s2")
	wantErr(t, "Session(s2) after a failed PutSession", err, session.ErrNotFound)
}

func testSessionConcurrentSwap(t *testing.T, s Store) {
	putSession(t, s, newSession("s1", t0.Add(time.Hour)), 0)
	const n = 20
	recs := make([]session.Record, n)
	for i := range recs {
		recs[i] = newSession("s1", t0.Add(time.Duration(i+2)*time.Hour))
		recs[i].Data = fmt.Appendf(nil, "writer %d", i)
	}
	errs := race(n, func(i int) error { return s.PutSession(t.Context(), recs[i], 1) })
	w := oneWinner(t, errs, session.ErrConflict)
	want := recs[w]
	want.Version = 2
	if diff := cmp.Diff(want, getSession(t, s, "s1"), cmpOpts); diff != "" {
		t.Errorf("Session(s1) after the race mismatch (-want +got):\n%s", diff)
	}
}

func testDeleteSession(t *testing.T, s Store) {
	ctx := t.Context()
	putSession(t, s, newSession("s1", t0.Add(time.Hour)), 0)
	putSession(t, s, newSession("s2", t0.Add(time.Hour)), 0)
	if err := s.DeleteSession(ctx, "s1"); err != nil {
		t.Fatalf("DeleteSession(s1) = %v; want nil", err)
	}
	_, err := s.Session(ctx, "s1")
	wantErr(t, "Session(s1) after DeleteSession", err, session.ErrNotFound)
	getSession(t, s, "s2")
	for _, id := range []string{"s1", "nope"} {
		if err := s.DeleteSession(ctx, id); err != nil {
			t.Errorf("DeleteSession(%q) of a missing record = %v; want nil", id, err)
		}
	}
	// A deleted id can be created afresh.
	putSession(t, s, newSession("s1", t0.Add(time.Hour)), 0)
	if got := getSession(t, s, "s1"); got.Version != 1 {
		t.Errorf("Session(s1).Version after re-creating = %d; want 1", got.Version)
	}
}

func testDeleteExpiredSessions(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	putSession(t, s, newSession("past", now.Add(-time.Second)), 0)
	putSession(t, s, newSession("exact", now), 0)
	putSession(t, s, newSession("future", now.Add(time.Second)), 0)
	// Expiry moved by a later write counts as written last.
	putSession(t, s, newSession("extended", now.Add(-time.Hour)), 0)
	putSession(t, s, newSession("extended", now.Add(time.Hour)), 1)
	putSession(t, s, newSession("shortened", now.Add(time.Hour)), 0)
	putSession(t, s, newSession("shortened", now.Add(-time.Hour)), 1)

	keep := session.Revocation{Kind: session.RevokePerson, Subject: "keep", At: t0, Until: now.Add(time.Hour)}
	for _, rv := range []session.Revocation{
		{Kind: session.RevokeSession, Subject: "past", At: t0, Until: now.Add(-time.Second)},
		{Kind: session.RevokeSession, Subject: "exact", At: t0, Until: now},
		keep,
	} {
		if err := s.AddRevocation(ctx, rv); err != nil {
			t.Fatalf("AddRevocation(%s) = %v; want nil", rv.Subject, err)
		}
	}

	n, err := s.DeleteExpiredSessions(ctx, now)
	if err != nil || n != 3 {
		t.Errorf("DeleteExpiredSessions(now) = %d, %v; want 3, nil", n, err)
	}
	for _, id := range []string{"past", "exact", "shortened"} {
		_, err := s.Session(ctx, id)
		wantErr(t, fmt.Sprintf("Session(%q) after DeleteExpiredSessions", id), err, session.ErrNotFound)
	}
	for _, id := range []string{"future", "extended"} {
		getSession(t, s, id)
	}
	rvs, err := s.Revocations(ctx, t0.Add(-time.Hour))
	if err != nil {
		t.Fatalf("Revocations(long ago) = %v; want nil", err)
	}
	if diff := cmp.Diff([]session.Revocation{keep}, rvs, cmpOpts); diff != "" {
		t.Errorf("revocations after DeleteExpiredSessions mismatch (-want +got):\n%s", diff)
	}

	if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 0 {
		t.Errorf("DeleteExpiredSessions(now) again = %d, %v; want 0, nil", n, err)
	}
}

// sortRevocations orders by kind, then subject: the contract fixes no order.
func sortRevocations(rvs []session.Revocation) []session.Revocation {
	out := slices.Clone(rvs)
	slices.SortFunc(out, func(a, b session.Revocation) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

func testRevocations(t *testing.T, s Store) {
	ctx := t.Context()
	revocations := func(now time.Time) []session.Revocation {
		t.Helper()
		rvs, err := s.Revocations(ctx, now)
		if err != nil {
			t.Fatalf("Revocations(%s) = %v; want nil", now, err)
		}
		return sortRevocations(rvs)
	}
	add := func(rv session.Revocation) {
		t.Helper()
		if err := s.AddRevocation(ctx, rv); err != nil {
			t.Fatalf("AddRevocation(%s %s) = %v; want nil", rv.Kind, rv.Subject, err)
		}
	}
	if got := revocations(t0); len(got) != 0 {
		t.Errorf("Revocations on a new store = %+v; want none", got)
	}

	person := session.Revocation{Kind: session.RevokePerson, Subject: zid(1), At: t0, Until: t0.Add(12 * time.Hour),
		Actor: "admin-api", Reason: "offboarded"}
	revalidate := session.Revocation{Kind: session.Revalidate, Subject: zid(1), At: t0, Until: t0.Add(12 * time.Hour),
		Actor: "webhook", Reason: "membership changed"}
	sess := session.Revocation{Kind: session.RevokeSession, Subject: "s1", At: t0, Until: t0.Add(time.Hour), Actor: "logout"}
	token := session.Revocation{Kind: session.RevokeToken, Subject: "jti-1", At: t0, Until: t0.Add(10 * time.Minute), Actor: "webhook"}
	for _, rv := range []session.Revocation{person, revalidate, sess, token} {
		add(rv)
	}
	for _, tt := range []struct {
		now  time.Time
		want []session.Revocation
	}{
		{t0, []session.Revocation{person, revalidate, sess, token}},
		{t0.Add(10 * time.Minute), []session.Revocation{person, revalidate, sess}},
		{t0.Add(time.Hour), []session.Revocation{person, revalidate}},
		{t0.Add(12 * time.Hour), nil},
	} {
		if diff := cmp.Diff(sortRevocations(tt.want), revocations(tt.now), cmpOpts); diff != "" {
			t.Errorf("Revocations(%s) mismatch (-want +got):\n%s", tt.now, diff)
		}
	}

	// The later At wins, whole; an earlier one is ignored.
	later := person
	later.At, later.Until, later.Reason = t0.Add(time.Hour), t0.Add(13*time.Hour), "again"
	add(later)
	earlier := person
	earlier.At, earlier.Until, earlier.Reason = t0.Add(30*time.Minute), t0.Add(20*time.Hour), "stale"
	add(earlier)
	want := sortRevocations([]session.Revocation{later, revalidate, sess, token})
	if diff := cmp.Diff(want, revocations(t0), cmpOpts); diff != "" {
		t.Errorf("Revocations after re-adding %s %s mismatch (-want +got):\n%s", person.Kind, person.Subject, diff)
	}
}

// testUnlinkRevocations: Unlink entries keep their kind and subject, and one
// never replaces an entry of another kind with the same subject (a
// Revalidate "org:7" and an Unlink "org:7" live side by side).
func testUnlinkRevocations(t *testing.T, s Store) {
	ctx := t.Context()
	rvs := []session.Revocation{
		{Kind: session.Revalidate, Subject: "org:7", At: t0, Until: t0.Add(12 * time.Hour), Actor: "webhook:e1", Reason: "zaikio.member_left"},
		{Kind: session.Unlink, Subject: "org:7", At: t0.Add(time.Minute), Until: t0.Add(13 * time.Hour), Actor: "admin-api", Reason: "link removed"},
		{Kind: session.Unlink, Subject: "person:42", At: t0, Until: t0.Add(12 * time.Hour), Actor: "zaikio:" + zid(1), Reason: "link undone"},
	}
	for _, rv := range rvs {
		if err := s.AddRevocation(ctx, rv); err != nil {
			t.Fatalf("AddRevocation(%s %s) = %v; want nil", rv.Kind, rv.Subject, err)
		}
	}
	got, err := s.Revocations(ctx, t0)
	if err != nil {
		t.Fatalf("Revocations = %v; want nil", err)
	}
	if diff := cmp.Diff(sortRevocations(rvs), sortRevocations(got), cmpOpts); diff != "" {
		t.Errorf("Revocations mismatch (-want +got):\n%s", diff)
	}
}

func testFirstDelivery(t *testing.T, s Store) {
	ctx := t.Context()
	until := t0.Add(24 * time.Hour)
	for _, tt := range []struct {
		id    string
		until time.Time
		want  bool
	}{
		{"evt-1", until, true},
		{"evt-1", until, false},
		{"evt-2", until, true},
		{"evt-1", until.Add(time.Hour), false},
		{"evt-2", until, false},
	} {
		got, err := s.FirstDelivery(ctx, tt.id, tt.until)
		if err != nil || got != tt.want {
			t.Errorf("FirstDelivery(%q) = %t, %v; want %t, nil", tt.id, got, err, tt.want)
		}
	}
	if err := s.ForgetDelivery(ctx, "evt-1"); err != nil {
		t.Fatalf("ForgetDelivery(evt-1) = %v; want nil", err)
	}
	if got, err := s.FirstDelivery(ctx, "evt-1", until); err != nil || !got {
		t.Errorf("FirstDelivery(evt-1) after ForgetDelivery = %t, %v; want true, nil", got, err)
	}
	if got, err := s.FirstDelivery(ctx, "evt-2", until); err != nil || got {
		t.Errorf("FirstDelivery(evt-2) after forgetting evt-1 = %t, %v; want false, nil", got, err)
	}
	if err := s.ForgetDelivery(ctx, "never-seen"); err != nil {
		t.Errorf("ForgetDelivery(never-seen) = %v; want nil", err)
	}
}

func testSigningKeys(t *testing.T, s Store) {
	ctx := t.Context()
	keys := func() []assertion.Key {
		t.Helper()
		ks, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys() = %v; want nil", err)
		}
		return ks
	}
	if got := keys(); len(got) != 0 {
		t.Errorf("SigningKeys() on a new store = %+v; want none", got)
	}
	k1 := assertion.Key{ID: "k-b", Sealed: []byte("one"), CreatedAt: t0, RetiresAt: t0.Add(24 * time.Hour), DeleteAt: t0.Add(48 * time.Hour)}
	k2 := assertion.Key{ID: "k-a", Sealed: []byte("two"), CreatedAt: t0.Add(time.Hour), RetiresAt: t0.Add(25 * time.Hour), DeleteAt: t0.Add(49 * time.Hour)}
	for _, k := range []assertion.Key{k2, k1} {
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatalf("AddSigningKey(%s) = %v; want nil", k.ID, err)
		}
	}
	if diff := cmp.Diff([]assertion.Key{k1, k2}, keys(), cmpOpts); diff != "" {
		t.Errorf("SigningKeys() mismatch, want oldest first (-want +got):\n%s", diff)
	}

	// A second key with a stored id is ignored: the first one stays.
	dup := k1
	dup.Sealed, dup.CreatedAt = []byte("impostor"), t0.Add(2*time.Hour)
	if err := s.AddSigningKey(ctx, dup); err != nil {
		t.Errorf("AddSigningKey(duplicate %s) = %v; want nil", dup.ID, err)
	}
	if diff := cmp.Diff([]assertion.Key{k1, k2}, keys(), cmpOpts); diff != "" {
		t.Errorf("SigningKeys() after a duplicate add mismatch (-want +got):\n%s", diff)
	}

	if err := s.DeleteSigningKey(ctx, k1.ID); err != nil {
		t.Fatalf("DeleteSigningKey(%s) = %v; want nil", k1.ID, err)
	}
	if diff := cmp.Diff([]assertion.Key{k2}, keys(), cmpOpts); diff != "" {
		t.Errorf("SigningKeys() after delete mismatch (-want +got):\n%s", diff)
	}
	if err := s.DeleteSigningKey(ctx, k1.ID); err != nil {
		t.Errorf("DeleteSigningKey(%s) again = %v; want nil", k1.ID, err)
	}
}
