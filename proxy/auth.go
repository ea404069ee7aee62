package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// authenticate returns the request's valid session identity, or nil. It is
// the hot path: one cookie lookup, a cache hit (or one decode+verify), an
// expiry check and a revocation check in memory. Only when a revalidation
// is due does it reach the store and the hub (single-flight per session).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *Identity {
	id := s.decodeSession(r)
	if id == nil {
		return nil
	}
	now := s.now()
	if !now.Before(id.Expires) {
		return nil
	}
	rs := s.revoked.Load()
	if rs.revoked(id) {
		s.clearSession(w)
		return nil
	}
	if announced := rs.stale(id, now); announced || now.Sub(id.Validated) >= s.cfg.Revalidate {
		return s.revalidate(w, r, id, announced)
	}
	return id
}

// decodeSession decodes and verifies the session cookie (nil if absent or
// invalid). Verified cookies are cached by their exact value.
func (s *Server) decodeSession(r *http.Request) *Identity {
	val := cookieValue(r, s.sessionName)
	if val == "" {
		return nil
	}
	if id := s.ids.get(val); id != nil {
		return id
	}
	buf := plainBufs.Get().(*[]byte)
	defer plainBufs.Put(buf)
	raw, err := s.codec.decodeAppend((*buf)[:0], s.sessionName, val)
	*buf = raw
	if err != nil {
		return nil
	}
	id := new(Identity)
	if err := id.unmarshal(raw); err != nil { // copies out of buf
		return nil
	}
	id.prepare()
	s.ids.put(val, id)
	return id
}

// plainBufs hold decrypted session cookies until unmarshal copies them.
var plainBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// sessionData is the sealed server-side part of a session.
type sessionData struct {
	RefreshToken string `json:"rt"`
	AccessToken  string `json:"at"`
	JTI          string `json:"jti"`
	Identity     []byte `json:"id"`
}

var errSessionEnded = errors.New("proxy: session ended")

// revalidate re-reads identity and roles for a session whose revalidation is
// due. One request per session does it. While it runs, concurrent requests
// of a routine revalidation keep using the current identity; when the
// revalidation was announced (a webhook, an operator: the identity is known
// to be out of date), they wait for it (up to announcedWait) and use its
// result, so that no request after the announcement carries the old
// identity. If the hub is unreachable the session keeps working for
// RevalidateGrace past the due time.
func (s *Server) revalidate(w http.ResponseWriter, r *http.Request, id *Identity, announced bool) *Identity {
	graceEnd := id.Validated.Add(s.cfg.Revalidate).Add(s.cfg.RevalidateGrace)
	if s.retries.wait(id.SessionID, s.now(), graceEnd) {
		return id // the hub failed moments ago: don't make this request wait for it again
	}
	mine := &refresh{done: make(chan struct{})}
	if v, busy := s.inflight.LoadOrStore(id.SessionID, mine); busy {
		if !announced {
			return id
		}
		t := time.NewTimer(announcedWait)
		defer t.Stop()
		select {
		case <-v.(*refresh).done:
		case <-t.C:
			return id
		case <-r.Context().Done():
			return id
		}
		if s.retries.wait(id.SessionID, s.now(), graceEnd) {
			return id // it failed: the grace rules apply
		}
		return s.afterRefresh(w, r, id)
	}
	defer func() {
		s.inflight.Delete(id.SessionID)
		close(mine.done)
	}()
	// The refresh must finish even if this client goes away: the rotated
	// refresh token has to reach the store.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	nid, err := s.refreshSession(ctx, id)
	switch {
	case err == nil:
		s.retries.forget(id.SessionID)
		if err := s.setSession(w, nid); err != nil {
			s.log.Error().Err(err).Str("event", "session.cookie").Str("request_id", requestID(r)).Send()
			return id
		}
		return nid
	case errors.Is(err, errSessionEnded):
		s.retries.forget(id.SessionID)
		s.log.Info().Err(err).Str("event", "session.end").Str("person", id.Person).Str("request_id", requestID(r)).Send()
		s.clearSession(w)
		return nil
	default:
		if now := s.now(); now.Before(graceEnd) {
			s.retries.after(id.SessionID, now.Add(revalidateRetry))
			s.log.Warn().Err(err).Str("event", "session.revalidate_deferred").Str("person", id.Person).Str("request_id", requestID(r)).Send()
			return id
		}
		s.retries.forget(id.SessionID)
		s.log.Warn().Err(err).Str("event", "session.grace_over").Str("person", id.Person).Str("request_id", requestID(r)).Send()
		s.clearSession(w)
		return nil
	}
}

