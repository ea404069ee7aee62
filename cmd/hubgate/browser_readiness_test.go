package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/mail/mailtest"
)

// TestBrowserReadiness walks the readiness check before enforce in headless
// Chromium against the real wiring of `hubgate dev`, mailing through a real
// SMTP server (mail/mailtest): Alice and Bob sign in the old way through
// hubgate; Alice is linked, Bob is not, Carol never signs in. The operator's
// dashboard lists Bob alone as someone enforce would lock out, "mail them"
// (after its confirmation page) mails Bob — and nobody else — his claim
// link, which opens Bob's claim confirmation, and the enforce confirmation
// states the number. Screenshots go to $HUBGATE_ARTIFACTS.
func TestBrowserReadiness(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	smtp := mailtest.NewServer(t)
	dev := startDev(t, "HUBGATE_CLAIMS_SMTP", smtp.URL(), "HUBGATE_CLAIMS_FROM", "Demo <noreply@legacy.example>")
	w := newWalk(t, ctx, chrome)

	// Alice and Bob sign in the old way, each in a browser of their own.
	for _, p := range []struct{ name, email, password string }{
		{"Alice Adams", "alice@legacy.example", "alice"}, {"Bob Brown", "bob@legacy.example", "bob"},
	} {
		person := w.incognito()
		person.navigate(p.name+" opens the old login", dev.public+"/login", `input[name=email]`)
		person.do(p.name+" signs in the old way",
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), p.email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), p.password),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
		person.wantContains(p.name+" in the legacy app", `main`, "Signed in with the old password login as "+p.name)
		person.shot("legacy-login-" + strings.ToLower(strings.Fields(p.name)[0]))
	}
	// Alice links her account (here by hand, through the admin API).
	adminCall(t, dev, http.MethodPut, "/api/v1/links/persons/1", `{"zaikio_id":"00000000-0000-4000-8000-00000000a11c"}`, nil)
	// hubgate learns who signed in after the login answered (whoami in the
	// background): wait until both sign-ins are recorded.
	waitFor(t, "both legacy sign-ins to be recorded", 10*time.Second, nil, func() (string, bool) {
		var rd admin.Readiness
		adminCall(t, dev, http.MethodGet, "/api/v1/readiness", "", &rd)
		return fmt.Sprintf("%d active", rd.Active), rd.Active == 2
	})

	// The dashboard lists Bob alone.
	w.navigate("dashboard sign-in", dev.admin+"/", `#login-form #token`)
	w.do("sign in with the admin token",
		chromedp.SendKeys(chromedp.CSS(`#token`), dev.token),
		chromedp.SendKeys(chromedp.CSS(`#name`), "readiness walk"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#readiness`)))
	w.want("readiness sentence", `#readiness-summary`,
		"1 person signed in the old way in the last 30 days and has not linked their account; they will be locked out until they use their link.")
	w.want("signed in the old way", `#readiness-active`, "2")
	w.want("of them linked", `#readiness-linked`, "1")
	list := w.text("the readiness list", `#readiness-people`)
	if !strings.Contains(list, "Bob Brown") || !strings.Contains(list, "bob@legacy.example") ||
		strings.Contains(list, "Alice") || strings.Contains(list, "Carol") {
		w.fatal("the readiness list", fmt.Errorf("reads %q; want Bob alone, with his address", list))
	}
	w.wcag("dashboard with the readiness list")
	w.do("scroll to the readiness card", chromedp.ScrollIntoView(chromedp.CSS(`#readiness`)))
	w.shot("readiness")

	// "Mail them": a confirmation page first, then the mails.
	w.do("open mail them",
		chromedp.Click(chromedp.CSS(`#readiness-mail`)),
		chromedp.WaitVisible(chromedp.CSS(`#rmail-submit`)))
	w.wantContains("whom the mail goes to", `#rmail-people`, "Bob Brown")
	w.wcag("mail them confirmation")
	w.shot("readiness-mail-confirm")
	if n := len(smtp.Messages()); n != 0 {
		t.Fatalf("%d mails before the confirmation was submitted; want 0", n)
	}
	w.do("confirm mail them",
		chromedp.Click(chromedp.CSS(`#rmail-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#readiness-mailed`)))
	w.want("mail notice", `#readiness-mailed`, "Claim links mailed: 1 sent, 0 failed, 0 skipped.")
	w.wcag("dashboard after mail them")
	w.shot("readiness-mailed")
	msgs := smtp.WaitFor(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if all := smtp.Messages(); len(all) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "bob@legacy.example" {
		t.Fatalf("mails: %d, first to %v; want exactly one, to bob@legacy.example", len(all), msgs[0].To)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(dev.public) + `/_hubgate/claim/[A-Za-z0-9_-]{43}`).FindString(msgs[0].Text)
	if link == "" {
		t.Fatalf("no claim link in Bob's mail:\n%s", msgs[0].Text)
	}
	bob := w.incognito()
	bob.navigate("Bob opens the mailed link", link, `form[action^="/_hubgate/claim/"] button[type=submit]`)
	bob.wantContains("Bob's claim confirmation", `main`, "Bob Brown")
	bob.shot("readiness-bob-link")

	// The enforce confirmation states the number.
	w.navigate("dashboard again", dev.admin+"/", `#switch-enforce`)
	w.do("open the switch to enforce",
		chromedp.Click(chromedp.CSS(`#switch-enforce`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-switch`)))
	w.wantContains("enforce confirmation", `#lockout`,
		"1 person signed in the old way in the last 30 days and has not linked their account; they will be locked out until they use their link.")
	w.wcag("enforce confirmation with the lockout number")
	w.shot("readiness-confirm-enforce")
}

// adminCall sends a request to the admin API of dev and decodes the answer
// into out (nil: none); any status but 2xx fails the test.
func adminCall(t *testing.T, dev devRun, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, dev.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+dev.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}
