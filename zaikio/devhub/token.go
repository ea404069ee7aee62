package devhub

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// grant is what a person approved at the authorize endpoint. The code and
// every token descending from it share one grant; a grant never changes.
type grant struct {
	id       string
	clientID string
	personID string // who approved
	orgID    string // org-scoped grants: the organization chosen
	kind     bearerKind
	scopes   []string // unprefixed
	// clientCredentials: issued without a browser; no refresh token.
	clientCredentials bool
}

type authCode struct {
	grant       *grant
	redirectURI string
	challenge   string // S256 code_challenge; "" when none was sent
	expires     time.Time
	used        bool
}

type refreshToken struct {
	grant   *grant
	expires time.Time
}

type accessToken struct {
	jti     string
	grant   *grant
	expires time.Time // the JWT's exp
	revoked bool
}

// oauthError is a token endpoint error (RFC 6749 §5.2).
type oauthError struct {
	status            int
	code, description string
}

func invalidGrant(description string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", description}
}

// tokenResponse is the body of a successful token request.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	RefreshToken string      `json:"refresh_token,omitempty"`
	TokenType    string      `json:"token_type"`
	Scope        string      `json:"scope"`
	Audiences    []string    `json:"audiences"`
	ExpiresIn    any         `json:"expires_in"`
	Bearer       bearerJSON  `json:"bearer"`
	OnBehalfOf   *onBehalfOf `json:"bearer_on_behalf_of,omitempty"`
}

type bearerJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type onBehalfOf struct {
	ID    string   `json:"id"`
	Type  string   `json:"type"`
	Roles []string `json:"roles"`
}

func (h *Hub) handleToken() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form or is too large")
			return
		}
		form := r.PostForm
		// RFC 6749 §3.2: parameters must not repeat.
		for _, k := range []string{"grant_type", "code", "code_verifier", "redirect_uri", "refresh_token", "client_id", "client_secret", "scope"} {
			if len(form[k]) > 1 {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", k+" is given more than once")
				return
			}
		}
		app, usedBasic, ok := h.authenticateClient(r)
		if !ok {
			if usedBasic {
				w.Header().Set("WWW-Authenticate", `Basic realm="Zaikio"`)
			}
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		var (
			m    *minted
			oerr *oauthError
		)
		switch gt := form.Get("grant_type"); gt {
		case "authorization_code":
			m, oerr = h.redeemCode(app, form)
		case "refresh_token":
			m, oerr = h.redeemRefresh(app, form)
		case "client_credentials":
			m, oerr = h.redeemClientCredentials(app, usedBasic, form)
		case "":
			oerr = &oauthError{http.StatusBadRequest, "invalid_request", "grant_type is missing"}
		default:
			oerr = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + gt + " is not supported"}
		}
		if oerr != nil {
			writeOAuthError(w, oerr.status, oerr.code, oerr.description)
			return
		}
		res, err := h.finish(m, baseURL(r))
		if err != nil {
			writeOAuthError(w, http.StatusInternalServerError, "server_error", "signing failed")
			return
		}
		// RFC 6749 §5.1.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, http.StatusOK, res)
	}
}

// authenticateClient checks the client's credentials, from HTTP Basic or from
// the body (the hub accepts both, RFC 6749 §2.3.1, but not both at once).
// Public clients (no secret) name themselves with client_id alone.
func (h *Hub) authenticateClient(r *http.Request) (app App, usedBasic, ok bool) {
	id, secret, usedBasic := r.BasicAuth()
	var ids, secrets []string
	if usedBasic {
		if r.PostForm.Has("client_secret") {
			return App{}, true, false
		}
		ids, secrets = []string{id}, []string{secret}
		// RFC 6749 §2.3.1 form-encodes both before Basic; accept the raw
		// form too, as the hub does for clients that skip the encoding.
		if u, err := url.QueryUnescape(id); err == nil && u != id {
			ids = append(ids, u)
		}
		if u, err := url.QueryUnescape(secret); err == nil && u != secret {
			secrets = append(secrets, u)
		}
	} else {
		ids, secrets = []string{r.PostForm.Get("client_id")}, []string{r.PostForm.Get("client_secret")}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		a, found := h.apps[id]
		if !found {
			continue
		}
		if bodyID := r.PostForm.Get("client_id"); usedBasic && bodyID != "" && bodyID != id {
			return App{}, usedBasic, false
		}
		for _, s := range secrets {
			if a.ClientSecret == "" && s == "" ||
				a.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(s), []byte(a.ClientSecret)) == 1 {
				return a, usedBasic, true
			}
		}
	}
	return App{}, usedBasic, false
}

