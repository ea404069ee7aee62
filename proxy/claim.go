package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// undoWindow is how long after linking the success page's "undo" works.
const undoWindow = 10 * time.Minute

// claimPage shows who is about to be linked: GET /_hubgate/claim/{token}.
// It never consumes the token and never starts a flow (mail scanners and
// prefetchers follow links; DESIGN §3). A link that cannot be used any
// more says why and offers the next steps (failLink).
func (s *Server) claimPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.inspectClaim(r)
		if err != nil {
			s.failLink(w, r, err)
			return
		}
		if c.Kind == claim.KindOrg && s.orgClaimsOff() {
			s.fail(w, r, errOrgClaimsOff)
			return
		}
		data := map[string]any{
			"Kind": string(c.Kind), "LegacyID": c.LegacyID, "ExpiresAt": c.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"),
			"Action": r.URL.Path, "CSRF": s.csrfToken(w, r, "claim:"+c.Hash.String()),
		}
		if c.Kind == claim.KindPerson {
			if p, err := s.store.Person(r.Context(), c.LegacyID); err == nil {
				data["Name"], data["Email"] = p.Name, p.Email
			}
		} else {
			data["OrgName"] = s.legacyName(r.Context(), claim.KindOrg, c.LegacyID, "")
			id := s.sessions.Authenticate(w, r)
			switch {
			case id == nil:
				data["NeedLogin"] = "/_hubgate/login?rd=" + r.URL.EscapedPath()
			case id.User == "":
				data["NeedPersonClaim"] = true
			case c.Claimer != "" && c.Claimer != id.User:
				s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claim_wrong_person", err: fmt.Errorf("org claim %s is for %s, session user %s", c.ID, c.Claimer, id.User)})
				return
			}
		}
		s.render(w, r, http.StatusOK, "claim", data)
	}
}

// inspectClaim parses the token in the path and returns its claim if it can
// still be redeemed: not used, revoked, retired or expired, and its legacy
// person or organization not linked (a claim issued after the link is as
// dead as one the link retired: claim.ErrRetired).
func (s *Server) inspectClaim(r *http.Request) (claim.Claim, error) {
	tok, err := claim.ParseToken(r.PathValue("token"))
	if err != nil {
		return claim.Claim{}, err
	}
	c, err := s.claims.Inspect(r.Context(), tok)
	if err != nil {
		return c, err
	}
	if l, err := s.store.Link(r.Context(), c.Kind, c.LegacyID); err == nil {
		return c, fmt.Errorf("%w: claim %s: %s %s is linked to %s", claim.ErrRetired, c.ID, c.Kind, c.LegacyID, l.ZaikioID)
	} else if !errors.Is(err, claim.ErrNotFound) {
		return c, err
	}
	return c, nil
}

// deadLinkKeys are the pages of a claim link that cannot be used.
var deadLinkKeys = map[string]bool{"claim_unknown": true, "claim_used": true, "claim_expired": true, "claim_revoked": true, "claim_retired": true}

// failLink answers a claim link that cannot be used with the funnel's page
// and both next steps: signing in with Zaikio (the account may be linked
// already), and a new link — "send me my link" when hubgate can mail, else
// the administrator. A retired link's account is linked: it offers only
// the sign-in.
func (s *Server) failLink(w http.ResponseWriter, r *http.Request, err error) {
	pe := classify(err)
	if !deadLinkKeys[pe.key] {
		s.fail(w, r, err)
		return
	}
	next := *pe
	next.data = map[string]any{"SigninURL": "/_hubgate/login"}
	for k, v := range pe.data {
		next.data[k] = v
	}
	if pe.key != "claim_retired" {
		loc := s.localeOf(r)
		switch {
		case s.cfg.Mailer != nil:
			next.data["ResendURL"] = "/_hubgate/resend"
			next.data["Next"] = loc.T("error.next.resend")
		case s.cfg.AppName != "":
			next.data["Next"] = loc.F("error.next.admin_app", s.cfg.AppName)
		default:
			next.data["Next"] = loc.T("error.next.admin")
		}
	}
	s.fail(w, r, &next)
}

// startClaim starts the redirect flow for a claim link: POST
// /_hubgate/claim/{token} from our own confirmation page (CSRF token and
// Origin checked). The flow carries the token's hash, never the token.
func (s *Server) startClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.allowClaimStart(w, r) {
			return
		}
		c, err := s.inspectClaim(r)
		if err != nil {
			s.failLink(w, r, err)
			return
		}
		if err := s.checkCSRF(r, "claim:"+c.Hash.String()); err != nil {
			s.fail(w, r, err)
			return
		}
		if c.Kind == claim.KindOrg {
			s.startOrgFlow(w, r, c)
			return
		}
		p, _ := s.store.Person(r.Context(), c.LegacyID) // a person not in the directory: no prefill
		s.startPersonFlow(w, r, c, p)
	}
}

