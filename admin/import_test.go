package admin_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// importRows posts body and returns the CSV answer without its header.
func (e *env) importRows(query, contentType, body string) []admin.ImportResult {
	e.t.Helper()
	b := e.call("POST", "/api/v1/claims/import"+query, body, http.StatusOK, nil, "Content-Type", contentType)
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		e.t.Fatalf("import answer is not CSV: %v\n%s", err, b)
	}
	if len(recs) == 0 || !cmp.Equal(recs[0], admin.ImportHeader) {
		e.t.Fatalf("import answer header = %q; want %q", recs[0], admin.ImportHeader)
	}
	var out []admin.ImportResult
	for _, r := range recs[1:] {
		out = append(out, admin.ImportResult{ID: r[0], Email: r[1], URL: r[2], Status: r[3]})
	}
	return out
}

// checkIssued verifies each issued row's URL against the store: its token
// hashes to an open person claim for the row's id and email.
func (e *env) checkIssued(results []admin.ImportResult) int {
	e.t.Helper()
	n := 0
	for _, r := range results {
		if r.Status != admin.StatusIssued {
			if r.URL != "" {
				e.t.Errorf("row %s with status %q has a URL", r.ID, r.Status)
			}
			continue
		}
		n++
		c, err := e.db.ClaimByHash(e.t.Context(), tokenOf(e.t, r.URL).Hash())
		if err != nil {
			e.t.Fatalf("ClaimByHash(token of row %s) = %v; want a claim", r.ID, err)
		}
		if c.Kind != claim.KindPerson || c.LegacyID != r.ID || c.Email != r.Email || c.Status(t0) != "open" {
			e.t.Errorf("claim of row %s = %+v; want an open person claim for %s <%s>", r.ID, c, r.ID, r.Email)
		}
	}
	return n
}

// statuses is the status column, with URLs left out.
func statuses(results []admin.ImportResult) []string {
	var out []string
	for _, r := range results {
		out = append(out, r.ID+" "+r.Status)
	}
	return out
}

func TestImportCSV(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	body := "\ufeffEmail, id ,orgs,name\n" + // BOM, any order, spaces
		"ann@example.com,1,7;8,Ann Smith\n" +
		"bob@example.com,2,7 9,Bob\n" +
		"\n" + // blank lines are not rows
		"carl@example,3,,Carl\n" + // no dot in the domain is fine
		"bad email,4,,Dan\n" +
		"eve@example.com,5 5,,Eve\n" +
		"fay@example.com,6,o/1,Fay\n" +
		"gil@example.com,1,,Gil again\n" +
		"\"hal@example.com,10,,Hal\n"
	got := e.importRows("?ttl=72h", "text/csv", body)
	want := []string{
		"1 issued",
		"2 issued",
		"3 issued",
		`4 error: line 6: email "bad email" has a space, control character or one of ",;<>`,
		`5 5 error: line 7: id "5 5": want 1 to 128 of A-Z a-z 0-9 . _ @ -`,
		`6 error: line 8: orgs: "o/1": want 1 to 128 of A-Z a-z 0-9 . _ @ -`,
		"1 error: line 9: id 1 repeats line 2",
		` error: line 10: malformed CSV: extraneous or missing " in quoted-field`,
	}
	if diff := cmp.Diff(want, statuses(got)); diff != "" {
		t.Errorf("import statuses mismatch (-want +got):\n%s", diff)
	}
	if n := e.checkIssued(got); n != 3 {
		t.Errorf("%d claims issued; want 3", n)
	}
	c, _ := e.db.ClaimByHash(ctx, tokenOf(t, got[0].URL).Hash())
	if !c.ExpiresAt.Equal(t0.Add(72 * time.Hour)) {
		t.Errorf("claim expires %s; want %s (ttl=72h)", c.ExpiresAt, t0.Add(72*time.Hour))
	}
	p, err := e.db.Person(ctx, "2")
	if err != nil {
		t.Fatalf("Person(2) = %v; want the imported person", err)
	}
	if diff := cmp.Diff(claim.Person{ID: "2", Email: "bob@example.com", Name: "Bob", Orgs: []string{"7", "9"}}, p); diff != "" {
		t.Errorf("Person(2) mismatch (-want +got):\n%s", diff)
	}
	if _, err := e.db.Person(ctx, "4"); err == nil {
		t.Errorf("Person(4) found; want bad rows kept out of the directory")
	}
	var secrets []string
	for _, r := range got {
		if r.URL != "" {
			secrets = append(secrets, tokenOf(t, r.URL).Reveal())
		}
	}
	e.noSecretsLogged(secrets...)
	var actions []string
	for _, ev := range e.events() {
		actions = append(actions, ev.Action+" "+ev.Detail)
	}
	if diff := cmp.Diff([]string{"claim.issue 3 claims", "people.import 3 people"}, actions); diff != "" {
		t.Errorf("audit events mismatch (-want +got):\n%s", diff)
	}
}

