package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// profileApp is a legacy app whose users edit their own profile (email,
// name, even the organizations it lists): its legacy.whoami answers with
// whatever the profile of the legacy session's user says now. Every other
// path answers 200.
type profileApp struct {
	mu       sync.Mutex // guards profiles
	profiles map[string]map[string]any
	srv      *httptest.Server
}

func newProfileApp(t *testing.T) *profileApp {
	a := &profileApp{profiles: map[string]map[string]any{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/me" {
			_, _ = w.Write([]byte("legacy app"))
			return
		}
		c, err := r.Cookie("legacy_session")
		if err != nil {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		p, ok := a.profiles[c.Value]
		a.mu.Unlock()
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// edit sets the legacy profile of user id, as the user may in the legacy app.
func (a *profileApp) edit(id, email, name string, orgs ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.profiles[id] = map[string]any{"id": id, "email": email, "name": name, "orgs": orgs}
}

// directoryEnv is an env in front of a profileApp with legacy.whoami and a
// mailer to smtp, running (so that "send me my link" is served).
func directoryEnv(t *testing.T, app *profileApp, smtp *mailtest.Server) *env {
	t.Helper()
	e := newEnv(t, func(c *proxy.Config) {
		m, err := mail.New(mail.Config{URL: smtp.URL(), From: "hubgate <noreply@example.com>"})
		if err != nil {
			t.Fatal(err)
		}
		c.Mailer, c.Upstream, c.Whoami = m, app.srv.URL, "/api/me"
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = e.px.Run(ctx) }()
	return e
}

// askForLink posts "send me my link" for email from a fresh browser.
func askForLink(t *testing.T, e *env, email string) {
	t.Helper()
	b := e.browser()
	page := b.get("/_hubgate/resend")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /_hubgate/resend = %d; want 200", page.StatusCode)
	}
	if r := b.post("/_hubgate/resend", url.Values{"csrf": {csrfOf(t, page.body)}, "email": {email}}); r.StatusCode != http.StatusOK {
		t.Fatalf("POST /_hubgate/resend for %s = %d; want 200", email, r.StatusCode)
	}
}

// claimLinkIn returns the claim token of the link in mail m.
func claimLinkIn(t *testing.T, e *env, m mailtest.Received) claim.Token {
	t.Helper()
	link := regexp.MustCompile(regexp.QuoteMeta(e.srv.URL) + `/_hubgate/claim/[A-Za-z0-9_-]{43}`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no claim link in the mail:\n%s", m.Text)
	}
	tok, err := claim.ParseToken(strings.TrimPrefix(link, e.srv.URL+"/_hubgate/claim/"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSecurityWhoamiNeverRewritesDirectory reproduces the reported attack
// end to end: the attacker (legacy user 66) sets their legacy profile's
// email and name to the victim's (legacy user 7) and lists the victim's
// organization, opens /_hubgate/claim, confirms and abandons the flow at the
// hub. The directory is the operator's: it must still say what the import
// said, the victim's "send me my link" must mail a link for the victim's
// own account (not the attacker's), and the attacker's completed claim must
// not be offered the victim's organization.
func TestSecurityWhoamiNeverRewritesDirectory(t *testing.T) {
	app, smtp := newProfileApp(t), mailtest.NewServer(t)
	e := directoryEnv(t, app, smtp)
	victim := claim.Person{ID: "7", Email: "vera@example.com", Name: "Vera Victim", Orgs: []string{"500"}}
	attacker := claim.Person{ID: "66", Email: "mallory@example.com", Name: "Mallory"}
	e.putPeople(victim, attacker)
	app.edit("66", "Vera@Example.com", "Vera Victim", "500")

	mallory := e.browser()
	mallory.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "legacy_session", Value: "66", Path: "/"}})
	startSessionClaim := func() string {
		t.Helper()
		page := mallory.get("/_hubgate/claim")
		if page.StatusCode != http.StatusOK {
			t.Fatalf("GET /_hubgate/claim as the attacker = %d\n%s", page.StatusCode, page.body)
		}
		resp := mallory.post("/_hubgate/claim", url.Values{"csrf": {csrfOf(t, page.body)}})
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("POST /_hubgate/claim as the attacker = %d; want 302 to the hub\n%s", resp.StatusCode, resp.body)
		}
		return resp.Header.Get("Location")
	}
	startSessionClaim() // and abandoned at the hub

	for _, want := range []claim.Person{victim, attacker} {
		got, err := e.store.Person(context.Background(), want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("directory entry %s after the attacker's whoami answer (-imported +now):\n%s", want.ID, diff)
		}
	}

	askForLink(t, e, "vera@example.com")
	msgs := smtp.WaitFor(t, 1, 5*time.Second)
	if !strings.EqualFold(msgs[0].To[0], "vera@example.com") {
		t.Fatalf("the link went to %v; want vera@example.com", msgs[0].To)
	}
	tok := claimLinkIn(t, e, msgs[0])
	c, err := e.store.ClaimByHash(context.Background(), tok.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.LegacyID != victim.ID {
		t.Errorf("the victim's \"send me my link\" mailed a link for legacy account %s; want the victim's own, %s", c.LegacyID, victim.ID)
	}

	// The attacker links their own account after all: the org offer comes
	// from the directory, which gives them no organization.
	done := mallory.land(mallory.hubReturn(startSessionClaim(), devhub.MaxID, ""))
	if done.StatusCode != http.StatusOK {
		t.Fatalf("the attacker's own claim = %d\n%s", done.StatusCode, done.body)
	}
	if l, err := e.link(claim.KindPerson, "66"); err != nil || l.ZaikioID != devhub.MaxID {
		t.Errorf("link 66 = %+v, %v; want Max's Zaikio account", l, err)
	}
	if strings.Contains(done.body, `value="500"`) {
		t.Errorf("the attacker is offered the victim's organization 500, which only their whoami answer listed:\n%s", done.body)
	}

	// The victim's link works for the victim.
	vera := e.browser()
	if r := vera.land(vera.startClaim(tok, devhub.AdaID, "")); r.StatusCode != http.StatusOK {
		t.Fatalf("the victim's claim = %d\n%s", r.StatusCode, r.body)
	}
	if l, err := e.link(claim.KindPerson, victim.ID); err != nil || l.ZaikioID != devhub.AdaID {
		t.Errorf("link %s = %+v, %v; want the victim's Zaikio account", victim.ID, l, err)
	}
}

// TestSecurityResendWithheldForSharedAddress: an address two legacy persons
// hold in the directory gets no claim link from "send me my link" —
// whichever account it named, the other person could claim it. The refusal
// is logged and audited with both ids, and no claim is minted.
func TestSecurityResendWithheldForSharedAddress(t *testing.T) {
	smtp := mailtest.NewServer(t)
	e := directoryEnv(t, newProfileApp(t), smtp)
	e.putPeople(
		claim.Person{ID: "7", Email: "Pat@Example.com", Name: "Pat One"},
		claim.Person{ID: "8", Email: "pat@example.COM", Name: "Pat Two"},
		claim.Person{ID: "9", Email: "solo@example.com", Name: "Solo"},
	)
	askForLink(t, e, "pat@example.com")
	askForLink(t, e, "solo@example.com") // handled after the first: its mail means the first was
	smtp.WaitFor(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond) // give a wrong mail the chance to arrive
	msgs := smtp.Messages()
	if len(msgs) != 1 || !strings.EqualFold(msgs[0].To[0], "solo@example.com") {
		var to [][]string
		for _, m := range msgs {
			to = append(to, m.To)
		}
		t.Fatalf("mails went to %v; want one, to solo@example.com only", to)
	}
	cs, err := e.store.Claims(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.LegacyID != "9" {
			t.Errorf("a claim was minted for legacy person %s of the shared address", c.LegacyID)
		}
	}
	logs := e.logs.String()
	if !regexp.MustCompile(`"event":"resend.withheld"[^\n]*"users":\["7","8"\]`).MatchString(logs) {
		t.Errorf("no resend.withheld log line naming users 7 and 8:\n%s", logs)
	}
	evs, err := e.store.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audited bool
	for _, ev := range evs {
		if ev.Action == claim.ActionMailWithheld && strings.Contains(ev.Detail, "7, 8") {
			audited = true
			if strings.Contains(strings.ToLower(ev.Detail), "pat@") {
				t.Errorf("the audit entry names the address: %q", ev.Detail)
			}
		}
	}
	if !audited {
		t.Errorf("no %s audit entry naming 7 and 8: %+v", claim.ActionMailWithheld, evs)
	}
}
