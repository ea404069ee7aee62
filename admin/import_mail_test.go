package admin_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
)

// withMailer configures a sender to srv.
func withMailer(t *testing.T, srv *mailtest.Server) func(*admin.Config) {
	t.Helper()
	m, err := mail.New(mail.Config{URL: srv.URL(), From: "hubgate <noreply@app.example.com>", HelloName: "hubgate.test"})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *admin.Config) {
		c.Mailer = m
		c.AppName = "Acme Print"
	}
}

// importMail posts body with send=true and returns the CSV answer without
// its header, which must have the mail column.
func (e *env) importMail(query, body string) []admin.ImportResult {
	e.t.Helper()
	b := e.call("POST", "/api/v1/claims/import"+query, body, http.StatusOK, nil, "Content-Type", "text/csv")
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		e.t.Fatalf("import answer is not CSV: %v\n%s", err, b)
	}
	want := append(append([]string{}, admin.ImportHeader...), admin.MailColumn)
	if len(recs) == 0 || !cmp.Equal(recs[0], want) {
		e.t.Fatalf("import answer header = %q; want %q", recs[0], want)
	}
	var out []admin.ImportResult
	for _, r := range recs[1:] {
		out = append(out, admin.ImportResult{ID: r[0], Email: r[1], URL: r[2], Status: r[3], Mail: r[4]})
	}
	return out
}

func TestImportSend(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newEnv(t, withMailer(t, srv))
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "1", ZaikioID: "00000000-0000-4000-8000-000000000001", CreatedAt: t0, Via: "admin"}
	if err := e.db.PutLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	body := "id,email,name\n" +
		"1,ann@example.com,Ann Linked\n" +
		"2,fay@example.com,Fay Fails\n" +
		"3,,Carl No Mail\n" +
		"4,bad address,Dan\n" +
		"5,bob@example.com,Bob Brown\n" +
		"6,eve@example.com,Eve Evans\n"
	// The server refuses the first mail's recipient (row 2); rows 5 and 6
	// go out over the same connection.
	srv.FailNext(1, 550)
	got := e.importMail("?send=true&lang=de", body)
	want := []string{
		"1 skipped_linked not_sent",
		"2 issued failed",
		"3 issued skipped_no_email",
		"4 error: line 5: email \"bad address\" has a space, control character or one of \",;<> not_sent",
		"5 issued sent",
		"6 issued sent",
	}
	var gotRows []string
	for _, r := range got {
		m, _, _ := strings.Cut(r.Mail, ":")
		gotRows = append(gotRows, r.ID+" "+r.Status+" "+m)
	}
	if diff := cmp.Diff(want, gotRows); diff != "" {
		t.Errorf("import rows mismatch (-want +got):\n%s", diff)
	}
	if reason := got[1].Mail; !strings.HasPrefix(reason, admin.MailFailedPrefix) || !strings.Contains(reason, "550") || strings.Contains(reason, "\n") {
		t.Errorf("mail column of the refused row = %q; want failed: with the server's 550 on one line", reason)
	}
	if n := e.checkIssued(got); n != 4 {
		t.Errorf("%d claims issued; want 4", n)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails arrived; want 2", len(msgs))
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d SMTP connections; want 1 for the whole import", n)
	}
	for i, row := range []admin.ImportResult{got[4], got[5]} {
		m := msgs[i]
		if m.Err != nil || len(m.To) != 1 || m.To[0] != row.Email {
			t.Errorf("mail %d to %v (%v); want one to %s", i, m.To, m.Err, row.Email)
		}
		if m.Subject != "Verknüpfen Sie Ihr Konto bei Acme Print mit Zaikio" {
			t.Errorf("mail %d subject = %q; want the German claim subject naming Acme Print", i, m.Subject)
		}
		if !strings.Contains(m.Text, row.URL) || !strings.Contains(m.HTML, row.URL) {
			t.Errorf("mail %d does not carry row %s's link", i, row.ID)
		}
		// The mailed link's token resolves to the row's claim.
		c, err := e.db.ClaimByHash(t.Context(), tokenOf(t, row.URL).Hash())
		if err != nil || c.LegacyID != row.ID {
			t.Errorf("mailed link of row %s: claim %+v, %v; want the row's claim", row.ID, c, err)
		}
	}
	ev := e.events()[0]
	if ev.Action != "claims.mail" || ev.Detail != "2 claim links mailed (de), 1 failed, 1 without email" {
		t.Errorf("newest audit event = %+v; want claims.mail with the counts", ev)
	}
	var secrets []string
	for _, r := range got {
		if r.URL != "" {
			secrets = append(secrets, tokenOf(t, r.URL).Reveal())
		}
	}
	e.noSecretsLogged(secrets...)
	if !strings.Contains(e.logs.String(), `"event":"claims.mail"`) {
		t.Errorf("the mailing is not logged")
	}

	// Without send, the answer keeps its four columns and nothing is mailed.
	srv.Reset()
	plain := e.importRows("", "text/csv", "id,email\n7,gil@example.com\n")
	if len(plain) != 1 || plain[0].Status != admin.StatusIssued || plain[0].Mail != "" || len(srv.Messages()) != 0 {
		t.Errorf("import without send = %+v, %d mails; want issued, no mail column, no mail", plain, len(srv.Messages()))
	}
}

