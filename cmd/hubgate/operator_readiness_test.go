package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/migration"
)

// readinessEnv is an admin API that records legacy sign-ins (whoami) and
// mails through srv (nil: no mailer), with the directory and sign-ins:
//
//	1 Alice, 2 Bob      active, unlinked, own address: listed, mailable
//	3 Carol, 4 Dave     active, unlinked, one shared address: listed, never mailed
//	5 Frank             active, linked: not listed
//	6 Grace             signed in 40 days ago: not listed in 30 days
//	7 Heidi             never signed in the old way
func readinessEnv(t *testing.T, srv *mailtest.Server) *opEnv {
	t.Helper()
	e := newOpEnv(t, func(c *admin.Config) {
		c.SignInsRecorded = true
		if srv != nil {
			m, err := mail.New(mail.Config{URL: srv.URL(), From: "hubgate <noreply@app.example.com>", HelloName: "hubgate.test"})
			if err != nil {
				t.Fatal(err)
			}
			c.Mailer = m
		}
	})
	ctx := t.Context()
	if err := e.db.PutPeople(ctx, []claim.Person{
		{ID: "1", Email: "alice@example.com", Name: "Alice Adams"},
		{ID: "2", Email: "bob@example.com", Name: "Bob Brown"},
		{ID: "3", Email: "family@example.com", Name: "Carol Clark"},
		{ID: "4", Email: "family@example.com", Name: "Dave Clark"},
		{ID: "5", Email: "frank@example.com", Name: "Frank Linked"},
		{ID: "6", Email: "grace@example.com", Name: "Grace Gone"},
		{ID: "7", Email: "heidi@example.com", Name: "Heidi Never"},
	}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "5", ZaikioID: "00000000-0000-4000-8000-000000000005", CreatedAt: time.Now(), Via: "admin", By: "test"}
	if err := e.db.PutLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for id, ago := range map[string]time.Duration{"1": time.Hour, "2": 2 * time.Hour, "3": 3 * time.Hour, "4": 4 * time.Hour,
		"5": time.Hour, "6": 40 * 24 * time.Hour} {
		if err := e.db.RecordLegacySignIn(ctx, id, now.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

const lockout4 = "4 people signed in the old way in the last 30 days and have not linked their account; they will be locked out until they use their link."

// TestReadinessCommand: `hubgate readiness` lists who signed in the old way
// and is not linked, with the directory's names and addresses, as a table
// or JSON; --days widens the window.
func TestReadinessCommand(t *testing.T) {
	e := readinessEnv(t, nil)
	stdout, _ := e.mustRun("readiness")
	for _, want := range []string{lockout4, "(5 signed in the old way, 1 of them linked; 2 of the others can be mailed their link)",
		"LEGACY ID", "Alice Adams", "alice@example.com", "can be mailed", "Dave Clark", "shared address: no mail"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("hubgate readiness lacks %q:\n%s", want, stdout)
		}
	}
	for _, absent := range []string{"Frank", "Grace", "Heidi"} {
		if strings.Contains(stdout, absent) {
			t.Errorf("hubgate readiness lists %s:\n%s", absent, stdout)
		}
	}
	if i, j := strings.Index(stdout, "Alice"), strings.Index(stdout, "Bob"); i < 0 || j < i {
		t.Errorf("hubgate readiness does not list the latest sign-in first:\n%s", stdout)
	}

	stdout, _ = e.mustRun("readiness", "--days", "45", "--json")
	var rd admin.Readiness
	if err := json.Unmarshal([]byte(stdout), &rd); err != nil {
		t.Fatalf("readiness --json: %v\n%s", err, stdout)
	}
	var ids []string
	for _, p := range rd.People {
		ids = append(ids, p.LegacyID)
	}
	if want := []string{"1", "2", "3", "4", "6"}; rd.Days != 45 || rd.LockedOut != 5 || !slices.Equal(ids, want) {
		t.Errorf("readiness --days 45 --json: days %d, %d locked out, ids %q; want 45, 5, %q", rd.Days, rd.LockedOut, ids, want)
	}

	for _, args := range [][]string{{"readiness", "--days", "0"}, {"readiness", "--lang", "de"}, {"readiness", "--mail", "--lang", "fr"}, {"readiness", "x"}} {
		if _, _, err := e.run(args...); !isUsage(err) {
			t.Errorf("hubgate %q = %v; want a usage error", args, err)
		}
	}
	if _, stderr, err := newOpEnv(t).run("readiness"); err != nil || !strings.Contains(stderr, "legacy.whoami is not configured") {
		t.Errorf("readiness without whoami = %v, stderr %q; want success and a note on whoami", err, stderr)
	}
}

// TestReadinessMailCommand: `hubgate readiness --mail` mails exactly the
// listed people whom mail reaches (not linked ones, not inactive ones, not
// a shared address), shows progress on stderr (plain lines without a
// terminal) and each person's outcome.
func TestReadinessMailCommand(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := readinessEnv(t, srv)
	stdout, stderr := e.mustRun("readiness", "--mail", "--lang", "de")
	if strings.Contains(stderr, "\r") || !strings.Contains(stderr, "mailing… 0/2, sent 0, 0 failed\n") ||
		!strings.Contains(stderr, ": 2 sent, 0 failed, 2 skipped") {
		t.Errorf("stderr = %q; want progress lines and a summary, no \\r", stderr)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		rows = append(rows, strings.Join(strings.Fields(line), " "))
	}
	if want := []string{"LEGACY ID EMAIL MAIL", "1 alice@example.com sent", "2 bob@example.com sent",
		"3 family@example.com skipped_shared_email", "4 family@example.com skipped_shared_email"}; !slices.Equal(rows, want) {
		t.Errorf("stdout rows = %q; want %q", rows, want)
	}
	srv.WaitFor(t, 2, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	var to []string
	for _, m := range srv.Messages() {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"alice@example.com", "bob@example.com"}) {
		t.Errorf("mails went to %q; want alice and bob only", to)
	}

	if _, _, err := readinessEnv(t, nil).run("readiness", "--mail"); err == nil || !strings.Contains(err.Error(), "claims.smtp") {
		t.Errorf("readiness --mail without a mailer = %v; want an error naming claims.smtp", err)
	}
}

// TestModeEnforceConfirmation: `hubgate mode enforce` shows what the
// dashboard's confirmation shows, with the number of people it locks out.
// On a terminal it asks (no: nothing switches; yes or --yes: switched);
// without one (scripts) it shows the same on stderr and switches.
func TestModeEnforceConfirmation(t *testing.T) {
	wantShown := []string{"Switching from passthrough to enforce:", "The legacy login will be closed.",
		"6 of 7 persons in the directory are not linked yet.", lockout4,
		"Mail them their links first: hubgate readiness --mail (2 can be mailed)"}
	mode := func(e *opEnv) migration.Mode {
		m, err := e.db.Mode(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	e := readinessEnv(t, nil)
	stdout, stderr, err := e.runTTY("n\n", "mode", "enforce")
	if err == nil || !strings.Contains(err.Error(), "not switched") || mode(e) == migration.Enforce {
		t.Errorf("mode enforce answered n = %v, mode %q; want an error and no switch", err, mode(e))
	}
	for _, want := range append(wantShown, "Switch to enforce? [y/N] ") {
		if !strings.Contains(stderr, want) {
			t.Errorf("mode enforce on a terminal: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("mode enforce answered n printed %q on stdout; want nothing", stdout)
	}
	if stdout, _, err = e.runTTY("y\n", "mode", "enforce"); err != nil || stdout != "mode: enforce (was passthrough)\n" || mode(e) != migration.Enforce {
		t.Errorf("mode enforce answered y = %v, %q, mode %q; want the switch", err, stdout, mode(e))
	}

	e = readinessEnv(t, nil)
	if _, stderr, err = e.runTTY("", "mode", "enforce", "--yes"); err != nil || strings.Contains(stderr, "[y/N]") || mode(e) != migration.Enforce {
		t.Errorf("mode enforce --yes = %v, mode %q, stderr %q; want the switch without a question", err, mode(e), stderr)
	}

	// Not a terminal: shown, not asked, switched (scripts keep working).
	e = readinessEnv(t, nil)
	stdout, stderr, err = e.run("mode", "enforce")
	if err != nil || stdout != "mode: enforce (was passthrough)\n" || strings.Contains(stderr, "[y/N]") {
		t.Errorf("mode enforce without a terminal = %v, %q, stderr %q; want the switch without a question", err, stdout, stderr)
	}
	for _, want := range wantShown {
		if !strings.Contains(stderr, want) {
			t.Errorf("mode enforce without a terminal: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, stderr, _ = e.runTTY("", "mode", "offer"); strings.Contains(stderr, "locked out") || strings.Contains(stderr, "[y/N]") {
		t.Errorf("mode offer states a lockout or asks: %q", stderr)
	}
}
