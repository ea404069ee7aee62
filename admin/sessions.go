package admin

import (
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// revokeSessions ends every session of a Zaikio person: DELETE
// /api/v1/sessions/{zaikio_person} → 204. The revocation names sessions
// created before now and is kept as long as such a session can live (plus a
// minute for clock skew between replicas); OnChange applies it here at once,
// other replicas pick it up when they next poll.
func (s *Server) revokeSessions() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw := r.PathValue("zaikio_person")
		person := strings.ToLower(raw)
		if !claim.ValidZaikioID(person) {
			s.fail(w, r, invalid("zaikio_person", "%q: want a UUID", raw))
			return
		}
		ctx, actor, now := r.Context(), s.actor(r), s.now()
		rv := session.NewRevocation(session.RevokePerson, person, now, s.cfg.SessionTTL, actor, "admin")
		if err := s.cfg.Store.AddRevocation(ctx, rv); err != nil {
			s.fail(w, r, err)
			return
		}
		s.changed()
		ev := claim.Event{Time: now, Actor: actor, Action: claim.ActionSessionRevoke, Subject: "zaikio:" + person,
			Detail: "every session of the person ended"}
		if err := s.cfg.Store.AppendEvent(ctx, ev); err != nil {
			// The revocation stands; only its audit entry is missing.
			s.fail(w, r, err)
			return
		}
		s.log.Info().Str("event", "session.revoke").Str("actor", actor).Str("request_id", requestID(r)).Str("person", person).Send()
		w.WriteHeader(http.StatusNoContent)
	}
}
