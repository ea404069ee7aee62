package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/claim"
)

func putPeople(t *testing.T, s Store, people ...claim.Person) {
	t.Helper()
	if err := s.PutPeople(t.Context(), people, claim.Event{}); err != nil {
		t.Fatalf("PutPeople(%d people) = %v; want nil", len(people), err)
	}
}

func getPerson(t *testing.T, s Store, id string) claim.Person {
	t.Helper()
	p, err := s.Person(t.Context(), id)
	if err != nil {
		t.Fatalf("Person(%q) = %v; want nil", id, err)
	}
	return p
}

func orgOwners(t *testing.T, s Store, org string) []string {
	t.Helper()
	ids, err := s.OrgOwners(t.Context(), org)
	if err != nil {
		t.Fatalf("OrgOwners(%q) = %v; want nil", org, err)
	}
	return sortedStrings(ids)
}

func testPutPeople(t *testing.T, s Store) {
	ctx := t.Context()
	people := []claim.Person{
		{ID: "p1", Email: "ann@example.com", Name: "Ann Smith", Orgs: []string{"o1", "o2"}},
		{ID: "p2", Email: "bob@example.com", Name: "Bob"},
		{ID: "p3", Name: "No Mail"},
	}
	ev := claim.Event{Time: t0, Actor: "admin-api", Action: "people.import", Subject: "directory", Detail: "3 people"}
	if err := s.PutPeople(ctx, people, ev); err != nil {
		t.Fatalf("PutPeople(3 people) = %v; want nil", err)
	}
	for _, want := range people {
		if diff := cmp.Diff(want, getPerson(t, s, want.ID), cmpOpts); diff != "" {
			t.Errorf("Person(%q) mismatch (-want +got):\n%s", want.ID, diff)
		}
	}
	_, err := s.Person(ctx, "nope")
	wantErr(t, `Person("nope")`, err, claim.ErrNotFound)
	if diff := cmp.Diff([]claim.Event{ev}, allEvents(t, s), cmpOpts, ignoreSeq); diff != "" {
		t.Errorf("events after PutPeople mismatch (-want +got):\n%s", diff)
	}

	// Without an action, no event.
	putPeople(t, s, claim.Person{ID: "p4", Email: "dan@example.com"})
	if n := len(allEvents(t, s)); n != 1 {
		t.Errorf("events after PutPeople with an empty event = %d; want 1", n)
	}
}

