package admin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

const (
	annToken = "ann-operator-token-0123456789"
	ciToken  = "ci-read-only-token-0123456789"
)

// namedTokens adds an operator token "ann" and a read token "ci" next to
// the legacy token.
func namedTokens(c *admin.Config) {
	c.Tokens = []admin.Token{
		{Name: "ann", Value: annToken, Role: admin.RoleOperator},
		{Name: "ci", Value: ciToken, Role: admin.RoleRead},
	}
}

// as sends a request with the bearer token tok.
func (e *env) as(tok, method, path, body string, headers ...string) (int, []byte) {
	e.t.Helper()
	return e.do(e.req(method, path, body, append([]string{"Authorization", "Bearer " + tok}, headers...)...))
}

// TestNamedTokensAudit: the audit log names the token that acted; the
// legacy admin.token keeps its actor; an unknown token is refused.
func TestNamedTokensAudit(t *testing.T) {
	e := newEnv(t, namedTokens)
	tests := []struct {
		tok, actorHeader, want string
	}{
		{annToken, "", "admin-api:ann"},
		{annToken, "cli:ann@ops", "admin-api:ann (cli:ann@ops)"},
		{token, "cli:ann@ops", "admin-api:cli:ann@ops"},
		{token, "", "admin-api"},
	}
	for i, tt := range tests {
		id := string(rune('1' + i))
		status, body := e.as(tt.tok, "POST", "/api/v1/claims", `{"force":true,"kind":"person","legacy_id":"`+id+`"}`, admin.ActorHeader, tt.actorHeader)
		if status != http.StatusCreated {
			t.Fatalf("POST /api/v1/claims with %s = %d %s; want 201", tt.want, status, body)
		}
		var is admin.Issued
		if err := json.Unmarshal(body, &is); err != nil {
			t.Fatal(err)
		}
		c, err := e.db.Claim(t.Context(), is.ID)
		if err != nil || c.CreatedBy != tt.want {
			t.Errorf("claim %s: created by %q, %v; want %q", id, c.CreatedBy, err, tt.want)
		}
	}
	if !strings.Contains(e.logs.String(), `"token":"ann"`) || !strings.Contains(e.logs.String(), `"token":"admin"`) {
		t.Errorf("access log names no token:\n%s", e.logs)
	}
	if status, _ := e.as("ann-operator-token-012345678X", "GET", "/api/v1/claims", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/claims with an unknown token = %d; want 401", status)
	}
}

