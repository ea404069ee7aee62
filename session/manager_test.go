package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeHub is a Refresher whose hub rotates tokens "rt<n>"/"at<n>"; verify
// and person are the answers to Grant.Verify and Identity (nil: success).
type fakeHub struct {
	m       *Manager   // to read the store as the Refresher sees it
	st      *memStore  // the manager's store
	mu      sync.Mutex // guards the fields below
	n       int
	rotate  error
	verify  error
	person  error
	atVerif string // the refresh token stored when Verify ran
	calls   []string
}

func (h *fakeHub) Rotate(_ context.Context, rt string) (Grant, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "rotate "+rt)
	if h.rotate != nil {
		return nil, h.rotate
	}
	h.n++
	return fakeGrant{h: h, n: h.n}, nil
}

func (h *fakeHub) Identity(_ context.Context, at string, id *Identity) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "identity "+at)
	if h.person != nil {
		return h.person
	}
	id.User, id.Orgs, id.Roles = "42", "100", "100:admin"
	return nil
}

func (h *fakeHub) Revoke(_ context.Context, at string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "revoke "+at)
	return nil
}

type fakeGrant struct {
	h *fakeHub
	n int
}

func (g fakeGrant) Tokens() (string, string) {
	return "rt" + string(rune('0'+g.n)), "at" + string(rune('0'+g.n))
}

func (g fakeGrant) Verify(ctx context.Context, person string) (string, error) {
	// What does the store hold while the new token is verified?
	var rt string
	g.h.st.mu.Lock()
	var ids []string
	for id := range g.h.st.recs {
		ids = append(ids, id)
	}
	g.h.st.mu.Unlock()
	for _, id := range ids {
		if _, data, _, err := g.h.m.load(ctx, id); err == nil {
			rt = data.RefreshToken
		}
	}
	g.h.mu.Lock()
	defer g.h.mu.Unlock()
	g.h.atVerif = rt
	g.h.calls = append(g.h.calls, "verify "+person)
	if g.h.verify != nil {
		return "", g.h.verify
	}
	return "jti" + string(rune('0'+g.n)), nil
}

// started returns a manager on a fake hub and a request carrying the cookie
// of a session started at the clock's time with tokens rt0/at0.
func started(t *testing.T) (*Manager, *fakeHub, *clock, *http.Request) {
	t.Helper()
	st, c := newMemStore(), &clock{t: time.UnixMilli(1_700_000_000_000)}
	h := &fakeHub{st: st}
	m := testManager(t, st, h, c.Now)
	h.m = m
	id := m.NewIdentity()
	id.Person, id.User = "p", "42"
	w := httptest.NewRecorder()
	if err := m.Start(context.Background(), w, id, Tokens{Refresh: "rt0", Access: "at0", JTI: "jti0"}); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	for _, ck := range w.Result().Cookies() {
		r.AddCookie(ck)
	}
	return m, h, c, r
}