// afterRefresh gives a request that waited for its session's revalidation
// the result: the identity the store now holds (and its cookie), nil when
// the revalidation ended the session, or id when the store holds nothing
// newer or cannot be read.
func (s *Server) afterRefresh(w http.ResponseWriter, r *http.Request, id *Identity) *Identity {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	_, _, stored, err := s.loadSession(ctx, id.SessionID)
	switch {
	case errors.Is(err, errSessionEnded):
		s.clearSession(w)
		return nil
	case err != nil || !stored.Validated.After(id.Validated):
		return id
	}
	if err := s.setSession(w, stored); err != nil {
		s.log.Error().Err(err).Str("event", "session.cookie").Str("request_id", requestID(r)).Send()
	}
	return stored
}

// refresh is one revalidation running in this process; done is closed when
// it ends.
type refresh struct{ done chan struct{} }

// announcedWait bounds how long a request waits for its session's announced
// revalidation run by another request.
const announcedWait = 5 * time.Second

// revalidateRetry is how long a session whose revalidation failed (hub down,
// slow or rate-limiting) keeps its identity before the next attempt. Without
// it every request of the session would wait for the hub again, up to the
// hub client's timeout, for the whole grace period.
const revalidateRetry = 30 * time.Second

// retryTable remembers, per session, when revalidation may be tried again
// after the hub failed. It is bounded like limiter: when full it starts over
// (those sessions then ask the hub once more, no harm).
type retryTable struct {
	mu sync.Mutex // guards m
	m  map[string]time.Time
}

const retryTableMax = 50000

// wait reports whether sid should not try the hub yet: a retry time is set
// and lies ahead, and the grace period is not over.
func (t *retryTable) wait(sid string, now, graceEnd time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.m[sid]
	if !ok {
		return false
	}
	if now.Before(at) && now.Before(graceEnd) {
		return true
	}
	delete(t.m, sid)
	return false
}

func (t *retryTable) after(sid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= retryTableMax {
		t.m = make(map[string]time.Time)
	}
	t.m[sid] = at
}

func (t *retryTable) forget(sid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, sid)
}

// refreshSession rotates the session's refresh token at the hub, re-reads the
// person and rebuilds the identity. The new refresh token is stored (compare-
// and-swap on the record version) before the caller issues the new cookie. If
// another request or replica refreshed first, its result is used instead.
func (s *Server) refreshSession(ctx context.Context, id *Identity) (*Identity, error) {
	// The new identity counts as validated when the hub was asked, not when
	// it answered: a change announced (webhook) while the hub was answering
	// must still make this identity stale.
	asked := s.now()
	rec, data, p, stored, err := s.rotate(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return stored, nil // someone else refreshed; use theirs
	}
	nid, err := s.buildIdentity(ctx, p, data.JTI, id.SessionID, id.Created, id.Expires)
	if err != nil {
		return nil, err
	}
	nid.Validated = asked
	if nid.User == "" && s.cfg.Unlinked == UnlinkedDeny {
		_ = s.store.DeleteSession(ctx, id.SessionID)
		return nil, fmt.Errorf("%w: person %s is no longer linked", errSessionEnded, id.Person)
	}
	data.Identity = nid.marshal()
	if err := s.saveSession(ctx, &rec, data); err != nil {
		if errors.Is(err, session.ErrConflict) {
			if _, _, stored2, err2 := s.loadSession(ctx, id.SessionID); err2 == nil {
				return stored2, nil
			}
		}
		return nil, err
	}
	s.log.Info().Str("event", "session.revalidated").Str("person", nid.Person).Str("user", nid.User).Send()
	return nid, nil
}

