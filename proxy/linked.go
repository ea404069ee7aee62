package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
)

// The pages that follow a callback live at stable addresses
// (post/redirect/get): the callback links or signs in, seals the facts the
// page shows into a short-lived cookie and redirects to /_hubgate/linked
// (or /_hubgate/no-account). Reloading that page, or coming back to it,
// shows the same facts and changes nothing; the callback's own address,
// whose code and state work once, is never a page a person stays on.

// doneCookie carries the facts of the page after a callback.
const doneCookie = "hubgate_done"

// Pages after a callback.
const (
	pageLinked    = "linked"
	pageNoAccount = "noaccount"
)

// done is the content of the done cookie: what the callback did, for the
// page that shows it. Names are for showing only.
type done struct {
	Page        string `json:"p"`
	Kind        string `json:"k,omitempty"`
	LegacyID    string `json:"l,omitempty"`
	LegacyName  string `json:"ln,omitempty"` // a person the directory does not know: whoami's name
	ZaikioID    string `json:"z,omitempty"`
	ZaikioName  string `json:"zn,omitempty"`
	ZaikioEmail string `json:"ze,omitempty"`
	At          int64  `json:"t"`
}

// showDone seals d into the done cookie and redirects to the page that
// shows it (303: the next request is a GET of a stable address).
func (s *Server) showDone(w http.ResponseWriter, r *http.Request, d done) {
	d.At = s.now().Unix()
	raw, err := json.Marshal(d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := s.cookiePrefix + doneCookie
	val, err := s.flowCodec.Encode(name, raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(name, val, undoWindow))
	loc := "/_hubgate/linked"
	if d.Page == pageNoAccount {
		loc = "/_hubgate/no-account"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

// readDone returns the done cookie's facts for page, if the browser holds
// a fresh, sealed one.
func (s *Server) readDone(r *http.Request, page string) (done, bool) {
	name := s.cookiePrefix + doneCookie
	val := cookieValue(r, name)
	if val == "" {
		return done{}, false
	}
	raw, err := s.flowCodec.Decode(name, val)
	if err != nil {
		return done{}, false
	}
	var d done
	if json.Unmarshal(raw, &d) != nil || d.Page != page {
		return done{}, false
	}
	if age := s.now().Sub(time.Unix(d.At, 0)); age > undoWindow || age < -time.Minute {
		return done{}, false
	}
	return d, true
}

// clearDone removes the done cookie (after an undo: the page it shows is
// no longer true).
func (s *Server) clearDone(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.cookiePrefix+doneCookie, "", -1))
}

// linkedPage shows what a claim linked: GET /_hubgate/linked. Which
// Zaikio account or organization was linked to which legacy one (by
// name), an undo button while undoing is possible, and the person's
// organizations that are not linked yet. Without the facts of a link that
// still stands (none, too old, undone since) it goes to the start page.
func (s *Server) linkedPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.readDone(r, pageLinked)
		kind := claim.Kind(d.Kind)
		if ok {
			l, err := s.store.Link(r.Context(), kind, d.LegacyID)
			ok = err == nil && l.ZaikioID == d.ZaikioID
		}
		if !ok {
			s.redirect(w, "/")
			return
		}
		id := s.sessions.Authenticate(w, r)
		data := map[string]any{
			"Kind": d.Kind, "LegacyID": d.LegacyID, "LegacyName": s.legacyName(r.Context(), kind, d.LegacyID, d.LegacyName),
			"ZaikioID": d.ZaikioID, "ZaikioName": d.ZaikioName, "ZaikioEmail": d.ZaikioEmail,
		}
		if id != nil {
			data["UndoCSRF"] = s.csrfToken(w, r, "undo:"+d.Kind+":"+d.LegacyID)
			if orgs := s.unlinkedOrgs(r.Context(), id.User); len(orgs) > 0 {
				data["Orgs"] = orgs
				data["OrgCSRF"] = s.csrfToken(w, r, "claim-org")
			}
		}
		s.render(w, r, http.StatusOK, "claimed", data)
	}
}

// legacyName is the name to show for a legacy person or organization: the
// directory's, else fallback (whoami's name for a person the directory
// does not know), else "" (the page shows the id).
func (s *Server) legacyName(ctx context.Context, kind claim.Kind, legacyID, fallback string) string {
	switch kind {
	case claim.KindPerson:
		if p, err := s.store.Person(ctx, legacyID); err == nil && p.Name != "" {
			return p.Name
		}
	case claim.KindOrg:
		if names, err := s.store.OrgNames(ctx, []string{legacyID}); err == nil && names[legacyID] != "" {
			return names[legacyID]
		}
	}
	return fallback
}

// noAccountPage tells a person who signed in with a Zaikio account that
// no legacy account is linked to how to link theirs, in the ways the mode
// leaves open: GET /_hubgate/no-account (403). The link from their mail
// always; "send me my link" when hubgate can mail, else the
// administrator; and, while the legacy login is open, signing in the old
// way once (which comes back to the claim confirmation).
func (s *Server) noAccountPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.readDone(r, pageNoAccount)
		if !ok {
			s.redirect(w, "/")
			return
		}
		data := map[string]any{"ZaikioName": d.ZaikioName, "ZaikioEmail": d.ZaikioEmail}
		if s.cfg.Mailer != nil {
			data["ResendCSRF"] = s.csrfToken(w, r, "resend")
		}
		if login := s.legacyLoginPath(); login != "" {
			data["LegacyCSRF"] = s.csrfToken(w, r, "continue-legacy")
			data["LegacyLogin"] = login
		}
		s.render(w, r, http.StatusForbidden, "noaccount", data)
	}
}

// legacyLoginPath is where a person signs in the old way to claim their
// account through the legacy session, or "" when that is not possible:
// no whoami, no login path, or the legacy login closed (enforce).
func (s *Server) legacyLoginPath() string {
	paths := s.policy().LoginPaths
	if s.cfg.Whoami == "" || len(paths) == 0 || s.Mode() == migration.Enforce {
		return ""
	}
	return paths[0]
}

// orgRef is a legacy organization on a page: its id, and its name when the
// directory has one.
type orgRef struct {
	ID, Name string
}

// unlinkedOrgs lists the legacy organizations user owns (per the imported
// directory) that are not linked yet, with their names.
func (s *Server) unlinkedOrgs(ctx context.Context, user string) []orgRef {
	if user == "" {
		return nil
	}
	p, err := s.store.Person(ctx, user)
	if err != nil {
		return nil
	}
	var ids []string
	for _, o := range p.Orgs {
		if _, err := s.store.Link(ctx, claim.KindOrg, o); errors.Is(err, claim.ErrNotFound) {
			ids = append(ids, o)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	names, err := s.store.OrgNames(ctx, ids)
	if err != nil {
		names = nil // names are for showing: the ids still do
	}
	out := make([]orgRef, len(ids))
	for i, o := range ids {
		out[i] = orgRef{ID: o, Name: names[o]}
	}
	return out
}

// ownsUnlinked reports whether org is among orgs.
func ownsUnlinked(orgs []orgRef, org string) bool {
	for _, o := range orgs {
		if o.ID == org {
			return true
		}
	}
	return false
}
