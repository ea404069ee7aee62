package devhub

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authRequest is an authorization request whose client and redirect URI the
// hub trusts (RFC 6749 §4.1.1).
type authRequest struct {
	app         App
	redirectURI string
	state       string
	hasState    bool
	scopes      grantedScopes
	challenge   string // S256 code_challenge, "" when none
}

// authError is why an authorization request goes back to the client
// (RFC 6749 §4.1.2.1).
type authError struct {
	code, description string
}

// controlled are the parameters the sign-in page adds itself; everything else
// of the original request travels along in hidden fields.
func controlled(name string) bool {
	switch name {
	case "person", "organization", "action":
		return true
	}
	return strings.HasPrefix(name, "person[") || strings.HasPrefix(name, "organization[")
}

func (h *Hub) handleAuthorize() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.authorize(w, r, r.URL.Query(), false)
	}
}

// handleDecision takes the sign-in page's forms: approve as a person, deny,
// or sign up.
func (h *Hub) handleDecision() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			h.errorPage(w, http.StatusBadRequest, "en", "The form could not be read.")
			return
		}
		h.authorize(w, r, r.PostForm, true)
	}
}

func (h *Hub) authorize(w http.ResponseWriter, r *http.Request, q url.Values, decision bool) {
	lang := pickLang(q.Get("lang"))
	req, msg := h.authTarget(q)
	if msg != "" {
		// Never redirect to an unverified client or URI (RFC 6749 §4.1.2.1).
		h.errorPage(w, http.StatusBadRequest, lang, msg)
		return
	}
	if f, ok := h.takeFailure(EndpointAuthorize); ok {
		if !sleep(r.Context(), f.Delay) {
			return
		}
		if !f.delayOnly() {
			code := f.Error
			if code == "" {
				code = "access_denied"
			}
			e := authError{code: code}
			if code == "invalid_scope" {
				e.description = "malformed_scope"
			}
			req.redirectError(w, r, e)
			return
		}
	}
	if e := req.validate(q); e != nil {
		req.redirectError(w, r, *e)
		return
	}
	if !decision {
		h.mu.Lock()
		auto := h.auto
		h.mu.Unlock()
		if auto.personID != "" {
			code, msg := h.issueCode(req, auto.personID, auto.orgID, true)
			if msg != "" {
				h.errorPage(w, http.StatusBadRequest, lang, "Auto-approve: "+msg)
				return
			}
			req.redirectCode(w, r, code)
			return
		}
		h.renderAuthorize(w, http.StatusOK, req, q, "")
		return
	}
	switch q.Get("action") {
	case "deny":
		req.redirectError(w, r, authError{code: "access_denied"})
	case "signup":
		code, msg := h.signup(req, q)
		if msg != "" {
			h.renderAuthorize(w, http.StatusUnprocessableEntity, req, q, msg)
			return
		}
		req.redirectCode(w, r, code)
	case "approve", "":
		code, msg := h.issueCode(req, q.Get("person"), q.Get("organization"), false)
		if msg != "" {
			h.renderAuthorize(w, http.StatusBadRequest, req, q, msg)
			return
		}
		req.redirectCode(w, r, code)
	default:
		h.renderAuthorize(w, http.StatusBadRequest, req, q, "Unknown action.")
	}
}

// authTarget finds the client and checks the redirect URI. A non-empty
// message means neither can be trusted.
func (h *Hub) authTarget(q url.Values) (*authRequest, string) {
	if len(q["client_id"]) > 1 || len(q["redirect_uri"]) > 1 {
		return nil, "client_id and redirect_uri may be given only once."
	}
	h.mu.Lock()
	app, ok := h.apps[q.Get("client_id")]
	h.mu.Unlock()
	if !ok {
		return nil, "The client_id is missing or unknown."
	}
	ru := q.Get("redirect_uri")
	if ru == "" || !slices.Contains(app.RedirectURIs, ru) {
		return nil, "The redirect_uri is missing or is not registered for this app."
	}
	return &authRequest{app: app, redirectURI: ru, state: q.Get("state"), hasState: q.Has("state")}, ""
}

// validate checks the rest of the request; failures go back to the client.
func (req *authRequest) validate(q url.Values) *authError {
	for _, k := range []string{"response_type", "scope", "state", "code_challenge", "code_challenge_method"} {
		if len(q[k]) > 1 {
			return &authError{"invalid_request", k + " is given more than once"}
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return &authError{code: "unsupported_response_type"}
	}
	s, err := parseScope(q.Get("scope"))
	if err != nil {
		return &authError{"invalid_scope", "malformed_scope"}
	}
	req.scopes = s
	// RFC 7636 §4.3: a missing method means plain, which the hub refuses.
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return &authError{"invalid_request", "code_challenge_method without code_challenge"}
	case challenge == "" && req.app.ClientSecret == "":
		return &authError{"invalid_request", "code_challenge is required for public clients"}
	case challenge == "":
	case method != "S256":
		return &authError{"invalid_request", "code_challenge_method must be S256"}
	case !validChallenge(challenge):
		return &authError{"invalid_request", "code_challenge is not a base64url SHA-256"}
	}
	req.challenge = challenge
	return nil
}