// rotate trades the session's refresh token for a new one, verifies the new
// access token and reads the person. The rotated tokens are stored before it
// returns. Unless force is set, when the stored record shows that another
// request or replica has already revalidated (newer than id), rotate returns
// that identity and a nil person instead.
func (s *Server) rotate(ctx context.Context, id *Identity, force bool) (session.Record, sessionData, *zaikio.Person, *Identity, error) {
	rec, data, stored, err := s.loadSession(ctx, id.SessionID)
	if err != nil {
		return rec, data, nil, nil, err
	}
	if !force && stored.Validated.After(id.Validated) && !s.revoked.Load().stale(stored, s.now()) {
		return rec, data, nil, stored, nil
	}
	tok, err := s.hub.Refresh(ctx, data.RefreshToken)
	if errors.Is(err, zaikio.ErrInvalidGrant) {
		// Lost a race with another replica? Then the record has moved on.
		if rec2, data2, stored2, err2 := s.loadSession(ctx, id.SessionID); err2 == nil && rec2.Version != rec.Version {
			if force {
				return s.rotate(ctx, id, true)
			}
			return rec2, data2, nil, stored2, nil
		}
		_ = s.store.DeleteSession(ctx, id.SessionID)
		return rec, data, nil, nil, fmt.Errorf("%w: refresh refused: %w", errSessionEnded, err)
	}
	if err != nil {
		return rec, data, nil, nil, err
	}
	// The new refresh token replaces the old one at once: the old one is
	// already spent at the hub.
	data.RefreshToken, data.AccessToken = tok.RefreshToken, tok.AccessToken
	if err := s.saveSession(ctx, &rec, data); err != nil {
		return rec, data, nil, nil, fmt.Errorf("store rotated refresh token: %w", err)
	}
	claims, err := s.hub.Verify(ctx, tok)
	if errors.Is(err, zaikio.ErrUnavailable) {
		// The hub's keys could not be fetched: an outage, not a bad token.
		// The rotated refresh token is stored, so the session keeps its
		// grace period and revalidates later.
		return rec, data, nil, nil, err
	}
	if err != nil {
		_ = s.store.DeleteSession(ctx, id.SessionID)
		return rec, data, nil, nil, fmt.Errorf("%w: refreshed token: %w", errSessionEnded, err)
	}
	if tok.Bearer.Type != "Person" || tok.Bearer.ID != id.Person {
		_ = s.store.DeleteSession(ctx, id.SessionID)
		return rec, data, nil, nil, fmt.Errorf("%w: refreshed token is for %s/%s", errSessionEnded, tok.Bearer.Type, tok.Bearer.ID)
	}
	data.JTI = claims.JTI
	p, err := s.hub.Person(ctx, tok.AccessToken)
	if err != nil {
		return rec, data, nil, nil, err
	}
	return rec, data, p, nil, nil
}

// freshPerson reads the session's person from the hub now (rotating the
// refresh token) and returns it with the session's current tokens.
func (s *Server) freshPerson(ctx context.Context, id *Identity) (*zaikio.Person, sessionData, error) {
	_, data, p, _, err := s.rotate(ctx, id, true)
	if err != nil {
		return nil, data, err
	}
	return p, data, nil
}

func (s *Server) loadSession(ctx context.Context, sid string) (session.Record, sessionData, *Identity, error) {
	rec, err := s.store.Session(ctx, sid)
	if errors.Is(err, session.ErrNotFound) {
		return rec, sessionData{}, nil, fmt.Errorf("%w: no server-side record", errSessionEnded)
	}
	if err != nil {
		return rec, sessionData{}, nil, err
	}
	plain, err := s.codec.openData(sid, rec.Data)
	if err != nil {
		return rec, sessionData{}, nil, fmt.Errorf("%w: %w", errSessionEnded, err)
	}
	var data sessionData
	if err := json.Unmarshal(plain, &data); err != nil {
		return rec, sessionData{}, nil, fmt.Errorf("%w: %w", errSessionEnded, err)
	}
	stored := new(Identity)
	if err := stored.unmarshal(data.Identity); err != nil {
		return rec, sessionData{}, nil, fmt.Errorf("%w: %w", errSessionEnded, err)
	}
	stored.prepare()
	return rec, data, stored, nil
}

// saveSession writes data over rec with compare-and-swap on rec.Version and
// advances rec to the stored version.
func (s *Server) saveSession(ctx context.Context, rec *session.Record, data sessionData) error {
	plain, err := json.Marshal(data)
	if err != nil {
		return err
	}
	sealed, err := s.codec.sealData(rec.ID, plain)
	if err != nil {
		return err
	}
	next := *rec
	next.Data = sealed
	if err := s.store.PutSession(ctx, next, rec.Version); err != nil {
		return err
	}
	next.Version = rec.Version + 1
	*rec = next
	return nil
}