func TestImportCSVWithoutHeader(t *testing.T) {
	e := newEnv(t)
	body := "1,ann@example.com,Ann,7\n2\n3,c@example.com,Carl,,extra\n"
	got := e.importRows("", "text/csv", body)
	want := []string{"1 issued", "2 issued", "3 error: line 3: 5 fields, want at most 4 (id,email,name,orgs)"}
	if diff := cmp.Diff(want, statuses(got)); diff != "" {
		t.Errorf("import statuses mismatch (-want +got):\n%s", diff)
	}
	e.checkIssued(got)
}

func TestImportNDJSON(t *testing.T) {
	e := newEnv(t)
	body := `{"id":"42","email":"ann@example.com","name":"Ann","orgs":["7"]}
{"id":43,"email":"bob@example.com","orgs":[7, "8"],"phone":"ignored"}

{"id":"44","email":
["not","an","object"]
{"id":"46","email":"x@example.com","line":1000}
{"email":"noid@example.com"}
{"id":"48","name":"Tab\tin name"}
{"id":42}
`
	got := e.importRows("", "application/x-ndjson", body)
	want := []string{
		"42 issued",
		"43 issued",
		" error: line 4: not valid JSON at byte 19",
		" error: line 5: want a JSON object, got array",
		"46 issued",
		" error: line 7: id: missing",
		"48 error: line 8: name: want at most 256 bytes of UTF-8 text without control characters",
		"42 error: line 9: id 42 repeats line 1",
	}
	if diff := cmp.Diff(want, statuses(got)); diff != "" {
		t.Errorf("import statuses mismatch (-want +got):\n%s", diff)
	}
	e.checkIssued(got)
	p, err := e.db.Person(t.Context(), "43")
	if err != nil || !cmp.Equal(p.Orgs, []string{"7", "8"}) {
		t.Errorf("Person(43) = %+v, %v; want orgs [7 8]", p, err)
	}
}

func TestImportSkipLinked(t *testing.T) {
	e := newEnv(t)
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: "00000000-0000-4000-8000-000000000001", CreatedAt: t0, Via: "admin"}
	if err := e.db.PutLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	body := "id,email\n1,ann@example.com\n2,bob@example.com\n"
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"default skips", "", []string{"1 skipped_linked", "2 issued"}},
		{"skip_linked=true", "?skip_linked=true", []string{"1 skipped_linked", "2 issued"}},
		{"skip_linked=false", "?skip_linked=false", []string{"1 issued", "2 issued"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.importRows(tt.query, "text/csv", body)
			if diff := cmp.Diff(tt.want, statuses(got)); diff != "" {
				t.Errorf("import statuses mismatch (-want +got):\n%s", diff)
			}
			e.checkIssued(got)
		})
	}
	// The directory is updated for linked people too.
	if p, err := e.db.Person(t.Context(), "1"); err != nil || p.Email != "ann@example.com" {
		t.Errorf("Person(1) = %+v, %v; want ann@example.com", p, err)
	}
}

