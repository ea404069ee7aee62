package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestUnlinkAppliesWithHubDown: with the hub failing, a session whose
// legacy user was unlinked after it was validated no longer carries it from
// the next request on — the outage's grace keeps the session, never the
// unlinked user — and its cookie is rewritten without it, so that later
// requests do not depend on the revocation list.
func TestUnlinkAppliesWithHubDown(t *testing.T) {
	m, h, c, r := started(t)
	h.rotate = errors.New("hub unreachable")
	c.Advance(time.Millisecond)
	if err := m.Revoke(context.Background(), Revocation{Kind: Unlink, Subject: "person:42", At: c.Now(), Until: c.Now().Add(DefaultTTL)}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	id := m.Authenticate(w, r)
	if id == nil || id.User != "" || id.Person != "p" || id.Headers().User != nil {
		t.Fatalf("after the unlink, hub down: Authenticate = %+v; want the session without its legacy user", id)
	}
	if len(h.calls) != 1 || h.calls[0] != "rotate rt0" {
		t.Errorf("hub calls %v; want one revalidation attempt (the unlink is announced)", h.calls)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies set %v; want the session cookie without the user", cs)
	}
	r2 := httptest.NewRequest(http.MethodGet, "/x", nil)
	r2.AddCookie(cs[0])
	m.revoked.Store(newRevocationSet(nil)) // the entry forgotten (it expired)
	if id := m.Authenticate(httptest.NewRecorder(), r2); id == nil || id.User != "" {
		t.Errorf("the rewritten cookie carries %+v; want no legacy user", id)
	}
}

// TestRetireKeepsHubTokens: Retire ends the session (record deleted, id
// revoked) without revoking its hub token, which its successor holds.
func TestRetireKeepsHubTokens(t *testing.T) {
	m, h, _, r := started(t)
	id := m.Decode(r)
	if err := m.Retire(context.Background(), id, "test", "rotated at link"); err != nil {
		t.Fatal(err)
	}
	if len(h.calls) != 0 {
		t.Errorf("hub calls %v; want none", h.calls)
	}
	if got := m.Authenticate(httptest.NewRecorder(), r); got != nil {
		t.Errorf("after Retire Authenticate = %+v; want nil", got)
	}
	if _, err := h.st.Session(context.Background(), id.SessionID); !errors.Is(err, ErrNotFound) {
		t.Errorf("record after Retire: %v; want deleted", err)
	}
}
