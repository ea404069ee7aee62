// Package zaikio is hubgate's client for the Zaikio hub: the OAuth 2.0
// redirect flow (not OpenID Connect: there is no discovery, no id_token),
// access-token verification (of the tokens of our sign-ins, and of the
// bearer tokens other Zaikio apps send, as zaikio-jwt_auth accepts them), the
// directory API, revocation and Loom webhooks. It speaks what
// ../shared/ZAIKIO.md describes and is tested against the fake hub in
// zaikio/devhub.
//
// It reports what the hub says and nothing more: it never keeps a session,
// stores nothing, never follows a URL a token names (jku), and decides no
// link, claim, role or access rule (claim, roles, session and proxy do).
package zaikio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Sentinel errors; *Error unwraps to them where they apply.
var (
	// ErrInvalidGrant: the hub refused a code or refresh token; the person
	// must sign in again.
	ErrInvalidGrant = errors.New("zaikio: invalid_grant")
	// ErrUnavailable: the hub could not be reached, answered 5xx, or kept
	// rate-limiting us past our patience. Callers show "try again later".
	ErrUnavailable = errors.New("zaikio: hub unavailable")
	// ErrInvalidToken: an access token failed verification.
	ErrInvalidToken = errors.New("zaikio: access token failed verification")
	// ErrScope: the grant lacks a scope we asked for.
	ErrScope = errors.New("zaikio: scope not granted")
)

// Error is an error answer from the hub.
type Error struct {
	Op          string // "token", "person", …
	Status      int    // HTTP status; 0 when the hub was not reached
	Code        string // OAuth error code or the first of "errors"
	Description string
	Err         error // transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("zaikio: ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(" (")
		b.WriteString(e.Description)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
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
	case e.Code == "invalid_grant":
		errs = append(errs, ErrInvalidGrant)
	// Status 0 with a Code is a request refused before it was sent (an
	// empty code): the hub is not at fault.
	case e.Status == 0 && e.Code == "", e.Status == http.StatusTooManyRequests, e.Status >= 500:
		errs = append(errs, ErrUnavailable)
	}
	return errs
}

// Config configures a Client. URL, ClientID and RedirectURL are required.
type Config struct {
	// URL is the hub's base URL, e.g. https://hub.sandbox.zaikio.com.
	URL          string
	ClientID     string
	ClientSecret string
	// AppName is the expected JWT audience. Empty means ClientID.
	AppName string
	// RedirectURL is hubgate's callback; it must match the app's registration
	// exactly.
	RedirectURL string
	// HTTPClient talks to the hub. Nil means a client with a 10 s timeout and
	// a transport with connect and TLS timeouts.
	HTTPClient *http.Client
	// MaxRateLimitWait bounds how long one call waits for a 429's
	// RateLimit-Reset before giving up with ErrUnavailable. Zero means 5 s.
	MaxRateLimitWait time.Duration
	// Retries is how many times a call is retried after a 429 (or a 502/503/504
	// for GETs). Zero means 2; negative means none.
	Retries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends. Nil means a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one Zaikio hub as one app. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	cfg      Config
	oauth    oauth2.Config
	http     *http.Client
	verifier *oidc.IDTokenVerifier
	// keys are the hub's published signing keys, shared by Verify and every
	// BearerVerifier of this client (see keysMaxAge).
	keys *keySet
	// public fetches the hub's public documents (keys, revocation list):
	// no credentials, no redirects, bounded time.
	public *http.Client
	keysOK atomic.Int64 // unix nanos of the last successful CheckKeys
}

// New validates cfg and returns a client. It does not contact the hub.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("zaikio: hub url %q: want http(s)://host", cfg.URL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("zaikio: client id is empty")
	}
	if ru, err := url.Parse(cfg.RedirectURL); err != nil || ru.Host == "" || (ru.Scheme != "https" && ru.Scheme != "http") {
		return nil, fmt.Errorf("zaikio: redirect url %q: want an absolute http(s) URL", cfg.RedirectURL)
	}
	if cfg.AppName == "" {
		cfg.AppName = cfg.ClientID
	}
	if cfg.MaxRateLimitWait == 0 {
		cfg.MaxRateLimitWait = 5 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
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
		// Never follow redirects from API endpoints: the hub does not send
		// them, and following one could leak the bearer token elsewhere.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	c := &Client{base: base, cfg: cfg, http: hc}
	c.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  cfg.RedirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:  c.url("/oauth/authorize"),
			TokenURL: c.url("/oauth/access_token"),
		},
	}
	c.public = &http.Client{
		Timeout: 10 * time.Second, Transport: hc.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.keys = newKeySet(c.url("/api/v1/jwt_public_keys"), getPublic(c.public, maxBody), cfg.Now)
	c.verifier = oidc.NewVerifier(Issuer, c.keys, &oidc.Config{
		ClientID:             cfg.AppName,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  cfg.Now,
	})
	return c, nil
}

// Issuer is the "iss" of every Zaikio access token.
const Issuer = "ZAI"

func (c *Client) url(path string) string { return c.base.String() + path }

// BaseURL returns the hub's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// AuthOptions are the optional parameters of the authorize request.
type AuthOptions struct {
	Lang          string // "en" or "de"
	Login         string // suggested email
	SelectAccount bool   // prompt=select_account: always for claims
	ForceLogin    bool
	// Prefill for the hub's sign-up form.
	FirstName, LastName, Email string
	OrgName, OrgCountry        string
}

// AuthCodeURL returns the hub's authorize URL for scopes (joined with commas,
// as the hub wants), state and the S256 challenge of verifier (RFC 7636 §4.2).
// It never fails and never calls the hub (its endpoints are configured); the
// context and the error are proxy.Hub's, for providers that read discovery
// first.
func (c *Client) AuthCodeURL(_ context.Context, state, verifier string, scopes []string, o AuthOptions) (string, error) {
	cfg := c.oauth
	// x/oauth2 joins Scopes with spaces; Zaikio wants commas.
	cfg.Scopes = []string{strings.Join(scopes, ",")}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	set := func(k, v string) {
		if v != "" {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	set("lang", o.Lang)
	set("login", o.Login)
	if o.SelectAccount {
		set("prompt", "select_account")
	}
	if o.ForceLogin {
		set("force_login", "true")
	}
	set("person[first_name]", o.FirstName)
	set("person[name]", o.LastName)
	set("person[email]", o.Email)
	set("organization[name]", o.OrgName)
	set("organization[country_code]", o.OrgCountry)
	return cfg.AuthCodeURL(state, opts...), nil
}

// NewVerifier returns a fresh PKCE code verifier (RFC 7636 §4.1, 256 bits).
func NewVerifier() string { return oauth2.GenerateVerifier() }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
