package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hubgate/hubgate/claim"
)

// Run runs the conformance suite as subtests of t. Each subtest calls open for
// a fresh, empty store; open is responsible for closing it (t.Cleanup).
//
// The suite tests the contract written on [Store]'s pieces, nothing about
// how a store keeps its data, and adds these rules where the pieces are
// silent:
//
//   - Missing claims, links and people are claim.ErrNotFound; missing
//     sessions session.ErrNotFound.
//   - Times come back in UTC, equal to what was stored to the microsecond
//     (PostgreSQL keeps microseconds); zero times come back zero.
//   - Nil and empty slices are interchangeable (Person.Orgs, Record.Data…).
//   - Paging: Claims, Links and People return entries after `after` in
//     byte order of the key; tests use keys whose byte order and collation
//     order agree (PostgreSQL: use COLLATE "C" anyway).
//   - A link write that finds exactly its pair stored writes nothing and
//     appends no "link.create"; RedeemClaim then still consumes the claim
//     and appends "claim.redeem".
//   - RedeemClaim's events are appended in this order: "link.create", then
//     "claim.redeem", at r.At, by r.Actor, on subject "<kind>:<legacy id>".
//   - RevokeClaim of a missing claim is claim.ErrNotFound; revoking twice
//     keeps the first RevokedAt and appends nothing.
//   - DeleteLink of a missing link is claim.ErrNotFound.
//   - AddSigningKey with an id already stored returns nil and keeps the
//     stored key; DeleteSigningKey of a missing key returns nil.
//   - AddRevocation with the same Kind and Subject and an earlier At keeps
//     the stored entry whole; with an equal At, the new entry replaces it.
//   - ForgetDelivery of an id never recorded returns nil.
//   - CreateClaims with a duplicate id or hash returns an error (any).
//   - A link write (RedeemClaim, PutLink) that writes a link retires the
//     claims of its legacy end that are open at the link's time
//     (claim.Retire) and appends one "claim.retire" after its other
//     events; a claim issued after the link stays as issued, and Stats
//     counts it as retired, not open.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		run  func(*testing.T, Store)
	}{
		{"Claims/Create", testCreateClaims},
		{"Claims/CreateDuplicate", testCreateClaimsDuplicate},
		{"Claims/NotFound", testClaimsNotFound},
		{"Claims/Paging", testClaimsPaging},
		{"Claims/Revoke", testRevokeClaim},

		{"Redeem/Person", testRedeemPerson},
		{"Redeem/Org", testRedeemOrg},
		{"Redeem/Twice", testRedeemTwice},
		{"Redeem/Expired", testRedeemExpired},
		{"Redeem/Revoked", testRedeemRevoked},
		{"Redeem/NotFound", testRedeemNotFound},
		{"Redeem/Rules", testRedeemRules},
		{"Redeem/Conflict", testRedeemConflict},
		{"Redeem/SamePair", testRedeemSamePair},
		{"Retire/OnRedeem", testRetireOnRedeem},
		{"Retire/OnPutLink", testRetireOnPutLink},
		{"Redeem/ConcurrentSameClaim", testRedeemConcurrentSameClaim},
		{"Redeem/ConcurrentSameZaikio", testRedeemConcurrentSameZaikio},

		{"Links/Put", testPutLink},
		{"Links/Unique", testLinksUnique},
		{"Links/SamePair", testPutLinkSamePair},
		{"Links/Delete", testDeleteLink},
		{"Links/Kinds", testLinkKinds},
		{"Links/Paging", testLinksPaging},

		{"People/Put", testPutPeople},
		{"People/Replace", testReplacePerson},
		{"People/ByEmail", testPersonByEmail},
		{"People/EmailHolders", testEmailHolders},
		{"People/Paging", testPeoplePaging},
		{"People/OrgOwners", testOrgOwners},
		{"People/Many", testManyPeople},
		{"People/OrgNames", testOrgNames},

		{"Stats", testStats},
		{"Events", testEvents},
		{"Mode", testMode},
		{"Times", testTimes},
		{"Ping", testPing},

		{"Sessions/CreateAndSwap", testSessionCreateAndSwap},
		{"Sessions/Conflict", testSessionConflict},
		{"Sessions/ConcurrentSwap", testSessionConcurrentSwap},
		{"Sessions/Delete", testDeleteSession},
		{"Sessions/List", testListSessions},
		{"Sessions/DeleteExpired", testDeleteExpiredSessions},
		{"Revocations", testRevocations},
		{"Revocations/Unlink", testUnlinkRevocations},
		{"FirstDelivery", testFirstDelivery},
		{"SigningKeys", testSigningKeys},
		{"SignIns", testSignIns},
		{"SignIns/Concurrent", testSignInsConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// t0 is the suite's "now": fixtures are created at t0 and expire 14 days later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// cmpOpts compare what a store returns with what the test wrote: times to the
// microsecond and in UTC, nil and empty slices alike.
var cmpOpts = cmp.Options{
	cmp.Comparer(sameTime),
	cmpopts.EquateEmpty(),
}

// sameTime reports whether a and b are within a microsecond of each other
// (PostgreSQL rounds to microseconds) and both in UTC.
func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond && a.Location() == time.UTC && b.Location() == time.UTC
}

// ignoreSeq drops the store-assigned sequence number from event comparisons.
var ignoreSeq = cmpopts.IgnoreFields(claim.Event{}, "Seq")

// zid returns the n-th test Zaikio id, a canonical UUID.
func zid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// hashOf returns the hash of a made-up token.
func hashOf(s string) claim.Hash { return sha256.Sum256([]byte("token:" + s)) }

// newClaim returns an open claim with id, for kind and legacy id, created at
// t0 and expiring 14 days later.
func newClaim(id string, kind claim.Kind, legacyID string) claim.Claim {
	return claim.Claim{
		ID: id, Hash: hashOf(id), Kind: kind, LegacyID: legacyID,
		Email: legacyID + "@example.com", CreatedBy: "storetest",
		CreatedAt: t0, ExpiresAt: t0.Add(claim.DefaultTTL),
	}
}

// orgClaim returns an open org claim that only legacy person claimer may redeem.
func orgClaim(id, orgID, claimer string) claim.Claim {
	c := newClaim(id, claim.KindOrg, orgID)
	c.Claimer = claimer
	return c
}

// redeemFor returns a redemption of c for Zaikio id z an hour after t0; for
// org claims it acts as c's claimer (or "p1") holding "owner".
func redeemFor(c claim.Claim, z string) claim.Redemption {
	r := claim.Redemption{Hash: c.Hash, Kind: c.Kind, ZaikioID: z, Actor: "zaikio:" + z, At: t0.Add(time.Hour)}
	if c.Kind == claim.KindOrg {
		r.Claimer = c.Claimer
		if r.Claimer == "" {
			r.Claimer = "p1"
		}
		r.Roles = []string{"owner"}
	}
	return r
}

func issueEvent(n int) claim.Event {
	return claim.Event{Time: t0, Actor: "storetest", Action: "claim.issue", Subject: "batch",
		Detail: fmt.Sprintf("%d claims", n)}
}

func createClaims(t *testing.T, s Store, claims ...claim.Claim) {
	t.Helper()
	if err := s.CreateClaims(t.Context(), claims, issueEvent(len(claims))); err != nil {
		t.Fatalf("CreateClaims(%d claims) = %v; want nil", len(claims), err)
	}
}

func putLink(t *testing.T, s Store, l claim.Link) {
	t.Helper()
	if err := s.PutLink(t.Context(), l); err != nil {
		t.Fatalf("PutLink(%s %s ⇄ %s) = %v; want nil", l.Kind, l.LegacyID, l.ZaikioID, err)
	}
}

func adminLink(kind claim.Kind, legacyID, zaikioID string) claim.Link {
	return claim.Link{Kind: kind, LegacyID: legacyID, ZaikioID: zaikioID, CreatedAt: t0, Via: "admin", By: "storetest"}
}

func getClaim(t *testing.T, s Store, id string) claim.Claim {
	t.Helper()
	c, err := s.Claim(t.Context(), id)
	if err != nil {
		t.Fatalf("Claim(%q) = %v; want nil", id, err)
	}
	return c
}

func getLink(t *testing.T, s Store, kind claim.Kind, legacyID string) claim.Link {
	t.Helper()
	l, err := s.Link(t.Context(), kind, legacyID)
	if err != nil {
		t.Fatalf("Link(%s, %q) = %v; want nil", kind, legacyID, err)
	}
	return l
}

// allEvents returns the whole audit log, newest first.
func allEvents(t *testing.T, s Store) []claim.Event {
	t.Helper()
	var out []claim.Event
	before := uint64(0)
	for {
		evs, err := s.Events(t.Context(), before, 100)
		if err != nil {
			t.Fatalf("Events(%d, 100) = %v; want nil", before, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		before = evs[len(evs)-1].Seq
		if before <= 1 {
			return out
		}
	}
}

// actions lists the actions of evs, in order.
func actions(evs []claim.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

// allLinks returns every link of kind.
func allLinks(t *testing.T, s Store, kind claim.Kind) []claim.Link {
	t.Helper()
	ls, err := s.Links(t.Context(), kind, "", 0)
	if err != nil {
		t.Fatalf("Links(%s, \"\", 0) = %v; want nil", kind, err)
	}
	return ls
}

// state is what the claim and link operations can change, for tests that an
// operation which failed changed nothing.
type state struct {
	Claims     []claim.Claim
	PersonLink []claim.Link
	OrgLinks   []claim.Link
	Events     []claim.Event
}

func snapshot(t *testing.T, s Store) state {
	t.Helper()
	cs, err := s.Claims(t.Context(), "", 0)
	if err != nil {
		t.Fatalf("Claims(\"\", 0) = %v; want nil", err)
	}
	return state{Claims: cs, PersonLink: allLinks(t, s, claim.KindPerson), OrgLinks: allLinks(t, s, claim.KindOrg),
		Events: allEvents(t, s)}
}

// unchanged fails t if the store's state differs from before.
func unchanged(t *testing.T, s Store, before state, what string) {
	t.Helper()
	if diff := cmp.Diff(before, snapshot(t, s), cmpOpts); diff != "" {
		t.Errorf("%s changed the store (-before +after):\n%s", what, diff)
	}
}

// wantErr fails t unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v; want %v", what, err, target)
	}
}

// sortedStrings returns a sorted copy of ss.
func sortedStrings(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// inUTC fails t for every time in ts that is not in UTC.
func inUTC(t *testing.T, what string, ts ...time.Time) {
	t.Helper()
	for i, ts := range ts {
		if ts.Location() != time.UTC {
			t.Errorf("%s: time %d = %s in %s; want UTC", what, i, ts, ts.Location())
		}
	}
}

// pad returns prefix followed by n with three digits, so that byte order is
// numeric order.
func pad(prefix string, n int) string { return prefix + fmt.Sprintf("%03d", n) }
