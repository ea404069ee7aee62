package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/claim"
)

func testPutLink(t *testing.T, s Store) {
	ctx := t.Context()
	l := adminLink(claim.KindPerson, "p1", zid(1))
	putLink(t, s, l)
	if diff := cmp.Diff(l, getLink(t, s, claim.KindPerson, "p1"), cmpOpts); diff != "" {
		t.Errorf("Link(person, p1) mismatch (-want +got):\n%s", diff)
	}
	got, err := s.LinkByZaikio(ctx, claim.KindPerson, zid(1))
	if err != nil {
		t.Fatalf("LinkByZaikio(person, %s) = %v; want nil", zid(1), err)
	}
	if diff := cmp.Diff(l, got, cmpOpts); diff != "" {
		t.Errorf("LinkByZaikio(person, %s) mismatch (-want +got):\n%s", zid(1), diff)
	}
	if diff := cmp.Diff([]claim.Event{claim.LinkEvent(l)}, allEvents(t, s), cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("events after PutLink mismatch (-want +got):\n%s", diff)
	}

	_, err = s.Link(ctx, claim.KindPerson, "p2")
	wantErr(t, "Link(person, p2)", err, claim.ErrNotFound)
	_, err = s.LinkByZaikio(ctx, claim.KindPerson, zid(2))
	wantErr(t, "LinkByZaikio(person, "+zid(2)+")", err, claim.ErrNotFound)
	_, err = s.Link(ctx, claim.KindOrg, "p1")
	wantErr(t, "Link(org, p1)", err, claim.ErrNotFound)
	_, err = s.LinkByZaikio(ctx, claim.KindOrg, zid(1))
	wantErr(t, "LinkByZaikio(org, "+zid(1)+")", err, claim.ErrNotFound)
}