// buildIdentity computes the identity of person p: the linked legacy user,
// the linked organizations and the mapped roles (only for linked orgs).
func (s *Server) buildIdentity(ctx context.Context, p *zaikio.Person, jti, sid string, created, expires time.Time) (*Identity, error) {
	id := &Identity{
		SessionID: sid, Person: p.ID, JTI: jti, Email: p.Email, Name: p.DisplayName(),
		Created: created, Validated: s.now(), Expires: expires,
	}
	l, err := s.store.LinkByZaikio(ctx, claim.KindPerson, p.ID)
	switch {
	case err == nil:
		id.User = l.LegacyID
	case !errors.Is(err, claim.ErrNotFound):
		return nil, fmt.Errorf("look up person link: %w", err)
	}
	var ms []roles.Membership
	for _, m := range p.Memberships {
		ol, err := s.store.LinkByZaikio(ctx, claim.KindOrg, m.Organization.ID)
		if errors.Is(err, claim.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up org link: %w", err)
		}
		ms = append(ms, roles.Membership{LegacyOrg: ol.LegacyID, Roles: m.Roles})
	}
	g := s.policy().Roles.Apply(ms)
	id.Orgs, id.Roles = roles.Header(g.Orgs), roles.Header(g.Roles)
	id.prepare()
	return id, nil
}

// newSession starts a session for p with tok: a fresh session id (rotated at
// every sign-in and link), the sealed refresh token in the store, and the
// cookie.
func (s *Server) newSession(ctx context.Context, w http.ResponseWriter, p *zaikio.Person, tok *zaikio.Token, jti string) (*Identity, error) {
	return s.sessionFromData(ctx, w, p, sessionData{RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken, JTI: jti})
}

// sessionFromData starts a new session for p holding data's hub tokens.
func (s *Server) sessionFromData(ctx context.Context, w http.ResponseWriter, p *zaikio.Person, data sessionData) (*Identity, error) {
	now := s.now()
	id, err := s.buildIdentity(ctx, p, data.JTI, newSessionID(), now, now.Add(s.cfg.SessionTTL))
	if err != nil {
		return nil, err
	}
	// The cookie is encoded first: an identity too large for one cookie
	// fails here, before a server-side record nobody could use is stored.
	c, err := s.sessionCookie(id)
	if err != nil {
		return nil, err
	}
	data.Identity = id.marshal()
	rec := session.Record{ID: id.SessionID, Person: p.ID, ExpiresAt: id.Expires}
	if err := s.saveSession(ctx, &rec, data); err != nil {
		return nil, fmt.Errorf("store session: %w", err)
	}
	http.SetCookie(w, c)
	return id, nil
}

// setSession writes id into the session cookie.
func (s *Server) setSession(w http.ResponseWriter, id *Identity) error {
	c, err := s.sessionCookie(id)
	if err != nil {
		return err
	}
	http.SetCookie(w, c)
	return nil
}

// sessionCookie encodes id as the session cookie, refusing identities whose
// cookie would exceed maxCookie bytes (errCookieTooLarge).
func (s *Server) sessionCookie(id *Identity) (*http.Cookie, error) {
	val, err := s.codec.encode(s.sessionName, id.marshal())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCookieTooLarge, err)
	}
	if len(val) > maxCookie {
		return nil, errCookieTooLarge
	}
	return s.cookie(s.sessionName, val, time.Until(id.Expires)), nil
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.sessionName, "", -1))
}

// endSession revokes the hub token, deletes the server-side record and
// revokes the session id everywhere (so a copied cookie stops working).
func (s *Server) endSession(ctx context.Context, id *Identity, actor, reason string) error {
	if _, data, _, err := s.loadSession(ctx, id.SessionID); err == nil && data.AccessToken != "" {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.hub.Revoke(rctx, data.AccessToken); err != nil {
			s.log.Warn().Err(err).Str("event", "hub.revoke").Str("person", id.Person).Send()
		}
		cancel()
	}
	if err := s.store.DeleteSession(ctx, id.SessionID); err != nil {
		return err
	}
	rv := session.Revocation{Kind: session.RevokeSession, Subject: id.SessionID, At: s.now(), Until: id.Expires.Add(time.Minute), Actor: actor, Reason: reason}
	if err := s.store.AddRevocation(ctx, rv); err != nil {
		return err
	}
	s.revoked.Store(s.revoked.Load().with(rv))
	return nil
}

