package proxy

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// # Legacy sign-ins (readiness before enforce)
//
// Before an operator closes the legacy login, they need to know who would be
// locked out: who still signs in the old way and has not linked an account.
// hubgate sees every legacy login it forwards, so it records, per legacy
// person, the last time they signed in the old way — the legacy person id
// and the time, nothing about passwords, sessions or cookies.
//
// The signal is a legacy login that worked, in passthrough or offer mode
// (enforce closes the login):
//
//  1. a POST to a legacy.login_paths closing rule (closedBy, in every
//     spelling) from a browser without a hubgate session (a person signed
//     in with Zaikio who also uses the old login is not a lock-out risk);
//  2. answered by the upstream with 2xx or 3xx and at least one cookie set
//     (Set-Cookie that does not delete it): a login that works starts a
//     session, and apps that follow OWASP's advice issue a fresh session
//     cookie at login;
//  3. confirmed by legacy.whoami, called with only the cookies that answer
//     set (never the browser's older ones, which could name someone signed
//     in before): 200 with an id means the login worked and names who. A
//     failed login that still sets a cookie (many frameworks write their
//     session or CSRF cookie on every answer) gets 401 there and records
//     nothing.
//
// Without legacy.whoami nothing is recorded: the login answer alone does
// not say who signed in, and a form field is the browser's to write. The
// admin's readiness view says so. A deployment behind nginx/Traefik
// forward-auth does not send the login's answer through hubgate, so it
// records nothing either.
//
// The whoami call never delays the browser: it starts once the answer has
// been handed over, runs in the background with its own timeout, at most
// maxSignInLookups at a time and one per client (further logins meanwhile
// are not looked up: a busy minute undercounts, never blocks). The whoami
// answer only names who signed in; names and addresses for the report come
// from the operator's directory.

// SignIns record the legacy sign-ins the proxy sees.
type SignIns interface {
	// RecordLegacySignIn notes that legacy person legacyID signed in the
	// old way at `at`; the store keeps the latest (and the earliest) time.
	RecordLegacySignIn(ctx context.Context, legacyID string, at time.Time) error
}

const (
	// maxSignInLookups bounds the whoami calls of observed legacy logins
	// in flight at once.
	maxSignInLookups = 4
	// signInLookupTimeout bounds one whoami call and its store write.
	signInLookupTimeout = 10 * time.Second
)

// signInLookups are the whoami calls of observed legacy logins in flight.
// The zero value is ready to use.
type signInLookups struct {
	mu     sync.Mutex      // guards busy
	busy   map[string]bool // client keys with a lookup in flight
	inWork int             // lookups in flight, at most maxSignInLookups
}

// start reserves a lookup for client key, or reports false when one is in
// flight for it or the bound is reached.
func (l *signInLookups) start(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[key] || l.inWork >= maxSignInLookups {
		return false
	}
	if l.busy == nil {
		l.busy = map[string]bool{}
	}
	l.busy[key] = true
	l.inWork++
	return true
}

func (l *signInLookups) done(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.busy, key)
	l.inWork--
}

// forwardLegacyLogin forwards a POST to a legacy login path from a browser
// without a hubgate session (the gate calls it in passthrough and offer
// mode) and, when the upstream's answer looks like a login that worked,
// learns in the background who signed in.
func (s *Server) forwardLegacyLogin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Whoami == "" {
		s.forward(w, r)
		return
	}
	lw := &loginWatch{ResponseWriter: w}
	s.forward(lw, r)
	cookie := lw.sessionCookies(s.now(), s.cfg.Whoami)
	if lw.status < 200 || lw.status >= 400 || cookie == "" {
		return
	}
	key := s.clientKey(r)
	if !s.signInLookups.start(key) {
		s.log.Debug().Str("event", "legacy_login.not_looked_up").Str("request_id", requestID(r)).
			Msg("other legacy logins are being looked up: this one is not recorded")
		return
	}
	at, rid := s.now(), requestID(r)
	go func() {
		defer s.signInLookups.done(key)
		s.recordLegacySignIn(cookie, at, rid)
	}()
}

// recordLegacySignIn asks legacy.whoami who the cookies a legacy login set
// belong to and records that person's sign-in at `at`.
func (s *Server) recordLegacySignIn(cookie string, at time.Time, rid string) {
	ctx, cancel := context.WithTimeout(context.Background(), signInLookupTimeout)
	defer cancel()
	p, err := s.whoami(ctx, &http.Request{Header: http.Header{"Cookie": {cookie}}})
	if err != nil {
		// A login page answered 2xx with a cookie that signs nobody in: a
		// failed login, nothing to record.
		s.log.Debug().Err(err).Str("event", "legacy_login.unconfirmed").Str("request_id", rid).Send()
		return
	}
	if err := s.store.RecordLegacySignIn(ctx, p.ID, at); err != nil {
		s.log.Error().Err(err).Str("event", "legacy_login.record").Str("user", p.ID).Str("request_id", rid).Send()
		return
	}
	s.log.Info().Str("event", "legacy_login.seen").Str("user", p.ID).Str("request_id", rid).Send()
}

// loginWatch is the response writer of a forwarded legacy login: it keeps
// the status and the Set-Cookie lines of the upstream's answer as they are
// written.
type loginWatch struct {
	http.ResponseWriter
	status  int
	cookies []string
}

func (l *loginWatch) WriteHeader(code int) {
	if l.status == 0 && code >= 200 {
		l.status = code
		l.cookies = slices.Clone(l.Header()["Set-Cookie"])
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *loginWatch) Write(p []byte) (int, error) {
	if l.status == 0 {
		l.WriteHeader(http.StatusOK)
	}
	return l.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes).
func (l *loginWatch) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// sessionCookies is a Cookie header of the cookies the answer set and did
// not delete, for a path that whoami is on ("" when none): what a browser
// would send to legacy.whoami right after this answer, without its older
// cookies.
func (l *loginWatch) sessionCookies(now time.Time, whoami string) string {
	if len(l.cookies) == 0 {
		return ""
	}
	var b strings.Builder
	for _, c := range (&http.Response{Header: http.Header{"Set-Cookie": l.cookies}}).Cookies() {
		if c.Value == "" || c.MaxAge < 0 || (!c.Expires.IsZero() && !c.Expires.After(now)) ||
			(c.Path != "" && !strings.HasPrefix(whoami, c.Path)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString((&http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}).String())
	}
	return b.String()
}
