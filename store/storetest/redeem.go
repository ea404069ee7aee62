package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/claim"
)

// redeemOK redeems r and fails t unless it succeeds.
func redeemOK(t *testing.T, s Store, r claim.Redemption) (claim.Claim, claim.Link) {
	t.Helper()
	c, l, err := s.RedeemClaim(t.Context(), r)
	if err != nil {
		t.Fatalf("RedeemClaim(%s for %s) = %v; want nil", r.Kind, r.ZaikioID, err)
	}
	return c, l
}

// checkRedeemed checks what a successful redemption of c by r returned and
// stored, and the two events it appended on top of the log's previous newest
// action prev.
func checkRedeemed(t *testing.T, s Store, c claim.Claim, r claim.Redemption, gotClaim claim.Claim, gotLink claim.Link, prev string) {
	t.Helper()
	wantClaim := c
	wantClaim.UsedAt, wantClaim.UsedBy = r.At, r.ZaikioID
	if diff := cmp.Diff(wantClaim, gotClaim, cmpOpts); diff != "" {
		t.Errorf("RedeemClaim claim mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantClaim, getClaim(t, s, c.ID), cmpOpts); diff != "" {
		t.Errorf("stored claim after RedeemClaim mismatch (-want +got):\n%s", diff)
	}
	wantLink := claim.Link{Kind: c.Kind, LegacyID: c.LegacyID, ZaikioID: r.ZaikioID, CreatedAt: r.At,
		Via: "claim:" + c.ID, By: r.Actor}
	if diff := cmp.Diff(wantLink, gotLink, cmpOpts); diff != "" {
		t.Errorf("RedeemClaim link mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLink, getLink(t, s, c.Kind, c.LegacyID), cmpOpts); diff != "" {
		t.Errorf("Link(%s, %s) after RedeemClaim mismatch (-want +got):\n%s", c.Kind, c.LegacyID, diff)
	}
	byZ, err := s.LinkByZaikio(t.Context(), c.Kind, r.ZaikioID)
	if err != nil {
		t.Fatalf("LinkByZaikio(%s, %s) = %v; want nil", c.Kind, r.ZaikioID, err)
	}
	if diff := cmp.Diff(wantLink, byZ, cmpOpts); diff != "" {
		t.Errorf("LinkByZaikio(%s, %s) after RedeemClaim mismatch (-want +got):\n%s", c.Kind, r.ZaikioID, diff)
	}

	evs := allEvents(t, s)
	if got, want := actions(evs), []string{"claim.redeem", "link.create", prev}; len(got) < 3 || !cmp.Equal(got[:3], want) {
		t.Fatalf("newest actions after RedeemClaim = %q; want %q first", got, want)
	}
	if diff := cmp.Diff(claim.LinkEvent(wantLink), evs[1], cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("link event mismatch (-want +got):\n%s", diff)
	}
	if ev := evs[0]; ev.Actor != r.Actor || !sameTime(ev.Time, r.At) || ev.Subject != string(c.Kind)+":"+c.LegacyID {
		t.Errorf("redeem event = %+v; want actor %s, time %s, subject %s:%s", ev, r.Actor, r.At, c.Kind, c.LegacyID)
	}
	if !(evs[0].Seq > evs[1].Seq && evs[1].Seq > evs[2].Seq) {
		t.Errorf("event Seqs = %d, %d, %d (newest first); want decreasing", evs[0].Seq, evs[1].Seq, evs[2].Seq)
	}
}

func testRedeemPerson(t *testing.T, s Store) {
	c := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c)
	r := redeemFor(c, zid(1))
	gotClaim, gotLink := redeemOK(t, s, r)
	checkRedeemed(t, s, c, r, gotClaim, gotLink, "claim.issue")
}

func testRedeemOrg(t *testing.T, s Store) {
	person := newClaim("c1", claim.KindPerson, "p1")
	org := orgClaim("c2", "o1", "p1")
	anyAdmin := orgClaim("c3", "o2", "")
	createClaims(t, s, person, org, anyAdmin)
	redeemOK(t, s, redeemFor(person, zid(1)))

	r := redeemFor(org, zid(100))
	r.Roles = []string{"member", "admin"}
	gotClaim, gotLink := redeemOK(t, s, r)
	checkRedeemed(t, s, org, r, gotClaim, gotLink, "claim.redeem")

	// Without a named claimer, any linked admin may claim.
	r = redeemFor(anyAdmin, zid(101))
	gotClaim, gotLink = redeemOK(t, s, r)
	checkRedeemed(t, s, anyAdmin, r, gotClaim, gotLink, "claim.redeem")

	// The person link is untouched: the namespaces are separate.
	if l := getLink(t, s, claim.KindPerson, "p1"); l.ZaikioID != zid(1) {
		t.Errorf("Link(person, p1).ZaikioID = %s; want %s", l.ZaikioID, zid(1))
	}
}

func testRedeemTwice(t *testing.T, s Store) {
	ctx := t.Context()
	c := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c)
	redeemOK(t, s, redeemFor(c, zid(1)))
	before := snapshot(t, s)

	for _, z := range []string{zid(1), zid(2)} {
		r := redeemFor(c, z)
		r.At = r.At.Add(time.Minute)
		_, _, err := s.RedeemClaim(ctx, r)
		wantErr(t, "RedeemClaim(used claim for "+z+")", err, claim.ErrUsed)
		unchanged(t, s, before, "RedeemClaim(used claim)")
	}
}

