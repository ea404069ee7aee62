package main

import (
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
	resendCSRFRE = regexp.MustCompile(`<form method="post" action="/_hubgate/resend">\s*<input type="hidden" name="csrf" value="([^"]+)">`)
	claimLinkRE  = regexp.MustCompile(`http://[^\s]+/_hubgate/claim/[A-Za-z0-9_-]{43}`)
)

// TestDevPrintsMails: without an SMTP server, `hubgate dev` prints the mails
// hubgate sends. A Zaikio person without a linked account asks for the link
// of a legacy person on the no-account page; the mail with a working claim
// link appears in dev's output.
func TestDevPrintsMails(t *testing.T) {
	d := startDev(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(d.public + "/_hubgate/login?rd=/")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	resp, body := auditChoose(t, c, d, page, devhub.AdaID) // Ada: no linked account
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in of an unlinked person = %d; want the 403 no-account page\n%s", resp.StatusCode, body)
	}
	m := resendCSRFRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no-account page has no send-me-my-link form in dev:\n%s", body)
	}
	req, _ := http.NewRequest(http.MethodPost, d.public+"/_hubgate/resend",
		strings.NewReader(url.Values{"csrf": {m[1]}, "email": {"carol@legacy.example"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", d.public)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_hubgate/resend = %d\n%s", resp.StatusCode, b)
	}
	var link string
	deadline := time.Now().Add(10 * time.Second)
	for link == "" {
		out := d.stdout.String()
		if i := strings.Index(out, "mail (hubgate dev prints mails instead of sending them)"); i >= 0 {
			mailText := out[i:]
			if !strings.Contains(mailText, "To: ") || !strings.Contains(mailText, "carol@legacy.example") {
				t.Fatalf("printed mail is not addressed to carol:\n%s", mailText)
			}
			link = claimLinkRE.FindString(mailText)
		}
		if link == "" && time.Now().After(deadline) {
			t.Fatalf("no mail with a claim link printed within 10 s:\n%s", tail(out, 4<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(b, "Carol") {
		t.Errorf("the mailed claim link = %d; want the confirmation page for Carol\n%s", resp.StatusCode, b)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