// stored returns the session's record data as the store holds it.
func stored(t *testing.T, m *Manager, sid string) sealedData {
	t.Helper()
	_, data, _, err := m.load(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRevalidateStoresRotatedTokenFirst: a due revalidation rotates the
// refresh token, stores it before the new access token is verified (DESIGN
// §3), then builds the identity and issues the new cookie.
func TestRevalidateStoresRotatedTokenFirst(t *testing.T) {
	m, h, c, r := started(t)
	if id := m.Authenticate(httptest.NewRecorder(), r); id == nil || id.JTI != "jti0" {
		t.Fatalf("fresh session: Authenticate = %+v; want the started session", id)
	}
	if len(h.calls) != 0 {
		t.Fatalf("fresh session reached the hub: %v", h.calls)
	}
	c.Advance(DefaultRevalidate)
	w := httptest.NewRecorder()
	id := m.Authenticate(w, r)
	if id == nil || id.JTI != "jti1" || id.User != "42" || !id.Validated.Equal(c.Now()) {
		t.Fatalf("due session: Authenticate = %+v; want the revalidated identity", id)
	}
	if h.atVerif != "rt1" {
		t.Errorf("store held refresh token %q while the new token was verified; want the rotated rt1", h.atVerif)
	}
	if got := stored(t, m, id.SessionID); got.RefreshToken != "rt1" || got.AccessToken != "at1" || got.JTI != "jti1" {
		t.Errorf("stored tokens %+v; want rt1, at1, jti1", got)
	}
	if len(w.Result().Cookies()) != 1 {
		t.Errorf("revalidation set %d cookies; want the new session cookie", len(w.Result().Cookies()))
	}
	want := []string{"rotate rt0", "verify p", "identity at1"}
	if len(h.calls) != len(want) || h.calls[0] != want[0] || h.calls[1] != want[1] || h.calls[2] != want[2] {
		t.Errorf("hub calls %v; want %v", h.calls, want)
	}
}

// TestRevalidateOutageKeepsSession: while the hub fails, the session keeps
// its identity for the grace period without asking the hub on every
// request; the rotated token stays stored; after the grace it ends.
func TestRevalidateOutageKeepsSession(t *testing.T) {
	m, h, c, r := started(t)
	h.verify = errors.New("hub keys unavailable")
	c.Advance(DefaultRevalidate)
	id := m.Authenticate(httptest.NewRecorder(), r)
	if id == nil || id.JTI != "jti0" {
		t.Fatalf("hub down: Authenticate = %+v; want the old identity", id)
	}
	if got := stored(t, m, id.SessionID); got.RefreshToken != "rt1" {
		t.Errorf("hub down after rotation: stored refresh token %q; want the rotated rt1", got.RefreshToken)
	}
	calls := len(h.calls)
	if m.Authenticate(httptest.NewRecorder(), r) == nil || len(h.calls) != calls {
		t.Errorf("next request within revalidateRetry: asked the hub again (%v)", h.calls[calls:])
	}
	c.Advance(DefaultGrace)
	w := httptest.NewRecorder()
	if got := m.Authenticate(w, r); got != nil {
		t.Errorf("after the grace period Authenticate = %+v; want nil", got)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge != -1 {
		t.Errorf("after the grace period cookies %v; want the session cookie deleted", cs)
	}
}

// TestRevalidateRefusedEnds: a refused refresh (no race lost) or a token
// the hub disowns ends the session and deletes its record.
func TestRevalidateRefusedEnds(t *testing.T) {
	for name, set := range map[string]func(h *fakeHub){
		"refresh refused": func(h *fakeHub) { h.rotate = ErrEnded },
		"token disowned":  func(h *fakeHub) { h.verify = ErrEnded },
		"person unlinked": func(h *fakeHub) { h.person = ErrEnded },
	} {
		t.Run(name, func(t *testing.T) {
			m, h, c, r := started(t)
			set(h)
			sid := m.Decode(r).SessionID
			c.Advance(DefaultRevalidate)
			if got := m.Authenticate(httptest.NewRecorder(), r); got != nil {
				t.Fatalf("Authenticate = %+v; want nil", got)
			}
			if _, err := h.st.Session(context.Background(), sid); !errors.Is(err, ErrNotFound) {
				t.Errorf("record after the end: %v; want deleted", err)
			}
		})
	}
}

// TestEndRevokes: End revokes the hub token, deletes the record and revokes
// the session id in this replica at once.
func TestEndRevokes(t *testing.T) {
	m, h, _, r := started(t)
	id := m.Decode(r)
	if err := m.End(context.Background(), id, "test", "logout"); err != nil {
		t.Fatal(err)
	}
	if len(h.calls) != 1 || h.calls[0] != "revoke at0" {
		t.Errorf("hub calls %v; want the access token revoked", h.calls)
	}
	if got := m.Authenticate(httptest.NewRecorder(), r); got != nil {
		t.Errorf("after End Authenticate = %+v; want nil", got)
	}
	raw, _ := json.Marshal(h.st.revs)
	if len(h.st.revs) != 1 || h.st.revs[0].Kind != RevokeSession || h.st.revs[0].Subject != id.SessionID {
		t.Errorf("stored revocations %s; want the session's", raw)
	}
}