// startPersonFlow sends the browser to the hub to pick (or create) the Zaikio
// account for person claim c, with the account chooser and the sign-up
// prefilled from p (the claim's legacy person).
func (s *Server) startPersonFlow(w http.ResponseWriter, r *http.Request, c claim.Claim, p claim.Person) {
	o := zaikio.AuthOptions{SelectAccount: true, FirstName: p.FirstName(), LastName: p.LastName(), Email: p.Email}
	f := flow{Purpose: purposeClaimPerson, Claim: c.Hash.String(), Return: "/", Name: p.Name}
	if err := s.startFlow(w, r, f, s.personScope, o); err != nil {
		s.fail(w, r, err)
	}
}

// startOrgFlow starts the organization-claim flow for org claim c. Only a
// signed-in person who is linked (and is the named claimer, if any) may.
func (s *Server) startOrgFlow(w http.ResponseWriter, r *http.Request, c claim.Claim) {
	id := s.sessions.Authenticate(w, r)
	switch {
	case s.orgClaimsOff():
		s.fail(w, r, errOrgClaimsOff)
		return
	case id == nil:
		s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", retry: true, err: errors.New("org claim without session")})
		return
	case id.User == "":
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claimer_unlinked", err: fmt.Errorf("person %s is not linked", id.Person)})
		return
	case c.Claimer != "" && c.Claimer != id.User:
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claim_wrong_person", err: fmt.Errorf("org claim %s is for %s, not %s", c.ID, c.Claimer, id.User)})
		return
	}
	f := flow{Purpose: purposeClaimOrg, Claim: c.Hash.String(), Person: id.Person, Return: "/"}
	if err := s.startFlow(w, r, f, s.orgScope, zaikio.AuthOptions{SelectAccount: true}); err != nil {
		s.fail(w, r, err)
	}
}

// finishPersonClaim links the Zaikio person of a successful claim flow to the
// claim's legacy person, consuming the claim in the same transaction, then
// starts a fresh session and shows the success page.
func (s *Server) finishPersonClaim(w http.ResponseWriter, r *http.Request, f flow, tok *zaikio.Token, claims *zaikio.Claims) {
	ctx := r.Context()
	h, err := claim.ParseHash(f.Claim)
	if err != nil {
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_state", err: err})
		return
	}
	p, err := s.personToken(ctx, tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, link, err := s.claims.Redeem(ctx, claim.Redemption{Hash: h, Kind: claim.KindPerson, ZaikioID: p.ID, Actor: "zaikio:" + p.ID, ZaikioName: p.DisplayName()})
	s.metrics.claims.WithLabelValues("person", outcome(err)).Inc()
	if err != nil {
		s.log.Info().Str("event", "claim.refused").Str("kind", "person").Str("person", p.ID).AnErr("reason", err).Str("request_id", requestID(r)).Send()
		s.failLink(w, r, err)
		return
	}
	s.log.Info().Str("event", "claim.linked").Str("kind", "person").Str("claim", c.ID).Str("user", link.LegacyID).Str("person", p.ID).Str("request_id", requestID(r)).Send()
	if old := s.sessions.Decode(r); old != nil {
		_ = s.sessions.End(ctx, old, "zaikio:"+p.ID, "rotated at link")
	}
	if _, err := s.startSession(ctx, w, p, tokensOf(tok, claims.JTI)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.showDone(w, r, done{Page: pageLinked, Kind: string(link.Kind), LegacyID: link.LegacyID, LegacyName: f.Name,
		ZaikioID: link.ZaikioID, ZaikioName: p.DisplayName(), ZaikioEmail: p.Email})
}

// orgClaimPage lists the signed-in person's unlinked organizations with a
// button each: GET /_hubgate/claim-org.
func (s *Server) orgClaimPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.orgClaimsOff() {
			s.fail(w, r, errOrgClaimsOff)
			return
		}
		id := s.sessions.Authenticate(w, r)
		if id == nil {
			s.redirectToLogin(w, r, "/_hubgate/claim-org")
			return
		}
		if id.User == "" {
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claimer_unlinked", err: fmt.Errorf("person %s is not linked", id.Person)})
			return
		}
		s.render(w, r, http.StatusOK, "claim_org", map[string]any{
			"Orgs": s.unlinkedOrgs(r.Context(), id.User), "CSRF": s.csrfToken(w, r, "claim-org"),
		})
	}
}

