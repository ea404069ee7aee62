package admin

import (
	"net/http"
	"strconv"
)

// audit pages through the audit log, newest first: GET
// /api/v1/audit?before=<seq>&limit=<n> (default 100, at most 1000).
func (s *Server) audit() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var before uint64
		if v := r.URL.Query().Get("before"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				s.fail(w, r, invalid("before", "%q: want an event seq (a whole number)", v))
				return
			}
			before = n
		}
		limit, err := queryLimit(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		evs, err := s.cfg.Store.Events(r.Context(), before, limit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := EventPage{Events: make([]Event, 0, len(evs))}
		for _, e := range evs {
			out.Events = append(out.Events, eventJSON(e))
		}
		if len(evs) == limit && evs[len(evs)-1].Seq > 1 {
			out.Next = evs[len(evs)-1].Seq
		}
		writeJSON(w, http.StatusOK, out)
	}
}