func testLinksUnique(t *testing.T, s Store) {
	putLink(t, s, adminLink(claim.KindPerson, "p1", zid(1)))
	putLink(t, s, adminLink(claim.KindPerson, "p2", zid(2)))
	before := snapshot(t, s)
	tests := []struct {
		name string
		l    claim.Link
	}{
		{"legacy end taken", adminLink(claim.KindPerson, "p1", zid(3))},
		{"zaikio end taken", adminLink(claim.KindPerson, "p3", zid(1))},
		{"both ends taken by different links", adminLink(claim.KindPerson, "p1", zid(2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutLink(t.Context(), tt.l)
			wantErr(t, "PutLink("+tt.name+")", err, claim.ErrConflict)
			unchanged(t, s, before, "PutLink("+tt.name+")")
		})
	}
}

func testPutLinkSamePair(t *testing.T, s Store) {
	l := adminLink(claim.KindPerson, "p1", zid(1))
	putLink(t, s, l)
	before := snapshot(t, s)
	again := l
	again.CreatedAt, again.Via, again.By = t0.Add(time.Hour), "provision", "other"
	if err := s.PutLink(t.Context(), again); err != nil {
		t.Errorf("PutLink(same pair) = %v; want nil", err)
	}
	unchanged(t, s, before, "PutLink(same pair)")
}

func testDeleteLink(t *testing.T, s Store) {
	ctx := t.Context()
	l := adminLink(claim.KindPerson, "p1", zid(1))
	putLink(t, s, l)
	putLink(t, s, adminLink(claim.KindPerson, "p2", zid(2)))
	at := t0.Add(time.Hour)

	got, err := s.DeleteLink(ctx, claim.KindPerson, "p1", "dashboard", at)
	if err != nil {
		t.Fatalf("DeleteLink(person, p1) = %v; want nil", err)
	}
	if diff := cmp.Diff(l, got, cmpOpts); diff != "" {
		t.Errorf("DeleteLink(person, p1) mismatch (-want +got):\n%s", diff)
	}
	_, err = s.Link(ctx, claim.KindPerson, "p1")
	wantErr(t, "Link(person, p1) after DeleteLink", err, claim.ErrNotFound)
	_, err = s.LinkByZaikio(ctx, claim.KindPerson, zid(1))
	wantErr(t, "LinkByZaikio(person, "+zid(1)+") after DeleteLink", err, claim.ErrNotFound)
	evs := allEvents(t, s)
	if len(evs) == 0 {
		t.Fatal("no events after DeleteLink")
	}
	if diff := cmp.Diff(claim.UnlinkEvent(l, "dashboard", at), evs[0], cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("newest event after DeleteLink mismatch (-want +got):\n%s", diff)
	}
	if got := getLink(t, s, claim.KindPerson, "p2"); got.ZaikioID != zid(2) {
		t.Errorf("Link(person, p2).ZaikioID = %s after deleting p1; want %s", got.ZaikioID, zid(2))
	}

	// Both ends are free again.
	putLink(t, s, adminLink(claim.KindPerson, "p3", zid(1)))
	putLink(t, s, adminLink(claim.KindPerson, "p1", zid(4)))

	before := snapshot(t, s)
	_, err = s.DeleteLink(ctx, claim.KindPerson, "nope", "dashboard", at)
	wantErr(t, "DeleteLink(person, nope)", err, claim.ErrNotFound)
	_, err = s.DeleteLink(ctx, claim.KindOrg, "p2", "dashboard", at)
	wantErr(t, "DeleteLink(org, p2)", err, claim.ErrNotFound)
	unchanged(t, s, before, "DeleteLink(missing)")
}

func testLinkKinds(t *testing.T, s Store) {
	ctx := t.Context()
	// The same strings on both kinds: separate namespaces, no conflict.
	person := adminLink(claim.KindPerson, "x1", zid(1))
	org := adminLink(claim.KindOrg, "x1", zid(1))
	putLink(t, s, person)
	putLink(t, s, org)
	if diff := cmp.Diff([]claim.Link{person}, allLinks(t, s, claim.KindPerson), cmpOpts); diff != "" {
		t.Errorf("person links mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]claim.Link{org}, allLinks(t, s, claim.KindOrg), cmpOpts); diff != "" {
		t.Errorf("org links mismatch (-want +got):\n%s", diff)
	}
	// An org link conflicts only with org links.
	err := s.PutLink(ctx, adminLink(claim.KindOrg, "x2", zid(1)))
	wantErr(t, "PutLink(org x2 ⇄ Z1)", err, claim.ErrConflict)

	if _, err := s.DeleteLink(ctx, claim.KindPerson, "x1", "cli", t0); err != nil {
		t.Fatalf("DeleteLink(person, x1) = %v; want nil", err)
	}
	if diff := cmp.Diff(org, getLink(t, s, claim.KindOrg, "x1"), cmpOpts); diff != "" {
		t.Errorf("org link after deleting the person link mismatch (-want +got):\n%s", diff)
	}
	got, err := s.LinkByZaikio(ctx, claim.KindOrg, zid(1))
	if err != nil {
		t.Fatalf("LinkByZaikio(org, %s) = %v; want nil", zid(1), err)
	}
	if diff := cmp.Diff(org, got, cmpOpts); diff != "" {
		t.Errorf("LinkByZaikio(org) after deleting the person link mismatch (-want +got):\n%s", diff)
	}
}

func testLinksPaging(t *testing.T, s Store) {
	ctx := t.Context()
	var persons, orgs []claim.Link
	for i := range 25 {
		persons = append(persons, adminLink(claim.KindPerson, pad("p", i), zid(i)))
	}
	for i := range 3 {
		orgs = append(orgs, adminLink(claim.KindOrg, pad("o", i), zid(1000+i)))
	}
	// Write in reverse order: listing order is by legacy id, not by insertion.
	for i := len(persons) - 1; i >= 0; i-- {
		putLink(t, s, persons[i])
	}
	for _, l := range orgs {
		putLink(t, s, l)
	}

	var got []claim.Link
	after := ""
	for range 10 {
		page, err := s.Links(ctx, claim.KindPerson, after, 10)
		if err != nil {
			t.Fatalf("Links(person, %q, 10) = %v; want nil", after, err)
		}
		if len(page) > 10 {
			t.Fatalf("Links(person, %q, 10) = %d links; want at most 10", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].LegacyID
	}
	if diff := cmp.Diff(persons, got, cmpOpts); diff != "" {
		t.Errorf("person links in pages of 10 mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orgs, allLinks(t, s, claim.KindOrg), cmpOpts); diff != "" {
		t.Errorf("Links(org, \"\", 0) mismatch (-want +got):\n%s", diff)
	}
	page, err := s.Links(ctx, claim.KindOrg, "o000", 1)
	if err != nil {
		t.Fatalf(`Links(org, "o000", 1) = %v; want nil`, err)
	}
	if diff := cmp.Diff(orgs[1:2], page, cmpOpts); diff != "" {
		t.Errorf(`Links(org, "o000", 1) mismatch (-want +got):\n%s`, diff)
	}
}
