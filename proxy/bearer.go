package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// Bearer verifies the Zaikio access tokens that other apps (and people)
// send as "Authorization: Bearer <JWT>"; *zaikio.BearerVerifier implements
// it.
type Bearer interface {
	// Verify checks a token and returns its verified facts, or a
	// *zaikio.BearerError that says why it is refused.
	Verify(ctx context.Context, raw string) (*zaikio.AccessToken, error)
	// Revoke makes the token with this jti stop working at once (the
	// revoked_access_token webhook).
	Revoke(jti string) bool
	// AddRevoked adds jtis another replica learned (the store's
	// revocation list).
	AddRevoked(jtis ...string) int
	// Prefetch fetches the hub's keys and revocation list unless they are
	// at hand (readiness).
	Prefetch(ctx context.Context) error
}

var _ Bearer = (*zaikio.BearerVerifier)(nil)

// DefaultBearerScope is Config.BearerScope's default: zaikio/devhub grants
// "another Zaikio app" <app>.api.rw, and Zaikio apps commonly name their
// API scope so.
const DefaultBearerScope = "api"

// X-Hubgate-Auth values.
var (
	authSession = []string{"session"}
	authBearer  = []string{"bearer"}
)

// principal is who a request is authenticated as: a session's identity or
// a verified bearer token's. The zero value is nobody. It is passed by
// value so that the request path allocates nothing for it.
type principal struct {
	// id holds the facts role checks and the assertion read. For a bearer
	// token it is made by hubgate from the token and the links, never a
	// session (nothing is stored, no cookie is set).
	id   *session.Identity
	hv   *session.HeaderValues // the prepared header values
	auth []string              // the X-Hubgate-Auth value
}

func (p principal) none() bool { return p.id == nil }

// bearer reports whether p was authenticated by a bearer token.
func (p principal) bearer() bool { return len(p.auth) == 1 && p.auth[0] == authBearer[0] }

func sessionPrincipal(id *session.Identity) principal {
	if id == nil {
		return principal{}
	}
	return principal{id: id, hv: id.Headers(), auth: authSession}
}

// bearerGate is the gate's side of bearer tokens: the verifier, what a
// verified token stands for (cached), and the outcome counters.
type bearerGate struct {
	v                  Bearer
	scopeR, scopeW     string   // the default scope, with the permission
	orgRoles           []string // local roles of organization tokens
	unlinkedPass       bool     // Config.Unlinked is pass
	now                func() time.Time
	links              Links
	ids                sync.Map      // jti → *bearerIdentity (only verified tokens get here)
	gen                atomic.Uint64 // bumped when links may have gone: cached identities are re-read
	unlinkMark         atomic.Int64  // the newest Unlink revocation seen (unix ms), see sawRevocations
	outcomes           *prometheus.CounterVec
	okCount, foreignCt prometheus.Counter
}

// bearerIdentityTTL bounds how long a token's legacy identity is kept
// before the links are read again: a link made on another replica reaches
// bearer requests within it (unlinking is announced and takes effect on
// the next poll).
const bearerIdentityTTL = 30 * time.Second

// bearerIdentity is what one verified token stands for.
type bearerIdentity struct {
	p         principal
	hv        session.HeaderValues
	notLinked bool // the subject has no link that would identify it
	gen       uint64
	until     time.Time // re-read the links after
	expiry    time.Time // the token's
}

func newBearerGate(cfg Config, links Links) (*bearerGate, error) {
	scope := cfg.BearerScope
	if scope == "" {
		scope = DefaultBearerScope
	}
	if !ValidScope(scope) {
		return nil, fmt.Errorf("proxy: bearer scope %q: want <scope> or <app>.<scope> (letters, digits, _ and -)", scope)
	}
	for _, r := range cfg.BearerOrgRoles {
		if !claim.ValidLegacyID(r) || len(r) > 64 {
			return nil, fmt.Errorf("proxy: bearer organization role %q: want [A-Za-z0-9._@-]{1,64}", r)
		}
	}
	g := &bearerGate{
		v: cfg.Bearer, scopeR: scope + ".r", scopeW: scope + ".w", orgRoles: cfg.BearerOrgRoles,
		unlinkedPass: cfg.Unlinked == UnlinkedPass, now: cfg.Now, links: links,
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "bearer_requests_total",
			Help: "Requests that carried Authorization: Bearer, by outcome: ok, foreign (not a Zaikio token: left to the upstream) or the refusal code."},
			[]string{"outcome"}),
	}
	g.okCount, g.foreignCt = g.outcomes.WithLabelValues("ok"), g.outcomes.WithLabelValues("foreign")
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(g.outcomes); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// bearerRefusal is why a bearer request is refused: a *zaikio.BearerError,
// or not_linked (a valid token whose subject no link identifies).
type bearerRefusal struct {
	be        *zaikio.BearerError // nil for not_linked
	notLinked bool
	store     bool // the links could not be read (503)
}

