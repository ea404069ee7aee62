package admin_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail/mailtest"
)

// TestImportSendWithholdsSharedAddress: an import with send=true mails no
// claim link to an address that more than one legacy person holds in the
// directory — two rows of the same import, or a row and a person imported
// before — whichever account the link named, the others at that address
// could claim it. The rows are skipped_shared_email (their claims are
// issued; the operator sees the links), the refusal is logged and audited
// with the holders' ids, never the address or the link; the other rows go
// out as usual.
func TestImportSendWithholdsSharedAddress(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newEnv(t, withMailer(t, srv))
	// Already in the directory: 9 holds carl's address.
	if got := e.importRows("", "text/csv", "id,email,name\n9,Carl@Example.com,Carl Senior\n"); len(got) != 1 || got[0].Status != admin.StatusIssued {
		t.Fatalf("first import = %+v", got)
	}
	got := e.importMail("?send=true", "id,email,name\n"+
		"1,pat@example.com,Pat One\n"+
		"2,PAT@example.com,Pat Two\n"+
		"3,carl@example.com,Carl Junior\n"+
		"4,solo@example.com,Solo\n")
	var rows []string
	for _, r := range got {
		rows = append(rows, r.ID+" "+r.Status+" "+r.Mail)
	}
	want := []string{
		"1 issued " + admin.MailSkippedSharedEmail,
		"2 issued " + admin.MailSkippedSharedEmail,
		"3 issued " + admin.MailSkippedSharedEmail,
		"4 issued " + admin.MailSent,
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("import rows mismatch (-want +got):\n%s", diff)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "solo@example.com" {
		var to [][]string
		for _, m := range msgs {
			to = append(to, m.To)
		}
		t.Fatalf("mails went to %v; want one, to solo@example.com", to)
	}

	var withheld []string
	var summary string
	for _, ev := range e.events() {
		switch ev.Action {
		case claim.ActionMailWithheld:
			withheld = append(withheld, ev.Detail)
			if strings.Contains(strings.ToLower(ev.Detail), "@example.com") || strings.Contains(ev.Detail, "/_hubgate/claim/") {
				t.Errorf("audit entry names the address or a link: %q", ev.Detail)
			}
		case claim.ActionClaimsMail:
			summary = ev.Detail
		}
	}
	holders := regexp.MustCompile(`legacy persons ([0-9, ]+)$`)
	var named []string
	for _, d := range withheld {
		if m := holders.FindStringSubmatch(d); m != nil {
			named = append(named, m[1])
		}
	}
	if diff := cmp.Diff([]string{"3, 9", "1, 2", "1, 2"}, named); diff != "" {
		t.Errorf("holders named by the %s audit entries (newest first) mismatch (-want +got):\n%s\n%q", claim.ActionMailWithheld, diff, withheld)
	}
	if summary != "1 claim links mailed (en), 0 failed, 0 without email, 3 withheld (address shared by several legacy persons)" {
		t.Errorf("claims.mail audit entry = %q; want the counts with the withheld ones", summary)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `"event":"claims.mail_withheld"`); n != 3 {
		t.Errorf("%d claims.mail_withheld log lines; want 3\n%s", n, logs)
	}
	if strings.Contains(logs, "pat@example.com") || strings.Contains(logs, "/_hubgate/claim/") {
		t.Errorf("the log names a shared address or a link:\n%s", logs)
	}
}
