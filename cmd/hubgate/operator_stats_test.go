package main

// Issue #14: `hubgate stats`, `hubgate audit` and `hubgate sessions end`
// against the real admin API, and named tokens as the CLI sees them.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

const (
	annCLIToken = "ann-operator-cli-token-0123"
	ciCLIToken  = "ci-read-cli-token-0123456"
	testPerson  = "7d8f6a52-3c1e-4b8a-9f3e-2a1b0c9d8e7f"
)

// withNamedTokens adds an operator token "ann" and a read token "ci".
func withNamedTokens(c *admin.Config) {
	c.Tokens = []admin.Token{{Name: "ann", Value: annCLIToken, Role: admin.RoleOperator}, {Name: "ci", Value: ciCLIToken, Role: admin.RoleRead}}
}

// seedStats gives the store two people, one linked, and three claims.
func seedStats(t *testing.T, e *opEnv) {
	t.Helper()
	ctx := t.Context()
	if err := e.db.PutPeople(ctx, []claim.Person{{ID: "1", Email: "a@example.com", Orgs: []string{"7"}}, {ID: "2", Email: "b@example.com"}},
		claim.Event{Time: time.Now(), Actor: "test", Action: "people.import", Subject: "directory"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutLink(ctx, claim.Link{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: testPerson, CreatedAt: time.Now(), Via: "admin", By: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"2", "3", "4"} {
		e.mustRun("claims", "issue", "--force", "--kind", "person", "--legacy-id", id)
	}
}

func TestStatsCommand(t *testing.T) {
	e := newOpEnv(t, withNamedTokens)
	seedStats(t, e)
	stdout, _ := e.mustRun("stats")
	for _, want := range []string{"mode", "passthrough", "persons linked", "1 of 2 (50.0 %)", "organizations linked", "0 of 1 (0.0 %)",
		"3 open, 0 used, 0 expired, 0 revoked (0.0 % used)", "links, last 30 days", "1 persons, 0 organizations"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stats lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _ = e.mustRun("stats", "--json")
	var got statsJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, stdout)
	}
	if got.Mode != "passthrough" || got.People != 2 || got.LinkedPersons != 1 || got.ClaimsOpen != 3 || len(got.LinksByDay) != 30 || got.Percent.PersonsLinked != 50 {
		t.Errorf("stats --json = %+v; want mode, counts, percent and 30 days", got)
	}
	// A read token is enough.
	if _, _, err := e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", ciCLIToken), "stats"); err != nil {
		t.Errorf("stats with the read token = %v; want nil", err)
	}
	if _, _, err := e.run("stats", "extra"); !isUsage(err) {
		t.Errorf("stats extra = %v; want a usage error", err)
	}
}

func TestAuditCommand(t *testing.T) {
	e := newOpEnv(t, withNamedTokens)
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		e.mustRun("claims", "issue", "--force", "--kind", "person", "--legacy-id", id)
	}
	stdout, stderr := e.mustRun("audit", "--limit", "3")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[1], "claim.issue") || !strings.Contains(lines[1], "person:5") ||
		!strings.Contains(lines[1], actor(t)) {
		t.Errorf("audit --limit 3 =\n%s\nwant a header and the 3 newest events (person:5 first, by %s)", stdout, actor(t))
	}
	if !strings.Contains(stderr, "older events: --before ") {
		t.Errorf("audit --limit 3 stderr = %q; want the hint to older events", stderr)
	}
	stdout, _ = e.mustRun("audit", "--json")
	var page admin.EventPage
	if err := json.Unmarshal([]byte(stdout), &page); err != nil || len(page.Events) != 5 || page.Next != 0 {
		t.Fatalf("audit --json = %+v, %v; want all 5 events", page, err)
	}
	stdout, _ = e.mustRun("audit", "--json", "--before", fmt.Sprint(page.Events[1].Seq), "--limit", "2")
	var older admin.EventPage
	if err := json.Unmarshal([]byte(stdout), &older); err != nil || len(older.Events) != 2 || older.Events[0].Seq != page.Events[2].Seq {
		t.Errorf("audit --before %d --limit 2 = %+v, %v; want events %d and %d", page.Events[1].Seq, older, err, page.Events[2].Seq, page.Events[3].Seq)
	}
	if _, _, err := e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", ciCLIToken), "audit"); err != nil {
		t.Errorf("audit with the read token = %v; want nil", err)
	}
	for _, args := range [][]string{{"audit", "--limit", "0"}, {"audit", "--limit", "x"}, {"audit", "extra"}} {
		if _, _, err := e.run(args...); !isUsage(err) {
			t.Errorf("hubgate %q = %v; want a usage error", args, err)
		}
	}
}

