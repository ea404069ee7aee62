package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/zaikio"
)

// Org claims with a provider that has no organization tokens (any OpenID
// Provider: MembershipOrgClaims). Its organizations come from a claim
// mapping; the claim flow signs the claimer in again, and the organization
// linked is the one in which the fresh sign-in shows them as owner or
// admin, among those not yet linked and not mapped straight to a legacy
// organization. None, or several, end on a page that says so: hubgate
// never guesses which organization was meant. Without a mapping the
// provider has no organizations and org claims are off.

// orgClaimsOff reports whether the provider has no organizations to claim.
func (s *Server) orgClaimsOff() bool {
	return s.caps.orgClaims != nil && !s.caps.orgClaims.OrgClaimsByMembership()
}

// errOrgClaimsOff is the page for an org claim where there are none.
var errOrgClaimsOff = &pageError{status: http.StatusNotFound, key: "org_claims_off",
	err: errors.New("the provider has no organizations: org claims are off")}

// finishOrgClaimByMembership links the claimer's one claimable
// organization to the claim's legacy organization: the flow's person
// signed in again (tok), is linked, is the claim's named claimer (if any),
// and holds owner or admin in exactly one organization that is neither
// linked nor mapped straight to a legacy one. The session rotates to the
// fresh tokens, with the organization in it.
func (s *Server) finishOrgClaimByMembership(w http.ResponseWriter, r *http.Request, f flow, tok *zaikio.Token, claims *zaikio.Claims) {
	ctx := r.Context()
	st, ok := s.orgClaimStart(w, r, f)
	if !ok {
		return
	}
	p, err := s.personToken(ctx, tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.ID != f.Person {
		s.revokeQuietly(tok.AccessToken)
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "claim_wrong_person", err: fmt.Errorf("signed in as %s, the flow is %s's", p.ID, f.Person)})
		return
	}
	m, err := s.claimableOrg(ctx, p)
	if err != nil {
		s.revokeQuietly(tok.AccessToken)
		s.fail(w, r, err)
		return
	}
	link, ok := s.redeemOrg(w, r, f, st, m.Organization.ID, m.Organization.Name, m.Roles)
	if !ok {
		s.revokeQuietly(tok.AccessToken)
		return
	}
	if _, err := s.startSession(ctx, w, p, tokensOf(tok, claims.JTI)); err != nil {
		s.fail(w, r, err)
		return
	}
	_ = s.sessions.End(ctx, st.id, "zaikio:"+f.Person, "rotated at link")
	s.showDone(w, r, done{Page: pageLinked, Kind: string(link.Kind), LegacyID: link.LegacyID, ZaikioID: link.ZaikioID, ZaikioName: m.Organization.Name})
}

// claimableOrg is p's one organization an org claim can link: owner or
// admin there, not linked yet, not mapped straight to a legacy one.
func (s *Server) claimableOrg(ctx context.Context, p *zaikio.Person) (zaikio.Membership, error) {
	var found []zaikio.Membership
	for _, m := range p.Memberships {
		if !slices.Contains(m.Roles, "owner") && !slices.Contains(m.Roles, "admin") {
			continue
		}
		if s.caps.directOrgs != nil {
			if _, ok := s.caps.directOrgs.LegacyOrg(m.Organization.ID); ok {
				continue
			}
		}
		_, err := s.store.LinkByZaikio(ctx, claim.KindOrg, m.Organization.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, claim.ErrNotFound) {
			return zaikio.Membership{}, fmt.Errorf("look up org link: %w", err)
		}
		found = append(found, m)
	}
	switch len(found) {
	case 0:
		return zaikio.Membership{}, &pageError{status: http.StatusForbidden, key: "org_claim_none",
			err: fmt.Errorf("person %s is owner or admin of no unlinked organization", p.ID)}
	case 1:
		return found[0], nil
	}
	return zaikio.Membership{}, &pageError{status: http.StatusConflict, key: "org_claim_ambiguous",
		err: fmt.Errorf("person %s is owner or admin of %d unlinked organizations", p.ID, len(found))}
}