func testReplacePerson(t *testing.T, s Store) {
	ctx := t.Context()
	putPeople(t, s,
		claim.Person{ID: "p1", Email: "old@example.com", Name: "Ann", Orgs: []string{"o1", "o2"}},
		claim.Person{ID: "p2", Email: "bob@example.com", Orgs: []string{"o1"}},
	)
	replaced := claim.Person{ID: "p1", Email: "new@example.com", Name: "Ann Smith", Orgs: []string{"o2", "o3"}}
	putPeople(t, s, replaced)

	if diff := cmp.Diff(replaced, getPerson(t, s, "p1"), cmpOpts); diff != "" {
		t.Errorf("Person(p1) after replace mismatch (-want +got):\n%s", diff)
	}
	_, err := s.PersonByEmail(ctx, "old@example.com")
	wantErr(t, "PersonByEmail(old address)", err, claim.ErrNotFound)
	got, err := s.PersonByEmail(ctx, "new@example.com")
	if err != nil {
		t.Fatalf("PersonByEmail(new address) = %v; want nil", err)
	}
	if diff := cmp.Diff(replaced, got, cmpOpts); diff != "" {
		t.Errorf("PersonByEmail(new address) mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		org  string
		want []string
	}{
		{"o1", []string{"p2"}},
		{"o2", []string{"p1"}},
		{"o3", []string{"p1"}},
	} {
		if got := orgOwners(t, s, tt.org); !cmp.Equal(got, tt.want, cmpOpts) {
			t.Errorf("OrgOwners(%q) = %q; want %q", tt.org, got, tt.want)
		}
	}

	// Dropping the email and the orgs unindexes both.
	putPeople(t, s, claim.Person{ID: "p1", Name: "Ann Smith"})
	_, err = s.PersonByEmail(ctx, "new@example.com")
	wantErr(t, "PersonByEmail(dropped address)", err, claim.ErrNotFound)
	for _, org := range []string{"o2", "o3"} {
		if got := orgOwners(t, s, org); len(got) != 0 {
			t.Errorf("OrgOwners(%q) = %q; want none", org, got)
		}
	}
	if got := orgOwners(t, s, "o1"); !cmp.Equal(got, []string{"p2"}) {
		t.Errorf("OrgOwners(o1) = %q; want [p2]", got)
	}
}

func testPersonByEmail(t *testing.T, s Store) {
	ctx := t.Context()
	ann := claim.Person{ID: "p1", Email: "Ann.Smith@Example.COM", Name: "Ann Smith"}
	putPeople(t, s, ann, claim.Person{ID: "p2", Name: "No Mail"}, claim.Person{ID: "p3", Email: "bob@example.com"})
	for _, email := range []string{"Ann.Smith@Example.COM", "ann.smith@example.com", "ANN.SMITH@EXAMPLE.COM"} {
		got, err := s.PersonByEmail(ctx, email)
		if err != nil {
			t.Errorf("PersonByEmail(%q) = %v; want nil", email, err)
			continue
		}
		if diff := cmp.Diff(ann, got, cmpOpts); diff != "" {
			t.Errorf("PersonByEmail(%q) mismatch (-want +got):\n%s", email, diff)
		}
	}
	for _, email := range []string{"", "nobody@example.com", "ann.smith@example.co"} {
		_, err := s.PersonByEmail(ctx, email)
		wantErr(t, fmt.Sprintf("PersonByEmail(%q)", email), err, claim.ErrNotFound)
	}
}

// testEmailHolders: every holder of an address, whatever its spelling, in
// id byte order; replacing a person moves their address; nobody holds an
// empty or unknown address.
func testEmailHolders(t *testing.T, s Store) {
	ctx := t.Context()
	putPeople(t, s,
		claim.Person{ID: "p9", Email: "Ann@Example.com"},
		claim.Person{ID: "p10", Email: "ann@EXAMPLE.COM"},
		claim.Person{ID: "p2", Email: "bob@example.com"},
		claim.Person{ID: "p3"},
		claim.Person{ID: "p4", Email: "carl@example.com"},
	)
	holders := func(emails ...string) map[string][]string {
		t.Helper()
		got, err := s.EmailHolders(ctx, emails)
		if err != nil {
			t.Fatalf("EmailHolders(%q) = %v; want nil", emails, err)
		}
		return got
	}
	want := map[string][]string{"ann@example.com": {"p10", "p9"}, "bob@example.com": {"p2"}}
	got := holders("ANN@example.com", "bob@example.com", "nobody@example.com", "", "ann@example.com")
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("EmailHolders mismatch (-want +got):\n%s", diff)
	}
	// p4 takes Ann's address, p10 leaves it.
	putPeople(t, s, claim.Person{ID: "p4", Email: "ANN@example.com"}, claim.Person{ID: "p10", Email: "other@example.com"})
	want = map[string][]string{"ann@example.com": {"p4", "p9"}, "other@example.com": {"p10"}}
	got = holders("ann@example.com", "carl@example.com", "other@example.com")
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("EmailHolders after replacing p4 and p10 mismatch (-want +got):\n%s", diff)
	}
	if got := holders(); len(got) != 0 {
		t.Errorf("EmailHolders() = %v; want none", got)
	}
}