func TestSessionsEndCommand(t *testing.T) {
	e := newOpEnv(t, withNamedTokens)
	stdout, _, err := e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", annCLIToken), "sessions", "end", strings.ToUpper(testPerson))
	if err != nil || stdout != "ended every session of Zaikio person "+testPerson+"\n" {
		t.Fatalf("sessions end = %q, %v; want it ended", stdout, err)
	}
	revs, err := e.db.Revocations(t.Context(), time.Now())
	if err != nil || len(revs) != 1 || revs[0].Kind != session.RevokePerson || revs[0].Subject != testPerson {
		t.Errorf("revocations = %+v, %v; want one for %s", revs, err, testPerson)
	}
	evs, err := e.db.Events(t.Context(), 0, 1)
	if want := "admin-api:ann (" + strings.TrimPrefix(actor(t), "admin-api:") + ")"; err != nil || len(evs) != 1 || evs[0].Action != "session.revoke" || evs[0].Actor != want {
		t.Errorf("newest event = %+v, %v; want session.revoke by %s", evs, err, want)
	}
	stdout, _ = e.mustRun("sessions", "end", testPerson, "--json")
	if strings.TrimSpace(stdout) != `{
  "ended": "`+testPerson+`"
}` {
		t.Errorf("sessions end --json = %q", stdout)
	}
	// A read token is refused by the API: exit 1 with what to use instead.
	_, _, err = e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", ciCLIToken), "sessions", "end", testPerson)
	if err == nil || isUsage(err) || !strings.Contains(err.Error(), `token "ci" is read-only`) || !strings.Contains(err.Error(), "use an operator token") {
		t.Errorf("sessions end with the read token = %v; want exit 1 explaining the read-only token", err)
	}
	for _, args := range [][]string{{"sessions", "end"}, {"sessions", "end", "not-a-uuid"}, {"sessions", "end", testPerson, testPerson}} {
		if _, _, err := e.run(args...); !isUsage(err) {
			t.Errorf("hubgate %q = %v; want a usage error", args, err)
		}
	}
}

// TestNamedTokensCLI: the audit names the token the CLI used; a read
// token may list but not change.
func TestNamedTokensCLI(t *testing.T) {
	e := newOpEnv(t, withNamedTokens)
	stdout, _, err := e.runEnv(e.env("HUBGATE_ADMIN_TOKEN", annCLIToken), "claims", "issue", "--force", "--kind", "person", "--legacy-id", "42", "--json")
	if err != nil {
		t.Fatalf("claims issue as ann = %v", err)
	}
	var is admin.Issued
	if err := json.Unmarshal([]byte(stdout), &is); err != nil {
		t.Fatal(err)
	}
	c, err := e.db.Claim(t.Context(), is.ID)
	if want := "admin-api:ann (" + strings.TrimPrefix(actor(t), "admin-api:") + ")"; err != nil || c.CreatedBy != want {
		t.Errorf("claim created by %q, %v; want %q", c.CreatedBy, err, want)
	}
	ci := e.env("HUBGATE_ADMIN_TOKEN", ciCLIToken)
	for _, args := range [][]string{{"claims", "list"}, {"links", "list"}, {"mode"}} {
		if _, _, err := e.runEnv(ci, args...); err != nil {
			t.Errorf("hubgate %q with the read token = %v; want nil", args, err)
		}
	}
	for _, args := range [][]string{{"mode", "enforce"}, {"claims", "revoke", is.ID}, {"links", "set", "--kind", "person", "42", testPerson}} {
		if _, _, err := e.runEnv(ci, args...); err == nil || isUsage(err) || !strings.Contains(err.Error(), "use an operator token") {
			t.Errorf("hubgate %q with the read token = %v; want exit 1 explaining the read-only token", args, err)
		}
	}
}

// TestOperatorWarnsOfUnknownVariables: a mistyped variable would leave a
// default in force; operator commands say so and go on.
func TestOperatorWarnsOfUnknownVariables(t *testing.T) {
	e := newOpEnv(t)
	m := map[string]string{"HUBGATE_ADMIN_URL": e.url, "HUBGATE_ADMIN_TOKEN": testToken, "HUBGATE_ADMIN_UR": "http://x",
		envNamesKey: "HUBGATE_ADMIN_URL\nHUBGATE_ADMIN_TOKEN\nHUBGATE_ADMIN_UR"}
	_, stderr, err := e.runEnv(func(k string) string { return m[k] }, "mode")
	if err != nil || !strings.Contains(stderr, "hubgate: warning: HUBGATE_ADMIN_UR: unknown environment variable") ||
		!strings.Contains(stderr, "did you mean HUBGATE_ADMIN_URL?") {
		t.Errorf("mode with HUBGATE_ADMIN_UR set = %v, stderr %q; want success and a warning", err, stderr)
	}
}
