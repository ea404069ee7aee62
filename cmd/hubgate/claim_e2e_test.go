package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

var (
	csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	hiddenRE    = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// TestClaimMintedThroughAdminAPIEndToEnd mints a claim with `hubgate claims
// issue` against a running `hubgate dev`, then walks it as a browser would:
// open the link, confirm, choose the Zaikio account on the dev hub's page,
// come back linked; the legacy app then sees the legacy person. The same
// link a second time says "already used".
func TestClaimMintedThroughAdminAPIEndToEnd(t *testing.T) {
	d := startDev(t)
	env := map[string]string{"HUBGATE_ADMIN_URL": d.admin, "HUBGATE_ADMIN_TOKEN": d.token}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"claims", "issue", "--kind", "person", "--legacy-id", "2", "--json"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("hubgate claims issue = %v\n%s", err, errOut.String())
	}
	link := regexp.MustCompile(`http://[^"\s]+/_hubgate/claim/[A-Za-z0-9_-]{43}`).FindString(out.String())
	if link == "" {
		t.Fatalf("claims issue printed no claim URL:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	fetch := func(method, target string, form url.Values, origin string) (int, string, *url.URL) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Request.URL
	}

	st, page, _ := fetch("GET", link, nil, "")
	if st != http.StatusOK || !strings.Contains(page, "Bob Brown") {
		t.Fatalf("claim page = %d; want 200 naming Bob Brown\n%s", st, page)
	}
	m := csrfFieldRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field:\n%s", page)
	}
	// Confirming leads (via redirects) to the dev hub's account chooser.
	st, hubPage, at := fetch("POST", link, url.Values{"csrf": {m[1]}}, d.public)
	if st != http.StatusOK || !strings.HasPrefix(at.String(), d.hub+"/oauth/authorize") {
		t.Fatalf("after confirming: %d at %s; want the dev hub's page", st, at)
	}
	// The chooser has one form per person; pick Erika's.
	forms := strings.Split(hubPage, `<form method="post" action="/oauth/authorize" class="person">`)
	choice := url.Values{"person": {devhub.ErikaID}}
	found := false
	for _, f := range forms[1:] {
		f = f[:strings.Index(f, "</form>")]
		if !strings.Contains(f, devhub.ErikaID) {
			continue
		}
		for _, h := range hiddenRE.FindAllStringSubmatch(f, -1) {
			choice.Set(h[1], h[2])
		}
		found = true
	}
	if !found {
		t.Fatalf("no chooser form for Erika on the dev hub's page:\n%s", hubPage)
	}
	st, done, at := fetch("POST", d.hub+"/oauth/authorize", choice, d.hub)
	if st != http.StatusOK || !strings.HasPrefix(at.String(), d.public+"/_hubgate/linked") || !strings.Contains(done, "Erika") {
		t.Fatalf("back at hubgate: %d at %s; want the success page naming Erika\n%s", st, at, done)
	}
	if _, home, _ := fetch("GET", d.public+"/", nil, ""); !strings.Contains(home, "as legacy user <b>2</b>") {
		t.Errorf("legacy app after the claim does not see legacy user 2:\n%s", home)
	}
	if st, again, _ := fetch("GET", link, nil, ""); st != http.StatusConflict || !strings.Contains(again, "already used") {
		t.Errorf("the same link again = %d; want 409 already used", st)
	}
}
