package oidc

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Mapping turns the values of one claim into organization memberships, so
// that X-Hubgate-Orgs and X-Hubgate-Roles mean with any provider what they
// mean with Zaikio: the linked legacy organizations, and per organization
// the local roles the `roles:` map makes of the person's roles there.
//
// Example: with Claim "groups" and the rules
//
//	{Value: "{org}-owners", Roles: [owner]}
//	{Value: "{org}-admins", Roles: [admin]}
//	{Value: "{org}-users",  Roles: [member]}
//	{Value: "finance",      Org: "acme", Roles: [accountant]}
//
// the groups [acme-admins, acme-users, globex-owners] make two
// memberships: acme with roles admin and member, globex with owner.
type Mapping struct {
	// Claim names the claim whose values are matched: "groups", "roles",
	// Keycloak's "realm_access.roles" (a dot steps into an object when no
	// claim has the whole name), ZITADEL's
	// "urn:zitadel:iam:org:project:roles". Its value may be a string, an
	// array of strings, or an object: then each key k is a value, and each
	// key ik of an object under k adds the value "k:ik" (ZITADEL: role
	// "owner" in organization 123 is "owner:123"). Empty: no memberships —
	// the provider has no organizations, and org claims are off.
	Claim string
	// Rules say which values make which memberships. Every rule that
	// matches a value applies; roles add up per organization.
	Rules []Rule
}

// Rule maps claim values to a membership.
type Rule struct {
	// Value is a claim value, matched exactly, or with one "{org}" that
	// stands for an organization key of 1–64 characters [A-Za-z0-9._@-]:
	// "{org}-admins" matches "acme-admins" with key "acme". Required.
	Value string
	// Org is the organization key. Empty: the {org} of Value (which must
	// then have one). Otherwise a fixed key.
	Org string
	// Name is the organization's display name; "{org}" in it is replaced
	// by the key. Empty: the key.
	Name string
	// Legacy maps the organization straight to a legacy organization id
	// ([A-Za-z0-9._@-]{1,128}; "{org}" in it is replaced by the key), for
	// deployments that configure organizations instead of claiming them.
	// Empty: the organization (id OrgID(issuer, key)) is linked like a
	// Zaikio one, by an org claim or by hand through the admin API.
	Legacy string
	// Roles are the person's roles in the organization: Zaikio-style
	// (owner, admin, member, …) that the `roles:` map turns into local
	// roles, or local role names mapped to themselves there. owner and
	// admin may claim the organization. At least one, [A-Za-z0-9._@-]{1,64}.
	Roles []string
}

// placeholder stands for the organization key in a Rule.
const placeholder = "{org}"

// Bounds on what one claim may make us do.
const (
	maxValues   = 512
	maxValueLen = 256
)

// mapper is a validated Mapping.
type mapper struct {
	claim string
	rules []rule
}

type rule struct {
	Rule
	prefix, suffix string // around {org}; exact when !wild
	wild           bool
}

func compileMapping(m Mapping) (*mapper, error) {
	if m.Claim == "" {
		if len(m.Rules) > 0 {
			return nil, errors.New("oidc: mapping has rules but no claim")
		}
		return &mapper{}, nil
	}
	if len(m.Rules) == 0 {
		return nil, fmt.Errorf("oidc: mapping of claim %q has no rules", m.Claim)
	}
	out := &mapper{claim: m.Claim}
	for i, r := range m.Rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("oidc: mapping rule %d (%q): %w", i+1, r.Value, err)
		}
		out.rules = append(out.rules, cr)
	}
	return out, nil
}

