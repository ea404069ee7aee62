package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/store/bolt"
)

const (
	testToken     = "operator-test-token-0123"
	testPublicURL = "https://app.example.com"
)

// opEnv is a real admin API (on a bbolt file) that the CLI talks to.
type opEnv struct {
	t   *testing.T
	db  *bolt.DB
	url string
}

func newOpEnv(t *testing.T, edit ...func(*admin.Config)) *opEnv {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := admin.Config{Token: testToken, Store: db, Claims: &claim.Service{Store: db},
		PublicURL: testPublicURL, Logger: zerolog.Nop()}
	for _, f := range edit {
		f(&cfg)
	}
	srv, err := admin.New(cfg)
	if err != nil {
		t.Fatalf("admin.New = %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &opEnv{t: t, db: db, url: ts.URL}
}

// env is the environment of the CLI under test: where the admin API is,
// its token, and who the operator is.
func (e *opEnv) env(overrides ...string) func(string) string {
	m := map[string]string{"HUBGATE_ADMIN_URL": e.url, "HUBGATE_ADMIN_TOKEN": testToken, "USER": "ann"}
	for i := 0; i+1 < len(overrides); i += 2 {
		m[overrides[i]] = overrides[i+1]
	}
	return func(k string) string { return m[k] }
}

// run runs hubgate with args in the default environment.
func (e *opEnv) run(args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	return e.runEnv(e.env(), args...)
}

func (e *opEnv) runEnv(getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	err = run(e.t.Context(), args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs hubgate and fails the test on an error.
func (e *opEnv) mustRun(args ...string) (stdout, stderr string) {
	e.t.Helper()
	stdout, stderr, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("hubgate %s = %v; want nil\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr
}

// checkURL verifies a claim URL against the store and returns its claim.
func (e *opEnv) checkURL(url string) claim.Claim {
	e.t.Helper()
	raw, ok := strings.CutPrefix(url, testPublicURL+"/_hubgate/claim/")
	if !ok {
		e.t.Fatalf("claim URL %q; want prefix %s/_hubgate/claim/", url, testPublicURL)
	}
	tok, err := claim.ParseToken(raw)
	if err != nil {
		e.t.Fatalf("ParseToken(%q) = %v", raw, err)
	}
	c, err := e.db.ClaimByHash(e.t.Context(), tok.Hash())
	if err != nil {
		e.t.Fatalf("ClaimByHash(token of %s) = %v; want a claim", url, err)
	}
	return c
}

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func actor(t *testing.T) string {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return "admin-api:cli:ann@" + host
}

var urlRE = regexp.MustCompile(`https://app\.example\.com/_hubgate/claim/[A-Za-z0-9_-]+`)

func TestClaimsIssue(t *testing.T) {
	e := newOpEnv(t)
	stdout, _ := e.mustRun("claims", "issue", "--force", "--kind", "person", "--legacy-id", "42", "--email", "ann@example.com", "--ttl", "72h")
	if !strings.HasPrefix(stdout, "ID") || !strings.Contains(stdout, "EXPIRES") {
		t.Errorf("claims issue printed %q; want a table", stdout)
	}
	url := urlRE.FindString(stdout)
	c := e.checkURL(url)
	if c.Kind != claim.KindPerson || c.LegacyID != "42" || c.Email != "ann@example.com" || c.CreatedBy != actor(t) {
		t.Errorf("claim = %+v; want person 42 <ann@example.com> created by %s", c, actor(t))
	}
	if got := c.ExpiresAt.Sub(c.CreatedAt); got != 72*time.Hour {
		t.Errorf("claim lifetime = %s; want 72h", got)
	}
	if !strings.Contains(stdout, c.ID) {
		t.Errorf("claims issue printed %q; want the id %s", stdout, c.ID)
	}

	stdout, _ = e.mustRun("claims", "issue", "--force", "--json", "--kind", "org", "--legacy-id", "7", "--claimer", "42", "--ttl", "14d")
	var is admin.Issued
	if err := json.Unmarshal([]byte(stdout), &is); err != nil {
		t.Fatalf("claims issue --json printed %q: %v", stdout, err)
	}
	if c := e.checkURL(is.URL); c.ID != is.ID || c.Kind != claim.KindOrg || c.Claimer != "42" || !c.ExpiresAt.Equal(is.ExpiresAt) {
		t.Errorf("claim = %+v; want org 7 for claimer 42 matching %+v", c, is)
	}

	tests := []struct {
		name string
		args []string
	}{
		{"no kind", []string{"--legacy-id", "42"}},
		{"bad kind", []string{"--kind", "team", "--legacy-id", "42"}},
		{"no legacy id", []string{"--kind", "person"}},
		{"bad ttl", []string{"--kind", "person", "--legacy-id", "42", "--ttl", "forever"}},
		{"stray argument", []string{"--kind", "person", "--legacy-id", "42", "extra"}},
		{"unknown flag", []string{"--kind", "person", "--legacy-id", "42", "--expires", "1h"}},
		{"refused by the server", []string{"--kind", "person", "--legacy-id", "4 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.run(append([]string{"claims", "issue"}, tt.args...)...)
			if !isUsage(err) {
				t.Errorf("claims issue %q = %v; want a usage error", tt.args, err)
			}
		})
	}
}

// writeCSV writes n people to a CSV file; bad maps a 0-based row to the
// line written instead.
func writeCSV(t *testing.T, n int, bad map[int]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,email,name,orgs\n")
	for i := range n {
		if line, ok := bad[i]; ok {
			b.WriteString(line + "\n")
			continue
		}
		fmt.Fprintf(&b, "u%05d,person%05d@example.com,Person %d,o%d\n", i, i, i, i/4)
	}
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readCSVFile(t *testing.T, data string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, data)
	}
	return recs
}

func TestClaimsImport(t *testing.T) {
	e := newOpEnv(t)
	const n = 2000
	in := writeCSV(t, n, nil)
	out := filepath.Join(t.TempDir(), "links.csv")
	// On a terminal: the progress line is redrawn with "\r" (without one:
	// TestImportProgressWithoutTerminal).
	stdout, stderr := e.mustRunTTY("claims", "import", in, "--out", out, "--ttl", "7d")
	if stdout != "" {
		t.Errorf("claims import --out printed %q on stdout; want nothing", stdout)
	}
	for _, want := range []string{
		"\rimporting… 0/2000 (0%)",
		"\rimporting… 500/2000 (25%)",
		"\rimporting… 1000/2000 (50%)",
		"\rimporting… 2000/2000 (100%)",
		"\rimported 2000 rows in ",
		": 2000 issued, 0 skipped (already linked), 0 errors\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr = %q; want it to contain %q", stderr, want)
		}
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("--out file mode = %o; want 600 (it holds claim links)", perm)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSVFile(t, string(data))
	if len(recs) != n+1 || !cmp.Equal(recs[0], admin.ImportHeader) {
		t.Fatalf("output has %d records, header %q; want %d and %q", len(recs), recs[0], n+1, admin.ImportHeader)
	}
	seen := map[string]bool{}
	for i, r := range recs[1:] {
		id := fmt.Sprintf("u%05d", i)
		if r[0] != id || r[1] != fmt.Sprintf("person%05d@example.com", i) || r[3] != "issued" || seen[r[2]] {
			t.Fatalf("output row %d = %q; want %s issued with a fresh URL", i, r, id)
		}
		seen[r[2]] = true
		if c := e.checkURL(r[2]); c.LegacyID != id || c.ExpiresAt.Sub(c.CreatedAt) != 7*24*time.Hour {
			t.Fatalf("claim of row %d = %+v; want %s valid 7 days", i, c, id)
		}
	}
	if p, err := e.db.Person(t.Context(), "u01999"); err != nil || p.Name != "Person 1999" || !cmp.Equal(p.Orgs, []string{"o499"}) {
		t.Errorf("Person(u01999) = %+v, %v; want the imported person", p, err)
	}
}

func TestClaimsImportRowErrors(t *testing.T) {
	e := newOpEnv(t)
	// File lines are row+2 (the header is line 1).
	in := writeCSV(t, 1200, map[int]string{
		3:    "u00003,not an address,Bad Mail,",
		1099: "u01099 x,a@example.com,Bad Id,",
		1148: "u00000,again@example.com,Dup,", // line 1150 repeats line 2
	})
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "u00700", ZaikioID: "00000000-0000-4000-8000-000000000700", CreatedAt: time.Now(), Via: "admin"}
	if err := e.db.PutLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := e.run("claims", "import", in, "--batch", "300")
	if err == nil || isUsage(err) || !strings.Contains(err.Error(), "3 of 1200 rows failed") {
		t.Errorf("claims import = %v; want an error saying 3 of 1200 rows failed", err)
	}
	if !strings.Contains(stderr, ": 1196 issued, 1 skipped (already linked), 3 errors\n") {
		t.Errorf("stderr = %q; want totals 1196 issued, 1 skipped, 3 errors", stderr)
	}
	recs := readCSVFile(t, stdout)
	if len(recs) != 1201 {
		t.Fatalf("output has %d records; want 1201", len(recs))
	}
	want := map[int]string{
		3:    `error: line 5: email "not an address" has a space, control character or one of ",;<>`,
		700:  "skipped_linked",
		1099: `error: line 1101: id "u01099 x": want 1 to 128 of A-Z a-z 0-9 . _ @ -`,
		1148: "error: line 1150: id u00000 repeats line 2",
	}
	for i, r := range recs[1:] {
		w, special := want[i]
		if !special {
			w = "issued"
		}
		if r[3] != w {
			t.Errorf("row %d status = %q; want %q", i, r[3], w)
		}
		if (r[2] != "") != (w == "issued") {
			t.Errorf("row %d url = %q with status %q", i, r[2], r[3])
		}
	}

	// --no-skip-linked mints a link for the linked person too; --json.
	stdout, _, err = e.run("claims", "import", in, "--no-skip-linked", "--json")
	if err == nil {
		t.Errorf("claims import with bad rows = nil error; want one")
	}
	var res []struct {
		Line   int    `json:"line"`
		ID     string `json:"id"`
		URL    string `json:"url"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("claims import --json printed invalid JSON: %v", err)
	}
	if len(res) != 1200 || res[700].Status != "issued" || res[700].Line != 702 || res[1099].Line != 1101 {
		t.Errorf("--json results: %d, row 700 %+v, row 1099 %+v; want 1200, u00700 issued on line 702", len(res), res[700], res[1099])
	}
	e.checkURL(res[700].URL)
}

func TestClaimsImportFormats(t *testing.T) {
	e := newOpEnv(t)
	dir := t.TempDir()
	files := map[string]string{
		"people.ndjson": `{"id":"1","email":"a@example.com"}` + "\n" + `{"id":2}` + "\n",
		"people.dat":    `{"id":"3"}` + "\n", // NDJSON by content
		"people.txt":    "4,d@example.com\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file string
		args []string
		want []string // ids issued
	}{
		{"people.ndjson", nil, []string{"1", "2"}},
		{"people.dat", nil, []string{"3"}},
		{"people.txt", nil, []string{"4"}},
		{"people.ndjson", []string{"--format", "ndjson"}, []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			stdout, _ := e.mustRun(append([]string{"claims", "import", filepath.Join(dir, tt.file), "--no-skip-linked"}, tt.args...)...)
			var got []string
			for _, r := range readCSVFile(t, stdout)[1:] {
				if r[3] == "issued" {
					got = append(got, r[0])
				}
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("issued %q; want %q", got, tt.want)
			}
		})
	}
	for _, args := range [][]string{
		{},
		{"a.csv", "b.csv"},
		{filepath.Join(dir, "people.txt"), "--format", "xml"},
		{filepath.Join(dir, "people.txt"), "--batch", "0"},
		{filepath.Join(dir, "people.txt"), "--ttl", "0h"},
	} {
		if _, _, err := e.run(append([]string{"claims", "import"}, args...)...); !isUsage(err) {
			t.Errorf("claims import %q = %v; want a usage error", args, err)
		}
	}
	if _, _, err := e.run("claims", "import", filepath.Join(dir, "missing.csv")); err == nil || isUsage(err) {
		t.Errorf("claims import of a missing file = %v; want an error", err)
	}
}

func TestClaimsListAndRevoke(t *testing.T) {
	e := newOpEnv(t)
	var ids []string
	for i := range 5 {
		stdout, _ := e.mustRun("claims", "issue", "--force", "--json", "--kind", "person", "--legacy-id", fmt.Sprint("p", i))
		var is admin.Issued
		if err := json.Unmarshal([]byte(stdout), &is); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is.ID)
	}
	stdout, _ := e.mustRun("claims", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "ID") {
		t.Errorf("claims list printed %q; want a header and 5 rows", stdout)
	}
	for _, id := range ids {
		if !strings.Contains(stdout, id) {
			t.Errorf("claims list lacks claim %s", id)
		}
	}
	if strings.Contains(stdout, "/_hubgate/claim/") {
		t.Errorf("claims list shows claim links: %s", stdout)
	}

	stdout, stderr := e.mustRun("claims", "list", "--limit", "2", "--json")
	var page admin.ClaimPage
	if err := json.Unmarshal([]byte(stdout), &page); err != nil {
		t.Fatalf("claims list --json printed %q: %v", stdout, err)
	}
	if len(page.Claims) != 2 || page.Next == "" || stderr != "" {
		t.Errorf("claims list --limit 2 = %d claims, next %q, stderr %q; want 2 and a next", len(page.Claims), page.Next, stderr)
	}
	_, stderr = e.mustRun("claims", "list", "--limit", "2")
	if !strings.Contains(stderr, "--all") {
		t.Errorf("claims list --limit 2 stderr = %q; want a hint about --all", stderr)
	}

	stdout, _ = e.mustRun("claims", "revoke", ids[0], ids[1])
	if want := "revoked claim " + ids[0] + "\nrevoked claim " + ids[1] + "\n"; stdout != want {
		t.Errorf("claims revoke printed %q; want %q", stdout, want)
	}
	stdout, _ = e.mustRun("claims", "list", "--all", "--json")
	if err := json.Unmarshal([]byte(stdout), &page); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, c := range page.Claims {
		status[c.ID] = c.Status
	}
	if len(status) != 5 || status[ids[0]] != "revoked" || status[ids[1]] != "revoked" || status[ids[2]] != "open" {
		t.Errorf("statuses after revoke = %v; want 2 revoked, 3 open", status)
	}

	// A used claim cannot be revoked; an unknown one is not found.
	c, err := e.db.Claim(t.Context(), ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.RedeemClaim(t.Context(), claim.Redemption{Hash: c.Hash, Kind: claim.KindPerson,
		ZaikioID: "00000000-0000-4000-8000-000000000002", Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   string
		want string
	}{
		{ids[2], "409 conflict"},
		{"0123456789abcdef", "404 not found"},
	}
	for _, tt := range tests {
		_, _, err := e.run("claims", "revoke", tt.id)
		if err == nil || isUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("claims revoke %s = %v; want an error with %q", tt.id, err, tt.want)
		}
	}
	if _, _, err := e.run("claims", "revoke"); !isUsage(err) {
		t.Errorf("claims revoke without ids = %v; want a usage error", err)
	}
}

func TestLinksCommands(t *testing.T) {
	e := newOpEnv(t)
	z1, z2 := "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	steps := []struct {
		args    []string
		want    string // stdout contains
		wantErr string // error contains; "usage" for a usage error
	}{
		{[]string{"links", "set", "--kind", "person", "42", z1}, "linked person 42 ⇄ Zaikio " + z1, ""},
		{[]string{"links", "set", "--kind", "person", "42", z1}, "already linked: person 42", ""},
		{[]string{"links", "set", "--kind", "person", "43", z1}, "", "409 conflict: claim: already linked to another account: Zaikio person " + z1 + " is linked to legacy 42"},
		{[]string{"links", "set", "--kind", "org", "7", z2}, "linked org 7", ""},
		{[]string{"links", "set", "42", z1}, "", "usage"},
		{[]string{"links", "set", "--kind", "person", "42"}, "", "usage"},
		{[]string{"links", "set", "--kind", "person", "44", "not-a-uuid"}, "", "usage"},
		{[]string{"links", "list"}, "person  42", ""},
		{[]string{"links", "unlink", "--kind", "person", "42"}, "unlinked person 42 (was Zaikio " + z1, ""},
		{[]string{"links", "unlink", "--kind", "person", "42"}, "", "404 not found"},
		{[]string{"links", "unlink", "42"}, "", "usage"},
	}
	for _, st := range steps {
		stdout, _, err := e.run(st.args...)
		switch {
		case st.wantErr == "usage":
			if !isUsage(err) {
				t.Errorf("hubgate %q = %v; want a usage error", st.args, err)
			}
		case st.wantErr != "":
			if err == nil || isUsage(err) || !strings.Contains(err.Error(), st.wantErr) {
				t.Errorf("hubgate %q = %v; want an error with %q", st.args, err, st.wantErr)
			}
		case err != nil:
			t.Errorf("hubgate %q = %v; want nil", st.args, err)
		case !strings.Contains(stdout, st.want):
			t.Errorf("hubgate %q printed %q; want %q", st.args, stdout, st.want)
		}
	}
	stdout, _ := e.mustRun("links", "list", "--json")
	var got struct{ Links []admin.Link }
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("links list --json printed %q: %v", stdout, err)
	}
	if len(got.Links) != 1 || got.Links[0].Kind != "org" || got.Links[0].LegacyID != "7" || got.Links[0].By != actor(t) {
		t.Errorf("links list --json = %+v; want org 7 by %s", got.Links, actor(t))
	}
	stdout, _ = e.mustRun("links", "list", "--kind", "person", "--json")
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Links) != 0 {
		t.Errorf("links list --kind person --json = %s, %v; want no links", stdout, err)
	}
	evs, err := e.db.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for _, ev := range evs {
		audit = append(audit, ev.Action+" "+ev.Subject+" "+ev.Actor)
	}
	wantAudit := []string{
		"link.delete person:42 " + actor(t),
		"link.create org:7 " + actor(t),
		"link.create person:42 " + actor(t),
	}
	if diff := cmp.Diff(wantAudit, audit); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

func TestModeCommand(t *testing.T) {
	e := newOpEnv(t)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"mode"}, "mode: passthrough (default passthrough)\n"},
		{[]string{"mode", "enforce"}, "mode: enforce (was passthrough)\n"},
		{[]string{"mode", "enforce"}, "mode: enforce (unchanged)\n"},
		{[]string{"mode", "--json"}, "{\n  \"mode\": \"enforce\",\n  \"default\": \"passthrough\"\n}\n"},
		{[]string{"mode", "offer", "--json"}, "{\n  \"mode\": \"offer\",\n  \"default\": \"passthrough\"\n}\n"},
	}
	for _, st := range steps {
		stdout, _ := e.mustRun(st.args...)
		if stdout != st.want {
			t.Errorf("hubgate %q printed %q; want %q", st.args, stdout, st.want)
		}
	}
	evs, err := e.db.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Detail != "enforce → offer" || evs[1].Detail != "passthrough → enforce" || evs[0].Actor != actor(t) {
		t.Errorf("audit = %+v; want mode.set passthrough → enforce, then enforce → offer by %s", evs, actor(t))
	}
	_, _, err = e.run("mode", "lockdown")
	if !isUsage(err) || err.Error() != `mode: "lockdown": want one of passthrough, offer, enforce` {
		t.Errorf("mode lockdown = %v; want a usage error listing the modes", err)
	}
	if _, _, err := e.run("mode", "offer", "enforce"); !isUsage(err) {
		t.Errorf("mode offer enforce = %v; want a usage error", err)
	}
}

func TestOperatorErrors(t *testing.T) {
	e := newOpEnv(t)
	tests := []struct {
		name      string
		env       []string
		args      []string
		wantUsage bool
		want      string // in the error
	}{
		{"missing token", []string{"HUBGATE_ADMIN_TOKEN", ""}, []string{"mode"}, true, "no admin token: pass --admin-token or set HUBGATE_ADMIN_TOKEN"},
		{"wrong token", []string{"HUBGATE_ADMIN_TOKEN", "wrong-token-0123456789"}, []string{"claims", "list"}, false,
			": 401 unauthorized: invalid bearer token: check --admin-token"},
		{"wrong token by flag", nil, []string{"mode", "--admin-token", "wrong-token-0123456789"}, false, "401 unauthorized"},
		{"token by flag", []string{"HUBGATE_ADMIN_TOKEN", ""}, []string{"mode", "--admin-token", testToken}, false, ""},
		{"url by flag", []string{"HUBGATE_ADMIN_URL", "http://127.0.0.1:1"}, []string{"mode", "--admin-url", e.url}, false, ""},
		{"nothing listening", []string{"HUBGATE_ADMIN_URL", "http://127.0.0.1:1"}, []string{"mode"}, false,
			"admin API at http://127.0.0.1:1: GET /api/v1/mode: dial tcp 127.0.0.1:1: connect: connection refused: is hubgate serve running there? check --admin-url"},
		{"bad url", []string{"HUBGATE_ADMIN_URL", "127.0.0.1:4181"}, []string{"mode"}, true, "--admin-url"},
		{"claims without command", nil, []string{"claims"}, true, "claims: missing command"},
		{"unknown claims command", nil, []string{"claims", "mint"}, true, `claims: unknown command "mint"`},
		{"unknown links command", nil, []string{"links", "delete"}, true, `links: unknown command "delete"`},
		{"help flag (exit 0, issue #14)", nil, []string{"claims", "issue", "-h"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.runEnv(e.env(tt.env...), tt.args...)
			if tt.want == "" && !tt.wantUsage {
				if err != nil {
					t.Errorf("hubgate %q = %v; want nil", tt.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("hubgate %q = nil; want an error", tt.args)
			}
			if isUsage(err) != tt.wantUsage {
				t.Errorf("hubgate %q = %v (usage error: %v); want usage error: %v", tt.args, err, isUsage(err), tt.wantUsage)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("hubgate %q = %q; want it to contain %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestOperatorHelp(t *testing.T) {
	e := newOpEnv(t)
	for _, args := range [][]string{
		{"claims", "issue", "-h"}, {"claims", "import", "-h"}, {"claims", "list", "-h"}, {"claims", "revoke", "-h"},
		{"links", "list", "-h"}, {"links", "unlink", "-h"}, {"links", "set", "-h"}, {"mode", "-h"},
	} {
		// -h succeeds (exit 0) and prints the help on stdout (issue #14).
		stdout, stderr, err := e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", "secret-token-from-env"), args...)
		if err != nil {
			t.Errorf("hubgate %q = %v; want nil: -h succeeds", args, err)
		}
		if !strings.HasPrefix(stdout, "Usage: hubgate "+strings.Join(args[:len(args)-1], " ")) ||
			!strings.Contains(stdout, "-admin-token") || !strings.Contains(stdout, "-json") {
			t.Errorf("hubgate %q help = %q; want usage and the admin flags", args, stdout)
		}
		if strings.Contains(stdout+stderr, "secret-token-from-env") {
			t.Errorf("hubgate %q help shows the token from the environment", args)
		}
	}
	for _, args := range [][]string{{"claims", "-h"}, {"links", "help"}} {
		stdout, _, err := e.run(args...)
		if err != nil || !strings.HasPrefix(stdout, "Usage: hubgate "+args[0]+" COMMAND") {
			t.Errorf("hubgate %q = %q, %v; want the command list", args, stdout, err)
		}
	}
}
