package devhub_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestAuthorizeRefusesUntrustedTargets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		extra url.Values
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}},
		{"missing client", url.Values{"client_id": {""}}},
		{"unregistered redirect", url.Values{"redirect_uri": {"http://evil.test/cb"}}},
		{"redirect with extra slash", url.Values{"redirect_uri": {redirectURI + "/"}}},
		{"redirect with query", url.Values{"redirect_uri": {redirectURI + "?x=1"}}},
		{"missing redirect", url.Values{"redirect_uri": {""}}},
		{"repeated client", url.Values{"client_id": {clientID, clientID}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(t, e.authorizeURL("zaikio.person.r", tc.extra))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d; want 400", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("Location = %q; want none: never redirect to an untrusted target", loc)
			}
			if !strings.Contains(string(body), "<title>Zaikio (dev hub)</title>") {
				t.Errorf("body is not the hub's error page: %s", body)
			}
		})
	}
}

func TestAuthorizeErrorsGoBackToClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.hub.AutoApprove(devhub.FrankID, "") // errors must win over auto-approval
	tests := []struct {
		name     string
		scope    string
		extra    url.Values
		wantErr  string
		wantDesc string
	}{
		{"space separated scopes", "zaikio.person.r zaikio.organization.r", nil, "invalid_scope", "malformed_scope"},
		{"no permission", "zaikio.person", nil, "invalid_scope", "malformed_scope"},
		{"bad permission", "zaikio.person.x", nil, "invalid_scope", "malformed_scope"},
		{"unknown prefix", "Foo.zaikio.person.r", nil, "invalid_scope", "malformed_scope"},
		{"empty item", "zaikio.person.r,", nil, "invalid_scope", "malformed_scope"},
		{"missing scope", "", nil, "invalid_scope", "malformed_scope"},
		{"org uuid malformed", "Org/123.zaikio.organization.r", nil, "invalid_scope", "malformed_scope"},
		{"mixed bearer types", "zaikio.person.r,Org.zaikio.organization.r", nil, "invalid_scope", "malformed_scope"},
		{"org and on-behalf mixed", "Org.zaikio.organization.r,Per>Org.zaikio.organization_members.r", nil, "invalid_scope", "malformed_scope"},
		{"implicit flow", "zaikio.person.r", url.Values{"response_type": {"token"}}, "unsupported_response_type", ""},
		{"plain PKCE", "zaikio.person.r", url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}}, "invalid_request", "code_challenge_method must be S256"},
		{"challenge without method", "zaikio.person.r", url.Values{"code_challenge_method": {""}}, "invalid_request", "code_challenge_method must be S256"},
		{"method without challenge", "zaikio.person.r", url.Values{"code_challenge": {""}}, "invalid_request", "code_challenge_method without code_challenge"},
		{"challenge not base64url", "zaikio.person.r", url.Values{"code_challenge": {strings.Repeat("+", 43)}}, "invalid_request", "code_challenge is not a base64url SHA-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := url.Values{}
			for k, v := range tc.extra {
				extra[k] = v
			}
			if tc.scope == "" {
				extra.Set("scope", "")
			}
			q := redirectParams(t, e.get(t, e.authorizeURL(tc.scope, extra)))
			got := map[string]string{"error": q.Get("error"), "error_description": q.Get("error_description"), "state": q.Get("state"), "code": q.Get("code")}
			want := map[string]string{"error": tc.wantErr, "error_description": tc.wantDesc, "state": "st4te/with?odd&chars", "code": ""}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("redirect query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorizeWithoutStateSendsNone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.hub.AutoApprove(devhub.FrankID, "")
	q := redirectParams(t, e.get(t, e.authorizeURL("zaikio.person.r", url.Values{"state": {""}})))
	if q.Has("state") || q.Get("code") == "" {
		t.Errorf("redirect query = %v; want a code and no state", q)
	}
}

// pageParams are the original parameters a page form carries, plus extra.
func (e *env) pageForm(scope string, extra url.Values) url.Values {
	u, _ := url.Parse(e.authorizeURL(scope, nil))
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	return q
}

func (e *env) postAuthorize(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	resp, err := e.client.PostForm(e.srv.URL+"/oauth/authorize", form)
	if err != nil {
		t.Fatalf("POST authorize: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAuthorizePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.hub.AddPerson(devhub.Person{FirstName: "<script>", Name: "Mallory", Email: "m@example.com"})
	tests := []struct {
		name    string
		scope   string
		extra   url.Values
		want    []string
		notWant []string
	}{
		{
			name:  "person chooser",
			scope: "zaikio.person.r",
			want: []string{
				"<title>Zaikio (dev hub)</title>",
				`Sign in as <strong>Frank Gallikanokus</strong> <span class="email">fgalli@example.com</span>`,
				`Sign in as <strong>Ada Lovelace</strong>`,
				`name="action" value="deny"`,
				`name="code_challenge" value="` + challenge(verifier) + `"`,
				`name="state" value="st4te/with?odd&amp;chars"`,
				"&lt;script&gt; Mallory",
				`name="person[email]"`,
			},
			notWant: []string{"<script> Mallory", `name="organization"`, `name="organization[name]"`},
		},
		{
			name:  "organization chooser",
			scope: "Per>Org.zaikio.organization.r",
			want: []string{
				`<select name="organization"><option value="` + devhub.BountySoapID + `">Bounty Soap Inc. (owner)</option><option value="` + devhub.GalacticPrintID + `">Galactic Print Inc. (member)</option></select>`,
				`name="organization[name]"`,
			},
		},
		{
			name:    "pre-selected organization lists only its admins",
			scope:   "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r",
			want:    []string{`<option value="` + devhub.GalacticPrintID + `">Galactic Print Inc. (admin)</option>`, "No fitting organization."},
			notWant: []string{"Bounty Soap Inc.", `name="person[email]"`},
		},
		{
			name:  "german",
			scope: "zaikio.person.r",
			extra: url.Values{"lang": {"de"}},
			want:  []string{`<html lang="de">`, "Anmelden als <strong>Frank Gallikanokus</strong>", "Ablehnen"},
		},
		{
			name:  "login suggests a person",
			scope: "zaikio.person.r",
			extra: url.Values{"login": {"ADA@example.com"}, "prompt": {"select_account"}},
			want:  []string{`class="person suggested">`, `autofocus>Sign in as <strong>Ada Lovelace</strong>`},
		},
		{
			name:  "sign-up prefill",
			scope: "Org.zaikio.organization.r",
			extra: url.Values{
				"person[first_name]": {"Grace"}, "person[name]": {"Hopper"}, "person[email]": {"grace@example.com"},
				"organization[name]": {"Cobol Corp"}, "organization[kinds][]": {"agency", "brand"},
			},
			want: []string{
				`name="person[first_name]" value="Grace"`, `name="person[name]" value="Hopper"`,
				`name="person[email]" value="grace@example.com"`, `name="organization[name]" value="Cobol Corp"`,
				`value="agency" checked`, `value="brand" checked`,
			},
			notWant: []string{`type="hidden" name="person[first_name]"`, `value="printer" checked`},
		},
		{
			name:    "sign-up switched off",
			scope:   "zaikio.person.r",
			extra:   url.Values{"signup": {"false"}},
			notWant: []string{`name="person[email]"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(t, e.authorizeURL(tc.scope, tc.extra))
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; want 200\n%s", resp.StatusCode, body)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(body, s) {
					t.Errorf("page has %q", s)
				}
			}
			if t.Failed() {
				t.Logf("page:\n%s", body)
			}
		})
	}
}

func TestAuthorizeDecisions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name       string
		scope      string
		extra      url.Values
		wantError  string
		wantBearer map[string]any // nil: no code expected
		wantStatus int            // for pages (no redirect)
	}{
		{
			name: "approve as a person", scope: "zaikio.person.r",
			extra:      url.Values{"action": {"approve"}, "person": {devhub.ErikaID}},
			wantBearer: map[string]any{"id": devhub.ErikaID, "type": "Person"},
		},
		{
			name: "approve for an organization", scope: "Org.zaikio.organization.r",
			extra:      url.Values{"action": {"approve"}, "person": {devhub.FrankID}, "organization": {devhub.GalacticPrintID}},
			wantBearer: map[string]any{"id": devhub.GalacticPrintID, "type": "Organization"},
		},
		{
			name: "deny", scope: "zaikio.person.r",
			extra:     url.Values{"action": {"deny"}},
			wantError: "access_denied",
		},
		{
			name: "organization of which the person is no member", scope: "Org.zaikio.organization.r",
			extra:      url.Values{"action": {"approve"}, "person": {devhub.AdaID}, "organization": {devhub.BountySoapID}},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "pre-selected organization needs an admin", scope: "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r",
			extra:      url.Values{"action": {"approve"}, "person": {devhub.FrankID}, "organization": {devhub.GalacticPrintID}},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "unknown person", scope: "zaikio.person.r",
			extra:      url.Values{"action": {"approve"}, "person": {"0b6a0e1c-0000-4000-8000-000000000000"}},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "sign-up with an organization", scope: "Per>Org.zaikio.organization.r",
			extra: url.Values{
				"action": {"signup"}, "person[first_name]": {""}, "person[name]": {"Hopper"}, "person[email]": {"grace@example.com"},
				"organization[name]": {"Cobol Corp"}, "organization[kinds][]": {"agency"},
			},
			wantBearer: map[string]any{"type": "Organization"},
		},
		{
			name: "sign-up with a taken email", scope: "zaikio.person.r",
			extra:      url.Values{"action": {"signup"}, "person[name]": {"Other"}, "person[email]": {"FGALLI@example.com"}},
			wantStatus: http.StatusUnprocessableEntity,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.postAuthorize(t, e.pageForm(tc.scope, tc.extra))
			if tc.wantStatus != 0 {
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), `class="error"`) {
					t.Errorf("status = %d; want %d with an error on the page\n%s", resp.StatusCode, tc.wantStatus, b)
				}
				return
			}
			q := redirectParams(t, resp)
			if q.Get("state") != "st4te/with?odd&chars" {
				t.Errorf("state = %q; want it echoed", q.Get("state"))
			}
			if tc.wantError != "" {
				if q.Get("error") != tc.wantError || q.Has("code") {
					t.Errorf("redirect query = %v; want error=%s and no code", q, tc.wantError)
				}
				return
			}
			res := e.exchange(t, q.Get("code"))
			if res.status != http.StatusOK {
				t.Fatalf("exchange: %d %v", res.status, res.body)
			}
			bearer, _ := res.body["bearer"].(map[string]any)
			if _, ok := tc.wantBearer["id"]; !ok {
				delete(bearer, "id")
			}
			if diff := cmp.Diff(tc.wantBearer, bearer); diff != "" {
				t.Errorf("bearer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignupCreatesOwnerAndOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	form := e.pageForm("Per>Org.zaikio.organization.r", url.Values{
		"action": {"signup"}, "person[name]": {"Hopper"}, "person[email]": {"grace@example.com"},
		"organization[name]": {"Cobol Corp"}, "organization[country_code]": {"us"},
	})
	res := e.exchange(t, redirectParams(t, e.postAuthorize(t, form)).Get("code"))
	obo, _ := res.body["bearer_on_behalf_of"].(map[string]any)
	p, ok := e.hub.Person(obo["id"].(string))
	if !ok {
		t.Fatalf("person %v not in the directory", obo["id"])
	}
	if diff := cmp.Diff(devhub.Person{ID: p.ID, Name: "Hopper", Email: "grace@example.com"}, p); diff != "" {
		t.Errorf("person (-want +got):\n%s", diff)
	}
	orgID := res.body["bearer"].(map[string]any)["id"].(string)
	o, _ := e.hub.Organization(orgID)
	want := devhub.Organization{ID: orgID, Name: "Cobol Corp", Slug: "cobol_corp", CountryCode: "US"}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"owner"}, obo["roles"]); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
}

func TestAutoApproveOrganizationChoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name, person, org, scope string
		wantOrg                  string // "" : a 400 page
	}{
		{"explicit", devhub.FrankID, devhub.GalacticPrintID, "Org.zaikio.organization.r", devhub.GalacticPrintID},
		{"first membership", devhub.FrankID, "", "Org.zaikio.organization.r", devhub.BountySoapID},
		{"pre-selected, admin", devhub.ErikaID, "", "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r", devhub.GalacticPrintID},
		{"pre-selected, not admin", devhub.FrankID, "", "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r", ""},
		{"not a member", devhub.AdaID, devhub.BountySoapID, "Org.zaikio.organization.r", ""},
		{"unknown person", "0b6a0e1c-0000-4000-8000-000000000000", "", "zaikio.person.r", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Sequential: AutoApprove is hub-wide.
			e.hub.AutoApprove(tc.person, tc.org)
			resp := e.get(t, e.authorizeURL(tc.scope, nil))
			if tc.wantOrg == "" {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status = %d; want 400", resp.StatusCode)
				}
				return
			}
			res := e.exchange(t, redirectParams(t, resp).Get("code"))
			if got := res.body["bearer"].(map[string]any)["id"]; got != tc.wantOrg {
				t.Errorf("bearer.id = %v; want %s", got, tc.wantOrg)
			}
		})
	}
	e.hub.AutoApprove("", "")
	if resp := e.get(t, e.authorizeURL("zaikio.person.r", nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("after AutoApprove(\"\", \"\"): status = %d; want the page (200)", resp.StatusCode)
	}
}

func TestScopesGranted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name, person, scope string
		wantScope           string
		wantBearerType      string
		wantOnBehalf        bool
	}{
		{"person", devhub.FrankID, "zaikio.person.r", "zaikio.person.r", "Person", false},
		{"Per. prefix dropped", devhub.FrankID, "Per.zaikio.person.rw", "zaikio.person.rw", "Person", false},
		{"unknown dropped", devhub.FrankID, "zaikio.person.r,other_app.things.rw,zaikio.person.r", "zaikio.person.r", "Person", false},
		{"inapplicable dropped", devhub.FrankID, "zaikio.person.r,zaikio.organization.r", "zaikio.person.r", "Person", false},
		{"nothing left", devhub.FrankID, "other_app.things.r", "", "Person", false},
		{"organization", devhub.FrankID, "Org.zaikio.organization.r,Org.zaikio.organization_members.r", "zaikio.organization.r,zaikio.organization_members.r", "Organization", false},
		{"on behalf", devhub.FrankID, "Per>Org.zaikio.organization.r,Per>Org.zaikio.person.r", "zaikio.organization.r", "Organization", true},
		{"pre-selected", devhub.ErikaID, "Org/" + devhub.GalacticPrintID + ".zaikio.organization.r", "zaikio.organization.r", "Organization", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.login(t, tc.person, "", tc.scope)
			bearer := res.body["bearer"].(map[string]any)
			_, onBehalf := res.body["bearer_on_behalf_of"]
			got := []any{res.str("scope"), bearer["type"], onBehalf}
			want := []any{tc.wantScope, tc.wantBearerType, tc.wantOnBehalf}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("scope, bearer type, on behalf (-want +got):\n%s", diff)
			}
			claims := decodeClaims(t, res.str("access_token"))
			wantClaim := []any{}
			for _, s := range strings.Split(tc.wantScope, ",") {
				if s != "" {
					wantClaim = append(wantClaim, s)
				}
			}
			if diff := cmp.Diff(wantClaim, claims["scope"]); diff != "" {
				t.Errorf("JWT scope claim (-want +got):\n%s", diff)
			}
		})
	}
}
