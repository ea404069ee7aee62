package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Refresher does the part of a revalidation that needs the hub, the links
// and the role map; package proxy implements it. The session calls it in
// this order, and stores the rotated tokens between Rotate and Verify: the
// hub spends the old refresh token at once, so the new one must be kept
// whatever happens next.
//
// An error wrapping ErrEnded means the session cannot go on (the hub
// refused, or the person may no longer have a session); the session's
// record is then deleted. Any other error is an outage: the session keeps
// its identity for its grace period and tries again later.
type Refresher interface {
	// Rotate trades refreshToken for new tokens at the hub. ErrEnded: the
	// hub refused the token (invalid_grant).
	Rotate(ctx context.Context, refreshToken string) (Grant, error)
	// Identity reads with accessToken the person the session belongs to and
	// fills in who they are: Person, User, Email, Name, Orgs and Roles of id
	// (the session sets its other fields).
	Identity(ctx context.Context, accessToken string, id *Identity) error
	// Revoke revokes an access token at the hub (the session ends).
	Revoke(ctx context.Context, accessToken string) error
}

// Grant is the hub's answer to a refresh: rotated tokens, not verified yet.
type Grant interface {
	// Tokens returns the new refresh and access token.
	Tokens() (refresh, access string)
	// Verify checks the new access token and that it was issued to person,
	// and returns its id (jti). ErrEnded: the token is not valid for person.
	Verify(ctx context.Context, person string) (jti string, err error)
}

