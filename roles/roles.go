// Package roles maps Zaikio organization membership roles to the legacy
// application's local roles: it owns the role map and the shape of a role
// name. It never asks the hub for memberships (the session's identity
// carries them) and never decides access: the legacy app reads the local
// roles it is sent. It uses only the standard library.
package roles

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Map maps a Zaikio role (owner, admin, member, purchaser, …) to local roles.
// A Zaikio role missing from the map maps to Default.
type Map struct {
	Roles map[string][]string
	// Default are the local roles for a Zaikio role that Roles does not name.
	// Nil means none: unknown roles grant nothing.
	Default []string
}

// New validates m: role names must be non-empty and fit the header format
// ([A-Za-z0-9._@-]). The Map holds copies of m and def.
func New(m map[string][]string, def []string) (Map, error) {
	for z, locals := range m {
		if !validRole(z) {
			return Map{}, fmt.Errorf("roles: zaikio role %q: want [A-Za-z0-9._@-]{1,64}", z)
		}
		for _, l := range locals {
			if !validRole(l) {
				return Map{}, fmt.Errorf("roles: local role %q (for %s): want [A-Za-z0-9._@-]{1,64}", l, z)
			}
		}
	}
	for _, l := range def {
		if !validRole(l) {
			return Map{}, fmt.Errorf("roles: default role %q: want [A-Za-z0-9._@-]{1,64}", l)
		}
	}
	// Copy: the Map must stay what was validated even if the caller
	// reuses its map or slices.
	out := Map{Roles: make(map[string][]string, len(m)), Default: slices.Clone(def)}
	for z, locals := range m {
		out.Roles[z] = slices.Clone(locals)
	}
	return out, nil
}

// Local returns the sorted, de-duplicated local roles for a membership's
// Zaikio roles.
func (m Map) Local(zaikio []string) []string {
	var out []string
	for _, z := range zaikio {
		locals, ok := m.Roles[z]
		if !ok {
			locals = m.Default
		}
		for _, l := range locals {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Membership is one organization membership, already resolved to the legacy
// organization it is linked to.
type Membership struct {
	LegacyOrg string   // linked legacy organization id
	Roles     []string // Zaikio roles in that organization
}

// Grant is the local view of a person's linked memberships.
type Grant struct {
	Orgs  []string // legacy org ids, sorted
	Roles []string // "<legacy org>:<local role>", sorted
}

// Apply maps memberships (only linked organizations should be passed) to
// the legacy org list and the role entries.
func (m Map) Apply(ms []Membership) Grant {
	var g Grant
	for _, ms := range ms {
		if ms.LegacyOrg == "" {
			continue
		}
		if !slices.Contains(g.Orgs, ms.LegacyOrg) {
			g.Orgs = append(g.Orgs, ms.LegacyOrg)
		}
		for _, l := range m.Local(ms.Roles) {
			e := ms.LegacyOrg + ":" + l
			if !slices.Contains(g.Roles, e) {
				g.Roles = append(g.Roles, e)
			}
		}
	}
	sort.Strings(g.Orgs)
	sort.Strings(g.Roles)
	return g
}

// Header joins entries with commas, the format of X-Hubgate-Orgs and
// X-Hubgate-Roles.
func Header(entries []string) string { return strings.Join(entries, ",") }

func validRole(s string) bool {
	if s == "" || len(s) > 64 {
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