// startOrgClaim starts an org claim for a legacy organization the signed-in,
// linked person owns per the directory: POST /_hubgate/claim-org (org=…). A
// claim bound to this person is minted (its token is never shown) and the
// flow redeems it.
func (s *Server) startOrgClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.allowClaimStart(w, r) {
			return
		}
		if err := s.checkCSRF(r, "claim-org"); err != nil {
			s.fail(w, r, err)
			return
		}
		if s.orgClaimsOff() {
			s.fail(w, r, errOrgClaimsOff)
			return
		}
		id := s.sessions.Authenticate(w, r)
		if id == nil {
			s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", retry: true})
			return
		}
		org := r.PostFormValue("org")
		if !ownsUnlinked(s.unlinkedOrgs(r.Context(), id.User), org) {
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "org_not_owned", err: fmt.Errorf("user %q does not own unlinked org %q", id.User, org)})
			return
		}
		is, err := s.claims.Issue(r.Context(), claim.Request{Kind: claim.KindOrg, LegacyID: org, Claimer: id.User, TTL: time.Hour, CreatedBy: "zaikio:" + id.Person})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.startOrgFlow(w, r, is.Claim)
	}
}

// finishOrgClaim links the Zaikio organization chosen at the hub to the
// claim's legacy organization, if the person who started the flow is linked,
// is the claim's named claimer (if any) and holds owner or admin in it:
// bearer_on_behalf_of.roles cross-checked with the person's memberships as
// the hub reports them now.
func (s *Server) finishOrgClaim(w http.ResponseWriter, r *http.Request, f flow, tok *zaikio.Token, _ *zaikio.Claims) {
	ctx := r.Context()
	defer s.revokeQuietly(tok.AccessToken)
	if tok.Bearer.Type != "Organization" || !claim.ValidZaikioID(tok.Bearer.ID) {
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "hub_error", err: fmt.Errorf("org claim bearer is %s", tok.Bearer.Type)})
		return
	}
	if tok.OnBehalfOf != nil && tok.OnBehalfOf.ID != f.Person {
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claim_wrong_person", err: fmt.Errorf("on-behalf person %s did not start the flow (%s)", tok.OnBehalfOf.ID, f.Person)})
		return
	}
	st, ok := s.orgClaimStart(w, r, f)
	if !ok {
		return
	}
	// The person as the hub sees them now (this rotates the session's
	// refresh token): their memberships are the cross-check for the roles
	// the on-behalf grant claims.
	t, err := s.sessions.Rotate(ctx, st.id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.hub.Person(ctx, t.Access)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	roles := p.RolesIn(tok.Bearer.ID)
	if tok.OnBehalfOf != nil {
		roles = intersect(roles, tok.OnBehalfOf.Roles)
	}
	orgName := tok.Bearer.ID
	if o, err := s.hub.Organization(ctx, tok.AccessToken); err == nil && o.Name != "" {
		orgName = o.Name
	}
	link, ok := s.redeemOrg(w, r, f, st, tok.Bearer.ID, orgName, roles)
	if !ok {
		return
	}
	// Rotate the session: a new id with the new organization in it, holding
	// the tokens just rotated. The old session is retired without revoking
	// them: they are the new session's now (revoking them would sign the
	// person out at the hub's revoked_access_token webhook).
	if _, err := s.startSession(ctx, w, p, t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.sessions.Retire(ctx, st.id, "zaikio:"+f.Person, "rotated at link"); err != nil {
		s.log.Error().Err(err).Str("event", "session.retire").Str("person", f.Person).Str("request_id", requestID(r)).Send()
	}
	s.showDone(w, r, done{Page: pageLinked, Kind: string(link.Kind), LegacyID: link.LegacyID, ZaikioID: link.ZaikioID, ZaikioName: orgName})
}

// orgClaimBase is what both kinds of org claim callback (finishOrgClaim,
// finishOrgClaimByMembership) start from.
type orgClaimBase struct {
	hash    claim.Hash
	id      *session.Identity // the session that started the flow
	claimer string            // its person's legacy id ("" when unlinked)
}

// orgClaimStart reads the claim's hash, the session that started flow f
// and its person's legacy link; false when it has answered (a page).
func (s *Server) orgClaimStart(w http.ResponseWriter, r *http.Request, f flow) (orgClaimBase, bool) {
	h, err := claim.ParseHash(f.Claim)
	if err != nil {
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_state", err: err})
		return orgClaimBase{}, false
	}
	id := s.sessions.Decode(r)
	if id == nil || id.Person != f.Person {
		s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", retry: true, err: errors.New("org claim callback without the session that started it")})
		return orgClaimBase{}, false
	}
	st := orgClaimBase{hash: h, id: id}
	if l, err := s.store.LinkByZaikio(r.Context(), claim.KindPerson, f.Person); err == nil {
		st.claimer = l.LegacyID
	} else if !errors.Is(err, claim.ErrNotFound) {
		s.fail(w, r, err)
		return orgClaimBase{}, false
	}
	return st, true
}

// redeemOrg redeems the org claim for organization orgID with the
// claimer's roles there, counting and logging the outcome; false when it
// has answered (the claim was refused).
func (s *Server) redeemOrg(w http.ResponseWriter, r *http.Request, f flow, st orgClaimBase, orgID, orgName string, roles []string) (claim.Link, bool) {
	c, link, err := s.claims.Redeem(r.Context(), claim.Redemption{Hash: st.hash, Kind: claim.KindOrg, ZaikioID: orgID, Claimer: st.claimer,
		Roles: roles, Actor: "zaikio:" + f.Person, ZaikioName: orgName})
	s.metrics.claims.WithLabelValues("org", outcome(err)).Inc()
	if err != nil {
		s.log.Info().Str("event", "claim.refused").Str("kind", "org").Str("person", f.Person).AnErr("reason", err).Str("request_id", requestID(r)).Send()
		s.failLink(w, r, err)
		return claim.Link{}, false
	}
	s.log.Info().Str("event", "claim.linked").Str("kind", "org").Str("claim", c.ID).Str("org", link.LegacyID).Str("person", f.Person).Str("request_id", requestID(r)).Send()
	return link, true
}

// revokeQuietly revokes a token we no longer need, in the background.
func (s *Server) revokeQuietly(accessToken string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.hub.Revoke(ctx, accessToken); err != nil {
			s.log.Debug().Err(err).Str("event", "hub.revoke").Send()
		}
	}()
}

