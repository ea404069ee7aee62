package oidchub

import (
	"context"
	"errors"
	"time"

	"github.com/hubgate/hubgate/oidc"
)

// VerifyLogout verifies a back-channel logout_token and returns the person
// whose sessions end — the token's subject, or, for a token that names only
// a provider session, the person that session signed in here ("" when this
// process does not know it: the sid map is in memory) — and the token's
// iat. A refused token is zaikio.ErrInvalidToken; unreadable keys
// zaikio.ErrUnavailable.
func (h *Hub) VerifyLogout(ctx context.Context, logoutToken string) (string, time.Time, error) {
	l, err := h.c.VerifyLogout(ctx, logoutToken)
	if err != nil {
		return "", time.Time{}, hubError("logout", err)
	}
	if l.PersonID != "" {
		return l.PersonID, l.IssuedAt, nil
	}
	p, _ := h.sids.get(l.SessionID, h.now())
	return p, l.IssuedAt, nil
}

// EndSessionURL is the provider's end_session_endpoint for person (RP-
// initiated logout): client_id, the configured post_logout_redirect_uri,
// and as id_token_hint the person's latest ID token when this process
// still has it in memory (the session cookie does not carry it). "" when
// the provider has no end_session_endpoint.
func (h *Hub) EndSessionURL(ctx context.Context, person string) (string, error) {
	hint, _ := h.hints.get(person, h.now())
	u, err := h.c.EndSessionURL(ctx, hint, "")
	if errors.Is(err, oidc.ErrUnsupported) {
		return "", nil
	}
	if err != nil {
		return "", hubError("end_session", err)
	}
	return u, nil
}

// LegacyOrg returns the legacy organization a mapping rule maps
// organization orgID to straight (Rule.Legacy), as learned from the
// memberships of the people this process has seen: identify reads a
// person from this Hub before it asks.
func (h *Hub) LegacyOrg(orgID string) (string, bool) { return h.legacy.get(orgID, h.now()) }

// OrgClaimsByMembership reports whether org claims work with this
// provider: only with a Mapping (organizations from a claim). An org claim
// then links the one organization the claimer, signed in again, holds
// owner or admin in.
func (h *Hub) OrgClaimsByMembership() bool { return h.hasOrgs }
