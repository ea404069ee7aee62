package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// pathLegacyID reads and checks the {legacy_id} path segment.
func pathLegacyID(r *http.Request) (string, error) {
	id := r.PathValue("legacy_id")
	if !claim.ValidLegacyID(id) {
		return "", invalid("legacy_id", "%q: want 1 to 128 of A-Z a-z 0-9 . _ @ -", id)
	}
	return id, nil
}

// getLink shows the link holding a legacy id, or 404.
func (s *Server) getLink(kind claim.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathLegacyID(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		l, err := s.cfg.Store.Link(r.Context(), kind, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, linkJSON(l))
	}
}

// putLink links a legacy id to a Zaikio id by hand: 201 when written, 200
// when exactly this link already exists, 409 when either end is linked to
// something else (links are unique both ways and never overwritten, DESIGN
// §3). The store appends the audit event (Via "admin", By the actor).
func (s *Server) putLink(kind claim.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathLegacyID(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var body LinkRequest
		if err := decodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		// One id, one spelling: Zaikio ids are lower-case UUIDs.
		zid := strings.ToLower(strings.TrimSpace(body.ZaikioID))
		if !claim.ValidZaikioID(zid) {
			s.fail(w, r, invalid("zaikio_id", "%q: want a UUID", body.ZaikioID))
			return
		}
		ctx, actor := r.Context(), s.actor(r)
		if l, err := s.cfg.Store.Link(ctx, kind, id); err == nil && l.ZaikioID == zid {
			writeJSON(w, http.StatusOK, linkJSON(l))
			return
		} else if err != nil && !errors.Is(err, claim.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		l := claim.Link{Kind: kind, LegacyID: id, ZaikioID: zid, CreatedAt: s.now(), Via: "admin", By: actor}
		if err := s.cfg.Store.PutLink(ctx, l); err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "link.create").Str("actor", actor).Str("request_id", requestID(r)).
			Str("kind", string(kind)).Str("legacy", id).Str("zaikio", zid).Send()
		s.revalidate(ctx, r, kind, zid, actor)
		writeJSON(w, http.StatusCreated, linkJSON(l))
	}
}

// deleteLink removes a link: 200 with the removed link, 404 when there is
// none. The store appends the audit event.
func (s *Server) deleteLink(kind claim.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathLegacyID(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx, actor := r.Context(), s.actor(r)
		l, err := s.cfg.Store.DeleteLink(ctx, kind, id, actor, s.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "link.delete").Str("actor", actor).Str("request_id", requestID(r)).
			Str("kind", string(kind)).Str("legacy", id).Str("zaikio", l.ZaikioID).Send()
		s.unlinked(ctx, r, kind, id, actor)
		writeJSON(w, http.StatusOK, linkJSON(l))
	}
}

// unlinked takes a legacy person or organization that was just unlinked out
// of every session that carries it, on its next request, on every replica,
// whether or not the hub answers (session.Unlink: this replica applies it at
// once through OnChange, the others at their next poll of the revocation
// list). Asking the sessions to revalidate would not do: with the hub down,
// a session keeps its identity for its grace period. The revocation is
// added after the link is gone, so that no revalidation can rebuild the old
// identity after it. The unlink stands even if this fails; the failure is
// logged.
func (s *Server) unlinked(ctx context.Context, r *http.Request, kind claim.Kind, legacyID, actor string) {
	s.addRevocation(ctx, r, session.NewRevocation(session.Unlink, string(kind)+":"+legacyID, s.now(), s.cfg.SessionTTL, actor, "link removed"))
}

// revalidate makes the sessions a new link affects re-read their identity
// on their next request, instead of going without it until their regular
// revalidation: for a person link, that person's sessions; for an
// organization link, every session (the store does not know the
// organization's members; each session falls due within 30 s). The link
// stands even if this fails; the failure is logged.
func (s *Server) revalidate(ctx context.Context, r *http.Request, kind claim.Kind, zaikioID, actor string) {
	subject := zaikioID
	if kind == claim.KindOrg {
		subject = "*"
	}
	s.addRevocation(ctx, r, session.NewRevocation(session.Revalidate, subject, s.now(), s.cfg.SessionTTL, actor, "link changed"))
}

// addRevocation stores rv and tells this replica (OnChange); a failure is
// logged.
func (s *Server) addRevocation(ctx context.Context, r *http.Request, rv session.Revocation) {
	if err := s.cfg.Store.AddRevocation(ctx, rv); err != nil {
		s.log.Error().Err(err).Str("event", "session."+string(rv.Kind)).Str("request_id", requestID(r)).Str("subject", rv.Subject).Send()
		return
	}
	s.changed()
}

// listLinks pages through links by legacy id.
func (s *Server) listLinks(kind claim.Kind) http.HandlerFunc {
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
		links, err := s.cfg.Store.Links(r.Context(), kind, after, limit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := LinkPage{Links: make([]Link, 0, len(links))}
		for _, l := range links {
			out.Links = append(out.Links, linkJSON(l))
		}
		if len(links) == limit {
			out.Next = links[len(links)-1].LegacyID
		}
		writeJSON(w, http.StatusOK, out)
	}
}
