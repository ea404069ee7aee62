package admin

import (
	"context"
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
		if err := s.checkIssue(ctx, &req, body.Force); err != nil {
			s.fail(w, r, err)
			return
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

// checkIssue checks a claim request against the directory and the links:
// a legacy id the directory does not hold is refused unless forced (a
// typo would mail a link that claims an account nobody has), one that is
// linked already is refused (its claim could link nothing: it would be
// retired at once). A person claim without an email gets the
// directory's, which the dashboard and the mailer show.
func (s *Server) checkIssue(ctx context.Context, req *claim.Request, force bool) error {
	known := false
	switch req.Kind {
	case claim.KindPerson:
		p, err := s.cfg.Store.Person(ctx, req.LegacyID)
		switch {
		case err == nil:
			known = true
			if req.Email == "" {
				req.Email = p.Email
			}
		case !errors.Is(err, claim.ErrNotFound):
			return err
		}
	case claim.KindOrg:
		owners, err := s.cfg.Store.OrgOwners(ctx, req.LegacyID)
		if err != nil {
			return err
		}
		known = len(owners) > 0
	}
	if !known && !force {
		return &apiError{status: http.StatusUnprocessableEntity, code: "unknown_legacy_id", field: "legacy_id",
			msg: fmt.Sprintf("legacy_id: %s %s is not in the directory; import it first, or send force: true (CLI: --force) to issue a link anyway", req.Kind, req.LegacyID)}
	}
	if l, err := s.cfg.Store.Link(ctx, req.Kind, req.LegacyID); err == nil {
		return &apiError{status: http.StatusConflict, code: "already_linked", field: "legacy_id",
			msg: fmt.Sprintf("legacy_id: %s %s is linked to Zaikio %s already; a claim link could link nothing", req.Kind, req.LegacyID, l.ZaikioID)}
	} else if !errors.Is(err, claim.ErrNotFound) {
		return err
	}
	return nil
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
			cj, err := s.claimView(r.Context(), c, now)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			out.Claims = append(out.Claims, cj)
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
		cj, err := s.claimView(r.Context(), c, s.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, cj)
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

// claimView is c as the API and the dashboard show it. An open claim whose
// legacy person or organization is linked (issued after the link, which
// retires the claims open at that moment) is "retired" too: open means
// that someone not yet linked can still use it, as in Stats.
func (s *Server) claimView(ctx context.Context, c claim.Claim, now time.Time) (Claim, error) {
	cj := claimJSON(c, now)
	if cj.Status != "open" {
		return cj, nil
	}
	switch _, err := s.cfg.Store.Link(ctx, c.Kind, c.LegacyID); {
	case err == nil:
		cj.Status = "retired"
	case !errors.Is(err, claim.ErrNotFound):
		return Claim{}, err
	}
	return cj, nil
}
