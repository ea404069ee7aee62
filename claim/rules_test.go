package claim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/claim"
)

func TestRedeem(t *testing.T) {
	t.Parallel()
	c := claim.Claim{ID: "c1", Kind: claim.KindPerson, LegacyID: "42", ExpiresAt: t0.Add(time.Hour)}
	at := t0.In(time.FixedZone("CET", 3600))
	r := claim.Redemption{Kind: claim.KindPerson, ZaikioID: frank, Actor: "zaikio:" + frank, At: at}
	got, err := c.Redeem(r)
	if err != nil {
		t.Fatalf("Redeem(%+v) = %v; want nil", r, err)
	}
	used := c
	used.UsedAt, used.UsedBy = t0, frank
	want := claim.Redeemed{
		Claim: used,
		Link:  claim.Link{Kind: claim.KindPerson, LegacyID: "42", ZaikioID: frank, CreatedAt: t0, Via: "claim:c1", By: "zaikio:" + frank},
		Event: claim.Event{Time: at, Actor: "zaikio:" + frank, Action: "claim.redeem", Subject: "person:42", Detail: "claim c1 for zaikio " + frank},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redeem (-want +got):\n%s", diff)
	}
	if got.Claim.UsedAt.Location() != time.UTC || got.Link.CreatedAt.Location() != time.UTC {
		t.Errorf("Redeem: UsedAt in %s, link CreatedAt in %s; want UTC", got.Claim.UsedAt.Location(), got.Link.CreatedAt.Location())
	}

	used.UsedAt = t0.Add(-time.Minute)
	if _, err := used.Redeem(r); !errors.Is(err, claim.ErrUsed) {
		t.Errorf("Redeem of a used claim = %v; want %v", err, claim.ErrUsed)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	open := claim.Claim{ID: "c1", Kind: claim.KindOrg, LegacyID: "7", ExpiresAt: t0.Add(time.Hour)}
	revoked := open
	revoked.RevokedAt = t0.Add(-time.Hour)
	used := open
	used.UsedAt, used.UsedBy = t0.Add(-time.Hour), frank
	expired := open
	expired.ExpiresAt = t0.Add(-time.Hour)

	tests := []struct {
		name    string
		c       claim.Claim
		want    claim.Revoked
		wantErr error
	}{
		{"open", open, claim.Revoked{Claim: withRevokedAt(open, t0),
			Event: claim.Event{Time: t0, Actor: "admin-api", Action: "claim.revoke", Subject: "org:7", Detail: "claim c1"}}, nil},
		{"expired", expired, claim.Revoked{Claim: withRevokedAt(expired, t0),
			Event: claim.Event{Time: t0, Actor: "admin-api", Action: "claim.revoke", Subject: "org:7", Detail: "claim c1"}}, nil},
		{"revoked before", revoked, claim.Revoked{Claim: revoked, Unchanged: true}, nil},
		{"used", used, claim.Revoked{}, claim.ErrUsed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.c.Revoke("admin-api", t0)
			if !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("Revoke = %v; want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Revoke (-want +got):\n%s", diff)
			}
		})
	}
}

func withRevokedAt(c claim.Claim, at time.Time) claim.Claim {
	c.RevokedAt = at
	return c
}

func TestLinkCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		l    claim.Link
		want error
	}{
		{"person", claim.Link{Kind: claim.KindPerson, LegacyID: "42", ZaikioID: frank}, nil},
		{"org", claim.Link{Kind: claim.KindOrg, LegacyID: "7", ZaikioID: bounty}, nil},
		{"unknown kind", claim.Link{Kind: "team", LegacyID: "7", ZaikioID: bounty}, claim.ErrInvalid},
		{"no legacy end", claim.Link{Kind: claim.KindPerson, ZaikioID: frank}, claim.ErrInvalid},
		{"no zaikio end", claim.Link{Kind: claim.KindPerson, LegacyID: "42"}, claim.ErrInvalid},
	} {
		if err := tc.l.Check(); !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Errorf("%s: Link%+v.Check() = %v; want %v", tc.name, tc.l, err, tc.want)
		}
	}
}
