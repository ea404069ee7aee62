package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
)

// What hubgate asks of the legacy app beyond forwarding to it: who is
// signed in there (whoami, for claims proven by the legacy session), and
// the end of that sign-in (the legacy logout, when hubgate's sign-out
// should end it too).

// whoami asks the legacy app who the browser's legacy session belongs to, by
// calling legacy.whoami on the upstream with the browser's cookies (minus
// hubgate's). The answer is JSON: {"id": "42", "email": …, "name": …} (id
// may be a number); anything but 200 means "not signed in". The answer
// proves who is signed in, for this request only: the legacy person's
// email, name and organizations are the operator's directory's (DESIGN §3,
// "the directory is the operator's"), and a legacy user can often edit their
// own profile. So the email and name are used only to show and prefill, and
// an "orgs" member is not read at all.
func (s *Server) whoami(ctx context.Context, r *http.Request) (claim.Person, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstream.ResolveReference(mustURL(s.cfg.Whoami)).String(), nil)
	if err != nil {
		return claim.Person{}, err
	}
	req.Host = s.upstreamHost() // never the client's Host (password-reset poisoning)
	req.Header.Set("Accept", "application/json")
	if c := r.Header["Cookie"]; c != nil {
		req.Header["Cookie"] = slices.Clone(c)
		s.stripOwnCookies(req.Header)
	}
	resp, err := s.proxy.Transport.RoundTrip(req)
	if err != nil {
		return claim.Person{}, fmt.Errorf("whoami: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return claim.Person{}, &pageError{status: http.StatusUnauthorized, key: "legacy_signin_first", err: fmt.Errorf("whoami answered %d", resp.StatusCode)}
	}
	var v struct {
		ID    json.RawMessage `json:"id"`
		Email string          `json:"email"`
		Name  string          `json:"name"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil {
		return claim.Person{}, fmt.Errorf("whoami: decode: %w", err)
	}
	legacyID := strings.Trim(string(v.ID), `"`)
	if !claim.ValidLegacyID(legacyID) {
		return claim.Person{}, fmt.Errorf("whoami: id %s does not fit [A-Za-z0-9._@-]{1,128}", v.ID)
	}
	return claim.Person{ID: legacyID, Email: v.Email, Name: v.Name}, nil
}

// HeaderLogout marks hubgate's call of the legacy logout
// (Config.LegacyLogout). Like every X-Hubgate- header, it never reaches
// the upstream from a client.
const HeaderLogout = "X-Hubgate-Logout"

// claimBySession shows the confirmation for a legacy person proven by the
// legacy session: GET /_hubgate/claim. Without a legacy session it
// explains how to get one (legacyFirst).
func (s *Server) claimBySession() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Whoami == "" {
			s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found", err: errors.New("legacy.whoami is not configured")})
			return
		}
		p, err := s.whoami(r.Context(), r)
		if err != nil {
			s.legacyFirst(w, r, err)
			return
		}
		s.clearClaimNext(w, r)
		if l, err := s.store.Link(r.Context(), claim.KindPerson, p.ID); err == nil {
			s.fail(w, r, &pageError{status: http.StatusConflict, key: "already_linked", data: map[string]any{"SigninURL": "/_hubgate/login"},
				err: fmt.Errorf("legacy %s already linked to %s", p.ID, l.ZaikioID)})
			return
		}
		p = s.directoryFirst(r.Context(), p)
		s.render(w, r, http.StatusOK, "claim", map[string]any{
			"Kind": "person", "LegacyID": p.ID, "Name": p.Name, "Email": p.Email,
			"Action": "/_hubgate/claim", "CSRF": s.csrfToken(w, r, "claim-session"),
		})
	}
}

// startClaimBySession mints a claim for the legacy person the legacy session
// proves (asked again, not trusted from the page) and starts its flow: POST
// /_hubgate/claim.
func (s *Server) startClaimBySession() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Whoami == "" {
			s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found"})
			return
		}
		if !s.allowClaimStart(w, r) {
			return
		}
		if err := s.checkCSRF(r, "claim-session"); err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		p, err := s.whoami(ctx, r)
		if err != nil {
			s.legacyFirst(w, r, err)
			return
		}
		if _, err := s.store.Link(ctx, claim.KindPerson, p.ID); err == nil {
			s.fail(w, r, &pageError{status: http.StatusConflict, key: "already_linked", data: map[string]any{"SigninURL": "/_hubgate/login"}})
			return
		}
		// The directory is not written: the claim names the legacy person
		// the session proved, with the directory's email (if any), and the
		// org offer after it comes from the directory alone.
		dir, err := s.store.Person(ctx, p.ID)
		if err != nil && !errors.Is(err, claim.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		is, err := s.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: p.ID, Email: dir.Email, TTL: time.Hour, CreatedBy: "legacy-session"})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.startPersonFlow(w, r, is.Claim, s.directoryFirst(ctx, p))
	}
}

// directoryFirst is the legacy person p to show and prefill: the directory's
// entry when the directory has one, else p as the legacy session's whoami
// answer named it (for this request only). A directory entry without a
// name is shown with whoami's, never stored.
func (s *Server) directoryFirst(ctx context.Context, p claim.Person) claim.Person {
	if dir, err := s.store.Person(ctx, p.ID); err == nil {
		if dir.Name == "" {
			dir.Name = p.Name
		}
		return dir
	}
	return p
}

