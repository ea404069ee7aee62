package claim

import (
	"strings"
	"time"
	"unicode"
)

// Retired is what writing a link does to the other claims of its legacy
// person or organization, as [Retire] decided it. Stores write it in the
// transaction that writes the link.
type Retired struct {
	// Claims are the claims retired: RetiredAt set.
	Claims []Claim
	// Event is the ActionClaimRetire entry naming them; zero (no Action)
	// when nothing was retired.
	Event Event
}

// Retire applies the retirement rule to the stored claims of l's legacy
// end: once a legacy person or organization is linked (by a claim, an
// operator, provisioning), its claims that are still open at `at` can link
// nothing any more — redeeming one would be refused, or would consume a
// link meant for a person who no longer needs it — so they are retired and
// say so, instead of looking valid until the trip to Zaikio. Claims of
// another kind or legacy id, and claims that are used, revoked, retired or
// expired, are left alone.
func Retire(l Link, claims []Claim, at time.Time) Retired {
	var out Retired
	var ids []string
	for _, c := range claims {
		if c.Kind != l.Kind || c.LegacyID != l.LegacyID || c.Status(at) != "open" {
			continue
		}
		c.RetiredAt = at.UTC()
		out.Claims = append(out.Claims, c)
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return out
	}
	word := "claim "
	if len(ids) > 1 {
		word = "claims "
	}
	out.Event = Event{Time: at, Actor: l.By, Action: ActionClaimRetire, Subject: subject(l.Kind, l.LegacyID),
		Detail: word + strings.Join(ids, ", ") + ": linked to zaikio " + l.ZaikioID + " via " + l.Via}
	return out
}

// maxShownName bounds a display name kept in an audit entry.
const maxShownName = 128

// quotedName is ` “name”` for an audit entry's detail, or "" for no name:
// one line, printable, at most maxShownName runes. Names come from the hub
// or the directory and are never trusted for anything but showing.
func quotedName(name string) string {
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	if name == "" {
		return ""
	}
	if r := []rune(name); len(r) > maxShownName {
		name = string(r[:maxShownName]) + "…"
	}
	return " “" + name + "”"
}
