package proxy

import (
	"context"
	"time"
)

// The optional capabilities of a Hub. Zaikio has none of them; an OpenID
// Provider (oidc/oidchub) has all. proxy.New detects them once (caps), so
// that the request path asks a field, not the Hub's type.

// BackchannelLogout is a Hub whose provider tells hubgate, server to
// server, that a person signed out there (OpenID Connect Back-Channel
// Logout 1.0): POST /_hubgate/backchannel-logout exists only with one.
type BackchannelLogout interface {
	// VerifyLogout verifies a logout_token and returns the person whose
	// sessions end ("" when it names nobody hubgate knows) and when the
	// provider signed them out (the token's iat). A refused token wraps
	// zaikio.ErrInvalidToken, unreadable keys zaikio.ErrUnavailable.
	VerifyLogout(ctx context.Context, logoutToken string) (person string, at time.Time, err error)
}

// EndSession is a Hub whose provider has RP-initiated logout: after
// hubgate's sign-out the browser goes on to the provider's.
type EndSession interface {
	// EndSessionURL is where to send the browser once person's session
	// here has ended; "" when the provider has no such endpoint.
	EndSessionURL(ctx context.Context, person string) (string, error)
}

// DirectOrgs is a Hub whose configuration maps some organizations straight
// to legacy organizations, without an org link in the store.
type DirectOrgs interface {
	// LegacyOrg returns the legacy organization orgID is mapped to. It
	// knows the organizations of the people the Hub has read, and identify
	// only asks about a person just read from it.
	LegacyOrg(orgID string) (legacyID string, ok bool)
}

// MembershipOrgClaims is a Hub without organization tokens (any OpenID
// Provider). The proxy asks it whether org claims work at all.
type MembershipOrgClaims interface {
	// OrgClaimsByMembership reports whether the provider has
	// organizations (a claim mapping); false turns org claims off.
	OrgClaimsByMembership() bool
}

// caps are the optional capabilities of the configured Hub, nil where it
// has none.
type caps struct {
	backchannel BackchannelLogout
	endSession  EndSession
	directOrgs  DirectOrgs
	orgClaims   MembershipOrgClaims
}

// capsOf detects h's capabilities.
func capsOf(h Hub) caps {
	var c caps
	c.backchannel, _ = h.(BackchannelLogout)
	c.endSession, _ = h.(EndSession)
	c.directOrgs, _ = h.(DirectOrgs)
	c.orgClaims, _ = h.(MembershipOrgClaims)
	return c
}