func TestImportRefused(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.ImportLimit = 1 << 10 })
	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		want        int
		wantCode    string
		wantField   string
	}{
		{"json", "", "application/json", `{"id":"1"}`, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"no content type", "", "", "1,a@b.c", http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"bad ttl", "?ttl=soon", "text/csv", "1", http.StatusBadRequest, "invalid", "ttl"},
		{"bad skip_linked", "?skip_linked=maybe", "text/csv", "1", http.StatusBadRequest, "invalid", "skip_linked"},
		{"too large", "", "text/csv", strings.Repeat("1,a@b.c\n", 200), http.StatusRequestEntityTooLarge, "too_large", ""},
		{"row errors are not request errors", "", "application/x-ndjson", `{"id":"1","name":"` + strings.Repeat("a", 900) + `"}`, http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.req("POST", "/api/v1/claims/import"+tt.query, tt.body, "Content-Type", tt.contentType)
			status, b := e.do(r)
			if status != tt.want {
				t.Fatalf("import(%s) = %d %s; want %d", tt.name, status, b, tt.want)
			}
			if tt.wantCode == "" {
				return
			}
			var ae apiErr
			if err := json.Unmarshal(b, &ae); err != nil || ae.Error != tt.wantCode || ae.Field != tt.wantField {
				t.Errorf("import(%s) = %s; want error %q field %q", tt.name, b, tt.wantCode, tt.wantField)
			}
		})
	}
}

// TestImportTenThousand imports 10,000 people in one request and checks that
// every one got a distinct URL whose token the store knows by its hash.
func TestImportTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 claims")
	}
	e := newEnv(t)
	const n = 10_000
	var body strings.Builder
	body.WriteString("id,email,name,orgs\n")
	for i := range n {
		fmt.Fprintf(&body, "u%05d,person%05d@example.com,Person %d,o%04d\n", i, i, i, i/4)
	}
	start := time.Now()
	got := e.importRows("", "text/csv", body.String())
	took := time.Since(start)
	t.Logf("import of %d rows (%d bytes of CSV): %s", n, body.Len(), took)
	if len(got) != n {
		t.Fatalf("import answered %d rows; want %d", len(got), n)
	}
	seen := make(map[string]bool, n)
	for i, r := range got {
		if want := fmt.Sprintf("u%05d", i); r.ID != want || r.Status != admin.StatusIssued {
			t.Fatalf("row %d = %s %q; want %s issued", i, r.ID, r.Status, want)
		}
		if seen[r.URL] {
			t.Fatalf("row %d: URL repeats an earlier row's", i)
		}
		seen[r.URL] = true
	}
	verify := time.Now()
	if issued := e.checkIssued(got); issued != n {
		t.Errorf("%d working claim URLs; want %d", issued, n)
	}
	t.Logf("verified %d tokens by hash in %s", n, time.Since(verify))
	st, err := e.db.Stats(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.People != n || st.Orgs != n/4 || st.ClaimsOpen != n {
		t.Errorf("Stats = %+v; want %d people, %d orgs, %d open claims", st, n, n/4, n)
	}
	if took > 20*time.Second {
		t.Errorf("import of %d rows took %s; want well under 20s", n, took)
	}
}

func TestReadRows(t *testing.T) {
	tests := []struct {
		name   string
		format admin.Format
		in     string
		want   []claim.Person
	}{
		{"csv header only", admin.CSV, "id,email\n", nil},
		{"csv quoted orgs", admin.CSV, "id,orgs\n1,\"7, 8;9 7\"\n", []claim.Person{{ID: "1", Orgs: []string{"7", "8", "9"}}}},
		{"csv header in capitals", admin.CSV, "ID,EMAIL\n1,a@b.c\n", []claim.Person{{ID: "1", Email: "a@b.c"}}},
		{"csv unknown header columns ignored", admin.CSV, "id,phone,email\n1,555,a@b.c\n", []claim.Person{{ID: "1", Email: "a@b.c"}}},
		{"csv crlf", admin.CSV, "1,a@b.c\r\n2,b@b.c\r\n", []claim.Person{{ID: "1", Email: "a@b.c"}, {ID: "2", Email: "b@b.c"}}},
		{"ndjson null id and orgs", admin.NDJSON, `{"id":"1","orgs":null}`, []claim.Person{{ID: "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := admin.ReadRows(strings.NewReader(tt.in), tt.format)
			if err != nil {
				t.Fatalf("ReadRows = %v; want nil", err)
			}
			var got []claim.Person
			for _, r := range rows {
				if r.Err != nil {
					t.Errorf("row %d: %v", r.Line, r.Err)
				}
				got = append(got, r.Person)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadRows mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := admin.ReadRows(strings.NewReader(`{"id":"`+strings.Repeat("a", 2<<20)+`"}`), admin.NDJSON); err == nil {
		t.Errorf("ReadRows(2 MiB line) = nil error; want one")
	}
}
