package storetest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/claim"
)

func testCreateClaims(t *testing.T, s Store) {
	ctx := t.Context()
	claims := []claim.Claim{
		newClaim("c1", claim.KindPerson, "p1"),
		newClaim("c2", claim.KindPerson, "p2"),
		orgClaim("c3", "o1", "p1"),
	}
	ev := issueEvent(len(claims))
	if err := s.CreateClaims(ctx, claims, ev); err != nil {
		t.Fatalf("CreateClaims(3 claims) = %v; want nil", err)
	}
	for _, want := range claims {
		got, err := s.ClaimByHash(ctx, want.Hash)
		if err != nil {
			t.Fatalf("ClaimByHash(hash of %s) = %v; want nil", want.ID, err)
		}
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("ClaimByHash(hash of %s) mismatch (-want +got):\n%s", want.ID, diff)
		}
		got, err = s.Claim(ctx, want.ID)
		if err != nil {
			t.Fatalf("Claim(%q) = %v; want nil", want.ID, err)
		}
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("Claim(%q) mismatch (-want +got):\n%s", want.ID, diff)
		}
	}
	evs := allEvents(t, s)
	if diff := cmp.Diff([]claim.Event{ev}, evs, cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("events after CreateClaims mismatch (-want +got):\n%s", diff)
	}
	if len(evs) == 1 && evs[0].Seq == 0 {
		t.Errorf("event Seq = 0; want assigned by the store (> 0)")
	}
}

func testCreateClaimsDuplicate(t *testing.T, s Store) {
	ctx := t.Context()
	c1 := newClaim("c1", claim.KindPerson, "p1")
	createClaims(t, s, c1)
	before := snapshot(t, s)

	sameHash := newClaim("c4", claim.KindPerson, "p4")
	sameHash.Hash = c1.Hash
	twiceInBatch := newClaim("c6", claim.KindPerson, "p6")
	twiceInBatch.Hash = hashOf("c6 again")
	tests := []struct {
		name  string
		batch []claim.Claim
	}{
		{"stored id", []claim.Claim{newClaim("c2", claim.KindPerson, "p2"), newClaim("c1", claim.KindPerson, "p9")}},
		{"stored hash", []claim.Claim{newClaim("c3", claim.KindPerson, "p3"), sameHash}},
		{"id twice in batch", []claim.Claim{newClaim("c5", claim.KindPerson, "p5"), newClaim("c6", claim.KindPerson, "p6"), twiceInBatch}},
		{"hash twice in batch", []claim.Claim{newClaim("c7", claim.KindPerson, "p7"), func() claim.Claim {
			c := newClaim("c8", claim.KindPerson, "p8")
			c.Hash = hashOf("c7")
			return c
		}()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateClaims(ctx, tt.batch, issueEvent(len(tt.batch))); err == nil {
				t.Errorf("CreateClaims(%s) = nil; want an error", tt.name)
			}
			unchanged(t, s, before, "CreateClaims("+tt.name+")")
		})
	}
}

func testClaimsNotFound(t *testing.T, s Store) {
	ctx := t.Context()
	createClaims(t, s, newClaim("c1", claim.KindPerson, "p1"))
	_, err := s.ClaimByHash(ctx, hashOf("nope"))
	wantErr(t, "ClaimByHash(unknown)", err, claim.ErrNotFound)
	_, err = s.Claim(ctx, "nope")
	wantErr(t, `Claim("nope")`, err, claim.ErrNotFound)
}

