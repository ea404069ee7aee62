package devhub_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

const seedTime = "2021-03-04T09:30:00.000Z"

func seededOrg(id, name, slug, country string, kinds ...any) map[string]any {
	return map[string]any{
		"id": id, "name": name, "slug": slug, "connected": true, "kinds": kinds, "country_code": country,
		"logo_url": nil, "test_account": false, "sections": []any{}, "created_at": seedTime, "updated_at": seedTime,
	}
}

func TestPersonEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	status, got := e.api(t, "GET", "/api/v1/person", res.str("access_token"))
	if status != http.StatusOK {
		t.Fatalf("status = %d (%v); want 200", status, got)
	}
	want := map[string]any{
		"id": devhub.FrankID, "first_name": "Frank", "name": "Gallikanokus", "full_name": "Frank Gallikanokus",
		"email": "fgalli@example.com", "email_confirmed": true, "locale": "en", "time_zone": "Europe/Berlin",
		"pronoun": nil, "country_code": "DE", "test_account": false, "avatar_url": nil, "sections": []any{},
		"created_at": seedTime, "updated_at": seedTime,
		"organization_memberships": []any{
			map[string]any{
				"id": "b8a1cd10-4e5f-4a6b-9c7d-1e2f3a4b5c01", "roles": []any{"owner"},
				"created_at": seedTime, "updated_at": seedTime,
				"organization": seededOrg(devhub.BountySoapID, "Bounty Soap Inc.", "bounty_soap_inc", "DE", "printer"),
			},
			map[string]any{
				"id": "0a4503fe-6b7c-4d8e-8f9a-0b1c2d3e4f02", "roles": []any{"member"},
				"created_at": seedTime, "updated_at": seedTime,
				"organization": seededOrg(devhub.GalacticPrintID, "Galactic Print Inc.", "galactic_print_inc", "GB", "printer", "agency"),
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("person (-want +got):\n%s", diff)
	}
}

func TestPersonWithoutFirstName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *devhub.Config) { c.Seed = false })
	p := e.hub.AddPerson(devhub.Person{Name: "Prince", Email: "prince@example.com"})
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(p.ID) {
		t.Fatalf("AddPerson ID = %q; want a UUID", p.ID)
	}
	res := e.login(t, p.ID, "", "zaikio.person.r")
	_, got := e.api(t, "GET", "/api/v1/person", res.str("access_token"))
	body := got.(map[string]any)
	fn, present := body["first_name"]
	if !present || fn != nil || body["full_name"] != "Prince" {
		t.Errorf("first_name = %v (present %v), full_name = %v; want null and \"Prince\"", fn, present, body["full_name"])
	}
	if diff := cmp.Diff([]any{}, body["organization_memberships"]); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}
}

func TestScopeAndBearerEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tokens := map[string]string{}
	for name, s := range map[string]struct{ person, org, scope string }{
		"person":           {devhub.FrankID, "", "zaikio.person.r"},
		"person, no scope": {devhub.FrankID, "", "other_app.things.r"},
		"org":              {devhub.FrankID, devhub.GalacticPrintID, "Org.zaikio.organization.r"},
		"org, members":     {devhub.ErikaID, devhub.GalacticPrintID, "Org.zaikio.organization.r,Org.zaikio.organization_members.r"},
		"on behalf":        {devhub.FrankID, devhub.BountySoapID, "Per>Org.zaikio.organization.r,Per>Org.zaikio.organization_members.r"},
	} {
		tokens[name] = e.login(t, s.person, s.org, s.scope).str("access_token")
	}
	tests := []struct {
		token, path string
		wantStatus  int
		wantErr     string
	}{
		{"person", "/api/v1/person", 200, ""},
		{"person", "/api/v1/organization", 403, "unpermitted_scope"},
		{"person", "/api/v1/organization/memberships", 403, "unpermitted_scope"},
		{"person, no scope", "/api/v1/person", 403, "unpermitted_scope"},
		{"org", "/api/v1/person", 403, "unpermitted_scope"},
		{"org", "/api/v1/organization", 200, ""},
		{"org", "/api/v1/organization/memberships", 403, "unpermitted_scope"},
		{"org, members", "/api/v1/organization/memberships", 200, ""},
		{"on behalf", "/api/v1/person", 403, "unpermitted_scope"},
		{"on behalf", "/api/v1/organization", 200, ""},
		{"on behalf", "/api/v1/organization/memberships", 200, ""},
		{"", "/api/v1/person", 401, "invalid_token"},
		{"garbage", "/api/v1/person", 401, "invalid_token"},
	}
	tokens["garbage"] = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	for _, tc := range tests {
		t.Run(tc.token+" "+tc.path, func(t *testing.T) {
			status, body := e.api(t, "GET", tc.path, tokens[tc.token])
			if status != tc.wantStatus {
				t.Errorf("status = %d (%v); want %d", status, body, tc.wantStatus)
			}
			if tc.wantErr != "" {
				if diff := cmp.Diff(map[string]any{"errors": []any{tc.wantErr}}, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.login(t, devhub.FrankID, "", "zaikio.person.r").str("access_token")
	e.clock.Add(10*time.Minute - time.Second)
	if status, _ := e.api(t, "GET", "/api/v1/person", tok); status != http.StatusOK {
		t.Errorf("just before expiry: status %d; want 200", status)
	}
	e.clock.Add(time.Second)
	if status, _ := e.api(t, "GET", "/api/v1/person", tok); status != http.StatusUnauthorized {
		t.Errorf("at expiry: status %d; want 401", status)
	}
}

func TestOrganizationEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.login(t, devhub.ErikaID, devhub.GalacticPrintID, "Org.zaikio.organization.r,Org.zaikio.organization_members.r").str("access_token")

	_, org := e.api(t, "GET", "/api/v1/organization", tok)
	if diff := cmp.Diff(seededOrg(devhub.GalacticPrintID, "Galactic Print Inc.", "galactic_print_inc", "GB", "printer", "agency"), org); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}

	member := func(id, person, name, email string, roles ...any) map[string]any {
		return map[string]any{"id": id, "roles": roles, "created_at": seedTime, "updated_at": seedTime,
			"person": map[string]any{"id": person, "full_name": name, "email": email}}
	}
	_, members := e.api(t, "GET", "/api/v1/organization/memberships", tok)
	want := []any{
		member("0a4503fe-6b7c-4d8e-8f9a-0b1c2d3e4f02", devhub.FrankID, "Frank Gallikanokus", "fgalli@example.com", "member"),
		member("4c2d8e6f-1a3b-4c5d-9e7f-8a9b0c1d2e03", devhub.ErikaID, "Erika Mustermann", "erika.mustermann@example.com", "admin"),
		member("9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c05", devhub.MaxID, "Max Muster", "max.muster@example.com", "member", "designer"),
	}
	if diff := cmp.Diff(want, members); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}

	// Removing a membership shows at once.
	e.hub.SetRoles(devhub.MaxID, devhub.GalacticPrintID)
	_, members = e.api(t, "GET", "/api/v1/organization/memberships", tok)
	if diff := cmp.Diff(want[:2], members); diff != "" {
		t.Errorf("memberships after removal (-want +got):\n%s", diff)
	}
}

func TestRolesEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	status, got := e.api(t, "GET", "/api/v1/roles", "")
	if status != http.StatusOK {
		t.Fatalf("status = %d; want 200", status)
	}
	var ids []any
	for _, r := range got.([]any) {
		ids = append(ids, r.(map[string]any)["id"])
	}
	want := []any{"owner", "admin", "member", "purchaser", "production_planner", "customer_service_representative",
		"sales_representative", "designer", "developer"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("role ids (-want +got):\n%s", diff)
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.login(t, devhub.FrankID, "", "zaikio.person.r")
	tok := res.str("access_token")
	jti := decodeClaims(t, tok)["jti"].(string)

	status, body := e.api(t, "POST", "/api/v1/revoked_access_tokens", tok)
	if status != http.StatusCreated {
		t.Errorf("revoke: status %d; want 201", status)
	}
	if diff := cmp.Diff(map[string]any{"access_token_id": jti}, body); diff != "" {
		t.Errorf("revoke body (-want +got):\n%s", diff)
	}
	_, list := e.api(t, "GET", "/api/v1/revoked_access_tokens", "")
	if diff := cmp.Diff(map[string]any{"revoked_token_ids": []any{jti}}, list); diff != "" {
		t.Errorf("revoked list (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{jti}, e.hub.RevokedTokenIDs()); diff != "" {
		t.Errorf("RevokedTokenIDs (-want +got):\n%s", diff)
	}
	if status, _ := e.api(t, "GET", "/api/v1/person", tok); status != http.StatusUnauthorized {
		t.Errorf("person with a revoked token: status %d; want 401", status)
	}
	if status, _ := e.api(t, "POST", "/api/v1/revoked_access_tokens", tok); status != http.StatusUnauthorized {
		t.Errorf("revoking twice: status %d; want 401", status)
	}
	// The refresh token still works: revocation names one access token.
	next := e.token(t, map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {res.str("refresh_token")}}, true)
	if next.status != http.StatusOK {
		t.Errorf("refresh after revoking the access token: %d %v; want 200", next.status, next.body)
	}
}
