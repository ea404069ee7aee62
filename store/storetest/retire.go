package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/claim"
)

// retired is c as retired at `at`.
func retired(c claim.Claim, at time.Time) claim.Claim {
	c.RetiredAt = at
	return c
}

// testRetireOnRedeem: redeeming a claim retires the other open claims of
// its legacy person (and only those), with one "claim.retire" entry after
// the redemption's; a retired claim then refuses to redeem and changes
// nothing.
func testRetireOnRedeem(t *testing.T, s Store) {
	ctx := t.Context()
	mine := newClaim("c1", claim.KindPerson, "p1")
	other := newClaim("c2", claim.KindPerson, "p1")
	third := newClaim("c3", claim.KindPerson, "p1")
	expired := newClaim("c4", claim.KindPerson, "p1")
	expired.ExpiresAt = t0.Add(30 * time.Minute) // before the redemption at t0+1h
	revoked := newClaim("c5", claim.KindPerson, "p1")
	elsewhere := newClaim("c6", claim.KindPerson, "p2")
	sameIDOtherKind := newClaim("c7", claim.KindOrg, "p1")
	createClaims(t, s, mine, other, third, expired, revoked, elsewhere, sameIDOtherKind)
	if err := s.RevokeClaim(ctx, revoked.ID, "admin-api", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeClaim = %v; want nil", err)
	}
	revoked.RevokedAt = t0.Add(time.Minute)

	r := redeemFor(mine, zid(1))
	r.ZaikioName = "Erika Mustermann"
	redeemOK(t, s, r)

	used := mine
	used.UsedAt, used.UsedBy = r.At, r.ZaikioID
	want := []claim.Claim{used, retired(other, r.At), retired(third, r.At), expired, revoked, elsewhere, sameIDOtherKind}
	for _, w := range want {
		if diff := cmp.Diff(w, getClaim(t, s, w.ID), cmpOpts); diff != "" {
			t.Errorf("claim %s after redeeming c1 (-want +got):\n%s", w.ID, diff)
		}
	}
	if got := getClaim(t, s, "c2").Status(r.At); got != "retired" {
		t.Errorf("Status(c2) = %q; want retired", got)
	}

	evs := allEvents(t, s)
	if got, want := actions(evs[:3]), []string{"claim.retire", "claim.redeem", "link.create"}; !cmp.Equal(got, want) {
		t.Fatalf("newest actions = %q; want %q", got, want)
	}
	ev := evs[0]
	if ev.Actor != r.Actor || ev.Subject != "person:p1" || !sameTime(ev.Time, r.At) ||
		!strings.Contains(ev.Detail, "c2") || !strings.Contains(ev.Detail, "c3") || strings.Contains(ev.Detail, "c4") {
		t.Errorf("retire event = %+v; want actor %s, subject person:p1, time %s, detail naming c2 and c3 only", ev, r.Actor, r.At)
	}
	if !strings.Contains(evs[1].Detail, "Erika Mustermann") || !strings.Contains(evs[1].Detail, zid(1)) {
		t.Errorf("redeem event detail = %q; want the Zaikio id and name", evs[1].Detail)
	}

	before := snapshot(t, s)
	_, _, err := s.RedeemClaim(ctx, redeemFor(other, zid(2)))
	wantErr(t, "RedeemClaim(retired claim, another Zaikio person)", err, claim.ErrRetired)
	unchanged(t, s, before, "RedeemClaim(retired claim, another Zaikio person)")

	// Revoking a retired claim changes nothing either.
	if err := s.RevokeClaim(ctx, other.ID, "admin-api", t0.Add(3*time.Hour)); err != nil {
		t.Errorf("RevokeClaim(retired) = %v; want nil (nothing to do)", err)
	}
	unchanged(t, s, before, "RevokeClaim(retired claim)")

	// For exactly the linked pair, a retired claim is consumed: the link
	// it would make is there.
	r3 := redeemFor(third, zid(1))
	gotClaim, gotLink := redeemOK(t, s, r3)
	if gotClaim.Status(r3.At) != "used" || gotLink.Via != "claim:c1" {
		t.Errorf("RedeemClaim(retired claim, the linked pair) = %s claim, link via %s; want used, the stored link via claim:c1", gotClaim.Status(r3.At), gotLink.Via)
	}
}

