package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
)

// The dashboard (DESIGN §4 "GET / (dashboard)") shows how far the migration
// has come and switches the mode. It is server-rendered HTML without
// scripts, on the admin listener only; browsers sign in with the admin token
// (dashboard_auth.go), scripts keep using the JSON API.

// How much the dashboard lists.
const (
	dashboardEvents = 20 // newest audit events
	dashboardClaims = 10 // newest open or expired claims
)

// share is linked out of a whole, for a progress bar.
type share struct {
	Linked, Total, Unlinked int
	Percent                 float64
	Width                   string // the bar's width in SVG units of 100
}

func newShare(linked, total int) share {
	p := percent(linked, total)
	return share{Linked: linked, Total: total, Unlinked: max(0, total-linked), Percent: p,
		Width: strconv.FormatFloat(p, 'f', 1, 64)}
}

// modeView is one mode in the mode card.
type modeView struct {
	Name    string
	Desc    string
	Current bool
}

// dashboardView is what the dashboard shows.
type dashboardView struct {
	Mode, Default string
	Switched      string // the mode a switch just set, for a notice
	Modes         []modeView
	Persons, Orgs share
	Stats         claim.Stats
	ClaimsTotal   int
	ClaimsUsedPct float64
	Chart         chart
	Recent        []Claim
	Events        []auditRow
	Generated     time.Time
	// ReadOnly hides the controls: the viewer signed in with a read token.
	ReadOnly bool
	// Readiness is the readiness card (readiness_page.go).
	Readiness readinessView
	// LegacyRoutes is the legacy routes card (legacy_routes.go; nil: none).
	LegacyRoutes *legacyRoutesView
}

// dashboard renders GET /.
func (s *Server) dashboard() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, now, loc := r.Context(), s.now(), localeOf(r)
		_, cur, err := s.mode(ctx)
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		st, err := s.computeStats(ctx, now)
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		recent, err := s.recentClaims(ctx, now, dashboardClaims)
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		evs, err := s.cfg.Store.Events(ctx, 0, dashboardEvents)
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		v := dashboardView{Mode: string(cur), Default: string(s.cfg.DefaultMode), Stats: st.Stats, Generated: now,
			Persons: newShare(st.LinkedPersons, st.People), Orgs: newShare(st.LinkedOrgs, st.Orgs),
			ClaimsTotal:   st.ClaimsTotal(),
			ClaimsUsedPct: st.Percent.ClaimsUsed, Chart: newChart(st.LinksByDay, loc), Recent: recent,
			ReadOnly: viewerOf(r).readOnly()}
		if v.Readiness, err = s.readinessCard(r); err != nil {
			s.failPage(w, r, err)
			return
		}
		v.LegacyRoutes = s.legacyRoutesCard()
		if sw := r.URL.Query().Get("switched"); sw == string(cur) {
			v.Switched = sw
		}
		for _, m := range s.cfg.Modes {
			v.Modes = append(v.Modes, modeView{Name: string(m), Desc: modeText(loc, "mode.%s.desc", m), Current: m == cur})
		}
		v.Events = s.newNames(ctx).auditRows(evs)
		s.render(w, r, http.StatusOK, "dashboard", v)
	}
}

// modeText is the catalog text for a mode, "" for modes the catalog does
// not describe (Config.Modes may name others).
func modeText(l locale, format string, mode migration.Mode) string {
	key := fmt.Sprintf(format, mode)
	if t := l.T(key); t != key {
		return t
	}
	return ""
}

// computeStats is GET /api/v1/stats' answer: counts, shares and links by day.
func (s *Server) computeStats(ctx context.Context, now time.Time) (Stats, error) {
	st, err := s.cfg.Store.Stats(ctx, now)
	if err != nil {
		return Stats{}, err
	}
	days, err := s.linksByDay(ctx, now)
	if err != nil {
		return Stats{}, err
	}
	claims := st.ClaimsTotal()
	return Stats{Stats: st, LinksByDay: days, Percent: Percent{
		PersonsLinked: percent(st.LinkedPersons, st.People),
		OrgsLinked:    percent(st.LinkedOrgs, st.Orgs),
		ClaimsUsed:    percent(st.ClaimsUsed, claims),
	}}, nil
}

