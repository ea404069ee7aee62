package proxy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// loginApp is a legacy app with a password login and legacy.whoami, as
// most are: POST /login with the right password sets a fresh session
// cookie and redirects (303); a wrong one shows the form again (200) and,
// like many frameworks, still sets a cookie (a CSRF token); /api/me names
// the session's user, 401 without one. hold, when set, makes /api/me wait
// until it is closed.
type loginApp struct {
	mu       sync.Mutex // guards sessions, whoamis, hold
	sessions map[string]string
	whoamis  []string // Cookie header of each /api/me call
	hold     chan struct{}
	srv      *httptest.Server
}

func newLoginApp(t *testing.T) *loginApp {
	a := &loginApp{sessions: map[string]string{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/me":
			a.mu.Lock()
			a.whoamis = append(a.whoamis, r.Header.Get("Cookie"))
			hold := a.hold
			a.mu.Unlock()
			if hold != nil {
				<-hold
			}
			c, err := r.Cookie("legacy_session")
			a.mu.Lock()
			user := ""
			if err == nil {
				user = a.sessions[c.Value]
			}
			a.mu.Unlock()
			if user == "" {
				http.Error(w, `{"error":"not signed in"}`, http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"id": user, "email": "profile-says@example.com"})
		case r.Method == http.MethodPost && strings.EqualFold(strings.Trim(r.URL.Path, "/"), "login"):
			user, pw := r.PostFormValue("user"), r.PostFormValue("password")
			if pw != "secret-"+user {
				http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "token-" + user, Path: "/"})
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<p>Wrong user or password.</p>"))
				return
			}
			var b [8]byte
			_, _ = rand.Read(b[:])
			sid := hex.EncodeToString(b[:])
			a.mu.Lock()
			a.sessions[sid] = user
			a.mu.Unlock()
			http.SetCookie(w, &http.Cookie{Name: "legacy_session", Value: sid, Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			_, _ = w.Write([]byte("legacy app"))
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// sessionOf signs user in the old way behind hubgate's back and returns
// the legacy session id (a browser that signed in earlier).
func (a *loginApp) sessionOf(user string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	sid := "earlier-" + user
	a.sessions[sid] = user
	return sid
}

func (a *loginApp) whoamiCalls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.whoamis...)
}

// signInEnv is an env in front of a loginApp, with legacy.whoami unless
// noWhoami, on the store st (nil: the env's bolt file).
func signInEnv(t *testing.T, app *loginApp, noWhoami bool, st proxy.Store) (*env, proxy.Store) {
	t.Helper()
	e := newEnv(t, func(c *proxy.Config) {
		c.Upstream = app.srv.URL
		if !noWhoami {
			c.Whoami = "/api/me"
		}
		if st != nil {
			c.Store = st
		}
	})
	if st == nil {
		st = e.store
	}
	return e, st
}

// oldLogin posts the legacy login form from browser b to path.
func oldLogin(t *testing.T, b *browser, path, user, password string) *response {
	t.Helper()
	return b.post(path, url.Values{"user": {user}, "password": {password}})
}

// signInLister and modeSetter are the stores' admin side, which the proxy
// does not declare.
type signInLister interface {
	LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error)
}

type modeSetter interface {
	SetMode(ctx context.Context, mode migration.Mode, ev claim.Event) error
}

