package devhub

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Grants and the client credentials flow.
//
// A person or an organization grants an app scopes by approving its redirect
// flow (the hub remembers every approval), or a test says so with
// [Hub.Grant]. A confidential app may then get tokens without a browser:
// POST /oauth/access_token with grant_type=client_credentials, HTTP Basic
// (the hub accepts no other client authentication for this grant), and
// scope=Org/<uuid>.<app>.<scope>.<r|w|rw> (or Per/<uuid>., or
// Per/<uuid>>Org/<uuid>. for an organization token naming the person who
// acts for it), comma-separated, all for one bearer. Every scope must be
// covered by what that bearer granted the app, else 400 invalid_scope with
// error_description ungranted_scope; on-behalf tokens need the
// organization's grant, the person's own connection to the app and their
// membership. The answer has no refresh token (Zaikio dropped it in 2022).

// perm is a scope's permission bits: r = 1, w = 2, rw = 3.
type perm uint8

func parsePerm(s string) perm {
	switch s {
	case "r":
		return 1
	case "w":
		return 2
	case "rw":
		return 3
	}
	return 0
}

// grantKey names what one bearer granted one app: "client|Per/<uuid>" or
// "client|Org/<uuid>".
func grantKey(clientID, bearer string) string { return clientID + "|" + bearer }

// recordGrantLocked remembers that bearer granted clientID the unprefixed
// scopes ("app.scope.perm"), adding to what it granted before.
func (h *Hub) recordGrantLocked(clientID, bearer string, scopes []string) {
	k := grantKey(clientID, bearer)
	m := h.grants[k]
	if m == nil {
		m = map[string]perm{}
		h.grants[k] = m
	}
	for _, s := range scopes {
		i := strings.LastIndexByte(s, '.')
		if i > 0 {
			m[s[:i]] |= parsePerm(s[i+1:])
		}
	}
}

