package admin_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// TestIssueRefusesUnknownID: a claim link for a legacy id the directory
// does not hold is refused (422 unknown_legacy_id, naming force) unless
// forced; one for a linked id is refused always (409): its link could link
// nothing. An organization is known when someone in the directory owns it.
func TestIssueRefusesUnknownID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.PutPeople(ctx, []claim.Person{{ID: "42", Email: "ann@example.com", Orgs: []string{"7"}}}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	var ae apiErr
	e.call("POST", "/api/v1/claims", `{"kind":"person","legacy_id":"43"}`, http.StatusUnprocessableEntity, &ae)
	if ae.Error != "unknown_legacy_id" || ae.Field != "legacy_id" || !strings.Contains(ae.Message, "force") {
		t.Errorf("unknown person: %+v; want unknown_legacy_id on legacy_id, naming force", ae)
	}
	e.call("POST", "/api/v1/claims", `{"kind":"org","legacy_id":"8"}`, http.StatusUnprocessableEntity, &ae)
	if ae.Error != "unknown_legacy_id" {
		t.Errorf("unknown organization: %+v; want unknown_legacy_id", ae)
	}
	var is admin.Issued
	e.call("POST", "/api/v1/claims", `{"kind":"person","legacy_id":"43","force":true}`, http.StatusCreated, &is)
	e.call("POST", "/api/v1/claims", `{"kind":"person","legacy_id":"42"}`, http.StatusCreated, &is)
	e.call("POST", "/api/v1/claims", `{"kind":"org","legacy_id":"7"}`, http.StatusCreated, &is)

	e.call("PUT", "/api/v1/links/persons/42", `{"zaikio_id":"`+zid(1)+`"}`, http.StatusCreated, nil)
	e.call("POST", "/api/v1/claims", `{"kind":"person","legacy_id":"42","force":true}`, http.StatusConflict, &ae)
	if ae.Error != "already_linked" {
		t.Errorf("linked person: %+v; want already_linked", ae)
	}
}

// TestOpenMeansClaimable: "open" counts links that someone not yet linked
// can use. Linking a person by hand retires their open links (the
// dashboard shows them apart), and the claim list says so.
func TestOpenMeansClaimable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.PutPeople(ctx, []claim.Person{{ID: "1"}, {ID: "2"}}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "1", "1", "2"} {
		e.issue(`{"kind":"person","legacy_id":"` + id + `"}`)
	}
	e.call("PUT", "/api/v1/links/persons/1", `{"zaikio_id":"`+zid(1)+`"}`, http.StatusCreated, nil)
	var st admin.Stats
	e.call("GET", "/api/v1/stats", "", http.StatusOK, &st)
	if st.ClaimsOpen != 1 || st.ClaimsRetired != 3 {
		t.Errorf("stats: open %d, retired %d; want 1 open (person 2), 3 retired (person 1 is linked)", st.ClaimsOpen, st.ClaimsRetired)
	}
	var cp admin.ClaimPage
	e.call("GET", "/api/v1/claims", "", http.StatusOK, &cp)
	got := map[string]int{}
	for _, c := range cp.Claims {
		got[c.LegacyID+" "+c.Status]++
	}
	if diff := cmp.Diff(map[string]int{"1 retired": 3, "2 open": 1}, got); diff != "" {
		t.Errorf("claim list statuses (-want +got):\n%s", diff)
	}
	b := newBrowser(e)
	b.login("ops")
	dash := b.get("/").want(t, "dashboard", http.StatusOK)
	for id, want := range map[string]string{"claims-open": "1", "claims-retired": "3"} {
		m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(dash.body)
		if m == nil || m[1] != want {
			t.Errorf("dashboard #%s = %v; want %s", id, m, want)
		}
	}
}

// TestDashboardAuditNames: the dashboard's audit shows the names people
// and organizations are known by beside their ids: the directory's names
// of legacy persons and organizations, and for a Zaikio person who acted
// the name of the legacy person it is linked to.
func TestDashboardAuditNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.PutPeople(ctx, []claim.Person{{ID: "1", Name: "Alice Adams", Orgs: []string{"100"}, OrgNames: map[string]string{"100": "Acme Print"}}}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	e.call("PUT", "/api/v1/links/persons/1", `{"zaikio_id":"`+zid(1)+`"}`, http.StatusCreated, nil)
	if err := e.db.PutLink(ctx, claim.Link{Kind: claim.KindOrg, LegacyID: "100", ZaikioID: zid(2), CreatedAt: t0, Via: "claim:x", By: "zaikio:" + zid(1)}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(e)
	b.login("ops")
	dash := b.get("/").want(t, "dashboard", http.StatusOK)
	m := regexp.MustCompile(`(?s)<table id="audit-events".*?</table>`).FindString(dash.body)
	for _, want := range []string{
		`person:1<br><span class="name">Alice Adams</span>`,
		`org:100<br><span class="name">Acme Print</span>`,
		`zaikio:` + zid(1) + ` <span class="name">(Alice Adams)</span>`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("audit table lacks %q:\n%s", want, m)
		}
	}
}

// TestImportOrgNames: the import names organizations (CSV column
// org_names with a header, NDJSON "org_names"), for the pages and the
// dashboard; a name for an organization the row does not own is refused.
func TestImportOrgNames(t *testing.T) {
	e := newEnv(t)
	csv := "id,email,name,orgs,org_names\n1,a@example.com,Alice,100;101,100=Acme Print; 101=Acme=Labs\n2,b@example.com,Bob,200,300=Nope\n"
	if got := statuses(e.importRows("", "text/csv", csv)); got[0] != "1 issued" || !strings.Contains(got[1], `org_names: "300" is not one of orgs`) {
		t.Errorf("CSV import statuses = %q", got)
	}
	nd := `{"id":"3","orgs":["300"],"org_names":{"300":"Brown Packaging"}}` + "\n"
	if got := statuses(e.importRows("", "application/x-ndjson", nd)); got[0] != "3 issued" {
		t.Errorf("NDJSON import statuses = %q", got)
	}
	names, err := e.db.OrgNames(context.Background(), []string{"100", "101", "300"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"100": "Acme Print", "101": "Acme=Labs", "300": "Brown Packaging"}, names); diff != "" {
		t.Errorf("org names after the import (-want +got):\n%s", diff)
	}
	// The CLI sends CSV files as NDJSON chunks: the names travel too.
	rows, err := admin.ReadRows(strings.NewReader(csv), admin.CSV)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"100": "Acme Print", "101": "Acme=Labs"}, rows[0].Person.OrgNames); diff != "" {
		t.Errorf("ReadRows org names (-want +got):\n%s", diff)
	}
}
