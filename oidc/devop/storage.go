package devop

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the provider's whole state, held in memory: the op package
// asks it for clients, auth requests, tokens and keys.
type storage struct {
	cfg    Config       // Issuer is the validated issuer
	key    *signingKey  // signs every token; never changes
	client *http.Client // sends back-channel logouts

	// mu guards everything below. Hold it briefly: never across network
	// I/O or key generation.
	mu        sync.Mutex
	clients   map[string]Client
	users     map[string]User
	userOrder []string
	requests  map[string]*authRequest // by id
	codes     map[string]string       // code → auth request id
	access    map[string]*accessToken // by id
	refresh   map[string]*refreshToken
	sessions  map[string]*session // by sid
	tamper    []Tamper            // queued for the next sign-ins
	auto      string              // user id AutoLogin signs in, or ""
	sent      []Delivery          // back-channel logouts, newest last
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func newStorage(cfg Config, client *http.Client) (*storage, error) {
	key, err := newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	s := &storage{
		cfg: cfg, key: key, client: client,
		clients: map[string]Client{}, users: map[string]User{},
		requests: map[string]*authRequest{}, codes: map[string]string{},
		access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
		sessions: map[string]*session{},
	}
	for _, c := range cfg.Clients {
		if err := validClient(c); err != nil {
			return nil, err
		}
		if _, ok := s.clients[c.ID]; ok {
			return nil, fmt.Errorf("devop: client %q registered twice", c.ID)
		}
		s.clients[c.ID] = cloneClient(c)
	}
	var users []User
	if cfg.Seed {
		users = seedUsers()
	}
	for _, u := range append(users, cfg.Users...) {
		if err := validUser(u); err != nil {
			return nil, err
		}
		if _, ok := s.users[u.ID]; ok {
			return nil, fmt.Errorf("devop: user %q added twice", u.ID)
		}
		s.users[u.ID] = cloneUser(u)
		s.userOrder = append(s.userOrder, u.ID)
	}
	return s, nil
}

func cloneClient(c Client) Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.ExtraAudiences = slices.Clone(c.ExtraAudiences)
	return c
}

func cloneUser(u User) User {
	u.Groups, u.Roles = slices.Clone(u.Groups), slices.Clone(u.Roles)
	return u
}

// randomID returns 256 random bits, base64url: codes, tokens and ids.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authRequest is one authorization request, from /authorize to the code
// exchange. The storage hands out copies, so that the op package never
// reads a record while a sign-in writes it.
type authRequest struct {
	id, clientID, redirectURI string
	state, nonce, loginHint   string
	scopes, prompt, audience  []string
	responseType              oidc.ResponseType
	responseMode              oidc.ResponseMode
	challenge                 *oidc.CodeChallenge
	tamper                    Tamper // spoils the ID token of the code exchange

	created time.Time

	// Set at sign-in.
	subject, sid string
	authTime     time.Time
	done         bool
	codeAt       time.Time
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes, c.prompt, c.audience = slices.Clone(a.scopes), slices.Clone(a.prompt), slices.Clone(a.audience)
	return &c
}

// accessToken is an issued (opaque) access token, by id.
type accessToken struct {
	id, clientID, subject, sid string
	scopes                     []string
	expiry                     time.Time
	refresh                    string // the refresh token issued with it, or ""
}

// refreshToken is an issued refresh token. It is good once: a refresh
// replaces it (rotation), so a copy used afterwards is unknown.
type refreshToken struct {
	token, clientID, subject, sid string
	scopes, audience, amr         []string
	authTime, expiry              time.Time
	accessID                      string
}

func (t *refreshToken) GetAMR() []string                 { return t.amr }
func (t *refreshToken) GetAudience() []string            { return t.audience }
func (t *refreshToken) GetAuthTime() time.Time           { return t.authTime }
func (t *refreshToken) GetClientID() string              { return t.clientID }
func (t *refreshToken) GetScopes() []string              { return t.scopes }
func (t *refreshToken) GetSubject() string               { return t.subject }
func (t *refreshToken) SetCurrentScopes(scopes []string) { t.scopes = scopes }

