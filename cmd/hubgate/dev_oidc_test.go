package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/oidc/devop"
)

var (
	csrfRE    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	orgFormRE = regexp.MustCompile(`(?s)action="/_hubgate/claim-org">\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="org" value="([^"]+)">`)
)

// TestDevOIDC runs `hubgate dev --provider oidc` for real — hubgate in
// front of the demo app, with the dev OpenID Provider (oidc/devop) as its
// provider — and walks the README: Alice claims her legacy account by its
// link, signing in at the provider as its seeded Alice, then claims her
// organization; Grace claims Carol's account and brings the organization
// a rule maps straight to legacy org 200. The upstream sees the person,
// the organizations and the roles the groups claim makes.
func TestDevOIDC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs hubgate dev")
	}
	dev := startDevProvider(t, "oidc")
	out := dev.stdout.String()
	for _, want := range []string{"dev OpenID Provider", "Alice Admin", "groups acme-admins"} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	var disc struct {
		Issuer             string `json:"issuer"`
		BackchannelLogout  bool   `json:"backchannel_logout_supported"`
		EndSessionEndpoint string `json:"end_session_endpoint"`
	}
	getJSON(t, http.DefaultClient, dev.hub+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != dev.hub || !disc.BackchannelLogout || disc.EndSessionEndpoint == "" {
		t.Errorf("discovery at %s = %+v; want the provider at that URL, with back-channel logout and end_session", dev.hub, disc)
	}

	alice := jarClient(t)
	page := opClaim(t, alice, dev, dev.claims["1"], devop.AliceID)
	if !strings.Contains(page, "Alice Adams") || !strings.Contains(page, "alice@acme.example") {
		t.Fatalf("after Alice's claim: want the linked page naming Alice Adams and alice@acme.example:\n%s", page)
	}
	h := upstreamHeaders(t, alice, dev)
	if h["X-Hubgate-User"] != "1" || h["X-Hubgate-Email"] != "alice@acme.example" || h["X-Hubgate-Auth"] != "session" {
		t.Errorf("Alice's upstream headers = %v; want X-Hubgate-User 1, her provider email, a session", h)
	}
	// The organization she administers at the provider (acme-admins) is
	// offered for linking to her legacy organization; she claims it.
	m := orgFormRE.FindStringSubmatch(page)
	if m == nil || m[2] != "100" {
		t.Fatalf("the linked page offers no org claim of legacy org 100:\n%s", page)
	}
	resp := postForm(t, alice, dev.public+"/_hubgate/claim-org", url.Values{"csrf": {m[1]}, "org": {"100"}})
	opChoose(t, alice, dev, resp, devop.AliceID)
	h = upstreamHeaders(t, alice, dev)
	if h["X-Hubgate-Orgs"] != "100" || !hasAll(h["X-Hubgate-Roles"], "100:admin", "100:user") {
		t.Errorf("after the org claim: X-Hubgate-Orgs %q, X-Hubgate-Roles %q; want 100 and 100:admin, 100:user (acme-admins, acme-users)",
			h["X-Hubgate-Orgs"], h["X-Hubgate-Roles"])
	}

	grace := jarClient(t)
	opClaim(t, grace, dev, dev.claims["3"], devop.GraceID)
	h = upstreamHeaders(t, grace, dev)
	if h["X-Hubgate-User"] != "3" || !hasAll(h["X-Hubgate-Orgs"], "200", "100") || !hasAll(h["X-Hubgate-Roles"], "200:admin", "100:user") {
		t.Errorf("Grace's upstream headers = %v; want X-Hubgate-User 3, orgs 200 (globex-owners, mapped straight) and 100 (acme, linked), roles 200:admin, 100:user", h)
	}
}

// jarClient is a browser-like client: cookies, redirects followed.
func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second}
}

// opClaim opens a claim link, confirms it, and signs in at the dev OpenID
// Provider as sub; it returns the page hubgate ends on.
func opClaim(t *testing.T, c *http.Client, dev devRun, link, sub string) string {
	t.Helper()
	if link == "" {
		t.Fatalf("no claim link")
	}
	m := csrfRE.FindStringSubmatch(getBody(t, c, link))
	if m == nil {
		t.Fatalf("the claim page %s has no form", link)
	}
	return opChoose(t, c, dev, postForm(t, c, link, url.Values{"csrf": {m[1]}}), sub)
}

// opChoose answers the provider's account chooser that resp (a flow hubgate
// started) ended on, as sub, and returns the page hubgate ends on.
func opChoose(t *testing.T, c *http.Client, dev devRun, resp *http.Response, sub string) string {
	t.Helper()
	body := readBody(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), dev.hub+"/login") {
		t.Fatalf("the flow ended at %s (%d), not at the provider's chooser:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	form, err := devop.LoginForm([]byte(body), sub)
	if err != nil {
		t.Fatalf("%v:\n%s", err, body)
	}
	resp = postForm(t, c, dev.hub+"/login", form)
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), dev.public) {
		t.Fatalf("after the provider: %d at %s; want a page of hubgate:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	return body
}

// upstreamHeaders are the X-Hubgate-* headers the demo app received.
func upstreamHeaders(t *testing.T, c *http.Client, dev devRun) map[string]string {
	t.Helper()
	var echo struct {
		Headers map[string]string `json:"headers"`
	}
	getJSON(t, c, dev.public+"/echo", &echo)
	return echo.Headers
}

func getBody(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readBody(t, resp)
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, v) != nil {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, b)
	}
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// hasAll reports whether the comma-separated list holds every one of want.
func hasAll(list string, want ...string) bool {
	have := map[string]bool{}
	for _, v := range strings.Split(list, ",") {
		have[strings.TrimSpace(v)] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

// TestDevProviderFlag: --provider takes zaikio or oidc, and nothing else.
func TestDevProviderFlag(t *testing.T) {
	var stdout, stderr lockedBuffer
	err := run(t.Context(), []string{"dev", "--provider", "saml", "--data", t.TempDir()}, func(string) string { return "" }, &stdout, &stderr)
	if !isUsage(err) || !strings.Contains(err.Error(), "want zaikio or oidc") {
		t.Errorf("hubgate dev --provider saml = %v; want a usage error naming zaikio and oidc", err)
	}
}