// Grant records that a person ("Per/<uuid>") or an organization
// ("Org/<uuid>") granted the app with clientID the scopes
// ("<app>.<scope>.<r|w|rw>"), as approving its redirect flow would, so that
// the app may ask for them with client credentials.
func (h *Hub) Grant(clientID, bearer string, scopes ...string) error {
	typ, id, _ := strings.Cut(bearer, "/")
	id = strings.ToLower(id)
	for _, s := range scopes {
		if !validScopeRest(s) {
			return fmt.Errorf("devhub: grant: scope %q is not <app>.<scope>.<r|w|rw>", s)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.apps[clientID]; !ok {
		return fmt.Errorf("devhub: grant: no app with client id %q", clientID)
	}
	switch {
	case typ == "Per" && h.people[id] != nil:
	case typ == "Org" && h.orgs[id] != nil:
	default:
		return fmt.Errorf("devhub: grant: bearer %q is not Per/<id> or Org/<id> of a known person or organization", bearer)
	}
	h.recordGrantLocked(clientID, typ+"/"+id, scopes)
	return nil
}

// Grants lists what bearers granted the app with clientID, as
// "Per/<uuid>" or "Org/<uuid>" → sorted "<app>.<scope>.<perm>" scopes.
func (h *Hub) Grants(clientID string) map[string][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]string{}
	for k, m := range h.grants {
		c, bearer, _ := strings.Cut(k, "|")
		if c != clientID {
			continue
		}
		for s, p := range m {
			out[bearer] = append(out[bearer], s+"."+[]string{"", "r", "w", "rw"}[p])
		}
		slices.Sort(out[bearer])
	}
	return out
}

// validScopeRest checks "app.scope.perm".
func validScopeRest(s string) bool {
	parts := strings.Split(s, ".")
	return len(parts) == 3 && isName(parts[0]) && isName(parts[1]) && parsePerm(parts[2]) != 0
}

// ccRequest is a parsed client credentials scope parameter.
type ccRequest struct {
	kind            bearerKind
	personID, orgID string
	scopes          []string // unprefixed, deduplicated, in request order
}

// parseCCScope reads Org/<uuid>.…, Per/<uuid>.… or Per/<uuid>>Org/<uuid>.…
// entries, all for one bearer.
func parseCCScope(s string) (ccRequest, error) {
	var req ccRequest
	if s == "" {
		return req, errMalformedScope
	}
	for i, item := range strings.Split(s, ",") {
		bearer, rest, ok := strings.Cut(item, ".")
		if !ok || !validScopeRest(rest) {
			return req, errMalformedScope
		}
		var r ccRequest
		behalf, main, onBehalf := strings.Cut(bearer, ">")
		if !onBehalf {
			main = behalf
		}
		typ, id, _ := strings.Cut(main, "/")
		switch {
		case !onBehalf && typ == "Per" && isUUID(id):
			r = ccRequest{kind: bearerPerson, personID: strings.ToLower(id)}
		case !onBehalf && typ == "Org" && isUUID(id):
			r = ccRequest{kind: bearerOrg, orgID: strings.ToLower(id)}
		case onBehalf && typ == "Org" && isUUID(id) && strings.HasPrefix(behalf, "Per/") && isUUID(behalf[4:]):
			r = ccRequest{kind: bearerOnBehalf, personID: strings.ToLower(behalf[4:]), orgID: strings.ToLower(id)}
		default:
			return req, errMalformedScope
		}
		if i == 0 {
			req = r
		} else if r.kind != req.kind || r.personID != req.personID || r.orgID != req.orgID {
			return req, errMalformedScope // all scopes must share one bearer
		}
		if !slices.Contains(req.scopes, rest) {
			req.scopes = append(req.scopes, rest)
		}
	}
	return req, nil
}

// redeemClientCredentials answers grant_type=client_credentials (RFC 6749
// §4.4) as the hub does; see the comment at the top of this file.
func (h *Hub) redeemClientCredentials(app App, usedBasic bool, form url.Values) (*minted, *oauthError) {
	if !usedBasic {
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "client_credentials requires HTTP Basic client authentication"}
	}
	if app.ClientSecret == "" {
		return nil, &oauthError{http.StatusBadRequest, "unauthorized_client", "client_credentials is only for confidential apps"}
	}
	req, err := parseCCScope(form.Get("scope"))
	if err != nil {
		return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "malformed_scope"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.grantedLocked(app.ClientID, req) {
		return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "ungranted_scope"}
	}
	g := &grant{
		id: newUUID(), clientID: app.ClientID, personID: req.personID, orgID: req.orgID,
		kind: req.kind, scopes: req.scopes, clientCredentials: true,
	}
	return h.mintLocked(app, g), nil
}

// grantedLocked reports whether the bearer of req granted clientID every
// scope of req.
func (h *Hub) grantedLocked(clientID string, req ccRequest) bool {
	bearer := "Per/" + req.personID
	if req.kind != bearerPerson {
		bearer = "Org/" + req.orgID
	}
	if req.kind == bearerOnBehalf {
		// The acting person must be connected to the app and belong to
		// the organization.
		if len(h.grants[grantKey(clientID, "Per/"+req.personID)]) == 0 || h.membershipLocked(req.personID, req.orgID) == nil {
			return false
		}
	}
	granted := h.grants[grantKey(clientID, bearer)]
	for _, s := range req.scopes {
		i := strings.LastIndexByte(s, '.')
		want := parsePerm(s[i+1:])
		if granted[s[:i]]&want != want {
			return false
		}
	}
	return true
}

// audience is the aud of a token (and the audiences of its response): the
// app it is issued to, then the other apps whose scopes it carries, as the
// hub names them (Zaikio's scope guide calls a scope's first part its
// AUDIENCE_NAME; zaikio-jwt_auth's tests carry aud [caller, app]). The
// hub's own scopes (zaikio., directory.) add no audience.
func audience(app App, scopes []string) []string {
	aud := []string{app.Name}
	for _, s := range scopes {
		name, _, _ := strings.Cut(s, ".")
		if name != "zaikio" && name != "directory" && !slices.Contains(aud, name) {
			aud = append(aud, name)
		}
	}
	return aud
}
