package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Manager. Secrets, Store and Refresher are required;
// every other zero value has the meaning its comment gives.
type Config struct {
	// Secrets sign and encrypt the cookie and seal the server-side data:
	// the first signs, all verify (rotation). Each at least 32 bytes.
	Secrets [][]byte
	// Store keeps the server-side records and the revocation list.
	Store Store
	// Refresher does what a revalidation needs from the hub and the links.
	Refresher Refresher
	// CookieName names the session cookie. Empty means "hubgate".
	CookieName string
	// Secure marks the cookie Secure (the public URL is https). Zero: not.
	Secure bool
	// TTL is a session's absolute lifetime, at least a minute. Zero means
	// DefaultTTL.
	TTL time.Duration
	// Revalidate is how often identity and roles are re-read from the hub
	// (with a rotated refresh token), at least a second. Zero means
	// DefaultRevalidate.
	Revalidate time.Duration
	// Grace is how long a session keeps working past a due revalidation
	// while the hub is unreachable. Zero means DefaultGrace; negative is
	// refused.
	Grace time.Duration
	// Logger receives the session's events (revalidated, deferred, ended).
	// Nil: none are logged.
	Logger *slog.Logger
	// RequestID names a request in those events. Nil: no request id.
	RequestID func(*http.Request) string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Manager keeps the sessions of one replica: it reads and sets their cookie,
// checks them against the revocation set, revalidates them when due, and
// starts and ends them. It is safe for concurrent use.
type Manager struct {
	store     Store
	hub       Refresher
	codec     *Codec
	name      string // cookie name
	secure    bool
	ttl       time.Duration
	every     time.Duration // revalidation interval
	grace     time.Duration
	log       *slog.Logger
	requestID func(*http.Request) string
	now       func() time.Time

	revoked  atomic.Pointer[revocationSet]
	ids      *identityCache
	inflight sync.Map   // session id → *refresh: revalidations running in this process
	retries  retryTable // sessions whose revalidation failed: no new attempt before the time noted
}

// New validates cfg, fills defaults and returns a Manager with an empty
// revocation set (LoadRevocations fills it).
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Refresher == nil {
		return nil, errors.New("session: a store and a refresher are required")
	}
	cfg.TTL = or(cfg.TTL, DefaultTTL)
	cfg.Revalidate = or(cfg.Revalidate, DefaultRevalidate)
	cfg.Grace = or(cfg.Grace, DefaultGrace)
	if cfg.TTL < time.Minute || cfg.Revalidate < time.Second || cfg.Grace < 0 {
		return nil, fmt.Errorf("session: ttl %s / revalidate %s / grace %s out of range", cfg.TTL, cfg.Revalidate, cfg.Grace)
	}
	codec, err := NewCodec(cfg.Secrets, cfg.TTL)
	if err != nil {
		return nil, err
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "hubgate"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestID == nil {
		cfg.RequestID = func(*http.Request) string { return "" }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{
		store: cfg.Store, hub: cfg.Refresher, codec: codec, name: cfg.CookieName, secure: cfg.Secure,
		ttl: cfg.TTL, every: cfg.Revalidate, grace: cfg.Grace,
		log: cfg.Logger, requestID: cfg.RequestID, now: cfg.Now,
		ids: newIdentityCache(),
	}
	m.revoked.Store(&revocationSet{})
	return m, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Authenticate returns the request's valid session identity, or nil. It is
// the hot path: one cookie lookup, a cache hit (or one decode+verify), an
// expiry check and a revocation check in memory. Only when a revalidation
// is due does it reach the store and the hub (single-flight per session);
// then, and when the session is revoked or carries something unlinked, it
// may set the cookie on w.
func (m *Manager) Authenticate(w http.ResponseWriter, r *http.Request) *Identity {
	id := m.Decode(r)
	if id == nil {
		return nil
	}
	now := m.now()
	if !now.Before(id.Expires) {
		return nil
	}
	rs := m.revoked.Load()
	if rs.revoked(id) {
		m.Clear(w)
		return nil
	}
	// An unlinked legacy person or organization leaves the identity here,
	// before anything else, so that no outcome of the revalidation below (a
	// hub that does not answer included) hands it out again.
	dropped := rs.unlinked(id)
	if dropped {
		id = rs.without(id)
	}
	if announced := dropped || rs.stale(id, now); announced || now.Sub(id.Validated) >= m.every {
		nid := m.revalidate(w, r, id, announced)
		switch {
		case nid == nil:
			return nil
		case nid == id:
			if dropped {
				m.keepCookie(w, r, id)
			}
			return id
		}
		// The stored identity another request or replica built may predate
		// the unlinking.
		if rs := m.revoked.Load(); rs.unlinked(nid) {
			nid = rs.without(nid)
			m.keepCookie(w, r, nid)
		}
		return nid
	}
	return id
}

// keepCookie writes id into the session cookie, logging a failure: the
// request goes on with id either way.
func (m *Manager) keepCookie(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := m.setCookie(w, id); err != nil {
		m.event(r, slog.LevelError, "session.cookie", err)
	}
}

// Decode returns the identity r's session cookie carries, verified and
// decrypted, but neither checked for expiry or revocation nor revalidated:
// for ending the session a browser held, never for letting a request pass
// (that is Authenticate). Nil if there is no valid cookie. Verified cookies
// are cached by their exact value.
func (m *Manager) Decode(r *http.Request) *Identity {
	val := cookieValue(r, m.name)
	if val == "" {
		return nil
	}
	if id := m.ids.get(val); id != nil {
		return id
	}
	raw, err := m.codec.Decode(m.name, val)
	if err != nil {
		return nil
	}
	id := new(Identity)
	if err := id.unmarshal(raw); err != nil {
		return nil
	}
	id.prepare()
	m.ids.put(val, id)
	return id
}

// Alive reports whether id (from Decode) is neither expired nor revoked,
// without revalidating it: for pages that only say who is signed in.
func (m *Manager) Alive(id *Identity) bool {
	return id != nil && m.now().Before(id.Expires) && !m.revoked.Load().revoked(id)
}

// NewIdentity returns the identity of a session about to start: a fresh
// session id (rotated at every sign-in and link), created and validated now,
// ending after the TTL. The caller fills in who the person is (Person, User,
// Email, Name, Orgs, Roles) and calls Start.
func (m *Manager) NewIdentity() *Identity {
	now := m.now()
	return &Identity{SessionID: NewID(), Created: now, Validated: now, Expires: now.Add(m.ttl)}
}

// Start begins the session of id (from NewIdentity) holding t: id takes the
// access token's id, the record with the sealed tokens goes to the store,
// and the cookie to w. The cookie is encoded first: an identity too large
// for one cookie fails (ErrCookieTooLarge) before a record nobody could use
// is stored.
func (m *Manager) Start(ctx context.Context, w http.ResponseWriter, id *Identity, t Tokens) error {
	id.JTI = t.JTI
	id.prepare()
	c, err := m.cookie(id)
	if err != nil {
		return err
	}
	rec := Record{ID: id.SessionID, Person: id.Person, ExpiresAt: id.Expires}
	data := sealedData{RefreshToken: t.Refresh, AccessToken: t.Access, JTI: t.JTI, Identity: id.marshal()}
	if err := m.save(ctx, &rec, data); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	http.SetCookie(w, c)
	return nil
}

// End revokes the session's hub token (a failure is logged: the session
// ends here all the same), deletes the server-side record and revokes the
// session id everywhere, so that a copied cookie stops working.
func (m *Manager) End(ctx context.Context, id *Identity, actor, reason string) error {
	if _, data, _, err := m.load(ctx, id.SessionID); err == nil && data.AccessToken != "" {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := m.hub.Revoke(rctx, data.AccessToken); err != nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "", slog.Any("error", err), slog.String("event", "hub.revoke"), slog.String("person", id.Person))
		}
		cancel()
	}
	return m.Retire(ctx, id, actor, reason)
}

// Retire ends the session like End but leaves its hub tokens alone: for a
// session whose tokens live on in the session that replaces it (a link
// rotates the session id and hands the tokens Rotate returned to the new
// session). Revoking them would end the successor as well, as soon as the
// hub's revoked_access_token webhook names the token.
func (m *Manager) Retire(ctx context.Context, id *Identity, actor, reason string) error {
	if err := m.store.DeleteSession(ctx, id.SessionID); err != nil {
		return err
	}
	return m.Revoke(ctx, Revocation{Kind: RevokeSession, Subject: id.SessionID, At: m.now(), Until: id.Expires.Add(time.Minute), Actor: actor, Reason: reason})
}

// Clear deletes the session cookie in the browser.
func (m *Manager) Clear(w http.ResponseWriter) {
	http.SetCookie(w, m.httpCookie("", -1))
}

// Revoke stores rv and applies it in this replica at once (the others pick
// it up with LoadRevocations).
func (m *Manager) Revoke(ctx context.Context, rv Revocation) error {
	if err := m.store.AddRevocation(ctx, rv); err != nil {
		return err
	}
	m.revoked.Store(m.revoked.Load().with(rv))
	return nil
}

// LoadRevocations re-reads the revocation list from the store (other
// replicas' revocations). On error the set in memory stays.
func (m *Manager) LoadRevocations(ctx context.Context) error {
	rvs, err := m.store.Revocations(ctx, m.now())
	if err != nil {
		return err
	}
	m.revoked.Store(newRevocationSet(rvs))
	return nil
}

// DeleteExpired deletes the records of sessions past their end (and
// revocations nobody needs any more); it returns how many records went.
func (m *Manager) DeleteExpired(ctx context.Context) (int, error) {
	return m.store.DeleteExpiredSessions(ctx, m.now())
}

// setCookie writes id into the session cookie.
func (m *Manager) setCookie(w http.ResponseWriter, id *Identity) error {
	c, err := m.cookie(id)
	if err != nil {
		return err
	}
	http.SetCookie(w, c)
	return nil
}

// cookie encodes id as the session cookie, refusing identities whose cookie
// would exceed maxCookie bytes (ErrCookieTooLarge).
func (m *Manager) cookie(id *Identity) (*http.Cookie, error) {
	val, err := m.codec.Encode(m.name, id.marshal())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCookieTooLarge, err)
	}
	if len(val) > maxCookie {
		return nil, ErrCookieTooLarge
	}
	return m.httpCookie(val, time.Until(id.Expires)), nil
}

// httpCookie builds the session cookie: HttpOnly, SameSite=Lax, Path=/,
// Secure when configured. maxAge < 0 deletes it.
func (m *Manager) httpCookie(value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: m.name, Value: value, Path: "/", HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}
