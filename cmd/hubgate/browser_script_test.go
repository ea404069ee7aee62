package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestBrowserScriptAfterSignOut walks the demo app's /live page in headless
// Chromium against `hubgate dev` in enforce mode: Frank signs in, the page's
// fetch() shows him signed in; an operator ends his sessions; the page's
// next fetch() gets hubgate's 401 (not the hub's login page) and the page
// shows "Signed out — sign in again" with hubgate's sign-in link, which
// leads to the Zaikio sign-in and back to /live.
func TestBrowserScriptAfterSignOut(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dev := startDev(t)
	devAdmin(t, dev, http.MethodPut, "/api/v1/links/persons/1", `{"zaikio_id":"`+devhub.FrankID+`"}`)
	devAdmin(t, dev, http.MethodPut, "/api/v1/mode", `{"mode":"enforce"}`)

	w := newWalk(t, ctx, chrome)
	w.navigate("the live page, signed out", dev.public+"/live", `button[name=person][value="`+devhub.FrankID+`"]`)
	w.wantURL("Zaikio sign-in first (enforce)", dev.hub+"/oauth/authorize")
	w.do("sign in as Frank",
		chromedp.Click(chromedp.CSS(`button[name=person][value="`+devhub.FrankID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#status.ok`)))
	w.wantURL("back on the live page", dev.public+"/live")
	w.wantContains("the page's fetch() while signed in", `#status`, "Signed in as legacy user 1")
	w.shot("live-signed-in")

	// The operator ends Frank's sessions; the page does not know yet.
	devAdmin(t, dev, http.MethodDelete, "/api/v1/sessions/"+devhub.FrankID, "")
	w.do("refresh after the session ended",
		chromedp.Click(chromedp.CSS(`#refresh`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin-again`)))
	w.wantContains("the page after its fetch() got 401", `#status`, "Signed out — sign in again")
	w.wantURL("still on the live page (no redirect)", dev.public+"/live")
	actx, acancel := context.WithTimeout(w.tab, stepTimeout)
	href, err := chromedp.Run(actx, chromedp.AttributeValue(chromedp.CSS(`#signin-again`), "href"))
	acancel()
	if err != nil || href.Value != "/_hubgate/login?rd=%2Flive" {
		t.Errorf("sign-in link %q (%v); want hubgate's /_hubgate/login?rd=%%2Flive", href.Value, err)
	}
	w.shot("live-signed-out")

	w.do("follow the sign-in link",
		chromedp.Click(chromedp.CSS(`#signin-again`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name=person][value="`+devhub.FrankID+`"]`)))
	w.wantURL("Zaikio sign-in", dev.hub+"/oauth/authorize")
	w.do("sign in again",
		chromedp.Click(chromedp.CSS(`button[name=person][value="`+devhub.FrankID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#status.ok`)))
	w.wantURL("back on the live page", dev.public+"/live")
	w.shot("live-signed-in-again")
}

// devAdmin calls the admin API of a `hubgate dev` with its token and fails
// the test unless it answers 2xx.
func devAdmin(t *testing.T, dev devRun, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, dev.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+dev.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %d: %s", method, path, resp.StatusCode, b)
	}
}