// waitSignIns waits until the store holds want sign-ins since `since`.
func waitSignIns(t *testing.T, st proxy.Store, since time.Time, want int) map[string]time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := st.(signInLister).LegacySignIns(t.Context(), since)
		if err != nil {
			t.Fatalf("LegacySignIns = %v", err)
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitWhoami waits until the app saw n whoami calls, then a moment more
// for the store write after the last.
func waitWhoami(t *testing.T, app *loginApp, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(app.whoamiCalls()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("whoami was called %d times; want %d", len(app.whoamiCalls()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}

// TestLegacySignInRecorded: a legacy login that works, seen by hubgate in
// passthrough and offer mode (in any spelling of the login path), records
// the legacy person whoami names — on bbolt and on PostgreSQL — at the
// moment of the login; failed logins, logins by browsers that carry a
// hubgate session, and logins without legacy.whoami record nothing.
func TestLegacySignInRecorded(t *testing.T) {
	for _, kind := range []string{"bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			app := newLoginApp(t)
			var st proxy.Store
			if kind == "postgres" {
				db, err := postgres.Open(t.Context(), pgtest.DSN(t), postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				st = db
			}
			e, st := signInEnv(t, app, false, st)
			loginAt := e.clock.Now()

			// Passthrough: a login that works.
			b := e.browser()
			if r := oldLogin(t, b, "/login", "42", "secret-42"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /login = %d; want the legacy app's 303", r.StatusCode)
			}
			got := waitSignIns(t, st, time.Time{}, 1)
			if at, ok := got["42"]; !ok || len(got) != 1 || !at.Equal(loginAt) {
				t.Fatalf("sign-ins after a good login = %v; want 42 at %v", got, loginAt)
			}
			if calls := app.whoamiCalls(); len(calls) != 1 || !strings.HasPrefix(calls[0], "legacy_session=") || strings.Contains(calls[0], ";") {
				t.Errorf("whoami calls = %q; want one, with only the session cookie the login set", calls)
			}

			// Offer mode, another spelling of the login path.
			if err := st.(modeSetter).SetMode(t.Context(), migration.Offer, modeEvent(migration.Offer)); err != nil {
				t.Fatal(err)
			}
			e.px.Refresh(t.Context())
			e.clock.Advance(time.Hour)
			if r := oldLogin(t, e.browser(), "/Login/", "43", "secret-43"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /Login/ in offer mode = %d; want 303", r.StatusCode)
			}
			got = waitSignIns(t, st, time.Time{}, 2)
			if at := got["43"]; !at.Equal(loginAt.Add(time.Hour)) {
				t.Fatalf("sign-ins after a login in offer mode = %v; want 43 at %v", got, loginAt.Add(time.Hour))
			}
		})
	}
}

// modeEvent is the audit entry of a test's mode switch.
func modeEvent(m migration.Mode) claim.Event {
	return claim.Event{Time: time.Now().UTC(), Actor: "test", Action: "mode.set", Subject: "mode", Detail: string(m)}
}

// TestLegacySignInNotRecorded: what does not prove a legacy login names
// nobody.
func TestLegacySignInNotRecorded(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		app := newLoginApp(t)
		e, st := signInEnv(t, app, false, nil)
		// The browser signed in as 7 earlier: its old cookie must not make
		// the failed login count as 7's.
		b := e.browser()
		u, _ := url.Parse(e.srv.URL)
		b.jar.SetCookies(u, []*http.Cookie{{Name: "legacy_session", Value: app.sessionOf("7"), Path: "/"}})
		if r := oldLogin(t, b, "/login", "42", "guess"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Wrong") {
			t.Fatalf("POST /login with a wrong password = %d %q; want the form again", r.StatusCode, r.body)
		}
		waitWhoami(t, app, 1) // 200 with a cookie: looked up, and refused
		if calls := app.whoamiCalls(); calls[0] != "csrf=token-42" {
			t.Errorf("whoami got Cookie %q; want only the cookie the answer set", calls[0])
		}
		if got := waitSignIns(t, st, time.Time{}, 0); len(got) != 0 {
			t.Errorf("sign-ins after a failed login = %v; want none", got)
		}
	})
	t.Run("without whoami", func(t *testing.T) {
		app := newLoginApp(t)
		e, st := signInEnv(t, app, true, nil)
		if r := oldLogin(t, e.browser(), "/login", "42", "secret-42"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d; want 303", r.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
		if calls := app.whoamiCalls(); len(calls) != 0 {
			t.Errorf("whoami calls without legacy.whoami = %q; want none", calls)
		}
		if got := waitSignIns(t, st, time.Time{}, 0); len(got) != 0 {
			t.Errorf("sign-ins without legacy.whoami = %v; want none", got)
		}
	})
	t.Run("hubgate session", func(t *testing.T) {
		app := newLoginApp(t)
		e, st := signInEnv(t, app, false, nil)
		b := e.browser()
		b.login(devhub.FrankID, "/")
		if b.sessionCookie() == "" {
			t.Fatal("no hubgate session after the sign-in")
		}
		if r := oldLogin(t, b, "/login", "42", "secret-42"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d; want 303", r.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
		if calls := app.whoamiCalls(); len(calls) != 0 {
			t.Errorf("whoami calls for a browser with a hubgate session = %q; want none", calls)
		}
		if got := waitSignIns(t, st, time.Time{}, 0); len(got) != 0 {
			t.Errorf("sign-ins of a browser with a hubgate session = %v; want none", got)
		}
	})
	t.Run("not a login", func(t *testing.T) {
		app := newLoginApp(t)
		e, st := signInEnv(t, app, false, nil)
		b := e.browser()
		for _, path := range []string{"/loginx", "/x/login"} {
			oldLogin(t, b, path, "42", "secret-42")
		}
		b.get("/login?user=42&password=secret-42")
		time.Sleep(200 * time.Millisecond)
		if calls := app.whoamiCalls(); len(calls) != 0 {
			t.Errorf("whoami calls for other paths and GET = %q; want none", calls)
		}
		if got := waitSignIns(t, st, time.Time{}, 0); len(got) != 0 {
			t.Errorf("sign-ins = %v; want none", got)
		}
	})
}

// TestLegacySignInDoesNotDelayLogin: the browser gets the legacy login's
// answer while whoami still hangs; the sign-in is recorded once whoami
// answers. At most one lookup per client is in flight.
func TestLegacySignInDoesNotDelayLogin(t *testing.T) {
	app := newLoginApp(t)
	e, st := signInEnv(t, app, false, nil)
	hold := make(chan struct{})
	app.mu.Lock()
	app.hold = hold
	app.mu.Unlock()

	start := time.Now()
	if r := oldLogin(t, e.browser(), "/login", "42", "secret-42"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login = %d; want 303", r.StatusCode)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the login answer took %v while whoami hung; want it at once", took)
	}
	waitWhoami(t, app, 1)
	// A second login from the same client while the first is looked up:
	// not looked up (one per client), and not delayed either.
	if r := oldLogin(t, e.browser(), "/login", "43", "secret-43"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second POST /login = %d; want 303", r.StatusCode)
	}
	if n := len(app.whoamiCalls()); n != 1 {
		t.Errorf("%d whoami calls while one hung; want 1 (one per client)", n)
	}
	if got := waitSignIns(t, st, time.Time{}, 0); len(got) != 0 {
		t.Errorf("sign-ins before whoami answered = %v; want none", got)
	}
	close(hold)
	if got := waitSignIns(t, st, time.Time{}, 1); len(got) != 1 || got["42"].IsZero() {
		t.Errorf("sign-ins after whoami answered = %v; want 42", got)
	}
}
