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
	all      []Revocation
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
