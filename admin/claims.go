package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
)

// issueClaim mints one claim: POST /api/v1/claims. The answer's URL holds the
// token; it appears nowhere else (not in the log, not in later listings).
func (s *Server) issueClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body IssueRequest
		if err := decodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		req, err := issueRequest(body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		req.CreatedBy = s.actor(r)
		if req.Kind == claim.KindPerson && req.Email == "" {
			// The directory may know where the link should go; the
			// dashboard and mailer show it.
			if p, err := s.cfg.Store.Person(ctx, req.LegacyID); err == nil {
				req.Email = p.Email
			} else if !errors.Is(err, claim.ErrNotFound) {
				s.fail(w, r, err)
				return
			}
		}
		is, err := s.cfg.Claims.Issue(ctx, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "claim.issue").Str("actor", req.CreatedBy).Str("request_id", requestID(r)).
			Str("claim", is.Claim.ID).Str("kind", string(req.Kind)).Str("legacy", req.LegacyID).
			Time("expires", is.Claim.ExpiresAt).Send()
		writeJSON(w, http.StatusCreated, Issued{ID: is.Claim.ID, URL: s.claimURL(is.Token), ExpiresAt: is.Claim.ExpiresAt.UTC()})
	}
}

// issueRequest checks the body field by field, so that every refusal names
// the JSON field to fix (claim.Service.Prepare checks again, in its terms).
func issueRequest(b IssueRequest) (claim.Request, error) {
	if b.Kind == "" {
		return claim.Request{}, invalid("kind", "missing; want person or org")
	}
	kind, err := claim.ParseKind(b.Kind)
	if err != nil {
		return claim.Request{}, invalid("kind", "%q: want person or org", b.Kind)
	}
	if !claim.ValidLegacyID(b.LegacyID) {
		return claim.Request{}, invalid("legacy_id", "%q: want 1 to 128 of A-Z a-z 0-9 . _ @ -", b.LegacyID)
	}
	if b.Claimer != "" {
		if kind != claim.KindOrg {
			return claim.Request{}, invalid("claimer", "only org claims name a claimer")
		}
		if !claim.ValidLegacyID(b.Claimer) {
			return claim.Request{}, invalid("claimer", "%q: want 1 to 128 of A-Z a-z 0-9 . _ @ -", b.Claimer)
		}
	}
	email := strings.TrimSpace(b.Email)
	if err := validEmail(email); err != nil {
		return claim.Request{}, invalid("email", "%v", err)
	}
	var ttl time.Duration
	if b.TTL != "" {
		if ttl, err = ParseTTL(b.TTL); err != nil {
			return claim.Request{}, invalid("ttl", "%v", err)
		}
	}
	return claim.Request{Kind: kind, LegacyID: b.LegacyID, Email: email, Claimer: b.Claimer, TTL: ttl}, nil
}

// ParseTTL reads a claim lifetime: a Go duration ("72h", "90m") or whole
// days, alone or before a duration ("14d", "1d12h"). It must be positive and
// at most claim.MaxTTL.
func ParseTTL(s string) (time.Duration, error) {
	var d time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 || days > 366 {
			return 0, fmt.Errorf("%q: want a duration like 72h or 14d", s)
		}
		d, rest = time.Duration(days)*24*time.Hour, s[i+1:]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration like 72h or 14d", s)
		}
		d += more
	}
	if d <= 0 || d > claim.MaxTTL {
		return 0, fmt.Errorf("%q: want more than 0 and at most %s (366d)", s, claim.MaxTTL)
	}
	return d, nil
}

// listClaims pages through claims by id: GET /api/v1/claims?after=&limit=.
func (s *Server) listClaims() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		after, err := queryAfter(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		limit, err := queryLimit(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		claims, err := s.cfg.Store.Claims(r.Context(), after, limit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		now := s.now()
		out := ClaimPage{Claims: make([]Claim, 0, len(claims))}
		for _, c := range claims {
			out.Claims = append(out.Claims, claimJSON(c, now))
		}
		if len(claims) == limit {
			out.Next = claims[len(claims)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// getClaim shows one claim: GET /api/v1/claims/{id}.
func (s *Server) getClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.cfg.Store.Claim(r.Context(), r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, claimJSON(c, s.now()))
	}
}

// revokeClaim revokes an unused claim: DELETE /api/v1/claims/{id} → 204. The
// store writes the audit entry; revoking twice is a no-op, a used claim is
// 409 (claim.ErrUsed).
func (s *Server) revokeClaim() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, actor := r.PathValue("id"), s.actor(r)
		if err := s.cfg.Store.RevokeClaim(r.Context(), id, actor, s.now()); err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "claim.revoke").Str("actor", actor).Str("request_id", requestID(r)).Str("claim", id).Send()
		w.WriteHeader(http.StatusNoContent)
	}
}