// sealedData is the sealed server-side part of a session (Record.Data). Its
// JSON form is what stores hold: keep the field names.
type sealedData struct {
	RefreshToken string `json:"rt"`
	AccessToken  string `json:"at"`
	JTI          string `json:"jti"`
	Identity     []byte `json:"id"`
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

// revalidate re-reads identity and roles for a session whose revalidation is
// due. One request per session does it. While it runs, concurrent requests
// of a routine revalidation keep using the current identity; when the
// revalidation was announced (a webhook, an operator: the identity is known
// to be out of date), they wait for it (up to announcedWait) and use its
// result, so that no request after the announcement carries the old
// identity. If the hub is unreachable the session keeps working for the
// grace period past the due time.
func (m *Manager) revalidate(w http.ResponseWriter, r *http.Request, id *Identity, announced bool) *Identity {
	graceEnd := id.Validated.Add(m.every).Add(m.grace)
	if m.retries.wait(id.SessionID, m.now(), graceEnd) {
		return id // the hub failed moments ago: don't make this request wait for it again
	}
	mine := &refresh{done: make(chan struct{})}
	if v, busy := m.inflight.LoadOrStore(id.SessionID, mine); busy {
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
		if m.retries.wait(id.SessionID, m.now(), graceEnd) {
			return id // it failed: the grace rules apply
		}
		return m.afterRefresh(w, r, id)
	}
	defer func() {
		m.inflight.Delete(id.SessionID)
		close(mine.done)
	}()
	// The refresh must finish even if this client goes away: the rotated
	// refresh token has to reach the store.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	nid, err := m.refresh(ctx, id)
	switch {
	case err == nil:
		m.retries.forget(id.SessionID)
		if err := m.setCookie(w, nid); err != nil {
			m.event(r, slog.LevelError, "session.cookie", err)
			return id
		}
		return nid
	case errors.Is(err, ErrEnded):
		m.retries.forget(id.SessionID)
		m.event(r, slog.LevelInfo, "session.end", err, slog.String("person", id.Person))
		m.Clear(w)
		return nil
	default:
		if now := m.now(); now.Before(graceEnd) {
			m.retries.after(id.SessionID, now.Add(revalidateRetry))
			m.event(r, slog.LevelWarn, "session.revalidate_deferred", err, slog.String("person", id.Person))
			return id
		}
		m.retries.forget(id.SessionID)
		m.event(r, slog.LevelWarn, "session.grace_over", err, slog.String("person", id.Person))
		m.Clear(w)
		return nil
	}
}

// event logs what happened to a session in request r.
func (m *Manager) event(r *http.Request, level slog.Level, name string, err error, attrs ...slog.Attr) {
	all := make([]slog.Attr, 0, len(attrs)+3)
	if err != nil {
		all = append(all, slog.Any("error", err))
	}
	all = append(all, slog.String("event", name))
	all = append(all, attrs...)
	all = append(all, slog.String("request_id", m.requestID(r)))
	m.log.LogAttrs(r.Context(), level, "", all...)
}

// afterRefresh gives a request that waited for its session's revalidation
// the result: the identity the store now holds (and its cookie), nil when
// the revalidation ended the session, or id when the store holds nothing
// newer or cannot be read.
func (m *Manager) afterRefresh(w http.ResponseWriter, r *http.Request, id *Identity) *Identity {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	_, _, stored, err := m.load(ctx, id.SessionID)
	switch {
	case errors.Is(err, ErrEnded):
		m.Clear(w)
		return nil
	case err != nil || !stored.Validated.After(id.Validated):
		return id
	}
	if err := m.setCookie(w, stored); err != nil {
		m.event(r, slog.LevelError, "session.cookie", err)
	}
	return stored
}

// refresh rotates the session's refresh token at the hub, re-reads the
// person and rebuilds the identity. The new refresh token is stored (compare-
// and-swap on the record version) before the caller issues the new cookie. If
// another request or replica refreshed first, its result is used instead.
func (m *Manager) refresh(ctx context.Context, id *Identity) (*Identity, error) {
	// The new identity counts as validated when the hub was asked, not when
	// it answered: a change announced (webhook) while the hub was answering
	// must still make this identity stale.
	asked := m.now()
	rec, data, stored, err := m.rotate(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		return stored, nil // someone else refreshed; use theirs
	}
	nid := &Identity{Person: id.Person}
	if err := m.hub.Identity(ctx, data.AccessToken, nid); err != nil {
		if errors.Is(err, ErrEnded) {
			_ = m.store.DeleteSession(ctx, id.SessionID)
		}
		return nil, err
	}
	nid.SessionID, nid.JTI, nid.Created, nid.Validated, nid.Expires = id.SessionID, data.JTI, id.Created, asked, id.Expires
	nid.prepare()
	data.Identity = nid.marshal()
	if err := m.save(ctx, &rec, data); err != nil {
		if errors.Is(err, ErrConflict) {
			if _, _, stored2, err2 := m.load(ctx, id.SessionID); err2 == nil {
				return stored2, nil
			}
		}
		return nil, err
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "", slog.String("event", "session.revalidated"), slog.String("person", nid.Person), slog.String("user", nid.User))
	return nid, nil
}

// Rotate rotates the session's refresh token now, whether or not a
// revalidation is due, and returns the session's new tokens, stored and
// verified: for a step that needs the person as the hub sees them this
// moment (an organization claim), which reads them with Tokens.Access.
func (m *Manager) Rotate(ctx context.Context, id *Identity) (Tokens, error) {
	_, data, _, err := m.rotate(ctx, id, true)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{Refresh: data.RefreshToken, Access: data.AccessToken, JTI: data.JTI}, nil
}

// rotate trades the session's refresh token for a new one and verifies the
// new access token. The rotated tokens are stored before it returns. Unless
// force is set, when the stored record shows that another request or
// replica has already revalidated (newer than id), rotate returns that
// identity as stored instead, and rotates nothing.
func (m *Manager) rotate(ctx context.Context, id *Identity, force bool) (rec Record, data sealedData, stored *Identity, err error) {
	rec, data, stored, err = m.load(ctx, id.SessionID)
	if err != nil {
		return rec, data, nil, err
	}
	if !force && stored.Validated.After(id.Validated) && !m.revoked.Load().stale(stored, m.now()) {
		return rec, data, stored, nil
	}
	g, err := m.hub.Rotate(ctx, data.RefreshToken)
	if errors.Is(err, ErrEnded) {
		// Lost a race with another replica? Then the record has moved on.
		if rec2, data2, stored2, err2 := m.load(ctx, id.SessionID); err2 == nil && rec2.Version != rec.Version {
			if force {
				return m.rotate(ctx, id, true)
			}
			return rec2, data2, stored2, nil
		}
		_ = m.store.DeleteSession(ctx, id.SessionID)
		return rec, data, nil, err
	}
	if err != nil {
		return rec, data, nil, err
	}
	// The new refresh token replaces the old one at once: the old one is
	// already spent at the hub.
	data.RefreshToken, data.AccessToken = g.Tokens()
	if err := m.save(ctx, &rec, data); err != nil {
		return rec, data, nil, fmt.Errorf("store rotated refresh token: %w", err)
	}
	jti, err := g.Verify(ctx, id.Person)
	if err != nil {
		// An outage (the hub's keys could not be fetched, say) keeps the
		// grace period: the rotated refresh token is stored, so the session
		// revalidates later.
		if errors.Is(err, ErrEnded) {
			_ = m.store.DeleteSession(ctx, id.SessionID)
		}
		return rec, data, nil, err
	}
	data.JTI = jti
	return rec, data, nil, nil
}

// load reads and opens the session's record. A missing or unreadable record
// is ErrEnded.
func (m *Manager) load(ctx context.Context, sid string) (Record, sealedData, *Identity, error) {
	rec, err := m.store.Session(ctx, sid)
	if errors.Is(err, ErrNotFound) {
		return rec, sealedData{}, nil, fmt.Errorf("%w: no server-side record", ErrEnded)
	}
	if err != nil {
		return rec, sealedData{}, nil, err
	}
	plain, err := m.codec.Open(sid, rec.Data)
	if err != nil {
		return rec, sealedData{}, nil, fmt.Errorf("%w: %w", ErrEnded, err)
	}
	var data sealedData
	if err := json.Unmarshal(plain, &data); err != nil {
		return rec, sealedData{}, nil, fmt.Errorf("%w: %w", ErrEnded, err)
	}
	stored := new(Identity)
	if err := stored.unmarshal(data.Identity); err != nil {
		return rec, sealedData{}, nil, fmt.Errorf("%w: %w", ErrEnded, err)
	}
	stored.prepare()
	return rec, data, stored, nil
}

// save writes data over rec with compare-and-swap on rec.Version and
// advances rec to the stored version.
func (m *Manager) save(ctx context.Context, rec *Record, data sealedData) error {
	plain, err := json.Marshal(data)
	if err != nil {
		return err
	}
	sealed, err := m.codec.Seal(rec.ID, plain)
	if err != nil {
		return err
	}
	next := *rec
	next.Data = sealed
	if err := m.store.PutSession(ctx, next, rec.Version); err != nil {
		return err
	}
	next.Version = rec.Version + 1
	*rec = next
	return nil
}
