package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hubgate/hubgate/internal/web"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// login starts the sign-in redirect flow: GET /_hubgate/login?rd=/path. A
// browser that already has a session goes straight to rd (unless
// prompt=select_account asks to switch accounts).
func (s *Server) login() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rd := s.returnTo(q.Get("rd"))
		selectAccount := q.Get("prompt") == "select_account"
		if !selectAccount && s.sessions.Authenticate(w, r) != nil {
			s.redirect(w, rd)
			return
		}
		f := flow{Purpose: purposeLogin, Return: rd}
		if err := s.startFlow(w, r, f, s.personScope, zaikio.AuthOptions{SelectAccount: selectAccount}); err != nil {
			s.fail(w, r, err)
		}
	}
}

// returnTo validates rd (same origin or an allowed host, see redirect.go).
// In enforce mode a return to the closed legacy login becomes "/": the
// legacy login would send a signed-in browser straight back to sign-in
// (forward-auth answers 401 there, and the front redirects to
// /_hubgate/login?rd=/login), a loop.
func (s *Server) returnTo(rd string) string {
	loc := returnTo(rd, s.public, s.cfg.AllowedRedirectHosts)
	if s.Mode() != migration.Enforce {
		return loc
	}
	if u, err := url.Parse(loc); err == nil && (u.Host == "" || u.Host == s.public.Host) && closedBy(u.Path, s.policy().LoginPaths) {
		return "/"
	}
	return loc
}

// redirect answers 302 to a location that has already been validated.
func (s *Server) redirect(w http.ResponseWriter, loc string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
}

// callback finishes every redirect flow: GET /_hubgate/callback. It checks
// the flow (state bound to this browser, single use, ≤10 min), turns hub
// errors into pages, exchanges the code with the PKCE verifier, verifies the
// access token, and hands over to the flow's purpose. Nothing is linked,
// consumed or signed in unless every step succeeds.
//
// The hub's token endpoint is called only for a live flow of this browser,
// and only while the client has failed-callback budget: the budget is spent
// first (so that parallel forged callbacks cannot outrun it) and given back,
// with the flow's start, once the hub has accepted the code. Forged
// callbacks cost the client its budget, never the app its hub quota.
func (s *Server) callback() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q := r.URL.Query()
		client := s.clientKey(r)
		if !s.callbackLimit.Allow(client) {
			// Before takeFlow: a person behind a busy address keeps the
			// flow cookie and can reload the callback a minute later.
			s.fail(w, r, tooMany(w, "failed callbacks", client))
			return
		}
		f, err := s.takeFlow(ctx, w, r, q.Get("state"))
		if err != nil {
			key := "bad_state"
			if errors.Is(err, errFlowReused) {
				key = "state_reused"
			}
			if !errors.Is(err, errNoFlow) && !errors.Is(err, errFlowReused) {
				s.fail(w, r, err)
				return
			}
			s.fail(w, r, &pageError{status: http.StatusBadRequest, key: key, err: err, retry: true})
			return
		}
		if e := q.Get("error"); e != "" {
			st, key := http.StatusBadRequest, "hub_error"
			if e == "access_denied" {
				st, key = http.StatusForbidden, "hub_denied"
			}
			s.fail(w, r, &pageError{status: st, key: key, retry: true,
				err: fmt.Errorf("hub answered error=%q description=%q", e, q.Get("error_description"))})
			return
		}
		tok, claims, err := s.exchange(ctx, q.Get("code"), f.Verifier)
		if err != nil {
			if f.Purpose == purposeLogin {
				s.metrics.logins.WithLabelValues(outcome(err)).Inc()
			}
			s.fail(w, r, err)
			return
		}
		// The hub issued this code for this flow: a real sign-in or claim.
		s.callbackLimit.Give(client)
		s.flowLimit.Give(client)
		switch f.Purpose {
		case purposeLogin:
			s.finishLogin(w, r, f, tok, claims)
		case purposeClaimPerson:
			s.finishPersonClaim(w, r, f, tok, claims)
		case purposeClaimOrg:
			if s.caps.orgClaims != nil {
				s.finishOrgClaimByMembership(w, r, f, tok, claims)
				return
			}
			s.finishOrgClaim(w, r, f, tok, claims)
		default:
			s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_state", err: fmt.Errorf("flow purpose %q", f.Purpose)})
		}
	}
}

