package devop

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client is a relying party registered at the provider.
type Client struct {
	// ID is the client_id. Required and unique within a provider.
	ID string
	// Secret authenticates the client at the token and revocation
	// endpoints (HTTP Basic or form). Empty makes the client public: it
	// authenticates with its id alone. Every client must send a PKCE S256
	// challenge either way.
	Secret string
	// RedirectURIs are the absolute URLs the provider may send the browser
	// back to; a request's redirect_uri must equal one exactly. At least one.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the URLs end_session may redirect to
	// (post_logout_redirect_uri). Empty: end_session always ends on the
	// provider's "signed out" page.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives a logout_token (OpenID Connect
	// Back-Channel Logout 1.0) when a session the client took part in ends.
	// Empty: the client is not told.
	BackchannelLogoutURI string
	// ExtraAudiences are added to the aud of the client's ID tokens, so
	// that aud holds several values and azp names the client.
	ExtraAudiences []string
}

// User is a person who can sign in at the provider.
type User struct {
	// ID is the subject (sub). Required and unique within a provider.
	ID                    string
	Email                 string
	GivenName, FamilyName string
	// Name is the full name. Empty: given and family name.
	Name string
	// Groups fill the "groups" claim (scope "groups").
	Groups []string
	// Roles fill the "roles" claim (scope "groups"), as Entra ID's app
	// roles do.
	Roles []string
}

// Config configures a [Provider]. Issuer is required; the zero value of
// every other field works.
type Config struct {
	// Issuer is the provider's URL without a path, e.g.
	// http://127.0.0.1:4191: the "iss" of its tokens and the base of its
	// endpoints. http is allowed (this is a dev provider). [Start] fills it
	// from its listener.
	Issuer string
	// Clients are the registered relying parties.
	Clients []Client
	// Users are added after the demo users of Seed.
	Users []User
	// Seed loads the demo users (see [AliceID] and the others).
	Seed bool
	// AccessTTL is the lifetime of access tokens. Zero: 5 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens. Zero: 24 hours.
	RefreshTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens. Zero: 5 minutes.
	IDTokenTTL time.Duration
	// AdvertiseHS256 lists HS256 beside RS256 in discovery's
	// id_token_signing_alg_values_supported (tokens stay RS256-signed), so
	// that a relying party that accepts HMAC ID tokens can be shown to
	// refuse one keyed with the provider's public key. False: RS256 only.
	AdvertiseHS256 bool
	// HTTPClient sends back-channel logout requests. Nil: a client with a
	// 5-second timeout that follows no redirects.
	HTTPClient *http.Client
}

// Default lifetimes.
const (
	DefaultAccessTTL  = 5 * time.Minute
	DefaultRefreshTTL = 24 * time.Hour
	DefaultIDTokenTTL = 5 * time.Minute
	// CodeTTL is how long an authorization code may be exchanged.
	CodeTTL = time.Minute
)

// maxBody bounds the forms the provider's own pages read.
const maxBody = 64 << 10

// Provider is a development OpenID Provider. It is an [http.Handler];
// create it with [New] or [Start]. Its methods are safe for concurrent use.
type Provider struct {
	issuer string
	op     *op.Provider
	st     *storage
	pages  *template.Template
	mux    *http.ServeMux
	client *http.Client

	srv *http.Server // set by Start
}

// New validates cfg and returns a provider with a fresh RSA-2048 signing
// key. It starts nothing.
func New(cfg Config) (*Provider, error) {
	issuer, err := validIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	for _, d := range []*time.Duration{&cfg.AccessTTL, &cfg.RefreshTTL, &cfg.IDTokenTTL} {
		if *d < 0 {
			return nil, fmt.Errorf("devop: lifetime %v, want zero or positive", *d)
		}
	}
	cfg.AccessTTL = orDefault(cfg.AccessTTL, DefaultAccessTTL)
	cfg.RefreshTTL = orDefault(cfg.RefreshTTL, DefaultRefreshTTL)
	cfg.IDTokenTTL = orDefault(cfg.IDTokenTTL, DefaultIDTokenTTL)
	p := &Provider{issuer: issuer, client: cfg.HTTPClient}
	if p.client == nil {
		p.client = &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	cfg.Issuer = issuer
	if p.st, err = newStorage(cfg, p.client); err != nil {
		return nil, err
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	opts := []op.Option{}
	if u, _ := url.Parse(issuer); u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:                         key,
		DefaultLogoutRedirectURI:          issuer + "/logged-out",
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedScopes:                   append(slices.Clone(op.DefaultSupportedScopes), ScopeGroups),
		SupportedClaims:                   append(slices.Clone(op.DefaultSupportedClaims), "groups", "roles", "sid"),
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}, p.st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	if p.pages, err = template.New("devop").Parse(pageTemplates); err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	p.mux = p.routes()
	return p, nil
}

// ScopeGroups asks for the "groups" and "roles" claims.
const ScopeGroups = "groups"

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func validIssuer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("devop: issuer %q: want http(s)://host[:port] without a path", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Start serves a new provider on a loopback port until Close; cfg.Issuer is
// set to that listener's URL.
func Start(cfg Config) (*Provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	cfg.Issuer = "http://" + ln.Addr().String()
	p, err := New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at Close
	return p, nil
}

// Close stops a provider started with [Start]; for one made with New it
// does nothing.
func (p *Provider) Close() error {
	if p.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Issuer is the provider's issuer URL (no trailing slash).
func (p *Provider) Issuer() string { return p.issuer }

// ServeHTTP answers as the provider.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// routes mounts the provider's own pages beside the op package's endpoints
// (discovery, authorize, token, userinfo, revoke, end_session, keys). The
// token endpoint runs through the tamper knob.
func (p *Provider) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.handleLoginPage)
	mux.Handle("POST /login", p.sameOrigin(http.HandlerFunc(p.handleLogin)))
	mux.HandleFunc("GET /logged-out", p.handleLoggedOut)
	mux.HandleFunc("GET /__dev/{$}", p.handleDevPage)
	mux.Handle("POST /__dev/logout", p.sameOrigin(http.HandlerFunc(p.handleDevLogout)))
	mux.Handle("/"+tokenPath, p.tamperTokens(p.op))
	mux.Handle("/", p.op)
	return mux
}

// tokenPath is the op package's default token endpoint.
const tokenPath = "oauth/token"

// sameOrigin refuses cross-site form posts, so that no web page can sign a
// browser in or turn a knob of a provider on loopback.
func (p *Provider) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validClient checks a client before it is registered.
func validClient(c Client) error {
	if c.ID == "" {
		return errors.New("devop: client with an empty ID")
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("devop: client %q: no RedirectURIs, want at least one", c.ID)
	}
	urls := append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...)
	if c.BackchannelLogoutURI != "" {
		urls = append(urls, c.BackchannelLogoutURI)
	}
	for _, s := range urls {
		// OpenID Connect Core §3.1.2.1, RFC 6749 §3.1.2: absolute, no fragment.
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("devop: client %q: URL %q is not an absolute http(s) URL without fragment", c.ID, s)
		}
	}
	return nil
}

// validUser checks a user before it is added.
func validUser(u User) error {
	if u.ID == "" {
		return errors.New("devop: user with an empty ID")
	}
	if len(u.ID) > 255 {
		// OpenID Connect Core §2: sub is at most 255 ASCII characters.
		return fmt.Errorf("devop: user %q: ID longer than 255 characters", u.ID[:16])
	}
	return nil
}