// legacyFirst answers a claim through the legacy session when whoami
// names nobody. While the legacy login is open it is the "sign in the old
// way first" page, whose button passes the offer interstitial once and,
// in offer mode, brings the person back to the confirmation right after
// the old sign-in (claimNextCookie, resumeClaim). With the legacy login
// closed (enforce) there is no old way: the page says so and offers the
// ways that remain. Other whoami failures (the legacy app down, an answer
// that names no valid id) go to the funnel.
func (s *Server) legacyFirst(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if !errors.As(err, &pe) || pe.key != "legacy_signin_first" {
		s.fail(w, r, err)
		return
	}
	login := s.legacyLoginPath()
	if login == "" {
		data := s.claimHints()
		data["SigninURL"] = "/_hubgate/login"
		s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "legacy_closed_claim", data: data, err: err})
		return
	}
	s.log.Info().Str("event", "claim.legacy_first").Str("request_id", requestID(r)).AnErr("reason", err).Send()
	data := s.claimHints()
	data["CSRF"], data["LegacyLogin"] = s.csrfToken(w, r, "continue-legacy"), login
	if s.Mode() != migration.Offer {
		data["Manual"] = true
	}
	s.render(w, r, http.StatusUnauthorized, "legacy_first", data)
}

// claimNextCookie marks a browser that is signing in the old way in order
// to claim its account (offer mode): the next page of the legacy app it
// opens with a legacy session goes to the claim confirmation instead.
const claimNextCookie = "hubgate_claim_next"

// claimNextTTL is how long the old sign-in may take.
const claimNextTTL = 10 * time.Minute

// resumeClaim brings a person back to the claim confirmation after the old
// sign-in (offer mode): when the browser holds claimNextCookie, the first
// page it navigates to after the legacy login (typically where the login
// redirects to) is asked of whoami, and once whoami names someone the
// browser goes to /_hubgate/claim instead. Only page navigations ask (not
// assets, scripts or the login page itself), and only while the cookie
// lives; a person already linked through hubgate just drops the cookie.
// It reports whether it answered the request. The gate calls it in offer
// mode only, before it decides anything else.
func (s *Server) resumeClaim(w http.ResponseWriter, r *http.Request, path string) bool {
	if r.Method != http.MethodGet || cookieValue(r, s.cookiePrefix+claimNextCookie) == "" || !pageLoad(r) || s.cfg.Whoami == "" ||
		closedBy(path, s.policy().LoginPaths) {
		return false
	}
	if id := s.sessions.Decode(r); id != nil && id.User != "" {
		s.clearClaimNext(w, r)
		return false
	}
	if _, err := s.whoami(r.Context(), r); err != nil {
		return false // not signed in the old way (yet): the page as usual
	}
	s.clearClaimNext(w, r)
	s.log.Info().Str("event", "claim.resume").Str("request_id", requestID(r)).Send()
	s.redirect(w, "/_hubgate/claim")
	return true
}

// pageLoad reports whether r is a browser loading a page (not an asset,
// a script's fetch or a frame): Sec-Fetch-Mode, or for browsers without
// it an Accept that asks for HTML. Stricter than navigation
// (unauthorized.go), which counts anything not scripted: resumeClaim asks
// the legacy app, and must not for every image of a page.
func pageLoad(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// clearClaimNext drops claimNextCookie when the browser holds it.
func (s *Server) clearClaimNext(w http.ResponseWriter, r *http.Request) {
	if name := s.cookiePrefix + claimNextCookie; cookieValue(r, name) != "" {
		http.SetCookie(w, s.cookie(name, "", -1))
	}
}

// legacyLogout ends the browser's legacy session at sign-out, when
// LegacyLogout is configured: it POSTs that path on the upstream with the
// browser's cookies (hubgate's removed), never the client's Host, and
// X-Hubgate-Logout: 1 (identity headers reach the upstream only from
// hubgate, so the legacy app may trust it, e.g. to skip its own form
// token for this call), then hands the answer's Set-Cookie headers (not
// one of hubgate's names) to the browser: that is how a typical app ends
// its session, by expiring its cookie, while a server-side session ends
// at the app itself. It reports whether the legacy app accepted the
// sign-out (2xx or 3xx).
func (s *Server) legacyLogout(ctx context.Context, w http.ResponseWriter, r *http.Request) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.upstream.ResolveReference(mustURL(s.cfg.LegacyLogout)).String(), nil)
	if err != nil {
		return false
	}
	req.Host = s.upstreamHost()
	req.Header.Set("Accept", "text/html,application/json")
	req.Header.Set(HeaderLogout, "1")
	req.Header.Set("X-Request-Id", requestID(r))
	if c := r.Header["Cookie"]; c != nil {
		req.Header["Cookie"] = slices.Clone(c)
		s.stripOwnCookies(req.Header)
	}
	resp, err := s.proxy.Transport.RoundTrip(req)
	if err != nil {
		s.log.Warn().Err(err).Str("event", "logout.legacy").Str("request_id", requestID(r)).Send()
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	for _, c := range resp.Cookies() {
		if !s.ownCookie(c.Name) {
			http.SetCookie(w, c)
		}
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 400
	ev := s.log.Info()
	if !ok {
		ev = s.log.Warn()
	}
	ev.Str("event", "logout.legacy").Int("status", resp.StatusCode).Str("request_id", requestID(r)).Send()
	return ok
}