// revocationSet is an immutable snapshot of the revocation list, swapped
// atomically; lookups take no lock.
type revocationSet struct {
	sessions map[string]struct{}
	tokens   map[string]struct{}
	persons  map[string]time.Time // sessions created before this are revoked (millisecond precision, as in the cookie)
	staleBy  map[string]time.Time // sessions validated before this must revalidate: by person or "*"
	orgStale map[string]time.Time // the same by legacy org (subject "org:<legacy org>")
	all      []session.Revocation
}

func newRevocationSet(rvs []session.Revocation) *revocationSet {
	rs := &revocationSet{all: rvs}
	for _, rv := range rvs {
		switch rv.Kind {
		case session.RevokeSession:
			if rs.sessions == nil {
				rs.sessions = map[string]struct{}{}
			}
			rs.sessions[rv.Subject] = struct{}{}
		case session.RevokeToken:
			if rs.tokens == nil {
				rs.tokens = map[string]struct{}{}
			}
			rs.tokens[rv.Subject] = struct{}{}
		case session.RevokePerson:
			if rs.persons == nil {
				rs.persons = map[string]time.Time{}
			}
			if rv.At.After(rs.persons[rv.Subject]) {
				rs.persons[rv.Subject] = rv.At
			}
		case session.Revalidate:
			m, key := &rs.staleBy, rv.Subject
			if org, ok := strings.CutPrefix(rv.Subject, "org:"); ok {
				m, key = &rs.orgStale, org
			}
			if *m == nil {
				*m = map[string]time.Time{}
			}
			if rv.At.After((*m)[key]) {
				(*m)[key] = rv.At
			}
		}
	}
	return rs
}

// with returns a copy of rs with rv added.
func (rs *revocationSet) with(rv session.Revocation) *revocationSet {
	all := make([]session.Revocation, len(rs.all), len(rs.all)+1)
	copy(all, rs.all)
	return newRevocationSet(append(all, rv))
}

func (rs *revocationSet) revoked(id *Identity) bool {
	if _, ok := rs.sessions[id.SessionID]; ok {
		return true
	}
	if _, ok := rs.tokens[id.JTI]; ok && id.JTI != "" {
		return true
	}
	if t, ok := rs.persons[id.Person]; ok && id.Created.Before(t) {
		return true
	}
	return false
}

// staleSpread spreads the revalidations an "everyone" mark causes: each
// session is due at a point of its own within this window after the mark,
// so that one event does not send every active session to the hub at once.
const staleSpread = 30 * time.Second

func (rs *revocationSet) stale(id *Identity, now time.Time) bool {
	if len(rs.staleBy) > 0 {
		if t, ok := rs.staleBy[id.Person]; ok && id.Validated.Before(t) {
			return true
		}
		if t, ok := rs.staleBy["*"]; ok && id.Validated.Before(t) && !now.Before(t.Add(spreadOf(id.SessionID))) {
			return true
		}
	}
	if len(rs.orgStale) > 0 {
		for org := range strings.SplitSeq(id.Orgs, ",") {
			if t, ok := rs.orgStale[org]; ok && org != "" && id.Validated.Before(t) {
				return true
			}
		}
	}
	return false
}

// spreadOf is a session's fixed offset within staleSpread (FNV-1a of its id).
func spreadOf(sessionID string) time.Duration {
	h := uint32(2166136261)
	for i := 0; i < len(sessionID); i++ {
		h = (h ^ uint32(sessionID[i])) * 16777619
	}
	return time.Duration(h%uint32(staleSpread/time.Millisecond)) * time.Millisecond
}

// identityCache maps exact, already verified cookie values to their decoded
// identity, so that a session's cookie is decrypted and verified once per
// process rather than once per request. It is bounded: a full shard is
// emptied (sessions re-decode on their next request).
type identityCache struct {
	seed   maphash.Seed
	shards [16]identityShard
}

type identityShard struct {
	mu sync.RWMutex // guards m
	m  map[string]*Identity
}

const identityShardMax = 1024

func newIdentityCache() *identityCache {
	c := &identityCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Identity)
	}
	return c
}

func (c *identityCache) shard(key string) *identityShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

func (c *identityCache) get(key string) *Identity {
	sh := c.shard(key)
	sh.mu.RLock()
	id := sh.m[key]
	sh.mu.RUnlock()
	return id
}

func (c *identityCache) put(key string, id *Identity) {
	sh := c.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= identityShardMax {
		clear(sh.m)
	}
	sh.m[key] = id
	sh.mu.Unlock()
}

// purge empties the cache (after a secret rotation).
func (c *identityCache) purge() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}