// exchange trades the code and verifies the token, mapping failures to pages.
func (s *Server) exchange(ctx context.Context, code, verifier string) (*zaikio.Token, *zaikio.Claims, error) {
	if code == "" {
		return nil, nil, &pageError{status: http.StatusBadRequest, key: "hub_error", retry: true, err: errors.New("callback without code")}
	}
	tok, err := s.hub.Exchange(ctx, code, verifier)
	if errors.Is(err, zaikio.ErrInvalidGrant) {
		return nil, nil, &pageError{status: http.StatusBadRequest, key: "code_rejected", retry: true, err: err}
	}
	if err != nil {
		return nil, nil, err
	}
	claims, err := s.hub.Verify(ctx, tok)
	if errors.Is(err, zaikio.ErrUnavailable) {
		// The hub's keys could not be fetched: "try again later" (503), not
		// "the answer was forged".
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, &pageError{status: http.StatusUnauthorized, key: "token_invalid", retry: true, err: err}
	}
	return tok, claims, nil
}

// personToken checks that tok is a person token with the person scope and
// reads the person.
func (s *Server) personToken(ctx context.Context, tok *zaikio.Token) (*zaikio.Person, error) {
	if tok.Bearer.Type != "Person" || tok.OnBehalfOf != nil {
		return nil, &pageError{status: http.StatusBadRequest, key: "hub_error", err: fmt.Errorf("bearer is %s, want Person", tok.Bearer.Type)}
	}
	for _, sc := range s.personScope {
		if !tok.HasScope(sc) {
			return nil, &pageError{status: http.StatusForbidden, key: "scope_missing", retry: true, err: fmt.Errorf("%w: %s not in %v", zaikio.ErrScope, sc, tok.Scope)}
		}
	}
	p, err := s.hub.Person(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	if p.ID != tok.Bearer.ID {
		return nil, &pageError{status: http.StatusUnauthorized, key: "token_invalid", err: fmt.Errorf("person %s is not bearer %s", p.ID, tok.Bearer.ID)}
	}
	return p, nil
}

// tokensOf is what a session keeps of the hub's token response.
func tokensOf(tok *zaikio.Token, jti string) session.Tokens {
	return session.Tokens{Refresh: tok.RefreshToken, Access: tok.AccessToken, JTI: jti}
}

// finishLogin signs the person in after a login flow.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, f flow, tok *zaikio.Token, claims *zaikio.Claims) {
	ctx := r.Context()
	p, err := s.personToken(ctx, tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err = s.applyUnlinked(ctx, w, r, p, tok)
	if err != nil || p == nil {
		if err != nil {
			s.fail(w, r, err)
		}
		return
	}
	// Rotate: a session this browser held before (another account after
	// prompt=select_account, or the same one signing in again) ends here,
	// server-side too, so that a copy of its cookie stops working.
	if old := s.sessions.Decode(r); old != nil {
		if err := s.sessions.End(ctx, old, "zaikio:"+old.Person, "rotated at login"); err != nil {
			s.log.Warn().Err(err).Str("event", "session.rotate").Str("request_id", requestID(r)).Send()
		}
	}
	id, err := s.startSession(ctx, w, p, tokensOf(tok, claims.JTI))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.logins.WithLabelValues("signed_in").Inc()
	s.log.Info().Str("event", "login").Str("person", id.Person).Str("user", id.User).Str("request_id", requestID(r)).Send()
	s.redirect(w, s.returnTo(f.Return))
}

// logoutAction is the CSRF action of the sign-out form.
const logoutAction = "logout"

// logoutPage asks before signing out: GET /_hubgate/logout?rd=. A GET never
// signs out (a link or an image on another site could, DESIGN §3): with a
// session it shows a "Sign out" button, a form that posts to
// /_hubgate/logout with our form token and the validated rd; without one
// it goes to rd, or says that the browser is signed out.
func (s *Server) logoutPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rd := r.URL.Query().Get("rd")
		id := s.sessions.Decode(r)
		if id != nil && !s.sessions.Alive(id) {
			// Ended elsewhere (an operator, the provider's back-channel
			// logout, expiry): nobody is signed in to sign out.
			s.sessions.Clear(w)
			id = nil
		}
		if id == nil {
			if rd != "" {
				s.redirect(w, s.returnTo(rd))
				return
			}
			s.render(w, r, http.StatusOK, "signedout", s.signedOut(true))
			return
		}
		data := map[string]any{"CSRF": s.csrfToken(w, r, logoutAction), "Name": id.Name, "Email": id.Email, "Cancel": "/"}
		if rd != "" {
			data["RD"] = s.returnTo(rd)
			data["Cancel"] = data["RD"]
		}
		s.render(w, r, http.StatusOK, "signedout", data)
	}
}