func testClaimsPaging(t *testing.T, s Store) {
	ctx := t.Context()
	var want []claim.Claim
	for i := range 25 {
		want = append(want, newClaim(pad("c", i), claim.KindPerson, pad("p", i)))
	}
	shuffled := append([]claim.Claim(nil), want...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	createClaims(t, s, shuffled[:10]...)
	createClaims(t, s, shuffled[10:]...)

	all, err := s.Claims(ctx, "", 0)
	if err != nil {
		t.Fatalf(`Claims("", 0) = %v; want nil`, err)
	}
	if diff := cmp.Diff(want, all, cmpOpts); diff != "" {
		t.Errorf(`Claims("", 0) mismatch (-want +got):\n%s`, diff)
	}

	var got []claim.Claim
	after := ""
	for range 10 {
		page, err := s.Claims(ctx, after, 10)
		if err != nil {
			t.Fatalf("Claims(%q, 10) = %v; want nil", after, err)
		}
		if len(page) > 10 {
			t.Fatalf("Claims(%q, 10) = %d claims; want at most 10", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("Claims in pages of 10 mismatch (-want +got):\n%s", diff)
	}

	page, err := s.Claims(ctx, "c010", 3)
	if err != nil {
		t.Fatalf(`Claims("c010", 3) = %v; want nil`, err)
	}
	if diff := cmp.Diff(want[11:14], page, cmpOpts); diff != "" {
		t.Errorf(`Claims("c010", 3) mismatch (-want +got):\n%s`, diff)
	}
	// An `after` that is no stored id still pages from the next one.
	page, err = s.Claims(ctx, "c0105", 2)
	if err != nil {
		t.Fatalf(`Claims("c0105", 2) = %v; want nil`, err)
	}
	if diff := cmp.Diff(want[11:13], page, cmpOpts); diff != "" {
		t.Errorf(`Claims("c0105", 2) mismatch (-want +got):\n%s`, diff)
	}
}

func testRevokeClaim(t *testing.T, s Store) {
	ctx := t.Context()
	c1 := newClaim("c1", claim.KindPerson, "p1")
	c2 := newClaim("c2", claim.KindPerson, "p2")
	createClaims(t, s, c1, c2)
	at := t0.Add(30 * time.Minute)

	if err := s.RevokeClaim(ctx, "c1", "admin-api", at); err != nil {
		t.Fatalf("RevokeClaim(c1) = %v; want nil", err)
	}
	want := c1
	want.RevokedAt = at
	if diff := cmp.Diff(want, getClaim(t, s, "c1"), cmpOpts); diff != "" {
		t.Errorf("claim after RevokeClaim mismatch (-want +got):\n%s", diff)
	}
	evs := allEvents(t, s)
	if got, want := actions(evs), []string{"claim.revoke", "claim.issue"}; !cmp.Equal(got, want) {
		t.Fatalf("actions after RevokeClaim = %q; want %q", got, want)
	}
	if ev := evs[0]; ev.Actor != "admin-api" || !sameTime(ev.Time, at) || ev.Subject != "person:p1" {
		t.Errorf("revoke event = %+v; want actor admin-api, time %s, subject person:p1", ev, at)
	}

	// Revoking twice is a no-op: the first time stays, nothing is appended.
	before := snapshot(t, s)
	if err := s.RevokeClaim(ctx, "c1", "cli", at.Add(time.Hour)); err != nil {
		t.Errorf("RevokeClaim(c1) again = %v; want nil", err)
	}
	unchanged(t, s, before, "RevokeClaim(c1) again")

	// A revoked claim cannot be redeemed.
	_, _, err := s.RedeemClaim(ctx, redeemFor(c1, zid(1)))
	wantErr(t, "RedeemClaim(revoked c1)", err, claim.ErrRevoked)
	unchanged(t, s, before, "RedeemClaim(revoked c1)")

	// A used claim cannot be revoked.
	if _, _, err := s.RedeemClaim(ctx, redeemFor(c2, zid(2))); err != nil {
		t.Fatalf("RedeemClaim(c2) = %v; want nil", err)
	}
	before = snapshot(t, s)
	err = s.RevokeClaim(ctx, "c2", "admin-api", at.Add(2*time.Hour))
	wantErr(t, "RevokeClaim(used c2)", err, claim.ErrUsed)
	unchanged(t, s, before, "RevokeClaim(used c2)")

	err = s.RevokeClaim(ctx, "nope", "admin-api", at)
	wantErr(t, `RevokeClaim("nope")`, err, claim.ErrNotFound)
	unchanged(t, s, before, `RevokeClaim("nope")`)
}
