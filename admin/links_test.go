package admin_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

func zid(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func TestLinks(t *testing.T) {
	for _, kind := range []struct {
		name string
		kind claim.Kind
	}{{"persons", claim.KindPerson}, {"orgs", claim.KindOrg}} {
		t.Run(kind.name, func(t *testing.T) {
			e := newEnv(t)
			base := "/api/v1/links/" + kind.name + "/"
			actor := []string{"X-Hubgate-Actor", "cli:ann@ops"}
			link := func(legacy string, z int) admin.Link {
				return admin.Link{Kind: string(kind.kind), LegacyID: legacy, ZaikioID: zid(z), CreatedAt: t0,
					Via: "admin", By: "admin-api:cli:ann@ops"}
			}
			steps := []struct {
				name     string
				method   string
				path     string
				body     string
				want     int
				wantLink *admin.Link
				wantCode string
			}{
				{"link 1", "PUT", "1", `{"zaikio_id":"` + zid(1) + `"}`, 201, ptr(link("1", 1)), ""},
				{"link 2 in upper case", "PUT", "2", `{"zaikio_id":"` + strings.ToUpper(zid(2)) + `"}`, 201, ptr(link("2", 2)), ""},
				{"same link again", "PUT", "1", `{"zaikio_id":"` + zid(1) + `"}`, 200, ptr(link("1", 1)), ""},
				{"legacy end taken", "PUT", "1", `{"zaikio_id":"` + zid(3) + `"}`, 409, nil, "conflict"},
				{"zaikio end taken", "PUT", "3", `{"zaikio_id":"` + zid(1) + `"}`, 409, nil, "conflict"},
				{"both ends taken", "PUT", "1", `{"zaikio_id":"` + zid(2) + `"}`, 409, nil, "conflict"},
				{"bad zaikio id", "PUT", "3", `{"zaikio_id":"42"}`, 400, nil, "invalid"},
				{"bad legacy id", "PUT", "a%20b", `{"zaikio_id":"` + zid(3) + `"}`, 400, nil, "invalid"},
				{"get 1", "GET", "1", "", 200, ptr(link("1", 1)), ""},
				{"get 3", "GET", "3", "", 404, nil, "not_found"},
				{"unlink 2", "DELETE", "2", "", 200, ptr(link("2", 2)), ""},
				{"get 2 after unlink", "GET", "2", "", 404, nil, "not_found"},
				{"unlink 2 again", "DELETE", "2", "", 404, nil, "not_found"},
				{"zaikio 2 is free again", "PUT", "3", `{"zaikio_id":"` + zid(2) + `"}`, 201, ptr(link("3", 2)), ""},
			}
			for _, st := range steps {
				var got admin.Link
				var ae apiErr
				var out any = &got
				if st.wantCode != "" {
					out = &ae
				}
				e.call(st.method, base+st.path, st.body, st.want, out, actor...)
				if st.wantLink != nil {
					if diff := cmp.Diff(*st.wantLink, got); diff != "" {
						t.Errorf("%s: link mismatch (-want +got):\n%s", st.name, diff)
					}
				}
				if ae.Error != st.wantCode {
					t.Errorf("%s: error = %+v; want %q", st.name, ae, st.wantCode)
				}
				if st.wantCode == "conflict" && !strings.Contains(ae.Message, "already linked") {
					t.Errorf("%s: conflict message %q; want it to say what is linked", st.name, ae.Message)
				}
			}
			// Conflicts left both links intact.
			for legacy, z := range map[string]int{"1": 1, "3": 2} {
				l, err := e.db.Link(t.Context(), kind.kind, legacy)
				if err != nil || l.ZaikioID != zid(z) {
					t.Errorf("Link(%s, %s) = %+v, %v; want zaikio %s", kind.kind, legacy, l, err, zid(z))
				}
			}
			var list admin.LinkPage
			e.call("GET", strings.TrimSuffix(base, "/")+"?limit=1", "", 200, &list)
			if len(list.Links) != 1 || list.Links[0].LegacyID != "1" || list.Next != "1" {
				t.Errorf("list with limit 1 = %+v; want link 1 and next 1", list)
			}
			e.call("GET", strings.TrimSuffix(base, "/")+"?after=1", "", 200, &list)
			if len(list.Links) != 1 || list.Links[0].LegacyID != "3" || list.Next != "" {
				t.Errorf("list after 1 = %+v; want link 3 and no next", list)
			}

			var audit []string
			for _, ev := range e.events() {
				audit = append(audit, ev.Action+" "+ev.Subject+" by "+ev.Actor)
			}
			k := string(kind.kind)
			want := []string{
				"link.create " + k + ":3 by admin-api:cli:ann@ops",
				"link.delete " + k + ":2 by admin-api:cli:ann@ops",
				"link.create " + k + ":2 by admin-api:cli:ann@ops",
				"link.create " + k + ":1 by admin-api:cli:ann@ops",
			}
			if diff := cmp.Diff(want, audit); diff != "" {
				t.Errorf("audit mismatch (-want +got):\n%s", diff)
			}

			// Link changes make the affected sessions revalidate: for person
			// links, one entry per Zaikio person: zid 1 (linked), zid 2
			// (linked, unlinked, linked again); for org links, "*" for the
			// orgs linked (their members are unknown). The one unlinked is
			// taken out of every session that carries it, hub up or down
			// (an Unlink entry, which also makes those sessions revalidate).
			rvs, err := e.db.Revocations(t.Context(), t0)
			if err != nil {
				t.Fatal(err)
			}
			want = map[claim.Kind][]string{
				claim.KindPerson: {"revalidate " + zid(1), "revalidate " + zid(2), "unlink person:2"},
				claim.KindOrg:    {"revalidate *", "unlink org:2"},
			}[kind.kind]
			var subjects []string
			for _, rv := range rvs {
				if rv.Kind == session.Revalidate || rv.Kind == session.Unlink {
					subjects = append(subjects, string(rv.Kind)+" "+rv.Subject)
				}
			}
			slices.Sort(subjects)
			slices.Sort(want)
			if diff := cmp.Diff(want, subjects); diff != "" {
				t.Errorf("revalidation and unlink subjects (-want +got):\n%s\n%+v", diff, rvs)
			}
			if got := int(e.changes.Load()); got != 4 {
				t.Errorf("OnChange called %d times; want 4 (once per link change)", got)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