// unlinkRevocation is the revocation that takes an unlinked legacy person or
// organization out of every session on every replica (session.Unlink); it
// is kept as long as a session validated before it can live.
func (s *Server) unlinkRevocation(kind claim.Kind, legacyID, actor, reason string) session.Revocation {
	return session.NewRevocation(session.Unlink, string(kind)+":"+legacyID, s.now(), s.cfg.SessionTTL, actor, reason)
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// undoClaim removes a link made moments ago by this person: POST
// /_hubgate/claim-undo (kind, legacy_id). Audited like any unlink.
func (s *Server) undoClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kind, err := claim.ParseKind(r.PostFormValue("kind"))
		legacy := r.PostFormValue("legacy_id")
		if err != nil || !claim.ValidLegacyID(legacy) {
			s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_request", err: fmt.Errorf("undo kind %q legacy %q", r.PostFormValue("kind"), legacy)})
			return
		}
		if err := s.checkCSRF(r, "undo:"+string(kind)+":"+legacy); err != nil {
			s.fail(w, r, err)
			return
		}
		id := s.sessions.Authenticate(w, r)
		if id == nil {
			s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", retry: true})
			return
		}
		ctx := r.Context()
		l, err := s.store.Link(ctx, kind, legacy)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		mine := (kind == claim.KindPerson && l.ZaikioID == id.Person) || (kind == claim.KindOrg && l.By == "zaikio:"+id.Person)
		if !mine || s.now().Sub(l.CreatedAt) > undoWindow {
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "undo_expired", err: fmt.Errorf("undo of %s:%s by %s (link by %s at %s)", kind, legacy, id.Person, l.By, l.CreatedAt)})
			return
		}
		if _, err := s.store.DeleteLink(ctx, kind, legacy, "zaikio:"+id.Person, s.now()); err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "claim.undone").Str("kind", string(kind)).Str("legacy", legacy).Str("person", id.Person).Send()
		// Every other session carrying the link (other browsers, other
		// replicas) drops it on its next request, hub up or down.
		if err := s.sessions.Revoke(ctx, s.unlinkRevocation(kind, legacy, "zaikio:"+id.Person, "link undone")); err != nil {
			s.log.Error().Err(err).Str("event", "session.unlink").Str("kind", string(kind)).Str("legacy", legacy).Str("request_id", requestID(r)).Send()
		}
		// This session's identity no longer holds: end it, and the page
		// that showed the link is no longer true.
		_ = s.sessions.End(ctx, id, "zaikio:"+id.Person, "link undone")
		s.sessions.Clear(w)
		s.clearDone(w)
		s.fail(w, r, &pageError{status: http.StatusOK, key: "undone"})
	}
}
