package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
)

// TestClaimTokenNotInReferer: a request that follows a link on the claim
// page (its Cancel goes to "/") carries the page's URL as Referer; the
// upstream gets the public origin instead, never the token.
func TestClaimTokenNotInReferer(t *testing.T) {
	e := newEnv(t, nil)
	is := e.issue(claim.KindPerson, "42", "")
	b := e.browser()
	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `href="/"`) {
		t.Fatalf("claim page = %d, want 200 with a link to /\n%s", page.StatusCode, page.body)
	}
	for _, ref := range []string{
		e.srv.URL + "/_hubgate/claim/" + is.Token.Reveal(),
		e.srv.URL + "/_HUBGATE/Claim/" + is.Token.Reveal(),
		e.srv.URL + "/_hubgate/claim-undo?x=" + is.Token.Reveal(),
	} {
		b.get("/", "Referer", ref)
		got := e.up.last(t).Header.Get("Referer")
		if strings.Contains(got, is.Token.Reveal()[:16]) || got != e.srv.URL+"/" {
			t.Errorf("Referer %s reached the upstream as %q; want the origin %s/", ref[len(e.srv.URL):len(e.srv.URL)+20], got, e.srv.URL)
		}
	}
	b.get("/reports", "Referer", e.srv.URL+"/dashboard?tab=2")
	if got := e.up.last(t).Header.Get("Referer"); got != e.srv.URL+"/dashboard?tab=2" {
		t.Errorf("the legacy app's own Referer became %q; want it untouched", got)
	}
}

// TestClaimTokenSpellingsStayHome: unclean spellings of a claim URL are not
// forwarded to the upstream (they redirect to the clean claim URL) and
// their tokens are masked in the log.
func TestClaimTokenSpellingsStayHome(t *testing.T) {
	e := newEnv(t, nil)
	is := e.issue(claim.KindPerson, "42", "")
	tok := is.Token.Reveal()
	before := e.up.count()
	for _, p := range []string{
		"//_hubgate/claim/" + tok,
		"/x/../_hubgate/claim/" + tok,
		"/_hubgate/./claim/" + tok,
		"/_hubgate//claim/" + tok,
		"/_hubgate/Claim/" + tok,
	} {
		// A raw request line: a client library would clean the path.
		c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p, strings.TrimPrefix(e.srv.URL, "http://"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("GET %s: %v", p[:20], err)
		}
		resp.Body.Close()
		c.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s… = %d", p[:20], resp.StatusCode)
		}
	}
	if n := e.up.count() - before; n != 0 {
		t.Errorf("%d unclean claim URLs reached the upstream; want 0 (last: %s)", n, e.up.last(t).URL.Path)
	}
	if logs := e.logs.String(); strings.Contains(logs, tok[:20]) {
		t.Errorf("a claim token appears in the log:\n%s", logs)
	}
	if c, err := e.store.Claim(t.Context(), is.Claim.ID); err != nil || c.Status(e.clock.Now()) != "open" {
		t.Errorf("claim after the probes = %v, %v; want still open", c.Status(e.clock.Now()), err)
	}
}
