package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

var requestIDRE = regexp.MustCompile(`<code>[a-z0-9]+-[a-z0-9]+</code>`)

func TestResendSendsWorkingLinkAndLeaksNothing(t *testing.T) {
	smtp := mailtest.NewServer(t)
	var e *env
	e = newEnv(t, func(c *proxy.Config) {
		m, err := mail.New(mail.Config{URL: smtp.URL(), From: "hubgate <noreply@example.com>"})
		if err != nil {
			t.Fatal(err)
		}
		c.Mailer = m
		c.Unlinked = proxy.UnlinkedDeny
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = e.px.Run(ctx) }()
	e.putPeople(claim.Person{ID: "42", Email: "Ann@Legacy.example", Name: "Ann Example"})

	ask := func(b *browser, email string) *response {
		t.Helper()
		page := b.get("/_hubgate/resend")
		if page.StatusCode != http.StatusOK {
			t.Fatalf("resend page = %d", page.StatusCode)
		}
		return b.post("/_hubgate/resend", url.Values{"csrf": {csrfOf(t, page.body)}, "email": {email}})
	}
	known := ask(e.browser(), "ann@legacy.example")
	unknown := ask(e.browser(), "nobody@legacy.example")
	if known.StatusCode != http.StatusOK || unknown.StatusCode != known.StatusCode {
		t.Fatalf("known = %d, unknown = %d; want both 200", known.StatusCode, unknown.StatusCode)
	}
	norm := func(s string) string { return requestIDRE.ReplaceAllString(s, "") }
	if norm(known.body) != norm(unknown.body) {
		t.Errorf("answers differ for a known and an unknown address:\n%s\n---\n%s", known.body, unknown.body)
	}
	msgs := smtp.WaitFor(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond) // give a wrong second mail the chance to arrive
	if got := smtp.Messages(); len(got) != 1 {
		t.Fatalf("%d mails sent; want 1 (only the known address)", len(got))
	}
	m := msgs[0]
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], "ann@legacy.example") || m.Text == "" || m.HTML == "" {
		t.Fatalf("mail = to %v, text %d bytes, html %d bytes", m.To, len(m.Text), len(m.HTML))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(e.srv.URL) + `/_hubgate/claim/[A-Za-z0-9_-]{43}`).FindString(m.Text)
	if link == "" || !strings.Contains(m.HTML, link) {
		t.Fatalf("no claim link in both parts of the mail:\n%s", m.Text)
	}
	tok, err := claim.ParseToken(strings.TrimPrefix(link, e.srv.URL+"/_hubgate/claim/"))
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if r := b.land(b.startClaim(tok, devhub.AdaID, "")); r.StatusCode != http.StatusOK {
		t.Fatalf("claim from the mailed link = %d\n%s", r.StatusCode, r.body)
	}
	if l, err := e.link(claim.KindPerson, "42"); err != nil || l.ZaikioID != devhub.AdaID {
		t.Errorf("link = %+v, %v", l, err)
	}
	if strings.Contains(e.logs.String(), tok.Reveal()) {
		t.Error("the mailed token appears in the log")
	}
	// With a mailer, the no-account page offers the form.
	nb := e.browser()
	if r := nb.shown(nb.login(devhub.FrankID, "/")); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, `action="/_hubgate/resend"`) {
		t.Errorf("no-account page = %d without the resend form\n%s", r.StatusCode, r.body)
	}
}

func TestResendRateLimitPerAddress(t *testing.T) {
	smtp := mailtest.NewServer(t)
	e := newEnv(t, func(c *proxy.Config) {
		m, _ := mail.New(mail.Config{URL: smtp.URL(), From: "noreply@example.com"})
		c.Mailer = m
	})
	b := e.browser()
	page := b.get("/_hubgate/resend")
	tok := csrfOf(t, page.body)
	for i := 1; i <= 6; i++ {
		resp := b.post("/_hubgate/resend", url.Values{"csrf": {tok}, "email": {"someone@example.com"}})
		want := http.StatusOK
		if i == 6 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Errorf("request %d = %d; want %d", i, resp.StatusCode, want)
		}
	}
	// Another address is not limited by the first one's count.
	if resp := b.post("/_hubgate/resend", url.Values{"csrf": {tok}, "email": {"other@example.com"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("another address = %d; want 200", resp.StatusCode)
	}
}
