package devhub

import (
	"crypto/rsa"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// App is an OAuth client registered at the hub.
type App struct {
	// ClientID names the app in authorize and token requests. Required and
	// unique within a hub.
	ClientID string
	// ClientSecret authenticates the app at the token endpoint. Empty makes the
	// app a public client: it authenticates with its client_id alone and must
	// send a PKCE challenge on every authorization request.
	ClientSecret string
	// Name is the app name: the JWT audience and the single entry of the
	// token response's "audiences". Required.
	Name string
	// RedirectURIs are the absolute URLs the hub may send the browser back to.
	// A request's redirect_uri must equal one of them exactly. At least one.
	RedirectURIs []string
	// WebhookURL receives the events sent with [Hub.Deliver]. Empty: Deliver
	// fails for this app.
	WebhookURL string
	// WebhookSecret signs webhook bodies (X-Loom-Signature). Required when
	// WebhookURL is set.
	WebhookSecret string
}

// Config configures a [Hub]. Its zero value is a working hub with no apps and
// no people.
type Config struct {
	// Apps are the registered OAuth clients. More can be added with
	// [Hub.AddApp].
	Apps []App
	// Now is the hub's clock, used for every expiry, timestamp and JWT claim.
	// Nil: time.Now.
	Now func() time.Time
	// AccessTTL is the lifetime of access tokens. Zero: 10 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens. Zero: 7 days.
	RefreshTTL time.Duration
	// Seed loads the demo people and organizations (see [FrankID] and the
	// other seed constants). False: the directory starts empty.
	Seed bool
	// Client sends the webhooks of [Hub.Deliver]. Nil: a client with a
	// 10-second timeout.
	Client *http.Client
}

// Default lifetimes, as the real hub has them.
const (
	DefaultAccessTTL  = 10 * time.Minute
	DefaultRefreshTTL = 7 * 24 * time.Hour
	// CodeTTL is how long an authorization code may be exchanged.
	CodeTTL = 60 * time.Second
)

// maxBody bounds every request body the hub reads.
const maxBody = 64 << 10

// Hub is a fake Zaikio hub. It is an [http.Handler]; create it with [New].
// All methods are safe for concurrent use.
type Hub struct {
	// Set in New, never changed.
	now        func() time.Time
	accessTTL  time.Duration
	refreshTTL time.Duration
	client     *http.Client
	mux        *http.ServeMux
	pages      *template.Template

	// mu guards everything below: the registered apps, the directory
	// (people, orgs, members), the OAuth state (codes, refresh, access,
	// revoked, grants), the signing keys and every knob (auto, failures,
	// requests, tamper, expiresIn). Hold it briefly: never across network
	// I/O, RSA key generation or a Delay.
	mu          sync.Mutex
	apps        map[string]App // by client id
	people      map[string]*personRecord
	personOrder []string
	orgs        map[string]*orgRecord
	orgOrder    []string
	members     []*membership // in creation order
	codes       map[string]*authCode
	refresh     map[string]*refreshToken
	access      map[string]*accessToken    // by jti
	revoked     []string                   // jtis, in revocation order
	grants      map[string]map[string]perm // by grantKey: "app.scope" → permission granted
	seeded      bool                       // Config.Seed: apps added later get another_app's grants too
	keys        []*signingKey              // published; the last one signs
	rogue       *rsa.PrivateKey            // unpublished key for TamperBadSignature
	auto        autoApproval
	failures    map[Endpoint][]Failure
	requests    map[Endpoint]int
	tamper      []Tamper
	expiresIn   ExpiresIn
}

// New validates cfg, fills its defaults and returns a hub with a fresh RSA-2048
// signing key.
func New(cfg Config) (*Hub, error) {
	if cfg.AccessTTL < 0 {
		return nil, fmt.Errorf("devhub: AccessTTL is %v, want zero or positive", cfg.AccessTTL)
	}
	if cfg.RefreshTTL < 0 {
		return nil, fmt.Errorf("devhub: RefreshTTL is %v, want zero or positive", cfg.RefreshTTL)
	}
	h := &Hub{
		now:        cfg.Now,
		accessTTL:  cfg.AccessTTL,
		refreshTTL: cfg.RefreshTTL,
		client:     cfg.Client,
		apps:       map[string]App{},
		people:     map[string]*personRecord{},
		orgs:       map[string]*orgRecord{},
		codes:      map[string]*authCode{},
		refresh:    map[string]*refreshToken{},
		access:     map[string]*accessToken{},
		grants:     map[string]map[string]perm{},
		failures:   map[Endpoint][]Failure{},
		requests:   map[Endpoint]int{},
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.accessTTL == 0 {
		h.accessTTL = DefaultAccessTTL
	}
	if h.refreshTTL == 0 {
		h.refreshTTL = DefaultRefreshTTL
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, a := range cfg.Apps {
		if err := h.AddApp(a); err != nil {
			return nil, err
		}
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("devhub: %w", err)
	}
	h.keys = []*signingKey{key}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("devhub: %w", err)
	}
	h.pages = pages
	if cfg.Seed {
		h.seed()
	}
	h.mux = h.routes()
	return h, nil
}

// AddApp registers an OAuth client. It fails when the app is incomplete or its
// client id is taken.
func (h *Hub) AddApp(a App) error {
	if err := validateApp(a); err != nil {
		return err
	}
	a.RedirectURIs = append([]string(nil), a.RedirectURIs...)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.apps[a.ClientID]; ok {
		return fmt.Errorf("devhub: app %q: client id already registered", a.ClientID)
	}
	h.apps[a.ClientID] = a
	if h.seeded {
		h.seedGrantsLocked(a)
	}
	return nil
}

func validateApp(a App) error {
	if a.ClientID == "" {
		return fmt.Errorf("devhub: app %q: ClientID is empty", a.Name)
	}
	if a.Name == "" {
		return fmt.Errorf("devhub: app %q: Name (the JWT audience) is empty", a.ClientID)
	}
	if len(a.RedirectURIs) == 0 {
		return fmt.Errorf("devhub: app %q: no RedirectURIs, want at least one", a.ClientID)
	}
	for _, u := range a.RedirectURIs {
		// RFC 6749 §3.1.2: absolute, no fragment.
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || p.Fragment != "" || (p.Scheme == "http" || p.Scheme == "https") && p.Host == "" {
			return fmt.Errorf("devhub: app %q: redirect URI %q is not an absolute URL without fragment", a.ClientID, u)
		}
	}
	if a.WebhookURL != "" {
		p, err := url.Parse(a.WebhookURL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("devhub: app %q: webhook URL %q is not an http(s) URL", a.ClientID, a.WebhookURL)
		}
		if a.WebhookSecret == "" {
			return fmt.Errorf("devhub: app %q: WebhookURL set without WebhookSecret", a.ClientID)
		}
	}
	return nil
}

// ServeHTTP answers as the hub would.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// baseURL is the hub's own origin as the request names it, so that the jku
// claim points back at whatever listener (loopback port, test server) served
// the request.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