// CreateAuthRequest stores a validated /authorize request. Beyond the op
// package's checks it requires PKCE with S256 (RFC 7636, RFC 9700 §2.1.1)
// and refuses prompt=none: signing in always shows the chooser.
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[r.ClientID]
	if !ok {
		return nil, fmt.Errorf("unknown client %q", r.ClientID)
	}
	a := &authRequest{
		id: randomID(), clientID: r.ClientID, redirectURI: r.RedirectURI,
		state: r.State, nonce: r.Nonce, loginHint: r.LoginHint,
		scopes: slices.Clone(r.Scopes), prompt: slices.Clone(r.Prompt),
		audience:     append([]string{r.ClientID}, c.ExtraAudiences...),
		responseType: r.ResponseType, responseMode: r.ResponseMode,
		challenge: &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
	}
	if len(s.tamper) > 0 {
		a.tamper, s.tamper = s.tamper[0], s.tamper[1:]
	}
	s.sweepLocked()
	a.created = time.Now()
	s.requests[a.id] = a
	return a.clone(), nil
}

// requestTTL bounds an unfinished sign-in, so that a long-running dev
// provider does not keep abandoned ones.
const requestTTL = 30 * time.Minute

// sweepLocked forgets abandoned sign-ins and expired tokens.
func (s *storage) sweepLocked() {
	now := time.Now()
	for id, a := range s.requests {
		if now.Sub(a.created) > requestTTL {
			delete(s.requests, id)
		}
	}
	for c, id := range s.codes {
		if _, ok := s.requests[id]; !ok {
			delete(s.codes, c)
		}
	}
	for id, t := range s.access {
		if now.After(t.expiry) {
			delete(s.access, id)
		}
	}
	for tok, t := range s.refresh {
		if now.After(t.expiry) {
			delete(s.refresh, tok)
		}
	}
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return nil, errors.New("unknown auth request")
	}
	return a.clone(), nil
}

// AuthRequestByCode finds a code's request while the code is fresh, and
// tells the token endpoint's tamper knob which ID token it may spoil.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[s.codes[code]]
	if !ok || !a.done {
		return nil, errors.New("unknown code")
	}
	if time.Since(a.codeAt) > CodeTTL {
		return nil, errors.New("code expired")
	}
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		x.tamper = a.tamper
	}
	return a.clone(), nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errors.New("unknown auth request")
	}
	a.codeAt = time.Now()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest ends a request once its code is exchanged, so that the
// code is good once.
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for c, rid := range s.codes {
		if rid == id {
			delete(s.codes, c)
		}
	}
	return nil
}

// signIn completes auth request id for user: a new provider session (sid)
// that remembers the client, for back-channel logout.
func (s *storage) signIn(id, user string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.done {
		return nil, errors.New("unknown or finished sign-in")
	}
	if _, ok := s.users[user]; !ok {
		return nil, errors.New("unknown user")
	}
	sid := randomID()
	s.sessions[sid] = &session{sid: sid, user: user, clients: []string{a.clientID}, started: time.Now()}
	a.subject, a.sid, a.authTime, a.done = user, sid, time.Now(), true
	return a.clone(), nil
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessLocked(req, "")
	return t.id, t.expiry, nil
}

func (s *storage) newAccessLocked(req op.TokenRequest, refresh string) *accessToken {
	t := &accessToken{id: randomID(), subject: req.GetSubject(), scopes: slices.Clone(req.GetScopes()),
		expiry: time.Now().Add(s.cfg.AccessTTL), refresh: refresh}
	switch r := req.(type) {
	case *authRequest:
		t.clientID, t.sid = r.clientID, r.sid
	case *refreshToken:
		t.clientID, t.sid = r.clientID, r.sid
	}
	s.access[t.id] = t
	return t
}