// testRetireOnPutLink: an operator's link (PutLink) retires the open
// claims of its legacy end at the link's time; writing the same pair again
// appends nothing; a claim issued after the link is left as it is, and
// counts as retired, not open.
func testRetireOnPutLink(t *testing.T, s Store) {
	ctx := t.Context()
	a := newClaim("c1", claim.KindOrg, "o1")
	b := newClaim("c2", claim.KindOrg, "o1")
	person := newClaim("c3", claim.KindPerson, "o1")
	createClaims(t, s, a, b, person)
	l := adminLink(claim.KindOrg, "o1", zid(7))
	l.CreatedAt = t0.Add(time.Hour)
	putLink(t, s, l)

	for _, w := range []claim.Claim{retired(a, l.CreatedAt), retired(b, l.CreatedAt), person} {
		if diff := cmp.Diff(w, getClaim(t, s, w.ID), cmpOpts); diff != "" {
			t.Errorf("claim %s after PutLink (-want +got):\n%s", w.ID, diff)
		}
	}
	evs := allEvents(t, s)
	if got, want := actions(evs), []string{"claim.retire", "link.create", "claim.issue"}; !cmp.Equal(got, want) {
		t.Fatalf("actions = %q; want %q", got, want)
	}
	if ev := evs[0]; ev.Actor != l.By || ev.Subject != "org:o1" || !sameTime(ev.Time, l.CreatedAt) {
		t.Errorf("retire event = %+v; want actor %s, subject org:o1, time %s", ev, l.By, l.CreatedAt)
	}

	before := snapshot(t, s)
	putLink(t, s, l)
	unchanged(t, s, before, "PutLink(the same pair again)")

	// Issued after the link: stored as issued, but nobody can redeem it.
	late := newClaim("c4", claim.KindOrg, "o1")
	createClaims(t, s, late)
	if diff := cmp.Diff(late, getClaim(t, s, late.ID), cmpOpts); diff != "" {
		t.Errorf("claim issued after the link (-want +got):\n%s", diff)
	}
	st, err := s.Stats(ctx, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("Stats = %v; want nil", err)
	}
	if st.ClaimsOpen != 1 || st.ClaimsOpenOrgs != 0 || st.ClaimsRetired != 3 {
		t.Errorf("Stats: open %d (%d orgs), retired %d; want 1 open (c3, a person), 3 retired (c1, c2 retired; c4 issued for a linked org)", st.ClaimsOpen, st.ClaimsOpenOrgs, st.ClaimsRetired)
	}
}

// testOrgNames: the directory keeps the organization names an import
// gives, per owner; OrgNames answers the first owner's (in id order) name,
// leaves out organizations without one, and forgets a name when its owner
// no longer owns the organization.
func testOrgNames(t *testing.T, s Store) {
	ctx := t.Context()
	putPeople(t, s,
		claim.Person{ID: "p1", Orgs: []string{"o1", "o2"}, OrgNames: map[string]string{"o1": "Acme Print", "o2": ""}},
		claim.Person{ID: "p2", Orgs: []string{"o1", "o3"}, OrgNames: map[string]string{"o1": "ACME", "o3": "Brown Packaging"}},
		claim.Person{ID: "p3", Orgs: []string{"o4"}, OrgNames: map[string]string{"o5": "not owned"}},
	)
	if diff := cmp.Diff(claim.Person{ID: "p2", Orgs: []string{"o1", "o3"}, OrgNames: map[string]string{"o1": "ACME", "o3": "Brown Packaging"}},
		getPerson(t, s, "p2"), cmpOpts); diff != "" {
		t.Errorf("Person(p2) (-want +got):\n%s", diff)
	}
	names, err := s.OrgNames(ctx, []string{"o1", "o2", "o3", "o4", "o5", "o9", ""})
	if err != nil {
		t.Fatalf("OrgNames = %v; want nil", err)
	}
	want := map[string]string{"o1": "Acme Print", "o3": "Brown Packaging"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("OrgNames (-want +got):\n%s", diff)
	}

	// p1 no longer owns o1: p2's name is the one left.
	putPeople(t, s, claim.Person{ID: "p1", Orgs: []string{"o2"}})
	names, err = s.OrgNames(ctx, []string{"o1"})
	if err != nil {
		t.Fatalf("OrgNames = %v; want nil", err)
	}
	if diff := cmp.Diff(map[string]string{"o1": "ACME"}, names); diff != "" {
		t.Errorf("OrgNames after p1 left o1 (-want +got):\n%s", diff)
	}
	if err := s.PutPeople(ctx, []claim.Person{{ID: "p9", Orgs: []string{"o1"}, OrgNames: map[string]string{"o1": "a\x00b"}}}, claim.Event{}); err == nil {
		t.Errorf("PutPeople(org name with a NUL byte) = nil; want an error")
	}
}