// logout ends the session: POST /_hubgate/logout (rd=). The hub token is
// revoked (Zaikio has no logout endpoint), the server-side record deleted and
// the session id revoked on every replica. With a legacy logout
// configured, the legacy session ends too (legacyLogout). The post must
// come from us (checkLogout); anything else changes nothing, cookies
// included.
func (s *Server) logout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkLogout(r); err != nil {
			s.fail(w, r, err)
			return
		}
		person := ""
		if id := s.sessions.Decode(r); id != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			err := s.sessions.End(ctx, id, "zaikio:"+id.Person, "logout")
			cancel()
			if err != nil {
				s.fail(w, r, err)
				return
			}
			person = id.Person
			s.log.Info().Str("event", "logout").Str("person", id.Person).Str("request_id", requestID(r)).Send()
		}
		s.sessions.Clear(w)
		legacyOK := true
		if s.cfg.LegacyLogout != "" {
			legacyOK = s.legacyLogout(r.Context(), w, r)
		}
		if u := s.endSessionURL(r.Context(), person); u != "" && legacyOK {
			// RP-initiated logout: the provider signs the person out too,
			// and sends the browser to its post-logout redirect. Not when
			// the legacy sign-out failed: the page below says so, and the
			// provider's would not.
			s.redirect(w, u)
			return
		}
		if rd := r.FormValue("rd"); rd != "" {
			s.redirect(w, s.returnTo(rd))
			return
		}
		s.render(w, r, http.StatusOK, "signedout", s.signedOut(legacyOK))
	}
}

// signedOut is the "signed out" page's data: whether the legacy sign-in
// may still be active (no legacy logout configured, the legacy login
// open) or could not be ended (legacyOK false).
func (s *Server) signedOut(legacyOK bool) map[string]any {
	switch {
	case !legacyOK:
		return map[string]any{"LegacyFailed": true}
	case s.cfg.LegacyLogout == "" && s.Mode() != migration.Enforce:
		return map[string]any{"LegacyOpen": true}
	}
	return nil
}

// checkLogout accepts a sign-out post from our own page (the form token of
// web.Forms, which also refuses every cross-origin post), or from a page of
// the legacy app — same origin, but unable to mint our token — when the
// browser proves the origin: Sec-Fetch-Site: same-origin, or an Origin
// header naming the public origin. Browsers set both themselves and no page
// can forge them, so a cross-site form or script never signs anyone out;
// a post that proves nothing (an old browser sends neither header) needs
// the token.
func (s *Server) checkLogout(r *http.Request) error {
	err := s.checkCSRF(r, logoutAction)
	if err == nil || !errors.Is(err, web.ErrFormToken) {
		return err
	}
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" || r.Header.Get("Origin") == s.origin() {
		return nil
	}
	return err
}

// me answers the current identity as JSON: GET /_hubgate/me.
func (s *Server) me() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		id := s.sessions.Authenticate(w, r)
		if id == nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"authenticated": false, "mode": s.Mode(), "login_url": "/_hubgate/login"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"authenticated": true, "zaikio_person": id.Person, "user": id.User, "email": id.Email, "name": id.Name,
			"orgs": id.OrgList(), "roles": id.RoleList(), "mode": s.Mode(),
			"expires_at": id.Expires.UTC().Format(time.RFC3339), "validated_at": id.Validated.UTC().Format(time.RFC3339),
		})
	}
}

// jwks publishes the assertion keys: GET /_hubgate/jwks.json.
func (s *Server) jwks() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(s.assertions.JWKS())
	}
}

func (s *Server) healthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	}
}
