package admin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail/mailtest"
)

// withSignIns says that the proxy records legacy sign-ins (legacy.whoami).
func withSignIns(c *admin.Config) { c.SignInsRecorded = true }

// readinessFixture fills the directory and the legacy sign-ins:
//
//	1 Alice, 2 Bob          active, unlinked, own address: on the list, mailed
//	3 Carol, 4 Dave         active, unlinked, one address: listed, never mailed
//	5 Eve                   active, unlinked, no address
//	6 Frank                 active, linked: not listed
//	7 Grace                 signed in 40 days ago: not in the last 30 days
//	8 Heidi                 never signed in the old way
//	9                       active, not in the directory
func readinessFixture(t *testing.T, e *env) {
	t.Helper()
	ctx := t.Context()
	people := []claim.Person{
		{ID: "1", Email: "alice@example.com", Name: "Alice Adams"},
		{ID: "2", Email: "bob@example.com", Name: "Bob Brown"},
		{ID: "3", Email: "family@example.com", Name: "Carol Clark"},
		{ID: "4", Email: "Family@Example.com", Name: "Dave Clark"},
		{ID: "5", Name: "Eve Empty"},
		{ID: "6", Email: "frank@example.com", Name: "Frank Linked"},
		{ID: "7", Email: "grace@example.com", Name: "Grace Gone"},
		{ID: "8", Email: "heidi@example.com", Name: "Heidi Never"},
	}
	if err := e.db.PutPeople(ctx, people, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutLink(ctx, claim.Link{Kind: claim.KindPerson, LegacyID: "6", ZaikioID: zid(6), CreatedAt: t0, Via: "admin"}); err != nil {
		t.Fatal(err)
	}
	for id, ago := range map[string]time.Duration{"1": time.Hour, "2": 2 * time.Hour, "3": 3 * time.Hour,
		"4": 4 * time.Hour, "5": 5 * time.Hour, "6": time.Hour, "7": 40 * 24 * time.Hour, "9": 6 * time.Hour} {
		if err := e.db.RecordLegacySignIn(ctx, id, t0.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadinessAPI: GET /api/v1/readiness lists who signed in the old way
// in the window and is not linked, latest first, with the directory's names
// and addresses and whether a mail can reach them; the counts add up.
func TestReadinessAPI(t *testing.T) {
	e := newEnv(t, withSignIns)
	var empty admin.Readiness
	e.call("GET", "/api/v1/readiness", "", http.StatusOK, &empty)
	if empty.Days != 30 || !empty.Recording || empty.RecordingSince != nil || empty.Active != 0 || len(empty.People) != 0 {
		t.Errorf("readiness of an empty store = %+v; want 30 days, recording, nothing else", empty)
	}

	readinessFixture(t, e)
	var got admin.Readiness
	e.call("GET", "/api/v1/readiness", "", http.StatusOK, &got)
	first := t0.Add(-40 * 24 * time.Hour)
	want := admin.Readiness{
		Days: 30, Since: t0.Add(-30 * 24 * time.Hour), Recording: true, RecordingSince: &first,
		Active: 7, ActiveLinked: 1, LockedOut: 6, Mailable: 2,
		People: []admin.ReadinessPerson{
			{LegacyID: "1", Name: "Alice Adams", Email: "alice@example.com", LastSignIn: t0.Add(-time.Hour), Mail: admin.ReadinessMailOK},
			{LegacyID: "2", Name: "Bob Brown", Email: "bob@example.com", LastSignIn: t0.Add(-2 * time.Hour), Mail: admin.ReadinessMailOK},
			{LegacyID: "3", Name: "Carol Clark", Email: "family@example.com", LastSignIn: t0.Add(-3 * time.Hour), Mail: admin.ReadinessSharedEmail},
			{LegacyID: "4", Name: "Dave Clark", Email: "Family@Example.com", LastSignIn: t0.Add(-4 * time.Hour), Mail: admin.ReadinessSharedEmail},
			{LegacyID: "5", Name: "Eve Empty", LastSignIn: t0.Add(-5 * time.Hour), Mail: admin.ReadinessNoEmail},
			{LegacyID: "9", LastSignIn: t0.Add(-6 * time.Hour), Mail: admin.ReadinessNotInDirectory},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /api/v1/readiness mismatch (-want +got):\n%s", diff)
	}

	var wide admin.Readiness
	e.call("GET", "/api/v1/readiness?days=45", "", http.StatusOK, &wide)
	if wide.LockedOut != 7 || wide.People[6].LegacyID != "7" {
		t.Errorf("readiness over 45 days: %d locked out, last %+v; want 7, Grace last", wide.LockedOut, wide.People[len(wide.People)-1])
	}
	for _, bad := range []string{"0", "-1", "x", "3651", "1.5"} {
		var ae apiErr
		e.call("GET", "/api/v1/readiness?days="+bad, "", http.StatusBadRequest, &ae)
		if ae.Field != "days" {
			t.Errorf("?days=%s: error %+v; want the field days", bad, ae)
		}
	}

	// Without legacy.whoami the view says so (and still shows what was
	// recorded before).
	off := newEnv(t)
	var rd admin.Readiness
	off.call("GET", "/api/v1/readiness", "", http.StatusOK, &rd)
	if rd.Recording {
		t.Errorf("readiness without whoami: recording = true; want false")
	}
}

// mailedTo returns the recipients of the mails srv received, sorted, and
// the claim token of each mail by recipient.
func mailedTo(t *testing.T, msgs []mailtest.Received) ([]string, map[string]claim.Token) {
	t.Helper()
	var to []string
	toks := map[string]claim.Token{}
	link := regexp.MustCompile(regexp.QuoteMeta(claimPath) + `[A-Za-z0-9_-]{43}`)
	for _, m := range msgs {
		if m.Err != nil || len(m.To) != 1 {
			t.Fatalf("mail %v: %v; want one parsed recipient", m.To, m.Err)
		}
		to = append(to, m.To[0])
		toks[m.To[0]] = tokenOf(t, link.FindString(m.Text))
	}
	slices.Sort(to)
	return to, toks
}

// TestReadinessMail: "mail them" mails a fresh claim link to exactly the
// listed people whom mail can reach — not linked people, not inactive ones,
// not addresses several people share (audited as withheld), not people
// without an address or outside the directory — each link for its own
// person; legacy_ids narrows it to the listed ones among them.
func TestReadinessMail(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newEnv(t, withSignIns, withMailer(t, srv))
	readinessFixture(t, e)

	var out admin.ReadinessMailed
	e.call("POST", "/api/v1/readiness/mail", `{"lang":"de"}`, http.StatusOK, &out)
	wantResults := []admin.ReadinessMailResult{
		{LegacyID: "1", Email: "alice@example.com", Mail: admin.MailSent},
		{LegacyID: "2", Email: "bob@example.com", Mail: admin.MailSent},
		{LegacyID: "3", Email: "family@example.com", Mail: admin.MailSkippedSharedEmail},
		{LegacyID: "4", Email: "Family@Example.com", Mail: admin.MailSkippedSharedEmail},
		{LegacyID: "5", Mail: admin.MailSkippedNoEmail},
		{LegacyID: "9", Mail: admin.MailNotListed},
	}
	if diff := cmp.Diff(admin.ReadinessMailed{Sent: 2, Skipped: 4, Results: wantResults}, out); diff != "" {
		t.Errorf("POST /api/v1/readiness/mail mismatch (-want +got):\n%s", diff)
	}
	msgs := srv.WaitFor(t, 2, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	to, toks := mailedTo(t, srv.Messages())
	if !cmp.Equal(to, []string{"alice@example.com", "bob@example.com"}) {
		t.Fatalf("mails went to %q; want alice and bob only", to)
	}
	if !strings.Contains(msgs[0].Subject+msgs[0].Text, "Konto") {
		t.Errorf("mail is not German (lang de):\n%s", msgs[0].Text)
	}
	for addr, id := range map[string]string{"alice@example.com": "1", "bob@example.com": "2"} {
		c, err := e.db.ClaimByHash(t.Context(), toks[addr].Hash())
		if err != nil || c.LegacyID != id || c.Kind != claim.KindPerson || c.Status(t0) != "open" {
			t.Errorf("the link mailed to %s: claim %+v, %v; want an open person claim for %s", addr, c, err, id)
		}
	}
	claims, err := e.db.Claims(t.Context(), "", 0)
	if err != nil || len(claims) != 2 {
		t.Errorf("claims after mailing: %d, %v; want 2 (none for people who get no mail)", len(claims), err)
	}

	var withheld []string
	mailed := false
	for _, ev := range e.events() {
		switch ev.Action {
		case claim.ActionMailWithheld:
			withheld = append(withheld, ev.Detail)
		case claim.ActionClaimsMail:
			mailed = strings.HasPrefix(ev.Detail, "2 claim links mailed (de)")
		}
	}
	if len(withheld) != 2 || !strings.Contains(withheld[0], "readiness, row of") || !strings.Contains(withheld[0], "3, 4") {
		t.Errorf("withheld events = %q; want one for 3 and one for 4, naming both holders", withheld)
	}
	if !mailed {
		t.Errorf("no claims.mail audit event for the 2 mails; events: %+v", e.events())
	}
	e.noSecretsLogged()

	// Narrowed to ids: only listed ones are mailed.
	e.call("POST", "/api/v1/readiness/mail", `{"legacy_ids":["2","6","7","42","2"]}`, http.StatusOK, &out)
	want := []admin.ReadinessMailResult{
		{LegacyID: "2", Email: "bob@example.com", Mail: admin.MailSent},
		{LegacyID: "42", Mail: admin.MailNotListed},
		{LegacyID: "6", Mail: admin.MailNotListed},
		{LegacyID: "7", Mail: admin.MailNotListed},
	}
	if diff := cmp.Diff(admin.ReadinessMailed{Sent: 1, Skipped: 3, Results: want}, out); diff != "" {
		t.Errorf("mail to legacy_ids mismatch (-want +got):\n%s", diff)
	}
	srv.WaitFor(t, 3, 5*time.Second)
}

// TestReadinessMailRefusals: no mailer, a read token, bad input.
func TestReadinessMailRefusals(t *testing.T) {
	var ae apiErr
	e := newEnv(t, withSignIns)
	e.call("POST", "/api/v1/readiness/mail", `{}`, http.StatusBadRequest, &ae)
	if ae.Error != "mail_not_configured" {
		t.Errorf("mail without a mailer: %+v; want mail_not_configured", ae)
	}
	srv := mailtest.NewServer(t)
	e = newEnv(t, withSignIns, withMailer(t, srv), func(c *admin.Config) {
		c.Tokens = []admin.Token{{Name: "ci", Value: "read-token-0123456789", Role: admin.RoleRead}}
	})
	readinessFixture(t, e)
	e.call("GET", "/api/v1/readiness", "", http.StatusOK, nil, "Authorization", "Bearer read-token-0123456789")
	e.call("POST", "/api/v1/readiness/mail", `{}`, http.StatusForbidden, nil, "Authorization", "Bearer read-token-0123456789")
	for body, field := range map[string]string{`{"days":-3}`: "days", `{"lang":"fr"}`: "lang",
		`{"legacy_ids":[` + strings.Repeat(`"1",`, 1000) + `"1"]}`: "legacy_ids"} {
		e.call("POST", "/api/v1/readiness/mail", body, http.StatusBadRequest, &ae)
		if ae.Field != field {
			t.Errorf("POST %.40s: %+v; want field %s", body, ae, field)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d mails after refused requests; want 0", n)
	}
}

// TestDashboardReadiness: the dashboard lists who would be locked out,
// the enforce confirmation states their number and offers "mail them",
// whose confirmation page lists who gets a mail and whose form mails
// exactly them, then says how it went.
func TestDashboardReadiness(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := newEnv(t, withSignIns, withMailer(t, srv))
	readinessFixture(t, e)
	b := newBrowser(e)
	b.login("ops")

	const sentence = "6 people signed in the old way in the last 30 days and have not linked their account; they will be locked out until they use their link."
	dash := b.get("/").want(t, "GET /", http.StatusOK)
	for _, want := range []string{`id="readiness"`, sentence, "Alice Adams", "bob@example.com", "Dave Clark",
		"address shared by several people: no mail", "no address in the directory", "not in the directory",
		`id="readiness-mail"`, "Mail them their links (2)"} {
		if !strings.Contains(dash.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// The readiness card (the audit further down names linked people).
	card := dash.body[strings.Index(dash.body, `id="readiness"`):]
	card = card[:strings.Index(card, "</section>")]
	for _, absent := range []string{"Frank Linked", "Grace Gone", "Heidi Never", `id="readiness-no-whoami"`} {
		if strings.Contains(card, absent) {
			t.Errorf("dashboard shows %q; want it absent", absent)
		}
	}
	if wide := b.get("/?days=90").want(t, "GET /?days=90", http.StatusOK); !strings.Contains(wide.body, "Grace Gone") ||
		!strings.Contains(wide.body, "7 people signed in the old way in the last 90 days") {
		t.Errorf("dashboard over 90 days lacks Grace or the count")
	}

	confirm := b.get("/mode?to=enforce").want(t, "GET /mode?to=enforce", http.StatusOK)
	if !strings.Contains(confirm.body, `<p id="lockout"><strong>`+sentence) || !strings.Contains(confirm.body, `href="/readiness/mail?days=30"`) {
		t.Errorf("enforce confirmation lacks the lockout sentence or the mail action:\n%s", confirm.body)
	}
	if offer := b.get("/mode?to=offer").want(t, "GET /mode?to=offer", http.StatusOK); strings.Contains(offer.body, `id="lockout"`) {
		t.Errorf("the offer confirmation states a lockout; only enforce locks out")
	}
	de := newBrowser(e)
	de.lang = "de"
	de.login("ops")
	if p := de.get("/mode?to=enforce"); !strings.Contains(p.body, "6 Personen haben sich in den letzten 30 Tagen auf die alte Art angemeldet") {
		t.Errorf("German enforce confirmation lacks the lockout sentence")
	}

	page := b.get("/readiness/mail?days=30").want(t, "GET /readiness/mail", http.StatusOK)
	for _, want := range []string{"Alice Adams", "Bob Brown", `id="rmail-skipped"`, "Mail them (2)"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("mail confirmation lacks %q", want)
		}
	}
	if strings.Contains(page.body, "Carol Clark") || len(srv.Messages()) != 0 {
		t.Errorf("mail confirmation lists Carol (shared address) or a GET mailed")
	}
	// A post without the page's CSRF token mails nothing.
	b.post("/readiness/mail", url.Values{"days": {"30"}, "lang": {"en"}}).want(t, "POST without csrf", http.StatusForbidden)
	done := b.post("/readiness/mail", url.Values{"csrf": {page.csrf(t, "rmail-form")}, "days": {"30"}, "lang": {"en"}}).
		want(t, "POST /readiness/mail", http.StatusSeeOther)
	loc := done.header.Get("Location")
	if loc != "/?days=30&mail_failed=0&mail_skipped=4&mailed=2#readiness" {
		t.Errorf("after mailing: Location %q; want the dashboard with the counts", loc)
	}
	srv.WaitFor(t, 2, 5*time.Second)
	if to, _ := mailedTo(t, srv.Messages()); !cmp.Equal(to, []string{"alice@example.com", "bob@example.com"}) {
		t.Errorf("mails went to %q; want alice and bob only", to)
	}
	if p := b.get(strings.TrimSuffix(loc, "#readiness")); !strings.Contains(p.body, "Claim links mailed: 2 sent, 0 failed, 4 skipped.") {
		t.Errorf("dashboard after mailing lacks the notice")
	}
}

// TestDashboardReadinessWithoutWhoami: without legacy.whoami the dashboard
// and the enforce confirmation say that hubgate cannot tell who would be
// locked out.
func TestDashboardReadinessWithoutWhoami(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(e)
	b.login("ops")
	for _, path := range []string{"/", "/mode?to=enforce"} {
		if p := b.get(path).want(t, path, http.StatusOK); !strings.Contains(p.body, "legacy.whoami is not configured") {
			t.Errorf("%s lacks the whoami explanation", path)
		}
	}
}