func testRedeemExpired(t *testing.T, s Store) {
	c := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c)
	before := snapshot(t, s)
	for _, at := range []time.Time{c.ExpiresAt, c.ExpiresAt.Add(time.Second)} {
		r := redeemFor(c, zid(1))
		r.At = at
		_, _, err := s.RedeemClaim(t.Context(), r)
		wantErr(t, "RedeemClaim(at "+at.Format(time.RFC3339)+", expiring "+c.ExpiresAt.Format(time.RFC3339)+")", err, claim.ErrExpired)
		unchanged(t, s, before, "RedeemClaim(expired)")
	}
	// Just before expiry it still works.
	r := redeemFor(c, zid(1))
	r.At = c.ExpiresAt.Add(-time.Second)
	redeemOK(t, s, r)
}

func testRedeemRevoked(t *testing.T, s Store) {
	c := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c)
	if err := s.RevokeClaim(t.Context(), c.ID, "admin-api", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeClaim(c1) = %v; want nil", err)
	}
	before := snapshot(t, s)
	_, _, err := s.RedeemClaim(t.Context(), redeemFor(c, zid(1)))
	wantErr(t, "RedeemClaim(revoked)", err, claim.ErrRevoked)
	unchanged(t, s, before, "RedeemClaim(revoked)")
}

func testRedeemNotFound(t *testing.T, s Store) {
	createClaims(t, s, newClaim("c1", claim.KindPerson, "p1"))
	before := snapshot(t, s)
	_, _, err := s.RedeemClaim(t.Context(), redeemFor(newClaim("nope", claim.KindPerson, "p1"), zid(1)))
	wantErr(t, "RedeemClaim(unknown hash)", err, claim.ErrNotFound)
	unchanged(t, s, before, "RedeemClaim(unknown hash)")
}

func testRedeemRules(t *testing.T, s Store) {
	person := newClaim("c1", claim.KindPerson, "p1")
	org := orgClaim("c2", "o1", "p1")
	createClaims(t, s, person, org)
	before := snapshot(t, s)

	tests := []struct {
		name   string
		r      claim.Redemption
		target error
	}{
		{"org flow on person claim", func() claim.Redemption {
			r := redeemFor(person, zid(1))
			r.Kind = claim.KindOrg
			return r
		}(), claim.ErrInvalid},
		{"person flow on org claim", func() claim.Redemption {
			r := redeemFor(org, zid(1))
			r.Kind = claim.KindPerson
			return r
		}(), claim.ErrInvalid},
		{"bad zaikio id", redeemFor(person, "not-a-uuid"), claim.ErrInvalid},
		{"org claimer not linked", func() claim.Redemption {
			r := redeemFor(org, zid(1))
			r.Claimer = ""
			return r
		}(), claim.ErrForbidden},
		{"org wrong claimer", func() claim.Redemption {
			r := redeemFor(org, zid(1))
			r.Claimer = "p2"
			return r
		}(), claim.ErrForbidden},
		{"org member only", func() claim.Redemption {
			r := redeemFor(org, zid(1))
			r.Roles = []string{"member"}
			return r
		}(), claim.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.RedeemClaim(t.Context(), tt.r)
			wantErr(t, "RedeemClaim("+tt.name+")", err, tt.target)
			unchanged(t, s, before, "RedeemClaim("+tt.name+")")
		})
	}
}