// code is the refusal's error code for the JSON body.
func (br *bearerRefusal) code() string {
	switch {
	case br.notLinked:
		return "not_linked"
	case br.store:
		return "unavailable"
	}
	return string(br.be.Code)
}

// status is the refusal's HTTP status: 401 for a token that is not good
// (RFC 6750 §3.1 invalid_token), 403 for a good token without the scope
// (insufficient_scope) or without a link, 503 when it could not be checked.
func (br *bearerRefusal) status() int {
	switch {
	case br.notLinked:
		return http.StatusForbidden
	case br.store:
		return http.StatusServiceUnavailable
	}
	switch br.be.Code {
	case zaikio.BearerMissingScope:
		return http.StatusForbidden
	case zaikio.BearerUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// bearerToken returns the token of r's Authorization header when it uses
// the Bearer scheme. present is false when there is no such header; ok is
// false for a header that says Bearer but holds no usable token, and when
// several Authorization headers are sent.
func bearerToken(r *http.Request) (tok string, present, ok bool) {
	hs := r.Header["Authorization"]
	if len(hs) == 0 {
		return "", false, false
	}
	bearer := false
	for _, h := range hs {
		if len(h) >= 6 && strings.EqualFold(h[:6], "bearer") {
			bearer = true
		}
	}
	if !bearer {
		return "", false, false
	}
	if len(hs) != 1 {
		return "", true, false
	}
	tok, ok = zaikio.TokenFromHeader(hs[0])
	return tok, true, ok
}

// errBadHeader is the detail of a Bearer header without a usable token.
var errBadHeader = errors.New("authorization header: not one Bearer <b64token>")

// authenticate finds who r is: the Zaikio bearer token of its
// Authorization header when there is one (a session is then never
// consulted: the token is the credential), else its session. A token that
// is refused gives a refusal. A token that is not Zaikio's at all (not a
// JWS whose issuer says ZAI: the legacy app's own API key or JWT) is the
// upstream's business: the session decides, and foreign holds the
// verifier's refusal for when nothing else authenticates the request.
// method is the request's (forward-auth: the original request's) and rl
// its rule (nil: the default), which name the scope the token needs.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, method string, rl *rule) (who principal, refused, foreign *bearerRefusal) {
	g := s.bearer
	if g == nil {
		return sessionPrincipal(s.sessions.Authenticate(w, r)), nil, nil
	}
	tok, present, ok := bearerToken(r)
	if !present {
		return sessionPrincipal(s.sessions.Authenticate(w, r)), nil, nil
	}
	var at *zaikio.AccessToken
	err := error(&zaikio.BearerError{Code: zaikio.BearerMalformed, Err: errBadHeader})
	if ok {
		at, err = g.v.Verify(r.Context(), tok)
	}
	if err != nil {
		be := asBearerError(err)
		// One Authorization header whose token is not a JWS that says
		// iss "ZAI" (or is no b64token at all: "Bearer key:secret") is
		// the legacy app's. Several headers are refused: which one the
		// upstream would read is anyone's guess.
		if len(r.Header["Authorization"]) == 1 && (!ok || !zaikioIssued(tok)) {
			g.foreignCt.Inc()
			return sessionPrincipal(s.sessions.Authenticate(w, r)), nil, &bearerRefusal{be: be}
		}
		g.outcomes.WithLabelValues(string(be.Code)).Inc()
		return principal{}, &bearerRefusal{be: be}, nil
	}
	need := g.scopeR
	if rl != nil && rl.scopeR != "" {
		need = rl.scopeR
	}
	if zaikio.MethodPermission(method) == "w" {
		need = g.scopeW
		if rl != nil && rl.scopeW != "" {
			need = rl.scopeW
		}
	}
	if !at.HasScope(need) {
		be := asBearerError(at.Require(need))
		g.outcomes.WithLabelValues(string(be.Code)).Inc()
		return principal{}, &bearerRefusal{be: be}, nil
	}
	bi, err := g.identity(r.Context(), at)
	if err != nil {
		s.log.Error().Err(err).Str("event", "bearer.links").Str("request_id", requestID(r)).Send()
		g.outcomes.WithLabelValues("unavailable").Inc()
		return principal{}, &bearerRefusal{store: true}, nil
	}
	if bi.notLinked {
		g.outcomes.WithLabelValues("not_linked").Inc()
		return principal{}, &bearerRefusal{notLinked: true}, nil
	}
	g.okCount.Inc()
	return bi.p, nil, nil
}

func asBearerError(err error) *zaikio.BearerError {
	var be *zaikio.BearerError
	if errors.As(err, &be) {
		return be
	}
	return &zaikio.BearerError{Code: zaikio.BearerMalformed, Err: err}
}

// zaikioIssued reports whether tok, whatever its signature, is a compact
// JWS whose payload says iss "ZAI": a token the hub issued (or one made to
// look so), which hubgate answers for. Anything else is left to the
// upstream. Read only after a token was refused, so a cached token never
// pays for it.
func zaikioIssued(tok string) bool {
	if len(tok) > 8<<10 {
		return false
	}
	_, rest, ok := strings.Cut(tok, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	return json.Unmarshal(b, &c) == nil && c.Iss == zaikio.Issuer
}

// identity returns what at stands for, from the cache while it is fresh.
func (g *bearerGate) identity(ctx context.Context, at *zaikio.AccessToken) (*bearerIdentity, error) {
	gen := g.gen.Load()
	if v, ok := g.ids.Load(at.JTI); ok {
		bi := v.(*bearerIdentity)
		if bi.gen == gen && g.now().Before(bi.until) {
			return bi, nil
		}
	}
	bi, err := g.resolve(ctx, at)
	if err != nil {
		return nil, err
	}
	bi.gen, bi.expiry = gen, at.Expiry
	bi.until = g.now().Add(bearerIdentityTTL)
	g.ids.Store(at.JTI, bi)
	return bi, nil
}

// resolve reads the links of at's subject. A person token carries the
// linked legacy user (X-Hubgate-User) and the Zaikio person, but no
// organizations or roles: the token proves who the person is, not their
// memberships (those would need a hub call per token). An organization
// token carries the linked legacy organization (X-Hubgate-Orgs) and, for
// each of Config.BearerOrgRoles, "<org>:<role>". An on-behalf token carries
// both. A subject without the link that identifies it (the person of a
// person or on-behalf token, unless unlinked is pass; the organization of
// an organization token) is not linked.
func (g *bearerGate) resolve(ctx context.Context, at *zaikio.AccessToken) (*bearerIdentity, error) {
	sub := at.Subject
	id := &session.Identity{Person: sub.Person, JTI: at.JTI, Validated: g.now(), Expires: at.Expiry}
	if sub.Person != "" {
		l, err := g.links.LinkByZaikio(ctx, claim.KindPerson, sub.Person)
		switch {
		case err == nil:
			id.User = l.LegacyID
		case !errors.Is(err, claim.ErrNotFound):
			return nil, fmt.Errorf("look up person link: %w", err)
		}
	}
	if sub.Organization != "" {
		l, err := g.links.LinkByZaikio(ctx, claim.KindOrg, sub.Organization)
		switch {
		case err == nil:
			id.Orgs = l.LegacyID
			entries := make([]string, len(g.orgRoles))
			for i, role := range g.orgRoles {
				entries[i] = l.LegacyID + ":" + role
			}
			id.Roles = strings.Join(entries, ",")
		case !errors.Is(err, claim.ErrNotFound):
			return nil, fmt.Errorf("look up org link: %w", err)
		}
	}
	bi := &bearerIdentity{}
	switch sub.Kind {
	case zaikio.SubjectOrganization:
		bi.notLinked = id.Orgs == ""
	default:
		bi.notLinked = id.User == "" && !g.unlinkedPass
	}
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	bi.hv = session.HeaderValues{User: one(id.User), Person: one(id.Person), Orgs: one(id.Orgs), Roles: one(id.Roles)}
	bi.p = principal{id: id, hv: &bi.hv, auth: authBearer}
	return bi, nil
}

// sawRevocations learns from the store's revocation list, which every
// replica polls: the jtis revoked by webhook on any replica (RevokeToken),
// and whether a link was removed since the last look (Unlink), so that no
// cached bearer identity outlives its link by more than a poll.
func (g *bearerGate) sawRevocations(rvs []session.Revocation) {
	var jtis []string
	newest := g.unlinkMark.Load()
	for _, rv := range rvs {
		switch rv.Kind {
		case session.RevokeToken:
			jtis = append(jtis, rv.Subject)
		case session.Unlink:
			newest = max(newest, rv.At.UnixMilli())
		}
	}
	if len(jtis) > 0 {
		g.v.AddRevoked(jtis...)
	}
	if old := g.unlinkMark.Swap(newest); newest != old {
		g.gen.Add(1)
	}
}

// sweep forgets the identities of expired tokens.
func (g *bearerGate) sweep() {
	now := g.now()
	g.ids.Range(func(k, v any) bool {
		if !now.Before(v.(*bearerIdentity).expiry) {
			g.ids.Delete(k)
		}
		return true
	})
}

// revocationTap is the session store as the session manager sees it: its
// revocation list is also read by the bearer gate (sawRevocations), so
// that both learn from one poll.
type revocationTap struct {
	session.Store
	g *bearerGate
}

func (t revocationTap) Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error) {
	rvs, err := t.Store.Revocations(ctx, now)
	if err == nil {
		t.g.sawRevocations(rvs)
	}
	return rvs, err
}
