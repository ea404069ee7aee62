package devhub

import (
	"context"
	"net/http"
	"slices"
)

// The JSON shapes of the directory API. Besides what ZAIKIO.md documents they
// carry fields real responses carry too, so that clients prove they ignore
// what they do not know.

type personJSON struct {
	ID             string           `json:"id"`
	FirstName      *string          `json:"first_name"`
	Name           string           `json:"name"`
	FullName       string           `json:"full_name"`
	Email          string           `json:"email"`
	EmailConfirmed bool             `json:"email_confirmed"`
	Locale         string           `json:"locale"`
	TimeZone       string           `json:"time_zone"`
	Pronoun        *string          `json:"pronoun"`
	CountryCode    string           `json:"country_code"`
	TestAccount    bool             `json:"test_account"`
	AvatarURL      *string          `json:"avatar_url"`
	Sections       []string         `json:"sections"`
	CreatedAt      string           `json:"created_at"`
	UpdatedAt      string           `json:"updated_at"`
	Memberships    []membershipJSON `json:"organization_memberships"`
}

type membershipJSON struct {
	ID           string   `json:"id"`
	Roles        []string `json:"roles"`
	CreatedAt    string   `json:"created_at"`
	UpdatedAt    string   `json:"updated_at"`
	Organization orgJSON  `json:"organization"`
}

type orgJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Slug        string   `json:"slug"`
	Connected   bool     `json:"connected"`
	Kinds       []string `json:"kinds"`
	CountryCode string   `json:"country_code"`
	LogoURL     *string  `json:"logo_url"`
	TestAccount bool     `json:"test_account"`
	Sections    []string `json:"sections"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

type orgMemberJSON struct {
	ID        string          `json:"id"`
	Roles     []string        `json:"roles"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Person    memberPersonRef `json:"person"`
}

type memberPersonRef struct {
	ID       string `json:"id"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

func orgToJSON(o *orgRecord) orgJSON {
	kinds := slices.Clone(o.Kinds)
	if kinds == nil {
		kinds = []string{}
	}
	return orgJSON{
		ID: o.ID, Name: o.Name, Slug: o.Slug, Connected: true, Kinds: kinds, CountryCode: o.CountryCode,
		Sections: []string{}, CreatedAt: railsTime(o.created), UpdatedAt: railsTime(o.updated),
	}
}

// authorized authenticates the request and checks that its token speaks for
// the wanted kind of bearer with a scope reading appScope. It answers the
// request itself when not.
func (h *Hub) authorized(w http.ResponseWriter, r *http.Request, person bool, appScope string) (*grant, bool) {
	a, err := h.authenticate(r)
	if err != nil {
		writeErrors(w, http.StatusUnauthorized, "invalid_token")
		return nil, false
	}
	g := a.grant
	// An on-behalf token's bearer is the organization: it may not read
	// the person endpoint.
	if (g.kind == bearerPerson) != person || !permits(g.scopes, appScope) {
		writeErrors(w, http.StatusForbidden, "unpermitted_scope")
		return nil, false
	}
	return g, true
}

func (h *Hub) handlePerson() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, ok := h.authorized(w, r, true, "zaikio.person")
		if !ok {
			return
		}
		h.mu.Lock()
		p, found := h.people[g.personID]
		var out personJSON
		if found {
			out = personJSON{
				ID: p.ID, Name: p.Name, FullName: p.FullName(), Email: p.Email, EmailConfirmed: true,
				Locale: "en", TimeZone: "Europe/Berlin", CountryCode: "DE", Sections: []string{},
				CreatedAt: railsTime(p.created), UpdatedAt: railsTime(p.updated),
				Memberships: []membershipJSON{},
			}
			if p.FirstName != "" {
				fn := p.FirstName
				out.FirstName = &fn
			}
			for _, m := range h.members {
				if m.personID == p.ID {
					out.Memberships = append(out.Memberships, membershipJSON{
						ID: m.id, Roles: slices.Clone(m.roles),
						CreatedAt: railsTime(m.created), UpdatedAt: railsTime(m.updated),
						Organization: orgToJSON(h.orgs[m.orgID]),
					})
				}
			}
		}
		h.mu.Unlock()
		if !found {
			writeErrors(w, http.StatusNotFound, "not_found")
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (h *Hub) handleOrganization() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, ok := h.authorized(w, r, false, "zaikio.organization")
		if !ok {
			return
		}
		h.mu.Lock()
		o, found := h.orgs[g.orgID]
		var out orgJSON
		if found {
			out = orgToJSON(o)
		}
		h.mu.Unlock()
		if !found {
			writeErrors(w, http.StatusNotFound, "not_found")
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (h *Hub) handleMemberships() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, ok := h.authorized(w, r, false, "zaikio.organization_members")
		if !ok {
			return
		}
		h.mu.Lock()
		out := []orgMemberJSON{}
		for _, m := range h.members {
			if m.orgID != g.orgID {
				continue
			}
			p := h.people[m.personID]
			out = append(out, orgMemberJSON{
				ID: m.id, Roles: slices.Clone(m.roles),
				CreatedAt: railsTime(m.created), UpdatedAt: railsTime(m.updated),
				Person: memberPersonRef{ID: p.ID, FullName: p.FullName(), Email: p.Email},
			})
		}
		h.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	}
}

func (h *Hub) handleRoles() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Roles())
	}
}

// handleRevoke revokes the bearer token itself.
func (h *Hub) handleRevoke() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := h.authenticate(r)
		if err != nil {
			writeErrors(w, http.StatusUnauthorized, "invalid_token")
			return
		}
		h.mu.Lock()
		if !a.revoked {
			a.revoked = true
			h.revoked = append(h.revoked, a.jti)
		}
		h.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]string{"access_token_id": a.jti})
	}
}

func (h *Hub) handleRevokedList() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]string{"revoked_token_ids": h.RevokedTokenIDs()})
	}
}

// Revoke revokes the access token with jti, as POST
// /api/v1/revoked_access_tokens does: the hub refuses it from now on and
// lists it at GET /api/v1/revoked_access_tokens. It reports whether the hub
// issued (or minted) that token and had not revoked it before. Use
// [Hub.DeliverRevocation] to tell an app by webhook.
func (h *Hub) Revoke(jti string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.access[jti]
	if !ok || a.revoked {
		return false
	}
	a.revoked = true
	h.revoked = append(h.revoked, jti)
	return true
}

// DeliverRevocation sends the zaikio.revoked_access_token event for jti to
// the app with clientID (see [Hub.Deliver]); its subject is the token's
// bearer (Org/<uuid> or Per/<uuid>) when the hub knows the token.
func (h *Hub) DeliverRevocation(ctx context.Context, clientID, jti string) (*http.Response, error) {
	subject := ""
	h.mu.Lock()
	if a, ok := h.access[jti]; ok {
		subject = "Per/" + a.grant.personID
		if a.grant.kind.orgScoped() {
			subject = "Org/" + a.grant.orgID
		}
	}
	h.mu.Unlock()
	return h.Deliver(ctx, clientID, EventRevokedAccessToken, subject, map[string]string{"access_token_id": jti})
}

// EventRevokedAccessToken is the Loom event the hub sends when an access
// token is revoked; its payload is {"access_token_id": "<jti>"}.
const EventRevokedAccessToken = "zaikio.revoked_access_token"

// RevokedTokenIDs lists the jtis of revoked access tokens, in revocation order.
func (h *Hub) RevokedTokenIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.revoked...)
}
