package session

import (
	"strings"
	"time"
)

// revocationSet is an immutable snapshot of the revocation list, swapped
// atomically; lookups take no lock.
type revocationSet struct {
	sessions map[string]struct{}
	tokens   map[string]struct{}
	persons  map[string]time.Time // sessions created before this are revoked (millisecond precision, as in the cookie)
	staleBy  map[string]time.Time // sessions validated before this must revalidate: by person or "*"
	orgStale map[string]time.Time // the same by legacy org (subject "org:<legacy org>")
	// users and orgs are the Unlink entries: an identity validated before
	// the time noted drops that legacy person (User) or organization.
	users map[string]time.Time
	orgs  map[string]time.Time
	all   []Revocation
}

func newRevocationSet(rvs []Revocation) *revocationSet {
	rs := &revocationSet{all: rvs}
	for _, rv := range rvs {
		switch rv.Kind {
		case RevokeSession:
			if rs.sessions == nil {
				rs.sessions = map[string]struct{}{}
			}
			rs.sessions[rv.Subject] = struct{}{}
		case RevokeToken:
			if rs.tokens == nil {
				rs.tokens = map[string]struct{}{}
			}
			rs.tokens[rv.Subject] = struct{}{}
		case RevokePerson:
			if rs.persons == nil {
				rs.persons = map[string]time.Time{}
			}
			if rv.At.After(rs.persons[rv.Subject]) {
				rs.persons[rv.Subject] = rv.At
			}
		case Revalidate:
			m, key := &rs.staleBy, rv.Subject
			if org, ok := strings.CutPrefix(rv.Subject, "org:"); ok {
				m, key = &rs.orgStale, org
			}
			if *m == nil {
				*m = map[string]time.Time{}
			}
			if rv.At.After((*m)[key]) {
				(*m)[key] = rv.At
			}
		case Unlink:
			m, key := &rs.users, ""
			if user, ok := strings.CutPrefix(rv.Subject, "person:"); ok {
				key = user
			} else if org, ok := strings.CutPrefix(rv.Subject, "org:"); ok {
				m, key = &rs.orgs, org
			}
			if key == "" {
				continue
			}
			if *m == nil {
				*m = map[string]time.Time{}
			}
			if rv.At.After((*m)[key]) {
				(*m)[key] = rv.At
			}
		}
	}
	return rs
}

// with returns a copy of rs with rv added.
func (rs *revocationSet) with(rv Revocation) *revocationSet {
	all := make([]Revocation, len(rs.all), len(rs.all)+1)
	copy(all, rs.all)
	return newRevocationSet(append(all, rv))
}

func (rs *revocationSet) revoked(id *Identity) bool {
	if _, ok := rs.sessions[id.SessionID]; ok {
		return true
	}
	if _, ok := rs.tokens[id.JTI]; ok && id.JTI != "" {
		return true
	}
	if t, ok := rs.persons[id.Person]; ok && id.Created.Before(t) {
		return true
	}
	return false
}

// staleSpread spreads the revalidations an "everyone" mark causes: each
// session is due at a point of its own within this window after the mark,
// so that one event does not send every active session to the hub at once.
const staleSpread = 30 * time.Second

func (rs *revocationSet) stale(id *Identity, now time.Time) bool {
	if rs.unlinked(id) {
		return true
	}
	if len(rs.staleBy) > 0 {
		if t, ok := rs.staleBy[id.Person]; ok && id.Validated.Before(t) {
			return true
		}
		if t, ok := rs.staleBy["*"]; ok && id.Validated.Before(t) && !now.Before(t.Add(spreadOf(id.SessionID))) {
			return true
		}
	}
	if len(rs.orgStale) > 0 {
		for org := range strings.SplitSeq(id.Orgs, ",") {
			if t, ok := rs.orgStale[org]; ok && org != "" && id.Validated.Before(t) {
				return true
			}
		}
	}
	return false
}

// spreadOf is a session's fixed offset within staleSpread (FNV-1a of its id).
func spreadOf(sessionID string) time.Duration {
	h := uint32(2166136261)
	for i := 0; i < len(sessionID); i++ {
		h = (h ^ uint32(sessionID[i])) * 16777619
	}
	return time.Duration(h%uint32(staleSpread/time.Millisecond)) * time.Millisecond
}

// unlinked reports whether id carries a legacy person or organization that
// was unlinked after id was validated (an Unlink entry). Map lookups only,
// and none at all while nothing was unlinked: it runs on every request.
func (rs *revocationSet) unlinked(id *Identity) bool {
	if len(rs.users) > 0 && id.User != "" {
		if t, ok := rs.users[id.User]; ok && id.Validated.Before(t) {
			return true
		}
	}
	if len(rs.orgs) == 0 {
		return false
	}
	for org := range strings.SplitSeq(id.Orgs, ",") {
		if rs.orgUnlinked(org, id.Validated) {
			return true
		}
	}
	for role := range strings.SplitSeq(id.Roles, ",") {
		if org, _, ok := strings.Cut(role, ":"); ok && rs.orgUnlinked(org, id.Validated) {
			return true
		}
	}
	return false
}

func (rs *revocationSet) orgUnlinked(org string, validated time.Time) bool {
	t, ok := rs.orgs[org]
	return ok && org != "" && validated.Before(t)
}

// without returns a copy of id without what was unlinked after id was
// validated: User emptied if its legacy person was unlinked; the unlinked
// organizations removed from Orgs, and their "<legacy org>:<local role>"
// entries (the X-Hubgate-Roles format, DESIGN §4) from Roles. Everything
// else, the validation time included, stays: the copy is exactly what a
// revalidation would build from the same hub answer with the links as they
// are now, and a later revalidation refreshes it as usual.
func (rs *revocationSet) without(id *Identity) *Identity {
	nid := &Identity{
		SessionID: id.SessionID, Person: id.Person, JTI: id.JTI, User: id.User, Email: id.Email, Name: id.Name,
		Created: id.Created, Validated: id.Validated, Expires: id.Expires,
	}
	if t, ok := rs.users[id.User]; ok && id.Validated.Before(t) {
		nid.User = ""
	}
	var orgs, roles []string
	for org := range strings.SplitSeq(id.Orgs, ",") {
		if org != "" && !rs.orgUnlinked(org, id.Validated) {
			orgs = append(orgs, org)
		}
	}
	for role := range strings.SplitSeq(id.Roles, ",") {
		org, _, _ := strings.Cut(role, ":")
		if role != "" && !rs.orgUnlinked(org, id.Validated) {
			roles = append(roles, role)
		}
	}
	nid.Orgs, nid.Roles = strings.Join(orgs, ","), strings.Join(roles, ",")
	nid.prepare()
	return nid
}
