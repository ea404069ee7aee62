package claim

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Store is what the claim rules need from storage. Implementations: store/bolt,
// store/postgres; store/storetest checks them.
type Store interface {
	// CreateClaims stores claims and appends ev to the audit log, all or
	// nothing. Hashes and ids are unique; a duplicate is an error.
	CreateClaims(ctx context.Context, claims []Claim, ev Event) error
	// ClaimByHash returns the claim whose token hashes to h, or ErrNotFound.
	ClaimByHash(ctx context.Context, h Hash) (Claim, error)
	// RedeemClaim, in one transaction: loads the claim by r.Hash
	// (ErrNotFound), asks Claim.Redeem(r) what redeeming it changes,
	// applies CheckLink against the links holding either end, writes the
	// link (unless exactly it exists), stores the used claim and appends
	// LinkEvent (when it wrote the link) and then Redeemed.Event. On any
	// error nothing changes.
	RedeemClaim(ctx context.Context, r Redemption) (Claim, Link, error)
}

// Service mints, inspects and redeems claims. Its zero value is not usable:
// Store must be set.
type Service struct {
	Store Store
	// TTL is the lifetime of a claim whose request names none. Zero means
	// DefaultTTL (14 days).
	TTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Request asks for one claim.
type Request struct {
	Kind      Kind
	LegacyID  string
	Email     string
	Claimer   string        // org claims only: the legacy person allowed to claim
	TTL       time.Duration // zero: the service's TTL
	CreatedBy string        // actor, for the audit log
}

// Issued is a freshly minted claim with its token, which exists nowhere else.
type Issued struct {
	Claim Claim
	Token Token
}

// MaxTTL bounds a claim's lifetime: a year.
const MaxTTL = 366 * 24 * time.Hour

// Prepare validates req and mints its token and claim without storing them.
func (s *Service) Prepare(req Request) (Issued, error) {
	if req.Kind != KindPerson && req.Kind != KindOrg {
		return Issued{}, fmt.Errorf("%w: kind %q, want person or org", ErrInvalid, req.Kind)
	}
	if !ValidLegacyID(req.LegacyID) {
		return Issued{}, fmt.Errorf("%w: legacy id %q must match [A-Za-z0-9._@-]{1,128}", ErrInvalid, req.LegacyID)
	}
	if req.Claimer != "" {
		if req.Kind != KindOrg {
			return Issued{}, fmt.Errorf("%w: claimer is only for org claims", ErrInvalid)
		}
		if !ValidLegacyID(req.Claimer) {
			return Issued{}, fmt.Errorf("%w: claimer %q must match [A-Za-z0-9._@-]{1,128}", ErrInvalid, req.Claimer)
		}
	}
	if len(req.Email) > 254 || strings.ContainsAny(req.Email, "\r\n<>\" ") {
		return Issued{}, fmt.Errorf("%w: email %q", ErrInvalid, req.Email)
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.TTL
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > MaxTTL {
		return Issued{}, fmt.Errorf("%w: ttl %s, want between 0 and %s", ErrInvalid, ttl, MaxTTL)
	}
	tok, err := NewToken()
	if err != nil {
		return Issued{}, err
	}
	id, err := newID()
	if err != nil {
		return Issued{}, err
	}
	now := s.now().UTC()
	return Issued{Token: tok, Claim: Claim{
		ID: id, Hash: tok.Hash(), Kind: req.Kind, LegacyID: req.LegacyID, Claimer: req.Claimer,
		Email: req.Email, CreatedBy: req.CreatedBy, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}}, nil
}

// Issue mints and stores one claim.
func (s *Service) Issue(ctx context.Context, req Request) (Issued, error) {
	is, err := s.Prepare(req)
	if err != nil {
		return Issued{}, err
	}
	ev := Event{Time: is.Claim.CreatedAt, Actor: req.CreatedBy, Action: ActionClaimIssue,
		Subject: subject(req.Kind, req.LegacyID), Detail: "claim " + is.Claim.ID}
	if err := s.Store.CreateClaims(ctx, []Claim{is.Claim}, ev); err != nil {
		return Issued{}, fmt.Errorf("issue claim: %w", err)
	}
	return is, nil
}

// IssueMany mints and stores claims for reqs in one batch with one audit entry.
func (s *Service) IssueMany(ctx context.Context, reqs []Request, actor string) ([]Issued, error) {
	out := make([]Issued, 0, len(reqs))
	claims := make([]Claim, 0, len(reqs))
	for i, req := range reqs {
		req.CreatedBy = actor
		is, err := s.Prepare(req)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i+1, err)
		}
		out = append(out, is)
		claims = append(claims, is.Claim)
	}
	if len(claims) == 0 {
		return out, nil
	}
	ev := Event{Time: claims[0].CreatedAt, Actor: actor, Action: ActionClaimIssue,
		Subject: "batch", Detail: fmt.Sprintf("%d claims", len(claims))}
	if err := s.Store.CreateClaims(ctx, claims, ev); err != nil {
		return nil, fmt.Errorf("issue claims: %w", err)
	}
	return out, nil
}

// Inspect returns the claim a token names, for the confirmation page. It never
// consumes anything. The error says why the claim cannot be redeemed now
// (ErrUsed, ErrExpired, ErrRevoked); the claim is returned with it when found.
func (s *Service) Inspect(ctx context.Context, tok Token) (Claim, error) {
	c, err := s.Store.ClaimByHash(ctx, tok.Hash())
	if err != nil {
		return Claim{}, err
	}
	return c, c.Usable(s.now())
}

// Redeem links the claim named by r.Hash to r's Zaikio id and consumes the
// claim, atomically. r.At is set from the clock. The redirect flow carries only
// the hash, never the token.
func (s *Service) Redeem(ctx context.Context, r Redemption) (Claim, Link, error) {
	r.At = s.now().UTC()
	c, l, err := s.Store.RedeemClaim(ctx, r)
	if err != nil {
		return c, l, fmt.Errorf("redeem claim: %w", err)
	}
	return c, l, nil
}