// CreateAccessAndRefreshTokens issues a refresh token with an access
// token. For a refresh (currentRefreshToken set) the old token is deleted
// first: refresh tokens rotate and are good once (RFC 9700 §4.14.2). A
// token already used — a lost race or a replay — is invalid_grant.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := &refreshToken{token: randomID(), subject: req.GetSubject(), scopes: slices.Clone(req.GetScopes()),
		audience: slices.Clone(req.GetAudience()), expiry: time.Now().Add(s.cfg.RefreshTTL)}
	switch r := req.(type) {
	case *authRequest:
		rt.clientID, rt.sid, rt.amr, rt.authTime = r.clientID, r.sid, r.GetAMR(), r.authTime
	case *refreshToken:
		old, ok := s.refresh[current]
		if !ok || old.clientID != r.clientID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		delete(s.refresh, current)
		delete(s.access, old.accessID)
		rt.clientID, rt.sid, rt.amr, rt.authTime = r.clientID, r.sid, r.amr, r.authTime
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if rt.sid != "" && s.sessions[rt.sid] == nil {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("session ended")
	}
	at := s.newAccessLocked(req, rt.token)
	rt.accessID = at.id
	s.refresh[rt.token] = rt
	return at.id, rt.token, at.expiry, nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[token]
	if !ok || time.Now().After(t.expiry) {
		return nil, errors.New("unknown or expired refresh token")
	}
	c := *t
	c.scopes, c.audience, c.amr = slices.Clone(t.scopes), slices.Clone(t.audience), slices.Clone(t.amr)
	return &c, nil
}

// TerminateSession ends every session of userID (end_session without a
// request the storage can read).
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.terminate(ctx, userID, "")
}

// TerminateSessionFromRequest ends the session named by the id_token_hint's
// sid (or every session of its subject) and tells the session's clients
// through the back channel (RP-Initiated Logout 1.0 §2, Back-Channel Logout
// 1.0 §2.7).
func (s *storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	sid := ""
	if r.IDTokenHintClaims != nil {
		sid, _ = r.IDTokenHintClaims.Claims["sid"].(string)
	}
	if err := s.terminate(ctx, r.UserID, sid); err != nil {
		return "", err
	}
	return r.RedirectURI, nil
}

// RevokeToken revokes a refresh token or an access token of clientID (the
// op package passes a refresh token's value or an access token's id), with
// the tokens issued beside it (RFC 7009 §2.1). Unknown tokens are not an
// error (RFC 7009 §2.2).
func (s *storage) RevokeToken(ctx context.Context, token, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.refresh[token]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		delete(s.refresh, token)
		delete(s.access, t.accessID)
	}
	if t, ok := s.access[token]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		delete(s.access, token)
		delete(s.refresh, t.refresh)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[token]
	if !ok || t.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.subject, t.token, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	if s.cfg.AdvertiseHS256 {
		return []jose.SignatureAlgorithm{jose.RS256, jose.HS256}, nil
	}
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{s.key.public()}, nil }

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("unknown client %q", id)
	}
	return &opClient{c: cloneClient(c), idTokenTTL: s.cfg.IDTokenTTL}, nil
}

// AuthorizeClientIDSecret compares the secret in constant time; a public
// client has no secret to give.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if !ok || c.Secret == "" || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("client authentication failed")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the op package;
// SetUserinfoFromRequest fills ID tokens.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills an ID token's claims: those of the scopes,
// and the provider session (sid) it belongs to.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.userinfo(info, req.GetSubject(), scopes); err != nil {
		return err
	}
	switch r := req.(type) {
	case *authRequest:
		info.AppendClaims("sid", r.sid)
	case *refreshToken:
		info.AppendClaims("sid", r.sid)
	}
	return nil
}

// SetUserinfoFromToken answers /userinfo for a live access token.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expiry) {
		return errors.New("access token invalid or expired")
	}
	return s.userinfo(info, subject, t.scopes)
}

func (s *storage) userinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return errors.New("unknown user")
	}
	info.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.Name, info.GivenName, info.FamilyName = u.displayName(), u.GivenName, u.FamilyName
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.Email, oidc.Bool(u.Email != "")
		case ScopeGroups:
			info.AppendClaims("groups", nonNil(u.Groups))
			info.AppendClaims("roles", nonNil(u.Roles))
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (u User) displayName() string {
	if u.Name != "" {
		return u.Name
	}
	switch {
	case u.GivenName != "" && u.FamilyName != "":
		return u.GivenName + " " + u.FamilyName
	case u.GivenName != "":
		return u.GivenName
	}
	return u.FamilyName
}

// Introspection, JWT profile grants and private access-token claims are
// not offered: access tokens are opaque and only /userinfo reads them.
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not offered")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not offered")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not offered")
}

func (s *storage) Health(context.Context) error { return nil }