func TestImportSendRefusals(t *testing.T) {
	tests := []struct {
		name      string
		mailer    bool
		query     string
		wantCode  string
		wantField string
		wantMsg   string
	}{
		{"no mailer", false, "?send=true", "mail_not_configured", "send", "claims.smtp is not configured"},
		{"unknown language", true, "?send=true&lang=fr", "invalid", "lang", `lang: "fr": want en or de`},
		{"language without send", true, "?lang=de", "invalid", "lang", "lang: applies only with send=true"},
		{"send not a bool", true, "?send=maybe", "invalid", "send", `send: "maybe": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*admin.Config)
			if tt.mailer {
				edits = append(edits, withMailer(t, mailtest.NewServer(t)))
			}
			e := newEnv(t, edits...)
			b := e.call("POST", "/api/v1/claims/import"+tt.query, "id,email\n1,ann@example.com\n", http.StatusBadRequest, nil, "Content-Type", "text/csv")
			var ae apiErr
			if err := json.Unmarshal(b, &ae); err != nil || ae.Error != tt.wantCode || ae.Field != tt.wantField || !strings.Contains(ae.Message, tt.wantMsg) {
				t.Errorf("answer = %s; want error %q on field %q with %q", b, tt.wantCode, tt.wantField, tt.wantMsg)
			}
			if claims, _ := e.db.Claims(t.Context(), "", 10); len(claims) != 0 {
				t.Errorf("%d claims minted; want none", len(claims))
			}
			if _, err := e.db.Person(t.Context(), "1"); err == nil {
				t.Errorf("person imported; want nothing read")
			}
		})
	}
}

func TestImportSendServerDown(t *testing.T) {
	// Nothing listens on port 1: every mail fails, quickly.
	m, err := mail.New(mail.Config{URL: "smtp://127.0.0.1:1", From: "noreply@app.example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *admin.Config) { c.Mailer = m })
	got := e.importMail("?send=true", "id,email\n1,ann@example.com\n2,bob@example.com\n3,cy@example.com\n4,dee@example.com\n")
	for _, r := range got {
		if r.Status != admin.StatusIssued || !strings.HasPrefix(r.Mail, admin.MailFailedPrefix) {
			t.Errorf("row %s = %s, mail %q; want issued, failed", r.ID, r.Status, r.Mail)
		}
	}
	if n := e.checkIssued(got); n != 4 {
		t.Errorf("%d claims issued; want 4 (the links stay valid; the operator can send them another way)", n)
	}
}
