package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
)

// mode returns the mode in force: the stored one, else the default.
func (s *Server) mode(ctx context.Context) (stored, current migration.Mode, err error) {
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
		writeJSON(w, http.StatusOK, Mode{Mode: string(cur), Default: string(s.cfg.DefaultMode)})
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
		to, ok := s.validMode(body.Mode)
		if !ok {
			s.fail(w, r, invalid("mode", "%q: want one of %s", body.Mode, modeList(s.cfg.Modes)))
			return
		}
		if _, err := s.applyMode(r, "", to, s.actor(r)); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, Mode{Mode: body.Mode, Default: string(s.cfg.DefaultMode)})
	}
}

// modeChangedError says that the mode in force is not the one a switch was
// confirmed against.
type modeChangedError struct{ expected, current migration.Mode }

func (e *modeChangedError) Error() string {
	return fmt.Sprintf("admin: mode is %s, the switch was confirmed against %s", e.current, e.expected)
}

func asModeChanged(err error, target **modeChangedError) bool { return errors.As(err, target) }

// applyMode switches to mode `to` for actor, the one way the API and the
// dashboard change the mode: the store writes the mode and its audit entry
// ("mode.set", "<from> → <to>") in one transaction, then OnChange applies it
// on this replica. When expect is not empty and the mode in force is not
// expect, nothing is written and the error is a *modeChangedError. Setting
// the stored mode again writes nothing. It returns the mode it switched from.
func (s *Server) applyMode(r *http.Request, expect, to migration.Mode, actor string) (from migration.Mode, err error) {
	ctx := r.Context()
	stored, cur, err := s.mode(ctx)
	if err != nil {
		return "", err
	}
	if expect != "" && cur != expect {
		return cur, &modeChangedError{expected: expect, current: cur}
	}
	if stored == to {
		return cur, nil
	}
	ev := claim.Event{Time: s.now(), Actor: actor, Action: claim.ActionModeSet, Subject: "mode", Detail: string(cur) + " → " + string(to)}
	if err := s.cfg.Store.SetMode(ctx, to, ev); err != nil {
		return cur, err
	}
	s.log.Info().Str("event", "mode.set").Str("actor", actor).Str("request_id", requestID(r)).
		Str("from", string(cur)).Str("mode", string(to)).Send()
	s.changed()
	return cur, nil
}

// validMode returns name as a mode when it is one of Config.Modes.
func (s *Server) validMode(name string) (migration.Mode, bool) {
	m := migration.Mode(name)
	return m, slices.Contains(s.cfg.Modes, m)
}

// modeList names modes for messages: "passthrough, offer, enforce".
func modeList(modes []migration.Mode) string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