// validChallenge checks that an S256 challenge is 43 base64url characters.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for _, r := range c {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (req *authRequest) redirect(w http.ResponseWriter, r *http.Request, params url.Values) {
	u, err := url.Parse(req.redirectURI) // registered, so it parses
	if err != nil {
		http.Error(w, "bad redirect URI", http.StatusInternalServerError)
		return
	}
	v := u.Query()
	for k, vs := range params {
		v[k] = vs
	}
	if req.hasState {
		v.Set("state", req.state)
	}
	u.RawQuery = v.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (req *authRequest) redirectError(w http.ResponseWriter, r *http.Request, e authError) {
	v := url.Values{"error": {e.code}}
	if e.description != "" {
		v.Set("error_description", e.description)
	}
	req.redirect(w, r, v)
}

func (req *authRequest) redirectCode(w http.ResponseWriter, r *http.Request, code string) {
	req.redirect(w, r, url.Values{"code": {code}})
}

// issueCode records what personID approved and returns a fresh code. For
// organization scopes, orgID is the chosen organization; auto lets an empty
// orgID fall back to the pre-selected or first fitting organization. A
// non-empty message says why the approval is impossible.
func (h *Hub) issueCode(req *authRequest, personID, orgID string, auto bool) (string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.issueCodeLocked(req, personID, orgID, auto)
}

func (h *Hub) issueCodeLocked(req *authRequest, personID, orgID string, auto bool) (string, string) {
	if h.people[personID] == nil {
		return "", "No such person."
	}
	g := &grant{
		id:       newUUID(),
		clientID: req.app.ClientID,
		personID: personID,
		kind:     req.scopes.kind,
		scopes:   slices.Clone(req.scopes.scopes),
	}
	if g.kind.orgScoped() {
		pre := req.scopes.orgID
		if orgID == "" && auto {
			orgID = pre
			if orgID == "" {
				for _, m := range h.members {
					if m.personID == personID {
						orgID = m.orgID
						break
					}
				}
			}
		}
		if orgID == "" {
			return "", "Choose an organization."
		}
		if pre != "" && !strings.EqualFold(orgID, pre) {
			return "", "This request pre-selects another organization."
		}
		m := h.membershipLocked(personID, strings.ToLower(orgID))
		if m == nil {
			return "", "The person is not a member of that organization."
		}
		if pre != "" && !isAdmin(m.roles) {
			return "", "Only owners and admins may grant access to a pre-selected organization."
		}
		g.orgID = m.orgID
	}
	// Approving grants: the app may later ask for these scopes with client
	// credentials.
	if g.kind.orgScoped() {
		h.recordGrantLocked(g.clientID, "Org/"+g.orgID, g.scopes)
	}
	h.recordGrantLocked(g.clientID, "Per/"+personID, g.scopes)
	code := randomURL(32)
	h.codes[code] = &authCode{
		grant:       g,
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		expires:     h.now().Add(CodeTTL),
	}
	return code, ""
}

// signup creates a person (and for organization scopes their organization,
// which they own) from the sign-up form and approves as them.
func (h *Hub) signup(req *authRequest, q url.Values) (string, string) {
	p := Person{
		FirstName: strings.TrimSpace(q.Get("person[first_name]")),
		Name:      strings.TrimSpace(q.Get("person[name]")),
		Email:     strings.TrimSpace(q.Get("person[email]")),
	}
	if p.Name == "" {
		return "", "Please enter your last name."
	}
	if at := strings.Index(p.Email, "@"); at < 1 || at == len(p.Email)-1 || strings.ContainsAny(p.Email, " \t\r\n") {
		return "", "Please enter a valid email address."
	}
	var o Organization
	if req.scopes.kind.orgScoped() {
		if req.scopes.orgID != "" {
			return "", "A new account cannot join a pre-selected organization."
		}
		o = Organization{
			Name:        strings.TrimSpace(q.Get("organization[name]")),
			CountryCode: strings.ToUpper(strings.TrimSpace(q.Get("organization[country_code]"))),
			Kinds:       dedupe(q["organization[kinds][]"]),
		}
		if o.Name == "" {
			return "", "Please enter your organization's name."
		}
		o.ID, o.Slug = newUUID(), slugify(o.Name)
		if o.CountryCode == "" {
			o.CountryCode = "DE"
		}
	}
	p.ID = newUUID()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.personOrder {
		if strings.EqualFold(h.people[id].Email, p.Email) {
			return "", "An account with this email exists: sign in instead."
		}
	}
	now := h.now()
	h.putPersonLocked(p, now)
	orgID := ""
	if o.ID != "" {
		h.putOrgLocked(o, now)
		h.setRolesLocked("", p.ID, o.ID, []string{"owner"}, now)
		orgID = o.ID
	}
	return h.issueCodeLocked(req, p.ID, orgID, false)
}

// pickLang returns the page language: de or en.
func pickLang(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "de") {
		return "de"
	}
	return "en"
}
