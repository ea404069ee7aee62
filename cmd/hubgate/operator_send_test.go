package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/store/bolt"
)

// newMailEnv is newOpEnv with claims.smtp pointing at srv (nil: no mailer).
func newMailEnv(t *testing.T, srv *mailtest.Server) *opEnv {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := admin.Config{Token: testToken, Store: db, Claims: &claim.Service{Store: db},
		PublicURL: testPublicURL, AppName: "Acme Print", Logger: zerolog.Nop()}
	if srv != nil {
		m, err := mail.New(mail.Config{URL: srv.URL(), From: "hubgate <noreply@app.example.com>", HelloName: "hubgate.test"})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Mailer = m
	}
	s, err := admin.New(cfg)
	if err != nil {
		t.Fatalf("admin.New = %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &opEnv{t: t, db: db, url: ts.URL}
}

// sendFixture writes n people: every 30th (from the 8th) without an email,
// and links every 50th (from the 4th) before the import.
func sendFixture(t *testing.T, e *opEnv, n int) (path string, linked, noEmail int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,email,name\n")
	for i := range n {
		email := fmt.Sprintf("person%05d@example.com", i)
		if i%30 == 7 {
			email = ""
			noEmail++
		}
		fmt.Fprintf(&b, "u%05d,%s,Person %d\n", i, email, i)
		if i%50 == 3 {
			l := claim.Link{Kind: claim.KindPerson, LegacyID: fmt.Sprintf("u%05d", i),
				ZaikioID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), CreatedAt: time.Now(), Via: "admin", By: "test"}
			if err := e.db.PutLink(t.Context(), l); err != nil {
				t.Fatal(err)
			}
			linked++
		}
	}
	path = filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, linked, noEmail
}

func TestClaimsImportSend(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newMailEnv(t, srv)
	const n = 300
	in, linked, noEmail := sendFixture(t, e, n)
	issued := n - linked
	mailed := issued - noEmail
	out := filepath.Join(t.TempDir(), "links.csv")

	start := time.Now()
	// On a terminal: the progress line is redrawn with "\r" (without one:
	// TestImportProgressWithoutTerminal).
	_, stderr := e.mustRunTTY("claims", "import", in, "--send", "--lang", "de", "--out", out)
	t.Logf("import of %d people with --send took %v", n, time.Since(start))
	for _, want := range []string{
		"\rimporting… 0/300 (0%), mailed 0, 0 failed",
		"\rimporting… 100/300 (33%), mailed ",
		fmt.Sprintf("\rimporting… 300/300 (100%%), mailed %d, 0 failed", mailed),
		fmt.Sprintf(": %d issued, %d sent, %d skipped (already linked), %d skipped (no email), 0 withheld (address shared by several people), 0 failed, 0 errors\n", issued, mailed, linked, noEmail),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr = %q; want it to contain %q", stderr, want)
		}
	}
	msgs := srv.WaitFor(t, mailed, 5*time.Second)
	if len(msgs) != mailed {
		t.Fatalf("%d mails arrived; want %d (%d people, %d already linked, %d without email)", len(msgs), mailed, n, linked, noEmail)
	}
	// One SMTP connection per request of 100 rows.
	if got := srv.Connections(); got != 3 {
		t.Errorf("%d SMTP connections; want 3 (one per chunk)", got)
	}
	byTo := map[string]mailtest.Received{}
	for _, m := range msgs {
		if m.Err != nil || len(m.To) != 1 {
			t.Fatalf("mail %v: %v; want one parsed recipient", m.To, m.Err)
		}
		if _, dup := byTo[m.To[0]]; dup {
			t.Errorf("two mails to %s", m.To[0])
		}
		byTo[m.To[0]] = m
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSVFile(t, string(data))
	if want := "id,email,url,status,mail"; len(recs) != n+1 || strings.Join(recs[0], ",") != want {
		t.Fatalf("output has %d records, header %q; want %d and %s", len(recs), recs[0], n+1, want)
	}
	counts := map[string]int{}
	for _, r := range recs[1:] {
		id, email, url, status, mailCol := r[0], r[1], r[2], r[3], r[4]
		counts[status+" "+mailCol]++
		switch mailCol {
		case admin.MailSent:
			m, ok := byTo[email]
			if !ok {
				t.Fatalf("row %s says sent, but no mail went to %s", id, email)
			}
			if !strings.Contains(m.Text, url) || m.Subject != "Verknüpfen Sie Ihr Konto bei Acme Print mit Zaikio" {
				t.Errorf("mail to %s: subject %q, carries the row's link: %v", email, m.Subject, strings.Contains(m.Text, url))
			}
			// The mailed link's token resolves, by its hash, to the row's claim.
			if c := e.checkURL(url); c.LegacyID != id || c.Email != email {
				t.Errorf("claim of mailed link for %s = %+v", id, c)
			}
		case admin.MailSkippedNoEmail:
			if email != "" || status != admin.StatusIssued {
				t.Errorf("row %s: %s skipped_no_email with email %q", id, status, email)
			}
		case admin.MailNotSent:
			if status != admin.StatusSkippedLinked {
				t.Errorf("row %s: %s not_sent; want only linked rows unsent", id, status)
			}
		default:
			t.Errorf("row %s: mail column %q", id, mailCol)
		}
	}
	want := map[string]int{"issued sent": mailed, "issued skipped_no_email": noEmail, "skipped_linked not_sent": linked}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%d rows %q; want %d (all: %v)", counts[k], k, v, counts)
		}
	}
}