// TestReadToken: a read token may use every GET route and no other; the
// refusal is a 403 that names the token, and changes nothing.
func TestReadToken(t *testing.T) {
	e := newEnv(t, namedTokens)
	is := e.issue(`{"kind":"person","legacy_id":"42"}`)
	for _, path := range []string{"/api/v1/claims", "/api/v1/claims/" + is.ID, "/api/v1/links/persons", "/api/v1/links/orgs",
		"/api/v1/mode", "/api/v1/stats", "/api/v1/audit"} {
		if status, body := e.as(ciToken, "GET", path, ""); status != http.StatusOK {
			t.Errorf("GET %s with the read token = %d %s; want 200", path, status, body)
		}
	}
	person := "7d8f6a52-3c1e-4b8a-9f3e-2a1b0c9d8e7f"
	refused := []struct{ method, path, body string }{
		{"POST", "/api/v1/claims", `{"kind":"person","legacy_id":"43"}`},
		{"POST", "/api/v1/claims/import", "id,email\n44,a@example.com\n"},
		{"DELETE", "/api/v1/claims/" + is.ID, ""},
		{"PUT", "/api/v1/links/persons/42", `{"zaikio_id":"` + person + `"}`},
		{"DELETE", "/api/v1/links/orgs/7", ""},
		{"PUT", "/api/v1/mode", `{"mode":"enforce"}`},
		{"DELETE", "/api/v1/sessions/" + person, ""},
	}
	for _, tt := range refused {
		status, body := e.as(ciToken, tt.method, tt.path, tt.body)
		var ae apiErr
		_ = json.Unmarshal(body, &ae)
		if status != http.StatusForbidden || ae.Error != "forbidden" || !strings.Contains(ae.Message, `token "ci" is read-only`) {
			t.Errorf("%s %s with the read token = %d %s; want 403 forbidden naming the token", tt.method, tt.path, status, body)
		}
	}
	if m, err := e.db.Mode(t.Context()); err != nil || m != "" {
		t.Errorf("mode = %q, %v; want unchanged (none)", m, err)
	}
	if c, err := e.db.Claim(t.Context(), is.ID); err != nil || c.Status(t0) != "open" {
		t.Errorf("claim %s = %+v, %v; want open", is.ID, c, err)
	}
	if _, err := e.db.Link(t.Context(), claim.KindPerson, "42"); err == nil {
		t.Errorf("link of person 42 exists; want none")
	}
	if e.changes.Load() != 0 {
		t.Errorf("%d OnChange calls; want none", e.changes.Load())
	}
	// Profiles are for operators only, though they are GET routes.
	d := newEnv(t, namedTokens, func(c *admin.Config) { c.Debug = true })
	if status, _ := d.as(ciToken, "GET", "/debug/pprof/cmdline", ""); status != http.StatusForbidden {
		t.Errorf("GET /debug/pprof/cmdline with the read token = %d; want 403", status)
	}
	if status, _ := d.as(annToken, "GET", "/debug/pprof/cmdline", ""); status != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline with the operator token = %d; want 200", status)
	}
	// The operator token may do the same.
	if status, body := e.as(annToken, "PUT", "/api/v1/mode", `{"mode":"enforce"}`); status != http.StatusOK {
		t.Errorf("PUT /api/v1/mode with the operator token = %d %s; want 200", status, body)
	}
}

// TestTokensConfig: New refuses tokens that cannot work or that would make
// the audit ambiguous, naming the token without revealing it.
func TestTokensConfig(t *testing.T) {
	tests := []struct {
		name   string
		legacy string
		tokens []admin.Token
		want   string
	}{
		{"none", "", nil, "token"},
		{"short", "", []admin.Token{{Name: "a", Value: "short", Role: admin.RoleRead}}, "at least 16"},
		{"bad role", "", []admin.Token{{Name: "a", Value: annToken, Role: "admin"}}, `role "admin"`},
		{"no role", "", []admin.Token{{Name: "a", Value: annToken}}, "want read or operator"},
		{"bad name", "", []admin.Token{{Name: "ann smith", Value: annToken, Role: admin.RoleRead}}, `name "ann smith"`},
		{"empty name", "", []admin.Token{{Value: annToken, Role: admin.RoleRead}}, `name ""`},
		{"name twice", "", []admin.Token{{Name: "a", Value: annToken, Role: admin.RoleRead}, {Name: "a", Value: ciToken, Role: admin.RoleRead}}, "given twice"},
		{"legacy name taken", token, []admin.Token{{Name: "admin", Value: annToken, Role: admin.RoleRead}}, "given twice"},
		{"same token twice", "", []admin.Token{{Name: "a", Value: annToken, Role: admin.RoleRead}, {Name: "b", Value: annToken, Role: admin.RoleOperator}}, "same token as a"},
		{"same as legacy", annToken, []admin.Token{{Name: "b", Value: annToken, Role: admin.RoleRead}}, "same token as admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := admin.New(admin.Config{Token: tt.legacy, Tokens: tt.tokens, Store: e.db, Claims: &claim.Service{Store: e.db}, PublicURL: publicURL})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("admin.New(%s) = %v; want an error containing %q", tt.name, err, tt.want)
			}
			if strings.Contains(err.Error(), annToken) || strings.Contains(err.Error(), ciToken) {
				t.Errorf("admin.New(%s) = %q; reveals a token", tt.name, err)
			}
		})
	}
	e := newEnv(t)
	if _, err := admin.New(admin.Config{Tokens: []admin.Token{{Name: "ci", Value: ciToken, Role: admin.RoleRead}},
		Store: e.db, Claims: &claim.Service{Store: e.db}, PublicURL: publicURL}); err != nil {
		t.Errorf("admin.New(one read token, no legacy token) = %v; want nil", err)
	}
}

