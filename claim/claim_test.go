package claim_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/claim"
)

const (
	frank  = "383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01"
	erika  = "29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7"
	bounty = "b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01"
)

var t0 = time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)

func TestStatusAndUsable(t *testing.T) {
	t.Parallel()
	open := claim.Claim{ID: "c1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	used := open
	used.UsedAt, used.UsedBy = t0.Add(time.Minute), frank
	revoked := open
	revoked.RevokedAt = t0.Add(time.Minute)
	usedAndRevoked := used
	usedAndRevoked.RevokedAt = t0.Add(2 * time.Minute)
	tests := []struct {
		name       string
		c          claim.Claim
		now        time.Time
		wantStatus string
		wantErr    error
	}{
		{"open at creation", open, t0, "open", nil},
		{"open a nanosecond before expiry", open, t0.Add(time.Hour - time.Nanosecond), "open", nil},
		{"expired exactly at ExpiresAt", open, t0.Add(time.Hour), "expired", claim.ErrExpired},
		{"expired after", open, t0.Add(2 * time.Hour), "expired", claim.ErrExpired},
		{"expired in another zone", open, t0.Add(time.Hour).In(time.FixedZone("CET", 3600)), "expired", claim.ErrExpired},
		{"used", used, t0.Add(2 * time.Minute), "used", claim.ErrUsed},
		{"used, also past expiry", used, t0.Add(2 * time.Hour), "used", claim.ErrUsed},
		{"revoked", revoked, t0.Add(2 * time.Minute), "revoked", claim.ErrRevoked},
		{"revoked, also past expiry", revoked, t0.Add(2 * time.Hour), "revoked", claim.ErrRevoked},
		{"used wins over revoked", usedAndRevoked, t0.Add(3 * time.Minute), "used", claim.ErrUsed},
		{"zero expiry is expired", claim.Claim{ID: "c0"}, t0, "expired", claim.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.c.Status(tc.now); got != tc.wantStatus {
				t.Errorf("Status(%v) = %q; want %q", tc.now, got, tc.wantStatus)
			}
			err := tc.c.Usable(tc.now)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Usable(%v) = %v; want %v", tc.now, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.c.ID) {
				t.Errorf("Usable(%v) = %q; want it to name claim %s", tc.now, err, tc.c.ID)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	person := claim.Claim{ID: "p1", Kind: claim.KindPerson, LegacyID: "42", ExpiresAt: t0.Add(time.Hour)}
	org := claim.Claim{ID: "o1", Kind: claim.KindOrg, LegacyID: "7", ExpiresAt: t0.Add(time.Hour)}
	named := org
	named.Claimer = "42"
	with := func(c claim.Claim, f func(*claim.Claim)) claim.Claim { f(&c); return c }
	redeemPerson := claim.Redemption{Kind: claim.KindPerson, ZaikioID: frank, At: t0}
	redeemOrg := func(claimer string, roles ...string) claim.Redemption {
		return claim.Redemption{Kind: claim.KindOrg, ZaikioID: bounty, Claimer: claimer, Roles: roles, At: t0}
	}
	tests := []struct {
		name string
		c    claim.Claim
		r    claim.Redemption
		want error
	}{
		{"person ok", person, redeemPerson, nil},
		{"person used", with(person, func(c *claim.Claim) { c.UsedAt = t0.Add(-time.Minute) }), redeemPerson, claim.ErrUsed},
		{"person revoked", with(person, func(c *claim.Claim) { c.RevokedAt = t0.Add(-time.Minute) }), redeemPerson, claim.ErrRevoked},
		{"person expired", with(person, func(c *claim.Claim) { c.ExpiresAt = t0 }), redeemPerson, claim.ErrExpired},
		{"org flow on person claim", person, redeemOrg("42", "owner"), claim.ErrInvalid},
		{"person flow on org claim", org, claim.Redemption{Kind: claim.KindPerson, ZaikioID: frank, Claimer: "42", At: t0}, claim.ErrInvalid},
		{"empty zaikio id", person, claim.Redemption{Kind: claim.KindPerson, At: t0}, claim.ErrInvalid},
		{"upper-case zaikio id", person, claim.Redemption{Kind: claim.KindPerson, ZaikioID: strings.ToUpper(frank), At: t0}, claim.ErrInvalid},
		{"zaikio id not a uuid", person, claim.Redemption{Kind: claim.KindPerson, ZaikioID: "Person/" + frank, At: t0}, claim.ErrInvalid},
		{"org without claimer", org, redeemOrg("", "owner"), claim.ErrForbidden},
		{"org, any linked owner", org, redeemOrg("42", "owner"), nil},
		{"org, any linked admin", org, redeemOrg("43", "member", "admin"), nil},
		{"org, named claimer owner", named, redeemOrg("42", "owner"), nil},
		{"org, named claimer mismatch", named, redeemOrg("43", "owner"), claim.ErrForbidden},
		{"org, member only", org, redeemOrg("42", "member"), claim.ErrForbidden},
		{"org, several roles without owner or admin", org, redeemOrg("42", "member", "purchaser", "designer"), claim.ErrForbidden},
		{"org, no roles", org, redeemOrg("42"), claim.ErrForbidden},
		{"org, role in capitals", org, redeemOrg("42", "Owner"), claim.ErrForbidden},
		{"org expired beats everything", with(org, func(c *claim.Claim) { c.ExpiresAt = t0.Add(-time.Second) }), redeemOrg("42", "owner"), claim.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.c.Check(tc.r)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Check(%+v) = %v; want %v", tc.r, err, tc.want)
			}
		})
	}
}

func TestAdministers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roles []string
		want  bool
	}{
		{nil, false},
		{[]string{"member"}, false},
		{[]string{"owner"}, true},
		{[]string{"admin"}, true},
		{[]string{"designer", "admin"}, true},
		{[]string{"administrator", "owners"}, false},
	}
	for _, tc := range tests {
		if got := claim.Administers(tc.roles); got != tc.want {
			t.Errorf("Administers(%q) = %v; want %v", tc.roles, got, tc.want)
		}
	}
}