func TestClaimsImportSendFailure(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newMailEnv(t, srv)
	in, linked, noEmail := sendFixture(t, e, 60)
	issued := 60 - linked
	// The server refuses the first recipient; the rest go out.
	srv.FailNext(1, 550)
	stdout, stderr, err := e.run("claims", "import", in, "--send")
	if err == nil || isUsage(err) {
		t.Fatalf("claims import --send with a refused mail = %v; want a failure (exit 1)", err)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("1 of %d mails failed; the mail column says why", issued-noEmail)) {
		t.Errorf("error = %q; want it to count the failed mail", msg)
	}
	if want := fmt.Sprintf(": %d issued, %d sent, %d skipped (already linked), %d skipped (no email), 0 withheld (address shared by several people), 1 failed, 0 errors\n",
		issued, issued-noEmail-1, linked, noEmail); !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q; want %q", stderr, want)
	}
	recs := readCSVFile(t, stdout)
	failed := 0
	for _, r := range recs[1:] {
		if strings.HasPrefix(r[4], admin.MailFailedPrefix) {
			failed++
			if r[0] != "u00000" || !strings.Contains(r[4], "550") || r[3] != admin.StatusIssued {
				t.Errorf("failed row = %q; want u00000 issued, failed with the server's 550", r)
			}
			e.checkURL(r[2]) // the link itself works
		}
	}
	if failed != 1 {
		t.Errorf("%d rows with a failed mail; want 1", failed)
	}
	if got := len(srv.Messages()); got != issued-noEmail-1 {
		t.Errorf("%d mails arrived; want %d", got, issued-noEmail-1)
	}
}

func TestClaimsImportSendRefused(t *testing.T) {
	e := newMailEnv(t, nil)
	in, _, _ := sendFixture(t, e, 5)
	_, _, err := e.run("claims", "import", in, "--send")
	if err == nil || isUsage(err) || !strings.Contains(err.Error(), "claims.smtp is not configured") {
		t.Errorf("claims import --send without claims.smtp = %v; want an error naming claims.smtp", err)
	}
	if claims, _ := e.db.Claims(t.Context(), "", 10); len(claims) != 0 {
		t.Errorf("%d claims minted; want none", len(claims))
	}
	for _, args := range [][]string{
		{"claims", "import", in, "--send", "--lang", "fr"},
		{"claims", "import", in, "--lang", "de"},
	} {
		if _, _, err := e.run(args...); !isUsage(err) {
			t.Errorf("hubgate %s = %v; want a usage error", strings.Join(args, " "), err)
		}
	}
}
