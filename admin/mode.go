package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/hubgate/hubgate/claim"
)

// mode returns the mode in force: the stored one, else the default.
func (s *Server) mode(ctx context.Context) (stored, current string, err error) {
	stored, err = s.cfg.Store.Mode(ctx)
	if err != nil {
		return "", "", err
	}
	if stored == "" {
		return "", s.cfg.DefaultMode, nil
	}
	return stored, stored, nil
}

// getMode answers the mode in force and the configured default.
func (s *Server) getMode() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, cur, err := s.mode(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, Mode{Mode: cur, Default: s.cfg.DefaultMode})
	}
}

// setMode switches the mode at run time: PUT /api/v1/mode {"mode": …}. The
// store writes the mode and its audit entry in one transaction; OnChange lets
// this replica apply it at once. Setting the stored mode again changes
// nothing and writes nothing.
func (s *Server) setMode() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body Mode
		if err := decodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		if body.Default != "" {
			s.fail(w, r, invalid("default", "is configuration; it cannot be set here"))
			return
		}
		if !slices.Contains(s.cfg.Modes, body.Mode) {
			s.fail(w, r, invalid("mode", "%q: want one of %s", body.Mode, strings.Join(s.cfg.Modes, ", ")))
			return
		}
		ctx, actor := r.Context(), s.actor(r)
		stored, cur, err := s.mode(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if stored != body.Mode {
			ev := claim.Event{Time: s.now(), Actor: actor, Action: "mode.set", Subject: "mode", Detail: cur + " → " + body.Mode}
			if err := s.cfg.Store.SetMode(ctx, body.Mode, ev); err != nil {
				s.fail(w, r, err)
				return
			}
			s.log.Info().Str("event", "mode.set").Str("actor", actor).Str("request_id", requestID(r)).
				Str("from", cur).Str("mode", body.Mode).Send()
			s.changed()
		}
		writeJSON(w, http.StatusOK, Mode{Mode: body.Mode, Default: s.cfg.DefaultMode})
	}
}