func testPeoplePaging(t *testing.T, s Store) {
	ctx := t.Context()
	var want []claim.Person
	for i := range 25 {
		want = append(want, claim.Person{ID: pad("p", i), Email: pad("p", i) + "@example.com", Name: "Person " + pad("", i)})
	}
	for i := len(want) - 1; i >= 0; i -= 5 {
		putPeople(t, s, want[i-4:i+1]...)
	}
	var got []claim.Person
	after := ""
	for range 10 {
		page, err := s.People(ctx, after, 7)
		if err != nil {
			t.Fatalf("People(%q, 7) = %v; want nil", after, err)
		}
		if len(page) > 7 {
			t.Fatalf("People(%q, 7) = %d people; want at most 7", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("People in pages of 7 mismatch (-want +got):\n%s", diff)
	}
}

func testOrgOwners(t *testing.T, s Store) {
	putPeople(t, s,
		claim.Person{ID: "p2", Orgs: []string{"o1"}},
		claim.Person{ID: "p1", Orgs: []string{"o1", "o2"}},
		claim.Person{ID: "p3", Orgs: []string{"o2"}},
		claim.Person{ID: "p4"},
	)
	for _, tt := range []struct {
		org  string
		want []string
	}{
		{"o1", []string{"p1", "p2"}},
		{"o2", []string{"p1", "p3"}},
		{"o3", nil},
		// Org ids are whole keys, never prefixes.
		{"o", nil},
	} {
		if got := orgOwners(t, s, tt.org); !cmp.Equal(got, tt.want, cmpOpts) {
			t.Errorf("OrgOwners(%q) = %q; want %q", tt.org, got, tt.want)
		}
	}
}

func testManyPeople(t *testing.T, s Store) {
	ctx := t.Context()
	const n, batch = 10_000, 1_000
	person := func(i int) claim.Person {
		return claim.Person{ID: fmt.Sprintf("p%05d", i), Email: fmt.Sprintf("Person%05d@Example.com", i),
			Name: fmt.Sprintf("Person %d", i), Orgs: []string{fmt.Sprintf("o%04d", i/4)}}
	}
	for start := 0; start < n; start += batch {
		people := make([]claim.Person, 0, batch)
		for i := start; i < start+batch; i++ {
			people = append(people, person(i))
		}
		ev := claim.Event{Time: t0, Actor: "cli", Action: "people.import", Subject: "directory",
			Detail: fmt.Sprintf("%d people", batch)}
		if err := s.PutPeople(ctx, people, ev); err != nil {
			t.Fatalf("PutPeople(batch at %d) = %v; want nil", start, err)
		}
	}

	total, after := 0, ""
	for {
		page, err := s.People(ctx, after, 1500)
		if err != nil {
			t.Fatalf("People(%q, 1500) = %v; want nil", after, err)
		}
		if len(page) == 0 {
			break
		}
		for i, p := range page {
			if want := person(total + i); !cmp.Equal(p, want, cmpOpts) {
				t.Fatalf("People: entry %d = %+v; want %+v", total+i, p, want)
			}
		}
		total += len(page)
		after = page[len(page)-1].ID
	}
	if total != n {
		t.Errorf("People paged through %d people; want %d", total, n)
	}
	for _, i := range []int{0, 4_321, n - 1} {
		want := person(i)
		got, err := s.PersonByEmail(ctx, fmt.Sprintf("person%05d@example.com", i))
		if err != nil {
			t.Fatalf("PersonByEmail(person %d) = %v; want nil", i, err)
		}
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("PersonByEmail(person %d) mismatch (-want +got):\n%s", i, diff)
		}
	}
	if got, want := orgOwners(t, s, "o1234"), []string{"p04936", "p04937", "p04938", "p04939"}; !cmp.Equal(got, want) {
		t.Errorf("OrgOwners(o1234) = %q; want %q", got, want)
	}
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatalf("Stats = %v; want nil", err)
	}
	if st.People != n || st.Orgs != n/4 {
		t.Errorf("Stats: people %d, orgs %d; want %d, %d", st.People, st.Orgs, n, n/4)
	}
}