// loginWith signs the browser in with tok, signing out first when it is
// signed in (the form nonce cookie stays).
func (b *browser) loginWith(tok, name string) {
	b.t.Helper()
	if p := b.get("/"); p.status == http.StatusOK {
		b.post("/logout", url.Values{"csrf": {p.csrf(b.t, "")}}).want(b.t, "POST /logout", http.StatusSeeOther)
	}
	form := b.get("/login").want(b.t, "GET /login", http.StatusOK)
	b.post("/login", url.Values{"csrf": {form.csrf(b.t, "login-form")}, "token": {tok}, "name": {name}}).
		want(b.t, "POST /login", http.StatusSeeOther)
}

// TestDashboardReadToken: the dashboard takes any token; a read token sees
// the counts without the controls, and a mode switch posted anyway (with a
// form token the browser got as an operator) is refused with 403.
func TestDashboardReadToken(t *testing.T) {
	e := newEnv(t, namedTokens)
	seed(t, e)
	b := newBrowser(e)
	b.loginWith(annToken, "Ann")
	dash := b.get("/").want(t, "GET / as ann", http.StatusOK)
	if !strings.Contains(dash.body, `id="switch-enforce"`) || strings.Contains(dash.body, `id="readonly"`) {
		t.Errorf("dashboard for the operator token lacks the switch or says read-only:\n%s", dash.body)
	}
	confirm := b.get("/mode?to=enforce").want(t, "GET /mode?to=enforce as ann", http.StatusOK)
	if !strings.Contains(confirm.body, "dashboard:ann (Ann, session-") {
		t.Errorf("confirmation page does not name the token as the actor:\n%s", confirm.body)
	}
	csrf := confirm.csrf(t, "confirm-form")

	b.loginWith(ciToken, "Cy")
	dash = b.get("/").want(t, "GET / as ci", http.StatusOK)
	if strings.Contains(dash.body, `id="switch-`) || !strings.Contains(dash.body, `id="readonly"`) || !strings.Contains(dash.body, "token ci") {
		t.Errorf("dashboard for the read token offers a switch or does not say read-only:\n%s", dash.body)
	}
	confirm = b.get("/mode?to=enforce").want(t, "GET /mode?to=enforce as ci", http.StatusOK)
	if strings.Contains(confirm.body, `id="confirm-form"`) || !strings.Contains(confirm.body, "read-only token") {
		t.Errorf("confirmation page for the read token offers the form:\n%s", confirm.body)
	}
	p := b.post("/mode", url.Values{"csrf": {csrf}, "from": {"passthrough"}, "to": {"enforce"}}).want(t, "POST /mode as ci", http.StatusForbidden)
	if !strings.Contains(p.body, "Not allowed with this token") {
		t.Errorf("POST /mode as ci: page lacks the explanation:\n%s", p.body)
	}
	if m, _ := e.db.Mode(t.Context()); m != "" {
		t.Errorf("mode = %q after a read token's switch; want unchanged", m)
	}

	// The operator switches; the audit names the token.
	b.loginWith(annToken, "Ann")
	b.post("/mode", url.Values{"csrf": {csrf}, "from": {"passthrough"}, "to": {"enforce"}}).want(t, "POST /mode as ann", http.StatusSeeOther)
	evs, err := e.db.Events(t.Context(), 0, 1)
	if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "dashboard:ann (Ann, session-") {
		t.Errorf("newest event = %+v, %v; want a mode switch by dashboard:ann (Ann, session-…)", evs, err)
	}

	// A bearer read token sees the read-only dashboard too.
	status, body := e.as(ciToken, "GET", "/", "")
	if status != http.StatusOK || !strings.Contains(string(body), `id="readonly"`) {
		t.Errorf("GET / with the read bearer token = %d; want 200 read-only:\n%s", status, body)
	}
}