func TestCheckLink(t *testing.T) {
	t.Parallel()
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "42", ZaikioID: frank}
	same := l
	legacyElsewhere := claim.Link{Kind: claim.KindPerson, LegacyID: "42", ZaikioID: erika}
	zaikioElsewhere := claim.Link{Kind: claim.KindPerson, LegacyID: "43", ZaikioID: frank}
	tests := []struct {
		name               string
		byLegacy, byZaikio *claim.Link
		wantExists         bool
		wantErr            error
	}{
		{"both ends free", nil, nil, false, nil},
		{"exactly this link exists", &same, &same, true, nil},
		{"legacy end linked elsewhere", &legacyElsewhere, nil, false, claim.ErrConflict},
		{"zaikio end linked elsewhere", nil, &zaikioElsewhere, false, claim.ErrConflict},
		{"both ends linked elsewhere", &legacyElsewhere, &zaikioElsewhere, false, claim.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			exists, err := claim.CheckLink(l, tc.byLegacy, tc.byZaikio)
			if exists != tc.wantExists || tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("CheckLink(%+v, %+v, %+v) = %v, %v; want %v, %v", l, tc.byLegacy, tc.byZaikio, exists, err, tc.wantExists, tc.wantErr)
			}
		})
	}
}

func TestValidLegacyID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"42", true},
		{"a", true},
		{"user.name_1@example-corp", true},
		{"ABCxyz019", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"", false},
		{"a b", false},
		{"a,b", false},
		{"a:b", false},
		{"a/b", false},
		{"a\nb", false},
		{"a;b", false},
		{"ä", false},
		{"a+b", false},
	}
	for _, tc := range tests {
		if got := claim.ValidLegacyID(tc.in); got != tc.want {
			t.Errorf("ValidLegacyID(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestValidZaikioID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{frank, true},
		{"00000000-0000-0000-0000-000000000000", true},
		{strings.ToUpper(frank), false},
		{"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7E01", false},
		{"383663bc3c3e4e8e9f0e6c1b1f0a7e01", false},
		{"{383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01}", false},
		{"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e0", false},
		{"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e012", false},
		{"383663bc-3c3e-4e8e-9f0e_6c1b1f0a7e01", false},
		{"383663bc-3c3e-4e8e-9f0e-6c1b1f0a7eg1", false},
		{"383663bc-3c3e-4e8e-9f0e6-c1b1f0a7e01", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := claim.ValidZaikioID(tc.in); got != tc.want {
			t.Errorf("ValidZaikioID(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    claim.Kind
		wantErr bool
	}{
		{"person", claim.KindPerson, false},
		{"org", claim.KindOrg, false},
		{"organization", claim.KindOrg, false},
		{"Person", "", true},
		{"people", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got, err := claim.ParseKind(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr || err != nil && !errors.Is(err, claim.ErrInvalid) {
			t.Errorf("ParseKind(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPersonNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, first, last string
	}{
		{"Ada Lovelace", "Ada", "Lovelace"},
		{"Ada Augusta Lovelace", "Ada Augusta", "Lovelace"},
		{"Cher", "", "Cher"},
		{"", "", ""},
		{"Ada  Lovelace", "Ada", "Lovelace"},
		{" Ada Lovelace ", "Ada", "Lovelace"},
		{" Cher", "", "Cher"},
	}
	for _, tc := range tests {
		p := claim.Person{Name: tc.name}
		if got := p.FirstName(); got != tc.first {
			t.Errorf("Person{Name: %q}.FirstName() = %q; want %q", tc.name, got, tc.first)
		}
		if got := p.LastName(); got != tc.last {
			t.Errorf("Person{Name: %q}.LastName() = %q; want %q", tc.name, got, tc.last)
		}
	}
}

func TestLinkEvents(t *testing.T) {
	t.Parallel()
	l := claim.Link{Kind: claim.KindOrg, LegacyID: "7", ZaikioID: bounty, CreatedAt: t0, Via: "claim:c1", By: "zaikio:" + frank}
	want := claim.Event{Time: t0, Actor: "zaikio:" + frank, Action: "link.create", Subject: "org:7", Detail: "zaikio " + bounty + " via claim:c1"}
	if diff := cmp.Diff(want, claim.LinkEvent(l)); diff != "" {
		t.Errorf("LinkEvent (-want +got):\n%s", diff)
	}
	want = claim.Event{Time: t0.Add(time.Hour), Actor: "admin-api", Action: "link.delete", Subject: "org:7", Detail: "was zaikio " + bounty}
	if diff := cmp.Diff(want, claim.UnlinkEvent(l, "admin-api", t0.Add(time.Hour))); diff != "" {
		t.Errorf("UnlinkEvent (-want +got):\n%s", diff)
	}
}
