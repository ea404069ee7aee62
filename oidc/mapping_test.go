package oidc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func claimsJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClaimValues(t *testing.T) {
	for _, tc := range []struct {
		name, claims, claim string
		want                []string
	}{
		{"array", `{"groups":["a","b",3,null,""]}`, "groups", []string{"a", "b"}},
		{"string", `{"roles":"admin"}`, "roles", []string{"admin"}},
		{"missing", `{}`, "groups", nil},
		{"nested", `{"realm_access":{"roles":["x","y"]}}`, "realm_access.roles", []string{"x", "y"}},
		{"whole name first", `{"a.b":["whole"],"a":{"b":["nested"]}}`, "a.b", []string{"whole"}},
		{"nested not an object", `{"realm_access":["x"]}`, "realm_access.roles", nil},
		{"zitadel roles", `{"urn:zitadel:iam:org:project:roles":{"owner":{"123":"acme.zitadel.cloud"},"viewer":{"123":"a","456":"b"}}}`,
			"urn:zitadel:iam:org:project:roles", []string{"owner", "owner:123", "viewer", "viewer:123", "viewer:456"}},
		{"too long", `{"g":["` + strings.Repeat("x", maxValueLen+1) + `","ok"]}`, "g", []string{"ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := claimValues(claimsJSON(t, tc.claims), tc.claim)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claimValues (-want +got):\n%s", diff)
			}
		})
	}
	many := make([]string, maxValues+10)
	for i := range many {
		many[i] = fmt.Sprintf("g%d", i)
	}
	b, _ := json.Marshal(map[string]any{"g": many})
	if got := claimValues(claimsJSON(t, string(b)), "g"); len(got) != maxValues {
		t.Errorf("claimValues of %d values = %d, want the cap %d", len(many), len(got), maxValues)
	}
}

func TestMappingApply(t *testing.T) {
	const iss = "https://id.example"
	m, err := compileMapping(Mapping{Claim: "groups", Rules: []Rule{
		{Value: "{org}-owners", Roles: []string{"owner"}},
		{Value: "{org}-admins", Roles: []string{"admin"}, Name: "Org {org}"},
		{Value: "{org}-users", Roles: []string{"member"}},
		{Value: "finance", Org: "acme", Roles: []string{"accountant", "member"}},
		{Value: "legacy-{org}", Legacy: "L{org}", Roles: []string{"member"}},
		{Value: "everyone", Org: "all", Legacy: "7", Name: "Everyone", Roles: []string{"user"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	org := func(key, name, legacy string) Organization {
		return Organization{ID: OrgID(iss, key), Key: key, Name: name, Legacy: legacy}
	}
	got := m.apply(iss, claimsJSON(t, `{"groups":["acme-users","finance","acme-admins","globex-owners",
		"-admins","bad key-admins","legacy-42","everyone","unrelated"]}`))
	want := []Membership{
		{Organization: org("42", "42", "L42"), Roles: []string{"member"}},
		{Organization: org("acme", "Org acme", ""), Roles: []string{"accountant", "admin", "member"}},
		{Organization: org("all", "Everyone", "7"), Roles: []string{"user"}},
		{Organization: org("globex", "globex", ""), Roles: []string{"owner"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}
	none, _ := compileMapping(Mapping{})
	if got := none.apply(iss, claimsJSON(t, `{"groups":["acme-admins"]}`)); got != nil {
		t.Errorf("no mapping made %v, want no memberships", got)
	}
}

func TestMappingRefused(t *testing.T) {
	for name, r := range map[string]Rule{
		"empty value":     {Roles: []string{"x"}},
		"two {org}":       {Value: "{org}-{org}", Roles: []string{"x"}},
		"no org":          {Value: "admins", Roles: []string{"x"}},
		"org {org} fixed": {Value: "admins", Org: "{org}", Roles: []string{"x"}},
		"bad org":         {Value: "admins", Org: "a b", Roles: []string{"x"}},
		"bad legacy":      {Value: "{org}", Legacy: "a,b", Roles: []string{"x"}},
		"legacy {org}":    {Value: "admins", Org: "a", Legacy: "{org}", Roles: []string{"x"}},
		"no roles":        {Value: "{org}"},
		"bad role":        {Value: "{org}", Roles: []string{"a:b"}},
		"long name":       {Value: "{org}", Name: strings.Repeat("n", 129), Roles: []string{"x"}},
	} {
		if _, err := compileMapping(Mapping{Claim: "groups", Rules: []Rule{r}}); err == nil {
			t.Errorf("%s: compileMapping accepted %+v", name, r)
		}
	}
}

func TestPersonID(t *testing.T) {
	const iss = "https://id.example/realms/acme"
	id := PersonID(iss, "248289761001")
	// Stable: this value is stored in links and must never change. (It is
	// SHA-256 of the documented input, checked with another tool.)
	if want := "00590416-bd6b-8170-b9cc-ad81ce1b72c0"; id != want {
		t.Errorf("PersonID = %s, want %s", id, want)
	}
	if len(id) != 36 || id[14] != '8' || !strings.ContainsAny(id[19:20], "89ab") || strings.ToLower(id) != id {
		t.Errorf("PersonID = %q, want a lower-case version-8 UUID", id)
	}
	if PersonID(iss, "248289761001") != id {
		t.Error("PersonID is not deterministic")
	}
	for name, other := range map[string]string{
		"other issuer":  PersonID(iss+"/", "248289761001"),
		"other subject": PersonID(iss, "248289761002"),
		"shifted split": PersonID(iss+"2", "48289761001"),
		"org namespace": OrgID(iss, "248289761001"),
	} {
		if other == id {
			t.Errorf("%s: same id %s", name, id)
		}
	}
}
