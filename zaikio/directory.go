package zaikio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Person is the hub's person object (GET /api/v1/person). Unknown fields are
// ignored; the email is informational and never proof of identity.
type Person struct {
	ID             string       `json:"id"`
	FirstName      string       `json:"first_name"` // may be null → ""
	Name           string       `json:"name"`       // last name
	FullName       string       `json:"full_name"`
	Email          string       `json:"email"`
	EmailConfirmed bool         `json:"email_confirmed"`
	Locale         string       `json:"locale"`
	TimeZone       string       `json:"time_zone"`
	Memberships    []Membership `json:"organization_memberships"`
}

// DisplayName is the full name, or first and last name, or the email.
func (p *Person) DisplayName() string {
	if p.FullName != "" {
		return p.FullName
	}
	if n := strings.TrimSpace(p.FirstName + " " + p.Name); n != "" {
		return n
	}
	return p.Email
}

// RolesIn returns the person's roles in organization orgID (nil if not a member).
func (p *Person) RolesIn(orgID string) []string {
	for _, m := range p.Memberships {
		if m.Organization.ID == orgID {
			return m.Roles
		}
	}
	return nil
}

// Membership is one organization membership of a person.
type Membership struct {
	ID           string       `json:"id"`
	Roles        []string     `json:"roles"`
	Organization Organization `json:"organization"`
}

// Organization is the hub's organization object.
type Organization struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Slug        string   `json:"slug"`
	Connected   bool     `json:"connected"`
	Kinds       []string `json:"kinds"`
	CountryCode string   `json:"country_code"`
}

// PersonScope is the scope that reads the signed-in person.
const PersonScope = "zaikio.person.r"

// Person fetches the person an access token (person bearer, zaikio.person.r)
// belongs to, with their organization memberships.
func (c *Client) Person(ctx context.Context, accessToken string) (*Person, error) {
	var p Person
	if err := c.getJSON(ctx, "person", "/api/v1/person", accessToken, &p); err != nil {
		return nil, err
	}
	if p.ID == "" {
		return nil, &Error{Op: "person", Status: http.StatusOK, Code: "no id"}
	}
	return &p, nil
}

// Organization fetches the organization an organization token belongs to.
func (c *Client) Organization(ctx context.Context, accessToken string) (*Organization, error) {
	var o Organization
	if err := c.getJSON(ctx, "organization", "/api/v1/organization", accessToken, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

func (c *Client) getJSON(ctx context.Context, op, path, accessToken string, dst any) error {
	status, body, err := c.do(ctx, op, http.MethodGet, c.url(path), nil, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+accessToken)
	})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return oauthError(op, status, body)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return &Error{Op: op, Status: status, Err: fmt.Errorf("decode: %w", err)}
	}
	return nil
}

// Revoke revokes an access token at the hub (POST
// /api/v1/revoked_access_tokens, authenticated by the token itself). The hub
// has no logout endpoint: logging out is revoking our token and forgetting
// our session. An already invalid token is not an error.
func (c *Client) Revoke(ctx context.Context, accessToken string) error {
	status, body, err := c.do(ctx, "revoke", http.MethodPost, c.url("/api/v1/revoked_access_tokens"), []byte{}, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+accessToken)
	})
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusCreated, status == http.StatusOK, status == http.StatusUnauthorized:
		return nil
	}
	return oauthError("revoke", status, body)
}

// CheckKeys fetches the hub's published signing keys and reports an error
// unless there is at least one: readiness means sign-ins can be verified. A
// success is remembered for a minute so that probes do not hammer the hub.
func (c *Client) CheckKeys(ctx context.Context) error {
	if t := c.keysOK.Load(); t != 0 && c.cfg.Now().Sub(time.Unix(0, t)) < time.Minute {
		return nil
	}
	status, body, err := c.do(ctx, "keys", http.MethodGet, c.url("/api/v1/jwt_public_keys"), nil, func(*http.Request) {})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return oauthError("keys", status, body)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
		return &Error{Op: "keys", Status: status, Code: "no keys published"}
	}
	c.keysOK.Store(c.cfg.Now().UnixNano())
	return nil
}
