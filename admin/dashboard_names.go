package admin

import (
	"context"
	"strings"

	"github.com/hubgate/hubgate/claim"
)

// auditRow is one audit event on the dashboard, with the names an operator
// knows people and organizations by beside the ids the log keeps: the
// directory's names for legacy subjects, and for a Zaikio person who acted
// the name of the legacy person it is linked to. Names are looked up when
// the page is drawn (the log itself keeps ids, plus the Zaikio name a
// claim recorded in its detail).
type auditRow struct {
	Event
	SubjectName string
	ActorName   string
}

// names looks up, and remembers for one page, the names of legacy persons
// and organizations and of linked Zaikio persons.
type names struct {
	s       *Server
	ctx     context.Context
	persons map[string]string // legacy person id → name ("" when none)
	orgs    map[string]string // legacy org id → name (missing: none)
	zaikio  map[string]string // Zaikio person id → its legacy person's name
}

func (s *Server) newNames(ctx context.Context) *names {
	return &names{s: s, ctx: ctx, persons: map[string]string{}, zaikio: map[string]string{}}
}

// auditRows are evs with names. A failed lookup leaves a name out: the
// ids are still there.
func (n *names) auditRows(evs []claim.Event) []auditRow {
	var orgIDs []string
	for _, e := range evs {
		if id, ok := strings.CutPrefix(e.Subject, "org:"); ok {
			orgIDs = append(orgIDs, id)
		}
	}
	if len(orgIDs) > 0 {
		n.orgs, _ = n.s.cfg.Store.OrgNames(n.ctx, orgIDs)
	}
	out := make([]auditRow, 0, len(evs))
	for _, e := range evs {
		row := auditRow{Event: eventJSON(e)}
		if id, ok := strings.CutPrefix(e.Subject, "person:"); ok {
			row.SubjectName = n.person(id)
		} else if id, ok := strings.CutPrefix(e.Subject, "org:"); ok {
			row.SubjectName = n.orgs[id]
		}
		if z, ok := strings.CutPrefix(e.Actor, "zaikio:"); ok {
			row.ActorName = n.linkedName(z)
		}
		out = append(out, row)
	}
	return out
}

// person is the directory's name of legacy person id.
func (n *names) person(id string) string {
	if name, ok := n.persons[id]; ok {
		return name
	}
	p, _ := n.s.cfg.Store.Person(n.ctx, id)
	n.persons[id] = p.Name
	return p.Name
}

// linkedName is the name of the legacy person Zaikio person z is linked to.
func (n *names) linkedName(z string) string {
	if name, ok := n.zaikio[z]; ok {
		return name
	}
	name := ""
	if l, err := n.s.cfg.Store.LinkByZaikio(n.ctx, claim.KindPerson, z); err == nil {
		name = n.person(l.LegacyID)
	}
	n.zaikio[z] = name
	return name
}