func testRedeemConflict(t *testing.T, s Store) {
	ctx := t.Context()
	// p1 ⇄ Z1 and p2 ⇄ Z2 are linked; p3 is free, Z3 is free.
	putLink(t, s, adminLink(claim.KindPerson, "p1", zid(1)))
	putLink(t, s, adminLink(claim.KindPerson, "p2", zid(2)))
	toP1 := newClaim("c1", claim.KindPerson, "p1")
	toP3 := newClaim("c3", claim.KindPerson, "p3")
	createClaims(t, s, toP1, toP3)
	before := snapshot(t, s)

	tests := []struct {
		name string
		r    claim.Redemption
	}{
		{"legacy end taken", redeemFor(toP1, zid(3))},
		{"legacy end taken, zaikio end taken by another", redeemFor(toP1, zid(2))},
		{"zaikio end taken", redeemFor(toP3, zid(1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.RedeemClaim(ctx, tt.r)
			wantErr(t, "RedeemClaim("+tt.name+")", err, claim.ErrConflict)
			unchanged(t, s, before, "RedeemClaim("+tt.name+")")
		})
	}
}

func testRedeemSamePair(t *testing.T, s Store) {
	existing := adminLink(claim.KindPerson, "p1", zid(1))
	putLink(t, s, existing)
	c := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c)

	r := redeemFor(c, zid(1))
	gotClaim, gotLink := redeemOK(t, s, r)
	want := c
	want.UsedAt, want.UsedBy = r.At, r.ZaikioID
	if diff := cmp.Diff(want, gotClaim, cmpOpts); diff != "" {
		t.Errorf("RedeemClaim claim mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, getClaim(t, s, c.ID), cmpOpts); diff != "" {
		t.Errorf("stored claim mismatch (-want +got):\n%s", diff)
	}
	// The stored link is kept as it was, and returned.
	if diff := cmp.Diff(existing, gotLink, cmpOpts); diff != "" {
		t.Errorf("RedeemClaim link mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]claim.Link{existing}, allLinks(t, s, claim.KindPerson), cmpOpts); diff != "" {
		t.Errorf("links after RedeemClaim mismatch (-want +got):\n%s", diff)
	}
	if got, want := actions(allEvents(t, s)), []string{"claim.redeem", "claim.issue", "link.create"}; !cmp.Equal(got, want) {
		t.Errorf("actions after RedeemClaim = %q; want %q", got, want)
	}
}

// race runs fn(i) for i in [0, n) in n goroutines released at once and
// returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails t unless exactly one of errs is nil and every other is one
// of targets; it returns the winner's index.
func oneWinner(t *testing.T, errs []error, targets ...error) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		if err == nil {
			winner, wins = i, wins+1
			continue
		}
		ok := false
		for _, target := range targets {
			ok = ok || errors.Is(err, target)
		}
		if !ok {
			t.Errorf("goroutine %d: %v; want nil or one of %v", i, err, targets)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d goroutines succeeded; want exactly one", wins, len(errs))
	}
	return winner
}

func testRedeemConcurrentSameClaim(t *testing.T, s Store) {
	const n = 50
	for _, tt := range []struct {
		name   string
		zaikio func(i int) string
	}{
		{"same zaikio id", func(int) string { return zid(1) }},
		{"different zaikio ids", func(i int) string { return zid(100 + i) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Each case redeems its own claim for its own legacy person.
			legacy := "p-" + tt.name[:4]
			c := newClaim("c-"+tt.name[:4], claim.KindPerson, legacy)
			createClaims(t, s, c)
			errs := race(n, func(i int) error {
				_, _, err := s.RedeemClaim(t.Context(), redeemFor(c, tt.zaikio(i)))
				return err
			})
			w := oneWinner(t, errs, claim.ErrUsed, claim.ErrConflict)
			got := getClaim(t, s, c.ID)
			if got.UsedBy != tt.zaikio(w) {
				t.Errorf("claim UsedBy = %s; want the winner's %s", got.UsedBy, tt.zaikio(w))
			}
			if l := getLink(t, s, claim.KindPerson, legacy); l.ZaikioID != tt.zaikio(w) {
				t.Errorf("Link(person, %s).ZaikioID = %s; want the winner's %s", legacy, l.ZaikioID, tt.zaikio(w))
			}
			for i := range n {
				if z := tt.zaikio(i); z != tt.zaikio(w) {
					_, err := s.LinkByZaikio(t.Context(), claim.KindPerson, z)
					wantErr(t, "LinkByZaikio(loser "+z+")", err, claim.ErrNotFound)
				}
			}
			redeems := 0
			for _, ev := range allEvents(t, s) {
				if ev.Action == "claim.redeem" && ev.Subject == "person:"+legacy {
					redeems++
				}
			}
			if redeems != 1 {
				t.Errorf("claim.redeem events for %s = %d; want 1", legacy, redeems)
			}
		})
	}
	if ls := allLinks(t, s, claim.KindPerson); len(ls) != 2 {
		t.Errorf("person links after both races = %d; want 2 (one per claim): %+v", len(ls), ls)
	}
}

func testRedeemConcurrentSameZaikio(t *testing.T, s Store) {
	const n = 50
	claims := make([]claim.Claim, n)
	for i := range claims {
		claims[i] = newClaim(pad("c", i), claim.KindPerson, pad("p", i))
	}
	createClaims(t, s, claims...)
	errs := race(n, func(i int) error {
		_, _, err := s.RedeemClaim(t.Context(), redeemFor(claims[i], zid(1)))
		return err
	})
	w := oneWinner(t, errs, claim.ErrConflict)
	ls := allLinks(t, s, claim.KindPerson)
	if len(ls) != 1 {
		t.Fatalf("person links = %d; want 1: %+v", len(ls), ls)
	}
	if ls[0].LegacyID != claims[w].LegacyID || ls[0].ZaikioID != zid(1) {
		t.Errorf("link = %s ⇄ %s; want the winner's %s ⇄ %s", ls[0].LegacyID, ls[0].ZaikioID, claims[w].LegacyID, zid(1))
	}
	for i, c := range claims {
		got := getClaim(t, s, c.ID)
		if used := !got.UsedAt.IsZero(); used != (i == w) {
			t.Errorf("claim %s used = %t; want %t", c.ID, used, i == w)
		}
	}
}
