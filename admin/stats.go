package admin

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/hubgate/hubgate/claim"
)

// statsDays is how many days GET /api/v1/stats counts links for.
const statsDays = 30

// stats answers the counts, the shares in percent and the links created on
// each of the last 30 UTC days (today included, oldest first, zero days
// listed), for the dashboard and `hubgate` scripts.
func (s *Server) stats() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := s.computeStats(r.Context(), s.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}
}

// linksByDay counts links by the UTC day of their CreatedAt. The store has
// no index by time, so it pages through all links, a thousand at a time:
// a few milliseconds per ten thousand links, on the admin listener only.
func (s *Server) linksByDay(ctx context.Context, now time.Time) ([]DayLinks, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(statsDays - 1))
	days := make([]DayLinks, statsDays)
	for i := range days {
		days[i].Date = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	for _, kind := range []claim.Kind{claim.KindPerson, claim.KindOrg} {
		after := ""
		for {
			links, err := s.cfg.Store.Links(ctx, kind, after, MaxLimit)
			if err != nil {
				return nil, err
			}
			for _, l := range links {
				at := l.CreatedAt.UTC()
				if at.Before(first) || !at.Before(today.AddDate(0, 0, 1)) {
					continue
				}
				d := &days[int(at.Sub(first)/(24*time.Hour))]
				if kind == claim.KindPerson {
					d.Persons++
				} else {
					d.Orgs++
				}
			}
			if len(links) < MaxLimit {
				break
			}
			after = links[len(links)-1].LegacyID
		}
	}
	return days, nil
}

// percent is part of whole in percent with one decimal, at most 100 (links
// may name legacy ids the directory does not hold); 0 when whole is 0.
func percent(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return min(100, math.Round(float64(part)*1000/float64(whole))/10)
}