// recentClaims are the n newest claims that are open or expired, newest
// first (as claimView sees them: an open claim of a linked person is
// retired). Claims are stored by random id, so it pages through all of
// them, like the store's own Stats does: on the admin listener only.
func (s *Server) recentClaims(ctx context.Context, now time.Time, n int) ([]Claim, error) {
	var top []claim.Claim // newest first, at most n
	after := ""
	for {
		page, err := s.cfg.Store.Claims(ctx, after, MaxLimit)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if st := c.Status(now); st != "open" && st != "expired" {
				continue
			}
			i, _ := slices.BinarySearchFunc(top, c, func(a, b claim.Claim) int { return b.CreatedAt.Compare(a.CreatedAt) })
			if i < n {
				top = slices.Insert(top, i, c)
				if len(top) > n {
					top = top[:n]
				}
			}
		}
		if len(page) < MaxLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	out := make([]Claim, 0, len(top))
	for _, c := range top {
		cj, err := s.claimView(ctx, c, now)
		if err != nil {
			return nil, err
		}
		if cj.Status == "open" || cj.Status == "expired" {
			out = append(out, cj)
		}
	}
	return out, nil
}

// confirmView is the confirmation page of a mode switch.
type confirmView struct {
	From, To    string
	Consequence string
	Persons     share
	Actor       string
	Notice      string
	CSRF        string
	CanSwitch   bool
	ReadOnly    bool // a read token: the page explains, without the form
	// Readiness is who a switch to enforce locks out (nil: another switch).
	Readiness *confirmReadiness
}

// modeConfirm shows what switching to ?to= means, with the form that does
// it: GET /mode?to=enforce. A GET never switches.
func (s *Server) modeConfirm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		to, ok := s.validMode(r.URL.Query().Get("to"))
		if !ok {
			s.failPage(w, r, &pageError{status: http.StatusBadRequest, key: "bad_request", err: fmt.Errorf("mode %q is not one of %q", to, s.cfg.Modes)})
			return
		}
		s.renderConfirm(w, r, http.StatusOK, to, "")
	}
}

// renderConfirm renders the confirmation of a switch to `to` from the mode
// in force, with an optional notice.
func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, status int, to migration.Mode, notice string) {
	ctx, loc := r.Context(), localeOf(r)
	_, cur, err := s.mode(ctx)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	st, err := s.cfg.Store.Stats(ctx, s.now())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	v := confirmView{From: string(cur), To: string(to), Persons: newShare(st.LinkedPersons, st.People), Actor: viewerOf(r).actor(),
		Notice: notice, CanSwitch: cur != to, Consequence: modeText(loc, "confirm.%s", to)}
	if v.Consequence == "" {
		v.Consequence = modeText(loc, "mode.%s.desc", to)
	}
	if to == migration.Enforce && v.CanSwitch {
		if v.Readiness, err = s.enforceReadiness(r); err != nil {
			s.failPage(w, r, err)
			return
		}
	}
	if !v.CanSwitch && notice == "" {
		v.Notice = loc.F("confirm.same", loc.Mode(string(to)))
	}
	if viewerOf(r).readOnly() {
		v.ReadOnly, v.CanSwitch = true, false
		v.Notice = loc.T("confirm.readonly")
	}
	v.CSRF = s.csrfToken(w, r, "mode")
	s.render(w, r, status, "confirm", v)
}

// modeSwitch switches the mode from the confirmation page: POST /mode with
// csrf, from (the mode the page was confirmed against) and to. If the mode
// changed in between, the page is shown again rather than switching on a
// confirmation of other consequences. A read token gets 403.
func (s *Server) modeSwitch() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := s.checkCSRF(r, "mode"); err != nil {
			s.failPage(w, r, err)
			return
		}
		if v := viewerOf(r); v.readOnly() {
			s.failPage(w, r, &pageError{status: http.StatusForbidden, key: "forbidden", err: fmt.Errorf("token %q is read-only", v.token.name)})
			return
		}
		from, fromOK := s.validMode(r.PostFormValue("from"))
		to, toOK := s.validMode(r.PostFormValue("to"))
		if !fromOK || !toOK {
			s.failPage(w, r, &pageError{status: http.StatusBadRequest, key: "bad_request", err: fmt.Errorf("mode switch %q → %q: want modes of %q", from, to, s.cfg.Modes)})
			return
		}
		_, err := s.applyMode(r, from, to, viewerOf(r).actor())
		var changed *modeChangedError
		switch {
		case asModeChanged(err, &changed):
			loc := localeOf(r)
			s.renderConfirm(w, r, http.StatusConflict, to, loc.F("confirm.changed", loc.Mode(string(changed.current))))
			return
		case err != nil:
			s.failPage(w, r, err)
			return
		}
		pageHeaders(w)
		http.Redirect(w, r, "/?switched="+string(to), http.StatusSeeOther)
	}
}
