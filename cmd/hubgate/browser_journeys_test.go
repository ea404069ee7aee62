package main

import (
	"context"

	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestBrowserJourneys walks the journeys of issue 13 in headless Chromium
// against the real wiring of `hubgate dev`, checking each hubgate page it
// passes against WCAG 2.2 AA (wcag: contrast, names, focus, target size,
// reflow), with screenshots named journey-* in $HUBGATE_ARTIFACTS:
//
//   - offer mode: Bob chooses "Link your Zaikio account" without a legacy
//     session, is told to sign in the old way first, passes the
//     interstitial once, signs in the old way and is back at the claim
//     confirmation; he links Max's Zaikio account and reloads the success
//     page;
//   - his printed claim link is retired: it says so and offers sign-in;
//   - signing out in the legacy app ends the legacy session too;
//   - in enforce mode an unlinked Zaikio person gets advice without the
//     closed old login;
//   - the interstitial, "sign in the old way first", retired and invalid
//     links and the dashboard's sign-in in German too;
//   - the dashboard and a mode switch's confirmation after sign-in, in
//     English and German;
//   - the dev hub's knobs page fits a phone's width.
func TestBrowserJourneys(t *testing.T) {
	chrome := findChromium(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	dev := startDev(t)
	devSetMode(t, dev, "offer")
	w := newWalk(t, ctx, chrome)

	// Offer mode: the interstitial, then "Link your Zaikio account".
	w.navigate("the legacy login in offer mode", dev.public+"/login", `#continue-legacy`)
	w.wcag("offer interstitial")
	w.shot("journey-offer")
	w.do("link the Zaikio account without a legacy session",
		chromedp.Click(chromedp.CSS(`main a.btn[href="/_hubgate/claim"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#legacy-login`)))
	w.want("the page's title", `h1`, "Sign in the old way first")
	w.wcag("sign in the old way first")
	w.shot("journey-legacy-first")
	// Its button passes the interstitial: the old login, not the offer again.
	w.do("sign in the old way",
		chromedp.Click(chromedp.CSS(`#legacy-login`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	w.wantURL("the legacy login", dev.public+"/login")
	w.do("the old login as Bob",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "bob@legacy.example"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "bob"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/_hubgate/claim"] button[type=submit]`)))
	w.wantURL("back at the claim confirmation", dev.public+"/_hubgate/claim")
	w.wantContains("claim confirmation", `main`, "Bob Brown")
	w.wantContains("the app's name", `#app-name`, "Legacy App")
	w.wcag("claim confirmation")
	w.shot("journey-claim-after-old-login")
	w.do("continue to Zaikio and pick Max",
		chromedp.Click(chromedp.CSS(`form[action="/_hubgate/claim"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name=person][value="`+devhub.MaxID+`"]`)),
		chromedp.Click(chromedp.CSS(`button[name=person][value="`+devhub.MaxID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#linked-notice`)))
	w.wantURL("the success page's own address", dev.public+"/_hubgate/linked")
	w.wantContains("success page", `#linked-notice`, "The account of Bob Brown is now linked")
	w.wantContains("success page", `main`, "Max Muster")
	w.wantContains("organization offer", `main`, "Link Brown Packaging (legacy)")
	w.wcag("success page")
	w.shot("journey-linked")
	w.do("reload the success page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#linked-notice`)))
	w.wantContains("success page after a reload", `#linked-notice`, "The account of Bob Brown is now linked")
	w.shot("journey-linked-reloaded")

	// Bob's printed claim link was retired by the link.
	other := w.incognito()
	other.navigate("Bob's printed claim link", dev.claims["2"], `#signin`)
	other.want("retired link", `h1`, "This account is already linked")
	other.wcag("retired link")
	other.shot("journey-retired-link")
	other.navigate("a claim link that does not exist", dev.public+"/_hubgate/claim/not-a-claim-link", `h1`)
	other.wcag("invalid claim link")
	other.navigate("the form that mails a claim link", dev.public+"/_hubgate/resend", `#email`)
	other.wcag("resend form")

	// The same pages in German, chosen by Accept-Language.
	de := w.incognito()
	de.do("German", acceptLanguage("de"))
	de.navigate("the legacy login in German", dev.public+"/login", `html[lang=de] #continue-legacy`)
	de.wcag("offer interstitial (German)")
	de.shot("journey-offer-de")
	de.do("link the Zaikio account without a legacy session, in German",
		chromedp.Click(chromedp.CSS(`main a.btn[href="/_hubgate/claim"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#legacy-login`)))
	de.want("the page's title in German", `h1`, "Melden Sie sich zuerst wie bisher an")
	de.wcag("sign in the old way first (German)")
	de.navigate("Bob's printed claim link in German", dev.claims["2"], `html[lang=de] #signin`)
	de.wcag("retired link (German)")
	de.navigate("a claim link that does not exist, in German", dev.public+"/_hubgate/claim/not-a-claim-link", `html[lang=de] h1`)
	de.wcag("invalid claim link (German)")
	de.shot("journey-retired-link-de")

	// Signing out in the legacy app ends the legacy session too.
	w.do("continue to the legacy app",
		chromedp.Click(chromedp.CSS(`main .actions a.btn[href="/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.ok`)))
	w.wantContains("legacy app", `p.ok`, "Signed in through Zaikio as legacy user 2")
	w.do("sign out in the legacy app",
		chromedp.Click(chromedp.CSS(`#signout`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/_hubgate/login?rd=/"]`)))
	if body := w.text("the app after signing out", "main"); !strings.Contains(body, "Not signed in") || strings.Contains(body, "old password login") {
		t.Errorf("the legacy app after signing out reads %q; want \"Not signed in\", no old sign-in", body)
	}
	w.shot("journey-signed-out")
	w.navigate("whoami after signing out", dev.public+"/api/me", `body`)
	w.wantContains("the legacy session", `body`, "not signed in")

	// Enforce: the no-account page never suggests the closed old login.
	devSetMode(t, dev, "enforce")
	ada := w.incognito()
	ada.navigate("the app in enforce mode", dev.public+"/", `button[name=person][value="`+devhub.AdaID+`"]`)
	ada.wcag("dev hub account chooser")
	ada.do("sign in as Ada, who has no account",
		chromedp.Click(chromedp.CSS(`button[name=person][value="`+devhub.AdaID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#how`)))
	ada.wantURL("the no-account page's own address", dev.public+"/_hubgate/no-account")
	if how := ada.text("advice", "#how"); strings.Contains(how, "old way") || !strings.Contains(how, "email") {
		t.Errorf("enforce-mode advice reads %q; want the mail and no old login", how)
	}
	ada.wcag("no-account page")
	ada.shot("journey-enforce-no-account")

	// The dashboard: its sign-in page, the dashboard and a mode switch's
	// confirmation, in English and German.
	ada.navigate("dashboard sign-in", dev.admin+"/", `#login-form #token`)
	ada.wcag("dashboard sign-in")
	de.navigate("dashboard sign-in in German", dev.admin+"/", `html[lang=de] #login-form #token`)
	de.wcag("dashboard sign-in (German)")
	for _, op := range []struct {
		w    *walk
		lang string
	}{{ada, "English"}, {de, "German"}} {
		op.w.do("sign in to the dashboard ("+op.lang+")",
			chromedp.SendKeys(chromedp.CSS(`#token`), dev.token),
			chromedp.SendKeys(chromedp.CSS(`#name`), "wcag walk"),
			chromedp.Click(chromedp.CSS(`#login-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#current-mode`)))
		op.w.want("mode on the dashboard ("+op.lang+")", `#current-mode`, "enforce")
		op.w.wcag("dashboard (" + op.lang + ")")
		op.w.do("open the switch to offer ("+op.lang+")",
			chromedp.Click(chromedp.CSS(`#switch-offer`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-switch`)))
		op.w.wcag("mode switch confirmation (" + op.lang + ")")
	}
	de.shot("journey-dashboard-de")
	ada.navigate("a mode switch to a mode that does not exist", dev.admin+"/mode?to=bogus", `#error-h`)
	ada.wcag("dashboard error page")

	// The dev hub's knobs on a phone.
	phone := w.incognito()
	phone.emulate("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	phone.navigate("the dev hub's knobs", dev.hub+"/__dev/", `h1`)
	overflow := phone.eval("overflow", `(() => {
		const main = document.querySelector('main'), right = main.getBoundingClientRect().right + 0.5;
		const scrolls = el => { for (let e = el.parentElement; e && e !== main; e = e.parentElement) {
			const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
		const out = [];
		for (const el of main.querySelectorAll('*')) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > right && !scrolls(el)) out.push(el.tagName.toLowerCase() + ' "' + el.textContent.trim().slice(0, 30) + '" ends ' + Math.round(r.right - right) + 'px past the card');
		}
		const d = document.documentElement;
		if (d.scrollWidth > d.clientWidth) out.push('the page is ' + d.scrollWidth + 'px wide in a ' + d.clientWidth + 'px viewport');
		return out.slice(0, 10);
	})()`)
	if len(overflow) > 0 {
		t.Errorf("the dev hub's knobs page overflows at 390 px: %s", strings.Join(overflow, "; "))
	}
	phone.wcag("dev hub knobs")
	phone.shot("journey-devhub-phone")
	t.Logf("journeys took %v", time.Since(began).Round(time.Millisecond))
}

// devSetMode switches the mode of a `hubgate dev` through its admin API.
func devSetMode(t *testing.T, dev devRun, mode string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, dev.admin+"/api/v1/mode", strings.NewReader(`{"mode":"`+mode+`"}`))
	req.Header.Set("Authorization", "Bearer "+dev.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/mode %s = %d", mode, resp.StatusCode)
	}
	// The public listener applies it at its next poll (1 s).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r, err := http.Get(dev.public + "/_hubgate/me")
		if err == nil {
			var b strings.Builder
			buf := make([]byte, 512)
			n, _ := r.Body.Read(buf)
			b.Write(buf[:n])
			r.Body.Close()
			if strings.Contains(b.String(), `"mode":"`+mode+`"`) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the public listener did not switch to %s", mode)
}

// eval runs a script that answers a list of strings.
func (w *walk) eval(what, script string) []string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](script))
	if err != nil {
		w.fatal(what, err)
	}
	return out
}
