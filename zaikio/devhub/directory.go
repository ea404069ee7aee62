package devhub

import (
	"slices"
	"strings"
	"time"
)

// Person is a Zaikio account.
type Person struct {
	ID        string // a UUID; filled in by AddPerson when empty
	FirstName string // may be empty: the hub then answers first_name null
	Name      string // the last name
	Email     string // not unique here: claims must never rely on it
}

// FullName is what the hub shows as full_name.
func (p Person) FullName() string {
	if p.FirstName == "" {
		return p.Name
	}
	return p.FirstName + " " + p.Name
}

// Organization is a Zaikio organization.
type Organization struct {
	ID          string // a UUID; filled in by AddOrganization when empty
	Name        string
	Slug        string // empty: derived from Name ("Bounty Soap Inc." → "bounty_soap_inc")
	CountryCode string // ISO 3166 alpha-2; empty: "DE"
	Kinds       []string
}

// Membership is a person's place in an organization.
type Membership struct {
	ID             string
	PersonID       string
	OrganizationID string
	Roles          []string
}

// Role is an entry of GET /api/v1/roles.
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Roles lists the membership roles the hub knows, as GET /api/v1/roles
// answers them. A membership may hold several.
func Roles() []Role {
	return []Role{
		{"owner", "Owner"},
		{"admin", "Admin"},
		{"member", "Member"},
		{"purchaser", "Purchaser"},
		{"production_planner", "Production Planner"},
		{"customer_service_representative", "Customer Service Representative"},
		{"sales_representative", "Sales Representative"},
		{"designer", "Designer"},
		{"developer", "Developer"},
	}
}

type personRecord struct {
	Person
	created, updated time.Time
}

type orgRecord struct {
	Organization
	created, updated time.Time
}

type membership struct {
	id               string
	personID, orgID  string
	roles            []string
	created, updated time.Time
}

// AddPerson adds p to the directory, or replaces the person with the same ID,
// and returns it with its ID filled in.
func (h *Hub) AddPerson(p Person) Person {
	if p.ID == "" {
		p.ID = newUUID()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.putPersonLocked(p, h.now())
	return p
}

func (h *Hub) putPersonLocked(p Person, at time.Time) {
	if rec, ok := h.people[p.ID]; ok {
		rec.Person = p
		rec.updated = at
		return
	}
	h.people[p.ID] = &personRecord{Person: p, created: at, updated: at}
	h.personOrder = append(h.personOrder, p.ID)
}

// AddOrganization adds o to the directory, or replaces the organization with
// the same ID, and returns it with its ID, slug and country filled in.
func (h *Hub) AddOrganization(o Organization) Organization {
	if o.ID == "" {
		o.ID = newUUID()
	}
	if o.Slug == "" {
		o.Slug = slugify(o.Name)
	}
	if o.CountryCode == "" {
		o.CountryCode = "DE"
	}
	o.Kinds = slices.Clone(o.Kinds)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.putOrgLocked(o, h.now())
	return cloneOrg(o)
}

func (h *Hub) putOrgLocked(o Organization, at time.Time) {
	if rec, ok := h.orgs[o.ID]; ok {
		rec.Organization = o
		rec.updated = at
		return
	}
	h.orgs[o.ID] = &orgRecord{Organization: o, created: at, updated: at}
	h.orgOrder = append(h.orgOrder, o.ID)
}

// SetRoles gives personID exactly these roles in orgID, creating the
// membership when needed; no roles removes the membership. Unknown persons or
// organizations are ignored. Roles are not checked against [Roles], so that
// tests can try roles the hub might add one day.
func (h *Hub) SetRoles(personID, orgID string, roles ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.setRolesLocked("", personID, orgID, roles, h.now())
}

func (h *Hub) setRolesLocked(id, personID, orgID string, roles []string, at time.Time) {
	if h.people[personID] == nil || h.orgs[orgID] == nil {
		return
	}
	roles = dedupe(roles)
	i := slices.IndexFunc(h.members, func(m *membership) bool { return m.personID == personID && m.orgID == orgID })
	switch {
	case i >= 0 && len(roles) == 0:
		h.members = slices.Delete(h.members, i, i+1)
	case i >= 0:
		h.members[i].roles = roles
		h.members[i].updated = at
	case len(roles) > 0:
		if id == "" {
			id = newUUID()
		}
		h.members = append(h.members, &membership{id: id, personID: personID, orgID: orgID, roles: roles, created: at, updated: at})
	}
}

// Person returns the person with the given ID.
func (h *Hub) Person(id string) (Person, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec, ok := h.people[id]
	if !ok {
		return Person{}, false
	}
	return rec.Person, true
}

// Organization returns the organization with the given ID.
func (h *Hub) Organization(id string) (Organization, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec, ok := h.orgs[id]
	if !ok {
		return Organization{}, false
	}
	return cloneOrg(rec.Organization), true
}

// People lists the directory's persons in the order they were added.
func (h *Hub) People() []Person {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Person, 0, len(h.personOrder))
	for _, id := range h.personOrder {
		out = append(out, h.people[id].Person)
	}
	return out
}

// Organizations lists the directory's organizations in the order they were added.
func (h *Hub) Organizations() []Organization {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Organization, 0, len(h.orgOrder))
	for _, id := range h.orgOrder {
		out = append(out, cloneOrg(h.orgs[id].Organization))
	}
	return out
}

// Memberships lists all memberships in the order they were created.
func (h *Hub) Memberships() []Membership {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Membership, 0, len(h.members))
	for _, m := range h.members {
		out = append(out, Membership{ID: m.id, PersonID: m.personID, OrganizationID: m.orgID, Roles: slices.Clone(m.roles)})
	}
	return out
}

// RolesOf returns personID's roles in orgID; nil when not a member.
func (h *Hub) RolesOf(personID, orgID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.membershipLocked(personID, orgID); m != nil {
		return slices.Clone(m.roles)
	}
	return nil
}

func (h *Hub) membershipLocked(personID, orgID string) *membership {
	for _, m := range h.members {
		if m.personID == personID && m.orgID == orgID {
			return m
		}
	}
	return nil
}

// isAdmin reports whether roles administer an organization.
func isAdmin(roles []string) bool {
	return slices.Contains(roles, "owner") || slices.Contains(roles, "admin")
}

func cloneOrg(o Organization) Organization {
	o.Kinds = slices.Clone(o.Kinds)
	return o
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// slugify derives the hub's slug from a name: lower case, runs of anything
// but letters and digits become one underscore.
func slugify(name string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(name) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			gap = false
			continue
		}
		gap = true
	}
	return b.String()
}
