// Package admin is hubgate's operator surface: the JSON admin API and the
// dashboard, served on their own listener (default loopback), never on the
// public one.
package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// Store is what the admin API needs from storage.
type Store interface {
	claim.Store
	Claim(ctx context.Context, id string) (claim.Claim, error)
	Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error)
	RevokeClaim(ctx context.Context, id, actor string, at time.Time) error
	Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error)
	LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error)
	PutLink(ctx context.Context, l claim.Link) error
	DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error)
	Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error)
	PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error
	Person(ctx context.Context, id string) (claim.Person, error)
	People(ctx context.Context, after string, limit int) ([]claim.Person, error)
	Stats(ctx context.Context, now time.Time) (claim.Stats, error)
	AppendEvent(ctx context.Context, ev claim.Event) error
	Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error)
	Mode(ctx context.Context) (string, error)
	SetMode(ctx context.Context, mode string, ev claim.Event) error
	AddRevocation(ctx context.Context, rv session.Revocation) error
	Ping(ctx context.Context) error
}

// Config configures the admin Server. Token, Store, Claims and PublicURL are
// required.
type Config struct {
	// Token is the bearer token of the admin API (at least 16 characters),
	// compared in constant time.
	Token string
	Store Store
	// Claims mints claims.
	Claims *claim.Service
	// PublicURL is hubgate's public URL; claim URLs are
	// PublicURL + "/_hubgate/claim/" + token.
	PublicURL string
	// Modes are the valid modes, DefaultMode the one in force when the store
	// holds none.
	Modes       []string
	DefaultMode string
	// OnChange is called after the mode or the revocation list changed, so
	// that this replica applies the change at once (others poll). Nil: none.
	OnChange func()
	// Ready reports readiness for /readyz (store reachable, hub keys
	// fetched). Nil: the store's Ping.
	Ready func(ctx context.Context) error
	// SessionTTL is the longest a session lives; person revocations are kept
	// that long. Zero means 12 h.
	SessionTTL time.Duration
	Logger     zerolog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Server serves the admin API and dashboard.
type Server struct {
	cfg     Config
	handler http.Handler
}

// New validates cfg and returns the admin server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Token) < 16 {
		return nil, errors.New("admin: token must have at least 16 characters")
	}
	if cfg.Store == nil || cfg.Claims == nil || cfg.PublicURL == "" {
		return nil, errors.New("admin: store, claims and public url are required")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}
