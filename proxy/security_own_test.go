package proxy_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// ownSpellings are the request targets of testdata/own-spellings.txt,
// with tok where a claim token goes: spellings of /_hubgate/ other than its
// routes'.
func ownSpellings(t *testing.T, tok string) []string {
	return loadCorpus(t, "own-spellings.txt", map[string]string{"TOKEN": tok})
}

// TestSecurityOwnPathsNeverForwarded: no spelling of /_hubgate/ reaches the
// upstream, in any mode, with or without a session, whatever the method:
// hubgate's routes take the canonical and unclean forms (the route mux
// redirects the latter to the clean path), the gate answers 404 for every
// other spelling and 400 for paths that do not normalize. (Before,
// "/_Hubgate/claim/<token>" was forwarded with its token.)
func TestSecurityOwnPathsNeverForwarded(t *testing.T) {
	for _, mode := range []migration.Mode{migration.Passthrough, migration.Offer, migration.Enforce} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, func(c *proxy.Config) { c.Mode = mode })
			tok := e.issue(claim.KindPerson, "42", "").Token.Reveal()
			b := e.browser()
			b.login(devhub.FrankID, "/")
			session := "Cookie: hubgate=" + b.sessionCookie() + "\r\n"
			for _, target := range ownSpellings(t, tok) {
				for _, cookie := range []string{"", session} {
					for _, method := range []string{"GET", "POST"} {
						before := e.up.count()
						resp := rawResponse(t, e.addr(), fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, e.addr(), cookie))
						if n := e.up.count() - before; n != 0 {
							t.Errorf("%s %s (session %v) = %d reached the upstream as %q", method, target, cookie != "", resp.StatusCode, e.up.last(t).URL.Path)
						}
						if resp.StatusCode >= 500 {
							t.Errorf("%s %s (session %v) = %d", method, target, cookie != "", resp.StatusCode)
						}
					}
				}
			}
		})
	}
}

// TestSecurityTokensNeverLogged greps the real log output (access log,
// error lines, bad_path, upstream failures) after requests that carry a
// claim token in every spelling of the claim route, a callback code and
// state, and a secret in the query of an upstream request that fails: none
// of them may appear. (Before, "/x/..;/_hubgate/claim/<token>" put the
// token into the bad_path line's error, other spellings into the
// signin_required line's error and, with the upstream down, into the
// upstream_down line's path: "/_hubgate\claim\<token>" was not masked.)
func TestSecurityTokensNeverLogged(t *testing.T) { forProviders(t, testSecurityTokensNeverLogged) }

func testSecurityTokensNeverLogged(t *testing.T, pv provider) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // nothing listens there: upstream requests fail
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Upstream = deadURL; c.Mode = migration.Enforce; c.Revalidate = time.Minute })
	tok := e.issue(claim.KindPerson, "42", "").Token.Reveal()
	b := e.browser()
	// A real sign-in: its code and state must not be logged either.
	cb := mustURL(b.authorizeAs(e.frank))
	realCode, realState := cb.Query().Get("code"), cb.Query().Get("state")
	if r := b.get(cb.String()); r.StatusCode != http.StatusFound || realCode == "" {
		t.Fatalf("sign-in = %d (code %q)\n%s", r.StatusCode, realCode, r.body)
	}
	session := "Cookie: hubgate=" + b.sessionCookie() + "\r\n"
	const code, state, secret = "c0de5ecretXYZ", "5tate5ecretXYZ", "re5et5ecretXYZ"
	targets := append(ownSpellings(t, tok),
		"/_hubgate/claim/"+tok, "/_hubgate/claim/"+tok+"?x=1", "/_hubgate/claim-org?token="+tok,
		"/_hubgate/callback?code="+code+"&state="+state, "/_Hubgate/callback?code="+code+"&state="+state,
		"/x/..;/_hubgate/callback?code="+code+"&state="+state, "/_hubgate/callback?state="+state+"&error=access_denied",
		"/reset?token="+secret, "/reset/..;/x?token="+secret,
	)
	for _, target := range targets {
		for _, cookie := range []string{"", session} {
			for _, method := range []string{"GET", "POST"} {
				rawResponse(t, e.addr(), fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, e.addr(), cookie))
			}
		}
	}
	// A revalidation (the refresh token spent, new tokens issued) and a
	// sign-out (the access token revoked; at an OpenID Provider the
	// end_session URL carries the ID token as id_token_hint).
	e.clock.Advance(2 * time.Minute)
	calls := e.tokenCalls()
	b.get("/x")
	if e.tokenCalls() == calls {
		t.Fatal("no refresh at the provider: the test did not revalidate")
	}
	b.logout("")
	if e.revokedTokens() == 0 {
		t.Fatal("no token revoked at the sign-out")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"key":"bad_path"`) || !strings.Contains(logs, `"key":"upstream_down"`) || !strings.Contains(logs, `"event":"request"`) {
		t.Fatalf("the log lacks the lines this test is about (bad_path, upstream_down, request):\n%s", logs)
	}
	secrets := []string{tok[:12], tok[len(tok)-12:], code, state, secret, realCode, realState}
	if e.op != nil {
		// Every access, ID and refresh token the OpenID Provider issued
		// (the sign-in's and the revalidation's), whole or by its tail (a
		// JWT's signature).
		issued := e.tap.issued()
		if len(issued) < 6 {
			t.Fatalf("the provider issued %d tokens; want the sign-in's and the refresh's three each", len(issued))
		}
		for _, it := range issued {
			secrets = append(secrets, it, it[len(it)-16:])
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, s) {
					t.Errorf("the log holds %q: %s", s, l)
				}
			}
		}
	}
}
