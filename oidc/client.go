package oidc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Sentinel errors; *Error and the verification errors unwrap to them.
var (
	// ErrInvalidGrant: the provider refused a code or refresh token (or
	// answered 401 or 403 to userinfo with our access token); the person
	// must sign in again.
	ErrInvalidGrant = errors.New("oidc: invalid_grant")
	// ErrUnavailable: the provider could not be reached, answered 5xx or
	// 429, or its discovery document or keys could not be read. Callers
	// show "try again later".
	ErrUnavailable = errors.New("oidc: provider unavailable")
	// ErrInvalidToken: an ID token, a userinfo answer or a logout token
	// failed verification. The errors below say which check refused it.
	ErrInvalidToken = errors.New("oidc: token failed verification")
	// ErrUnsupported: the provider does not offer what was asked (no
	// end_session_endpoint, no revocation_endpoint).
	ErrUnsupported = errors.New("oidc: not offered by the provider")
)

// One error per check of OpenID Connect Core §3.1.3.7, each wrapping
// ErrInvalidToken, so that a refusal can be told apart in logs and tests.
var (
	ErrIssuer    = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	ErrAudience  = fmt.Errorf("%w: not issued to this client", ErrInvalidToken)
	ErrAZP       = fmt.Errorf("%w: authorized party is not this client", ErrInvalidToken)
	ErrExpired   = fmt.Errorf("%w: expired", ErrInvalidToken)
	ErrNonce     = fmt.Errorf("%w: nonce does not match the flow's", ErrInvalidToken)
	ErrAlgorithm = fmt.Errorf("%w: signing algorithm not accepted", ErrInvalidToken)
	ErrSignature = fmt.Errorf("%w: bad signature or unknown key", ErrInvalidToken)
	// ErrSubject: a userinfo answer or a refreshed ID token names another
	// subject than the one signed in (OpenID Connect Core §5.3.4, §12.2).
	ErrSubject = fmt.Errorf("%w: subject does not match", ErrInvalidToken)
	// ErrLogoutToken: a back-channel logout token was refused.
	ErrLogoutToken = fmt.Errorf("%w: logout token refused", ErrInvalidToken)
)

// Error is an error answer from the provider, or a failure to reach it.
type Error struct {
	Op          string // "discovery", "token", "refresh", "userinfo", "revoke", "keys"
	Status      int    // HTTP status; 0 when the provider was not reached
	Code        string // OAuth error code
	Description string
	Err         error // transport or decoding error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oidc: ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(" (" + e.Description + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is see ErrInvalidGrant and ErrUnavailable.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	switch {
	// Userinfo refuses a dead access token with 401 (RFC 6750 §3.1) or, at
	// some providers (zitadel's op package among them), 403.
	case e.Code == "invalid_grant", e.Op == "userinfo" && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
		errs = append(errs, ErrInvalidGrant)
	case e.Status == 0 && e.Code == "", e.Status == http.StatusTooManyRequests, e.Status >= 500:
		errs = append(errs, ErrUnavailable)
	}
	return errs
}

// Config configures a Client. Issuer, ClientID and RedirectURL are
// required; the zero value of every other field works.
type Config struct {
	// Issuer is the provider's issuer URL exactly as its discovery document
	// names it (https://…/realms/x for Keycloak,
	// https://login.microsoftonline.com/<tenant>/v2.0 for Entra ID). It is
	// part of every person id: changing it changes every person id.
	Issuer string
	// ClientID is this relying party's client_id: the audience its ID
	// tokens must carry.
	ClientID string
	// ClientSecret authenticates at the token and revocation endpoints
	// (HTTP Basic). Empty: a public client (PKCE alone).
	ClientSecret string
	// RedirectURL is hubgate's callback; it must be registered at the
	// provider exactly.
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// RP-initiated logout. Empty: the provider's own page.
	PostLogoutRedirectURL string
	// Scopes are asked for at every sign-in. Nil: openid, profile, email.
	// "openid" is added when missing. Add offline_access for refresh
	// tokens where the provider wants it (Entra ID, Okta, ZITADEL,
	// Keycloak) and the scope that puts Mapping.Claim in the ID token
	// (e.g. "groups" at Okta).
	Scopes []string
	// AuthParams are added to every authorize request, e.g. Google's
	// access_type=offline (its way of issuing refresh tokens). They never
	// override state, nonce, PKCE, scope or the options; "prompt" applies
	// when the options set none.
	AuthParams map[string]string
	// UserInfo reads the userinfo endpoint after every exchange and refresh
	// and merges its claims over the ID token's (for providers that keep
	// groups or profile claims out of ID tokens). False: the ID token
	// alone.
	UserInfo bool
	// Mapping turns a claim into organizations and roles. Zero: none (the
	// provider has no organizations; org claims are off).
	Mapping Mapping
	// AllowHMAC accepts HS256/384/512 ID tokens keyed with ClientSecret
	// (OpenID Connect Core §10.1) when discovery lists them. Never with any
	// other key. False: HS* are refused even then.
	AllowHMAC bool
	// LogoutMaxAge is how old a back-channel logout token's iat may be.
	// Zero: 5 minutes.
	LogoutMaxAge time.Duration
	// HTTPClient talks to the provider. Nil: a 10-second client that
	// follows no redirects.
	HTTPClient *http.Client
	// Now is the clock for every expiry check. Nil: time.Now.
	Now func() time.Time
}