// redeemCode exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (h *Hub) redeemCode(app App, form url.Values) (*minted, *oauthError) {
	code := form.Get("code")
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.codes[code]
	switch {
	case !ok:
		return nil, invalidGrant("the authorization code is unknown")
	case c.grant.clientID != app.ClientID:
		return nil, invalidGrant("the authorization code was issued to another client")
	case c.used:
		// RFC 6749 §4.1.2: a code used twice revokes what it gave.
		h.revokeGrantLocked(c.grant.id)
		return nil, invalidGrant("the authorization code was already used; its tokens are revoked")
	case !h.now().Before(c.expires):
		return nil, invalidGrant("the authorization code expired")
	}
	if ru := form.Get("redirect_uri"); ru != "" && ru != c.redirectURI {
		return nil, invalidGrant("redirect_uri differs from the authorization request's")
	}
	if c.challenge != "" {
		v := form.Get("code_verifier")
		if v == "" {
			return nil, invalidGrant("code_verifier is missing")
		}
		sum := sha256.Sum256([]byte(v))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if !validVerifier(v) || subtle.ConstantTimeCompare([]byte(want), []byte(c.challenge)) != 1 {
			return nil, invalidGrant("code_verifier does not match the code_challenge")
		}
	}
	c.used = true
	return h.mintLocked(app, c.grant), nil
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// redeemRefresh rotates a refresh token: the old one is gone, a new one (with
// a fresh lifetime) comes with the new access token. A token used twice is
// simply unknown the second time: the hub does not revoke the family, so a
// client that lost a refresh race can recover.
func (h *Hub) redeemRefresh(app App, form url.Values) (*minted, *oauthError) {
	rt := form.Get("refresh_token")
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.refresh[rt]
	switch {
	case !ok:
		return nil, invalidGrant("the refresh token is unknown, used or revoked")
	case t.grant.clientID != app.ClientID:
		return nil, invalidGrant("the refresh token was issued to another client")
	case !h.now().Before(t.expires):
		delete(h.refresh, rt)
		return nil, invalidGrant("the refresh token expired")
	}
	delete(h.refresh, rt)
	return h.mintLocked(app, t.grant), nil
}

// revokeGrantLocked revokes every access and refresh token of a grant.
func (h *Hub) revokeGrantLocked(grantID string) {
	for _, a := range h.access {
		if a.grant.id == grantID && !a.revoked {
			a.revoked = true
			h.revoked = append(h.revoked, a.jti)
		}
	}
	for k, t := range h.refresh {
		if t.grant.id == grantID {
			delete(h.refresh, k)
		}
	}
}

// minted is a token pair decided under the lock and signed after it.
type minted struct {
	app       App
	grant     *grant
	jti       string
	refresh   string
	issued    time.Time
	expires   time.Time // as the response tells it
	tamper    Tamper
	key       *signingKey
	form      ExpiresIn
	roles     []string // on-behalf grants: the person's roles in the org, now
	tamperKey any      // TamperBadSignature: the unpublished key
}

// mintLocked records a new access token and refresh token for g.
func (h *Hub) mintLocked(app App, g *grant) *minted {
	now := h.now()
	h.pruneLocked(now)
	m := &minted{
		app:     app,
		grant:   g,
		jti:     newUUID(),
		refresh: randomHex(32),
		issued:  now,
		expires: now.Add(h.accessTTL),
		key:     h.keys[len(h.keys)-1],
		form:    h.expiresIn,
	}
	if len(h.tamper) > 0 {
		m.tamper, h.tamper = h.tamper[0], h.tamper[1:]
	}
	if m.tamper == TamperBadSignature && h.rogue != nil {
		m.tamperKey = h.rogue
	}
	if g.kind == bearerOnBehalf {
		m.roles = []string{}
		if mem := h.membershipLocked(g.personID, g.orgID); mem != nil {
			m.roles = slices.Clone(mem.roles)
		}
	}
	h.access[m.jti] = &accessToken{jti: m.jti, grant: g, expires: m.jwtTimes().exp}
	if g.clientCredentials {
		m.refresh = ""
	} else {
		h.refresh[m.refresh] = &refreshToken{grant: g, expires: now.Add(h.refreshTTL)}
	}
	return m
}

// pruneLocked forgets what can no longer matter: access tokens and codes long
// expired, refresh tokens past their life.
func (h *Hub) pruneLocked(now time.Time) {
	const grace = time.Hour
	for k, a := range h.access {
		if now.Sub(a.expires) > grace {
			delete(h.access, k)
		}
	}
	for k, c := range h.codes {
		if now.Sub(c.expires) > grace {
			delete(h.codes, k)
		}
	}
	for k, t := range h.refresh {
		if now.After(t.expires) {
			delete(h.refresh, k)
		}
	}
}

// finish signs the access token and builds the response.
func (h *Hub) finish(m *minted, base string) (tokenResponse, error) {
	jwt, err := m.sign(base)
	if err != nil {
		return tokenResponse{}, err
	}
	res := tokenResponse{
		AccessToken:  jwt,
		RefreshToken: m.refresh,
		TokenType:    "bearer",
		Scope:        strings.Join(m.grant.scopes, ","),
		Audiences:    audience(m.app, m.grant.scopes),
		Bearer:       bearerJSON{ID: m.grant.personID, Type: "Person"},
	}
	if m.grant.kind.orgScoped() {
		res.Bearer = bearerJSON{ID: m.grant.orgID, Type: "Organization"}
	}
	if m.grant.kind == bearerOnBehalf {
		res.OnBehalfOf = &onBehalfOf{ID: m.grant.personID, Type: "Person", Roles: m.roles}
	}
	switch m.form {
	case ExpiresInISO8601:
		res.ExpiresIn = m.expires.UTC().Format(time.RFC3339)
	default:
		res.ExpiresIn = int(m.expires.Sub(m.issued) / time.Second)
	}
	return res, nil
}

// RefreshTokenCount reports how many live refresh tokens exist for grants
// the person approved.
func (h *Hub) RefreshTokenCount(personID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	n := 0
	for _, t := range h.refresh {
		if t.grant.personID == personID && now.Before(t.expires) {
			n++
		}
	}
	return n
}

// ExpireRefreshTokens invalidates every refresh token of grants the person
// approved: the next refresh answers invalid_grant and the person must sign
// in again.
func (h *Hub) ExpireRefreshTokens(personID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, t := range h.refresh {
		if t.grant.personID == personID {
			delete(h.refresh, k)
		}
	}
}
