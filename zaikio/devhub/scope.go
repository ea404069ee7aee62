package devhub

import (
	"errors"
	"slices"
	"strings"
)

// bearerKind is who a token speaks for, set by the scope prefix.
type bearerKind int

const (
	bearerPerson   bearerKind = iota // no prefix, or "Per."
	bearerOrg                        // "Org." or "Org/<uuid>."
	bearerOnBehalf                   // "Per>Org.": the org, on behalf of the person
)

func (k bearerKind) orgScoped() bool { return k != bearerPerson }

// grantedScopes are the scopes of an authorization request after the hub
// dropped those it does not know or that do not fit the bearer.
type grantedScopes struct {
	kind   bearerKind
	orgID  string   // the organization an "Org/<uuid>." scope pre-selects
	scopes []string // unprefixed ("zaikio.person.r"), deduplicated, in request order
}

// applicable says which bearers each scope the dev hub knows may be granted to.
// Scopes outside it are dropped silently, as the hub drops unknown scopes.
func applicable(appScope string, k bearerKind) bool {
	switch appScope {
	case "zaikio.person":
		return k == bearerPerson
	case "zaikio.organization", "zaikio.organization_members":
		return k != bearerPerson
	}
	return false
}

var errMalformedScope = errors.New("malformed_scope")

// parseScope reads a scope parameter by the grammar
// [Per|Org|Org/<uuid>|Per>Org.]app.scope.r|w|rw, several joined by commas.
// All entries must name the same kind of bearer; a space-separated list (what
// x/oauth2 makes of several Config.Scopes) is malformed.
func parseScope(s string) (grantedScopes, error) {
	var g grantedScopes
	if s == "" {
		return g, errMalformedScope
	}
	for i, item := range strings.Split(s, ",") {
		kind, orgID, rest := bearerPerson, "", item
		switch {
		case strings.HasPrefix(item, "Per>Org."):
			kind, rest = bearerOnBehalf, item[len("Per>Org."):]
		case strings.HasPrefix(item, "Per."):
			rest = item[len("Per."):]
		case strings.HasPrefix(item, "Org."):
			kind, rest = bearerOrg, item[len("Org."):]
		case strings.HasPrefix(item, "Org/"):
			id, after, ok := strings.Cut(item[len("Org/"):], ".")
			if !ok || !isUUID(id) {
				return g, errMalformedScope
			}
			kind, orgID, rest = bearerOrg, strings.ToLower(id), after
		}
		parts := strings.Split(rest, ".")
		if len(parts) != 3 || !isName(parts[0]) || !isName(parts[1]) {
			return g, errMalformedScope
		}
		switch parts[2] {
		case "r", "w", "rw":
		default:
			return g, errMalformedScope
		}
		if i == 0 {
			g.kind = kind
		} else if kind != g.kind {
			return g, errMalformedScope // all scopes must share one bearer type
		}
		if orgID != "" {
			if g.orgID != "" && g.orgID != orgID {
				return g, errMalformedScope
			}
			g.orgID = orgID
		}
		if applicable(parts[0]+"."+parts[1], kind) && !slices.Contains(g.scopes, rest) {
			g.scopes = append(g.scopes, rest)
		}
	}
	return g, nil
}

// isName reports whether s is a valid app or scope name.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// permits reports whether granted scopes allow reading appScope
// ("zaikio.person"): its .r or .rw form was granted.
func permits(granted []string, appScope string) bool {
	return slices.Contains(granted, appScope+".r") || slices.Contains(granted, appScope+".rw")
}