func compileRule(r Rule) (rule, error) {
	cr := rule{Rule: r}
	cr.Roles = slices.Clone(r.Roles)
	switch n := strings.Count(r.Value, placeholder); {
	case r.Value == "":
		return rule{}, errors.New("value is empty")
	case n > 1:
		return rule{}, errors.New("value has more than one {org}")
	case n == 1:
		cr.wild = true
		cr.prefix, cr.suffix, _ = strings.Cut(r.Value, placeholder)
	}
	if cr.Org == "" {
		if !cr.wild {
			return rule{}, errors.New("no {org} in value and no org")
		}
		cr.Org = placeholder
	}
	for field, v := range map[string]string{"org": cr.Org, "name": cr.Name, "legacy": cr.Legacy} {
		if strings.Contains(v, placeholder) && !cr.wild {
			return rule{}, fmt.Errorf("%s uses {org} but the value has none", field)
		}
	}
	if cr.Org != placeholder && !validKey(strings.ReplaceAll(cr.Org, placeholder, "x"), 64) {
		return rule{}, fmt.Errorf("org %q: want [A-Za-z0-9._@-]{1,64} or {org}", cr.Org)
	}
	if cr.Legacy != "" && !validKey(strings.ReplaceAll(cr.Legacy, placeholder, "x"), 128) {
		return rule{}, fmt.Errorf("legacy %q: want [A-Za-z0-9._@-]{1,128}", cr.Legacy)
	}
	if len(cr.Name) > 128 {
		return rule{}, errors.New("name longer than 128 bytes")
	}
	if len(cr.Roles) == 0 {
		return rule{}, errors.New("no roles")
	}
	for _, role := range cr.Roles {
		if !validKey(role, 64) {
			return rule{}, fmt.Errorf("role %q: want [A-Za-z0-9._@-]{1,64}", role)
		}
	}
	return cr, nil
}

// validKey reports whether s is 1–max characters of [A-Za-z0-9._@-]: the
// shape of legacy ids and role names in hubgate's headers.
func validKey(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

// match returns the organization key value v makes under r.
func (r rule) match(v string) (key string, ok bool) {
	if !r.wild {
		return r.Org, v == r.Value
	}
	if len(v) <= len(r.prefix)+len(r.suffix) || !strings.HasPrefix(v, r.prefix) || !strings.HasSuffix(v, r.suffix) {
		return "", false
	}
	k := v[len(r.prefix) : len(v)-len(r.suffix)]
	if !validKey(k, 64) {
		return "", false
	}
	return strings.ReplaceAll(r.Org, placeholder, k), true
}

// apply makes the memberships of verified claims, sorted by key.
func (m *mapper) apply(iss string, claims map[string]any) []Membership {
	if m.claim == "" {
		return nil
	}
	byKey := map[string]*Membership{}
	for _, v := range claimValues(claims, m.claim) {
		for _, r := range m.rules {
			key, ok := r.match(v)
			if !ok {
				continue
			}
			k := key
			if r.wild {
				// The key {org} stood for, for Name and Legacy.
				k = v[len(r.prefix) : len(v)-len(r.suffix)]
			}
			ms := byKey[key]
			if ms == nil {
				ms = &Membership{Organization: Organization{ID: OrgID(iss, key), Key: key, Name: key}}
				byKey[key] = ms
			}
			if r.Name != "" && ms.Organization.Name == key {
				ms.Organization.Name = strings.ReplaceAll(r.Name, placeholder, k)
			}
			if r.Legacy != "" && ms.Organization.Legacy == "" {
				ms.Organization.Legacy = strings.ReplaceAll(r.Legacy, placeholder, k)
			}
			for _, role := range r.Roles {
				if !slices.Contains(ms.Roles, role) {
					ms.Roles = append(ms.Roles, role)
				}
			}
		}
	}
	out := make([]Membership, 0, len(byKey))
	for _, ms := range byKey {
		sort.Strings(ms.Roles)
		out = append(out, *ms)
	}
	slices.SortFunc(out, func(a, b Membership) int { return strings.Compare(a.Organization.Key, b.Organization.Key) })
	return out
}

// claimValues reads the values of claim name (see Mapping.Claim), at most
// maxValues of at most maxValueLen bytes each.
func claimValues(claims map[string]any, name string) []string {
	v, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		var cur any = claims
		for _, seg := range strings.Split(name, ".") {
			obj, isObj := cur.(map[string]any)
			if !isObj {
				cur = nil
				break
			}
			cur = obj[seg]
		}
		v = cur
	}
	var out []string
	add := func(s string) {
		if s != "" && len(s) <= maxValueLen && len(out) < maxValues {
			out = append(out, s)
		}
	}
	switch x := v.(type) {
	case string:
		add(x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // maps are unordered; the cap must cut the same values every time
		for _, k := range keys {
			add(k)
			if inner, ok := x[k].(map[string]any); ok {
				iks := make([]string, 0, len(inner))
				for ik := range inner {
					iks = append(iks, ik)
				}
				sort.Strings(iks)
				for _, ik := range iks {
					add(k + ":" + ik)
				}
			}
		}
	}
	return out
}
