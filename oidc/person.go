package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Person is who signed in, as the provider's claims describe them. The
// email is informational and never proof of identity: the person is
// Issuer + Subject.
type Person struct {
	// ID is hubgate's person id: PersonID(Issuer, Subject).
	ID              string
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	Name            string // full name
	GivenName       string
	FamilyName      string
	Locale          string
	// Memberships come from Config.Mapping, sorted by organization key.
	Memberships []Membership
}

// DisplayName is the full name, or given and family name, or the email.
func (p *Person) DisplayName() string {
	if p.Name != "" {
		return p.Name
	}
	if n := strings.TrimSpace(p.GivenName + " " + p.FamilyName); n != "" {
		return n
	}
	return p.Email
}

// RolesIn returns the person's roles in organization orgID (nil if not a
// member).
func (p *Person) RolesIn(orgID string) []string {
	for _, m := range p.Memberships {
		if m.Organization.ID == orgID {
			return m.Roles
		}
	}
	return nil
}

// Membership is one organization a person belongs to, with their roles in
// it, as the mapping read them from a claim.
type Membership struct {
	Organization Organization
	Roles        []string // sorted, de-duplicated
}

// Organization is an organization named by a claim value.
type Organization struct {
	// ID is hubgate's organization id: OrgID(issuer, Key).
	ID string
	// Key is the organization's name in the claim, e.g. "acme" of
	// "acme-admins".
	Key string
	// Name is the display name (the rule's Name, else the key).
	Name string
	// Legacy is the legacy organization id the rule maps this organization
	// to directly, or "" when it is linked like any other (org claim or
	// admin API).
	Legacy string
}

// PersonID is hubgate's person id for subject sub of issuer iss: a UUID
// (version 8, RFC 9562 §5.8) made of the first 122 bits of
// SHA-256("hubgate/oidc/person" ‖ len(iss) ‖ iss ‖ sub). It is stable for
// as long as the issuer and the provider's subject are, never depends on
// the email, never repeats across issuers, and has the shape of a Zaikio
// person id, so that links, sessions, headers and the admin API take it
// unchanged. It cannot be reversed into iss and sub; Person keeps both.
func PersonID(iss, sub string) string { return derivedUUID("hubgate/oidc/person", iss, sub) }

// OrgID is hubgate's organization id for organization key of issuer iss,
// made like PersonID ("hubgate/oidc/org"): what org links store, and what
// an operator links by hand through the admin API.
func OrgID(iss, key string) string { return derivedUUID("hubgate/oidc/org", iss, key) }

func derivedUUID(domain, iss, name string) string {
	h := sha256.New()
	h.Write([]byte(domain))
	// The length makes the split between iss and name unambiguous.
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(iss))))
	h.Write([]byte(iss))
	h.Write([]byte(name))
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // variant 10 (RFC 9562 §4.1)
	x := hex.EncodeToString(b)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// person builds the Person of verified claims.
func (c *Client) person(iss string, claims map[string]any) (*Person, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	p := &Person{
		ID: PersonID(iss, sub), Issuer: iss, Subject: sub,
		Email: str("email"), Name: str("name"), GivenName: str("given_name"), FamilyName: str("family_name"),
		Locale: str("locale"),
	}
	// Some providers send email_verified as the string "true".
	switch v := claims["email_verified"].(type) {
	case bool:
		p.EmailVerified = v
	case string:
		p.EmailVerified = v == "true"
	}
	p.Memberships = c.mapping.apply(iss, claims)
	return p, nil
}

// UserInfo reads the person an access token belongs to from the userinfo
// endpoint (OpenID Connect Core §5.3), for revalidation when a refresh
// brought no ID token. A refused token is ErrInvalidGrant.
func (c *Client) UserInfo(ctx context.Context, accessToken string) (*Person, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := c.userinfo(ctx, m, accessToken, "")
	if err != nil {
		return nil, err
	}
	return c.person(m.issuer, claims)
}

// userinfo fetches the userinfo claims; when sub is given the answer must
// name it (OpenID Connect Core §5.3.4: a token substitution otherwise).
func (c *Client) userinfo(ctx context.Context, m *meta, accessToken, sub string) (map[string]any, error) {
	if m.userinfo == "" {
		return nil, fmt.Errorf("%w: no userinfo_endpoint in discovery", ErrUnsupported)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.userinfo, nil)
	if err != nil {
		return nil, &Error{Op: "userinfo", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Op: "userinfo", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &Error{Op: "userinfo", Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Op: "userinfo", Status: resp.StatusCode}
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/jwt") {
		// A signed userinfo answer needs the provider's keys and its own
		// checks; we ask for and accept JSON only.
		return nil, &Error{Op: "userinfo", Status: resp.StatusCode, Code: "signed userinfo answers are not supported"}
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, &Error{Op: "userinfo", Status: resp.StatusCode, Err: fmt.Errorf("decode: %w", err)}
	}
	got, _ := claims["sub"].(string)
	if got == "" || (sub != "" && got != sub) {
		return nil, fmt.Errorf("%w: userinfo sub %q, want %q", ErrSubject, got, sub)
	}
	return claims, nil
}