// Client is a relying party of one OpenID Provider. It is safe for
// concurrent use. It reads the provider's discovery document on first use
// (not in New), and again after a failed attempt.
type Client struct {
	cfg     Config
	http    *http.Client
	mapping *mapper
	scopes  []string

	mu       sync.Mutex // guards meta, failedAt and failure
	meta     *meta
	failedAt time.Time // last failed discovery: retried after discoveryRetry
	failure  error

	keysOK      atomic.Int64  // unix nanos of the last successful CheckKeys
	keyFailures atomic.Uint64 // failed key set fetches: Verify tells "keys unreadable" from "bad token"
	seen        replay        // logout token ids already used
}

// meta is what discovery taught: endpoints, accepted algorithms, and the
// verifier built from them.
type meta struct {
	issuer     string
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	algs       []string
	jwks       string
	userinfo   string
	revocation string
	endSession string
}

// New validates cfg and returns a client. It does not contact the provider.
func New(cfg Config) (*Client, error) {
	if u, err := url.Parse(cfg.Issuer); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("oidc: issuer %q: want an absolute http(s) URL", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: client id is empty")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("oidc: redirect url %q: want an absolute http(s) URL", cfg.RedirectURL)
	}
	if cfg.PostLogoutRedirectURL != "" {
		if u, err := url.Parse(cfg.PostLogoutRedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("oidc: post-logout redirect url %q: want an absolute http(s) URL", cfg.PostLogoutRedirectURL)
		}
	}
	if cfg.AllowHMAC && len(cfg.ClientSecret) < 32 {
		// RFC 7518 §3.2: an HS256 key is at least 256 bits.
		return nil, errors.New("oidc: AllowHMAC needs a client secret of at least 32 bytes")
	}
	if cfg.LogoutMaxAge < 0 {
		return nil, fmt.Errorf("oidc: LogoutMaxAge %v, want zero or positive", cfg.LogoutMaxAge)
	}
	m, err := compileMapping(cfg.Mapping)
	if err != nil {
		return nil, err
	}
	if cfg.LogoutMaxAge == 0 {
		cfg.LogoutMaxAge = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	scopes := slices.Clone(cfg.Scopes)
	if scopes == nil {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	}
	if !slices.Contains(scopes, gooidc.ScopeOpenID) {
		scopes = append([]string{gooidc.ScopeOpenID}, scopes...)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
		// Never follow redirects from the provider's endpoints: following
		// one could carry a token or the client secret elsewhere.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &Client{cfg: cfg, http: hc, mapping: m, scopes: scopes, seen: replay{ids: map[string]time.Time{}}}, nil
}

// Issuer returns the configured issuer.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// ctx carries our HTTP client to go-oidc and x/oauth2.
func (c *Client) ctx(ctx context.Context) context.Context { return gooidc.ClientContext(ctx, c.http) }

// discover returns what discovery says, reading it on first use (OpenID
// Connect Discovery 1.0 §4; go-oidc checks that its issuer is ours).
func (c *Client) discover(ctx context.Context) (*meta, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta != nil {
		return c.meta, nil
	}
	if !c.failedAt.IsZero() && c.cfg.Now().Sub(c.failedAt) < discoveryRetry {
		// Fail fast while the provider is down, rather than queue every
		// sign-in behind another attempt.
		return nil, c.failure
	}
	m, err := c.read(ctx)
	if err != nil {
		c.failedAt, c.failure = c.cfg.Now(), err
		return nil, err
	}
	c.meta = m
	return m, nil
}

// discoveryRetry is how long a failed discovery is answered from memory.
const discoveryRetry = 5 * time.Second

// read reads the discovery document and builds the verifier.
func (c *Client) read(ctx context.Context) (*meta, error) {
	p, err := gooidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, &Error{Op: "discovery", Err: err} // unwraps to ErrUnavailable
	}
	var doc struct {
		JWKS       string   `json:"jwks_uri"`
		Revocation string   `json:"revocation_endpoint"`
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, &Error{Op: "discovery", Err: err}
	}
	algs := acceptedAlgs(doc.Algs, c.cfg.AllowHMAC)
	if len(algs) == 0 {
		return nil, &Error{Op: "discovery", Status: http.StatusOK, Code: "no usable signing algorithm",
			Description: fmt.Sprintf("id_token_signing_alg_values_supported %v", doc.Algs)}
	}
	m := &meta{issuer: c.cfg.Issuer, algs: algs, jwks: doc.JWKS, userinfo: p.UserInfoEndpoint(),
		revocation: doc.Revocation, endSession: doc.EndSession}
	m.oauth = oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret,
		RedirectURL: c.cfg.RedirectURL, Endpoint: p.Endpoint(), Scopes: c.scopes}
	if c.cfg.ClientSecret != "" {
		m.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	} else {
		m.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	m.verifier = gooidc.NewVerifier(c.cfg.Issuer, c.newKeySet(doc.JWKS), &gooidc.Config{
		ClientID: c.cfg.ClientID, SupportedSigningAlgs: algs, Now: c.cfg.Now,
	})
	return m, nil
}

// asymmetric are the JWS algorithms (RFC 7518 §3.1, RFC 8037) a provider's
// published keys can verify.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// acceptedAlgs is what discovery lists, less "none" and anything unknown,
// and less HS* unless allowed. A provider that lists nothing signs with
// RS256 (OpenID Connect Discovery §3: RS256 MUST be included).
func acceptedAlgs(listed []string, allowHMAC bool) []string {
	if len(listed) == 0 {
		return []string{"RS256"}
	}
	var out []string
	for _, a := range listed {
		if slices.Contains(asymmetric, a) || allowHMAC && slices.Contains(hmacAlgs, a) {
			out = append(out, a)
		}
	}
	return out
}

// AuthOptions are the optional parameters of an authorize request.
type AuthOptions struct {
	// SelectAccount asks for the account chooser (prompt=select_account):
	// always for claims, so that nobody links the account a browser
	// happens to be signed in with.
	SelectAccount bool
	// ForceLogin asks the person to authenticate again (prompt=login).
	ForceLogin bool
	// LoginHint suggests an account (login_hint), e.g. the email on file.
	LoginHint string
	// Lang asks for the provider's pages in a language (ui_locales).
	Lang string
}

// AuthCodeURL returns the provider's authorize URL for the authorization
// code flow (OpenID Connect Core §3.1.2.1): state (RFC 6749 §10.12), the
// S256 challenge of verifier (RFC 7636 §4.2) and nonce, which Exchange
// must be given back. It reads discovery on first use.
func (c *Client) AuthCodeURL(ctx context.Context, state, verifier, nonce string, o AuthOptions) (string, error) {
	if state == "" || verifier == "" || nonce == "" {
		return "", errors.New("oidc: state, verifier and nonce are required")
	}
	m, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	var opts []oauth2.AuthCodeOption
	for k, v := range c.cfg.AuthParams {
		switch k {
		case "state", "nonce", "code_challenge", "code_challenge_method", "scope", "prompt", "login_hint",
			"ui_locales", "client_id", "redirect_uri", "response_type":
			continue
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	opts = append(opts, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce))
	var prompt []string
	if o.SelectAccount {
		prompt = append(prompt, "select_account")
	}
	if o.ForceLogin {
		prompt = append(prompt, "login")
	}
	if p := c.cfg.AuthParams["prompt"]; len(prompt) == 0 && p != "" {
		prompt = append(prompt, p) // e.g. Google's prompt=consent, unless the options ask otherwise
	}
	if len(prompt) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", strings.Join(prompt, " ")))
	}
	if o.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", o.LoginHint))
	}
	if o.Lang != "" {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", o.Lang))
	}
	return m.oauth.AuthCodeURL(state, opts...), nil
}

// NewVerifier returns a fresh PKCE code verifier (RFC 7636 §4.1, 256 bits).
func NewVerifier() string { return oauth2.GenerateVerifier() }

// NewNonce returns a fresh nonce (OpenID Connect Core §3.1.2.1, 256 bits):
// kept with the flow's state and verifier, sent with AuthCodeURL and
// required back in the ID token by Exchange.
func NewNonce() string { return oauth2.GenerateVerifier() }
