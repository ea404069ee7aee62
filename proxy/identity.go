package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// identify fills in who person p is for hubgate: the linked legacy user, the
// linked organizations (and those the provider maps straight to a legacy
// one: DirectOrgs) and the mapped roles (only for those organizations).
func (s *Server) identify(ctx context.Context, p *zaikio.Person, id *session.Identity) error {
	id.Person, id.Email, id.Name = p.ID, p.Email, p.DisplayName()
	l, err := s.store.LinkByZaikio(ctx, claim.KindPerson, p.ID)
	switch {
	case err == nil:
		id.User = l.LegacyID
	case !errors.Is(err, claim.ErrNotFound):
		return fmt.Errorf("look up person link: %w", err)
	}
	var ms []roles.Membership
	for _, m := range p.Memberships {
		if s.caps.directOrgs != nil {
			if legacy, ok := s.caps.directOrgs.LegacyOrg(m.Organization.ID); ok {
				// Mapped straight to a legacy organization by the
				// provider's configuration: no org link to look up.
				ms = append(ms, roles.Membership{LegacyOrg: legacy, Roles: m.Roles})
				continue
			}
		}
		ol, err := s.store.LinkByZaikio(ctx, claim.KindOrg, m.Organization.ID)
		if errors.Is(err, claim.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up org link: %w", err)
		}
		ms = append(ms, roles.Membership{LegacyOrg: ol.LegacyID, Roles: m.Roles})
	}
	g := s.policy().Roles.Apply(ms)
	id.Orgs, id.Roles = roles.Header(g.Orgs), roles.Header(g.Roles)
	return nil
}

// startSession starts a session for p holding t: a fresh session id (rotated
// at every sign-in and link), the sealed tokens in the store, and the cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, p *zaikio.Person, t session.Tokens) (*session.Identity, error) {
	id := s.sessions.NewIdentity()
	if err := s.identify(ctx, p, id); err != nil {
		return nil, err
	}
	if err := s.sessions.Start(ctx, w, id, t); err != nil {
		return nil, err
	}
	return id, nil
}

// refresher is the proxy's side of a revalidation (session.Refresher): the
// hub, the links and the role map.
type refresher struct{ s *Server }

var _ session.Refresher = refresher{}

func (rf refresher) Rotate(ctx context.Context, refreshToken string) (session.Grant, error) {
	tok, err := rf.s.hub.Refresh(ctx, refreshToken)
	if errors.Is(err, zaikio.ErrInvalidGrant) {
		return nil, fmt.Errorf("%w: refresh refused: %w", session.ErrEnded, err)
	}
	if err != nil {
		return nil, err
	}
	return grant{hub: rf.s.hub, tok: tok}, nil
}

// Identity reads the person and identifies them; under the deny policy a
// person who is no longer linked has no session any more.
func (rf refresher) Identity(ctx context.Context, accessToken string, id *session.Identity) error {
	p, err := rf.s.hub.Person(ctx, accessToken)
	if err != nil {
		return err
	}
	if err := rf.s.identify(ctx, p, id); err != nil {
		return err
	}
	if id.User == "" && rf.s.cfg.Unlinked == UnlinkedDeny {
		return fmt.Errorf("%w: person %s is no longer linked", session.ErrEnded, id.Person)
	}
	return nil
}

func (rf refresher) Revoke(ctx context.Context, accessToken string) error {
	return rf.s.hub.Revoke(ctx, accessToken)
}

// grant is a refresh the hub answered (session.Grant).
type grant struct {
	hub Hub
	tok *zaikio.Token
}

func (g grant) Tokens() (refresh, access string) { return g.tok.RefreshToken, g.tok.AccessToken }

// Verify checks the rotated access token like a sign-in's (DESIGN §3) and
// that it is still the session's person's.
func (g grant) Verify(ctx context.Context, person string) (string, error) {
	claims, err := g.hub.Verify(ctx, g.tok)
	if errors.Is(err, zaikio.ErrUnavailable) {
		// The hub's keys could not be fetched: an outage, not a bad token.
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("%w: refreshed token: %w", session.ErrEnded, err)
	}
	if g.tok.Bearer.Type != "Person" || g.tok.Bearer.ID != person {
		return "", fmt.Errorf("%w: refreshed token is for %s/%s", session.ErrEnded, g.tok.Bearer.Type, g.tok.Bearer.ID)
	}
	return claims.JTI, nil
}
