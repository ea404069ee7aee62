package zaikio

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// AccessToken is a verified Zaikio access token that a caller presented as
// a bearer token. A BearerVerifier shares one AccessToken between all
// requests carrying the same token: treat it as read-only.
type AccessToken struct {
	// JTI is the token id, the key of revocation.
	JTI string
	// Subject is who the token speaks for.
	Subject Subject
	// Client is the app the token was issued to: the first audience, as
	// zaikio-oauth_client stores it and zaikio-jwt_auth's Rack middleware
	// reports it (zaikio.jwt.audience).
	Client string
	// Audience are the apps the token is meant for: the client, then the
	// apps whose scopes it carries.
	Audience []string
	// Scope is the JWT's scope claim: "<app>.<scope>.<r|w|rw>" entries.
	Scope     []string
	NotBefore time.Time
	Expiry    time.Time

	app    string       // the verifier's app name: HasScope's default app
	scopes []scopeEntry // Scope, parsed once
}

// scopeEntry is one "<app>.<scope>.<perm>" scope of a token.
type scopeEntry struct {
	app, name string
	perm      perm
}

// perm is a scope's permission: read, write or both.
type perm uint8

const (
	permRead  perm = 1 << iota // "r"
	permWrite                  // "w"
	permBoth  = permRead | permWrite
)

func parsePerm(s string) perm {
	switch s {
	case "r":
		return permRead
	case "w":
		return permWrite
	case "rw":
		return permBoth
	}
	return 0
}

// parseScopes reads a token's scope claim. Entries that are not exactly
// "<app>.<scope>.<r|w|rw>" can grant nothing (the gem splits at dots and
// compares the three parts) and are left out.
func parseScopes(scope []string) []scopeEntry {
	out := make([]scopeEntry, 0, len(scope))
	for _, s := range scope {
		app, rest, ok1 := strings.Cut(s, ".")
		name, p, ok2 := strings.Cut(rest, ".")
		if !ok1 || !ok2 || app == "" || name == "" || strings.Contains(p, ".") || parsePerm(p) == 0 {
			continue
		}
		out = append(out, scopeEntry{app: app, name: name, perm: parsePerm(p)})
	}
	return out
}

// HasScope reports whether the token grants required, which is
// "<scope>.<r|w|rw>" for a scope of this app (the verifier's app name) or
// "<app>.<scope>.<r|w|rw>" for another app's. It follows zaikio-jwt_auth's
// TokenData#scope? (lib/zaikio/jwt_auth/token_data.rb): the app and scope
// names must equal the token's, and a read is satisfied by r or rw, a write
// by w or rw. A required rw needs rw (or r and w both): the gem's
// `type: :read_write`, which lets any of r, w, rw through, is not copied,
// since it would let a read-only token write. A malformed requirement is
// never satisfied.
func (t *AccessToken) HasScope(required string) bool {
	app, name, want, ok := splitRequired(required, t.app)
	if !ok {
		return false
	}
	var have perm
	for _, s := range t.scopes {
		if s.app == app && s.name == name {
			have |= s.perm
		}
	}
	return have&want == want
}

func splitRequired(required, defaultApp string) (app, name string, want perm, ok bool) {
	a, rest, ok := strings.Cut(required, ".")
	if !ok {
		return "", "", 0, false
	}
	b, c, three := strings.Cut(rest, ".")
	if three {
		app, name, want = a, b, parsePerm(c)
	} else {
		app, name, want = defaultApp, a, parsePerm(rest)
	}
	if app == "" || name == "" || want == 0 || strings.Contains(c, ".") {
		return "", "", 0, false
	}
	return app, name, want, true
}

// Require returns a *BearerError with BearerMissingScope naming the first of
// required that the token does not grant (see HasScope), or nil.
func (t *AccessToken) Require(required ...string) error {
	for _, r := range required {
		if !t.HasScope(r) {
			return &BearerError{Code: BearerMissingScope, Scope: r,
				Err: fmt.Errorf("the token grants %q", t.Scope)}
		}
	}
	return nil
}

// MethodPermission is the permission an HTTP method needs, as the gem maps
// Rails actions: "r" for GET, HEAD and OPTIONS (show, index), "w" for the
// others (create, update, destroy). A route that requires scope "orders"
// requires "orders."+MethodPermission(r.Method).
func MethodPermission(method string) string {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return "r"
	}
	return "w"
}

// SubjectKind says who a token speaks for.
type SubjectKind uint8

// The kinds of subject.
const (
	// SubjectPerson: "Person/<uuid>".
	SubjectPerson SubjectKind = iota + 1
	// SubjectOrganization: "Organization/<uuid>".
	SubjectOrganization
	// SubjectOnBehalf: "Person/<uuid>>Organization/<uuid>", an organization
	// token that names the person acting for it.
	SubjectOnBehalf
)

func (k SubjectKind) String() string {
	switch k {
	case SubjectPerson:
		return "person"
	case SubjectOrganization:
		return "organization"
	case SubjectOnBehalf:
		return "on_behalf"
	}
	return "unknown"
}

// Subject is a token's parsed sub claim. Person is set for SubjectPerson
// and SubjectOnBehalf, Organization for SubjectOrganization and
// SubjectOnBehalf; both are lower-case UUIDs.
type Subject struct {
	Kind         SubjectKind
	Person       string
	Organization string
}

// String is the sub claim's form of s.
func (s Subject) String() string {
	switch s.Kind {
	case SubjectPerson:
		return "Person/" + s.Person
	case SubjectOrganization:
		return "Organization/" + s.Organization
	case SubjectOnBehalf:
		return "Person/" + s.Person + ">Organization/" + s.Organization
	}
	return ""
}

var errSubject = errors.New("zaikio: subject is not Person/<uuid>, Organization/<uuid> or Person/<uuid>>Organization/<uuid>")

// ParseSubject reads a sub claim. The gem's pattern
// (^((\w+)/((\w|-)+)>)?(\w+)/((\w|-)+)$) admits any type and id; hubgate
// accepts only the three forms the hub issues, with UUID ids (RFC 4122
// §3: compared without regard to letter case, returned in lower case),
// since these ids select legacy identities.
func ParseSubject(sub string) (Subject, error) {
	behalf, main, onBehalf := strings.Cut(sub, ">")
	if !onBehalf {
		main = behalf
	}
	typ, id, ok := strings.Cut(main, "/")
	if !ok || !isUUID(id) {
		return Subject{}, errSubject
	}
	switch {
	case !onBehalf && typ == "Person":
		return Subject{Kind: SubjectPerson, Person: strings.ToLower(id)}, nil
	case !onBehalf && typ == "Organization":
		return Subject{Kind: SubjectOrganization, Organization: strings.ToLower(id)}, nil
	case onBehalf && typ == "Organization":
		ptyp, pid, ok := strings.Cut(behalf, "/")
		if ok && ptyp == "Person" && isUUID(pid) {
			return Subject{Kind: SubjectOnBehalf, Person: strings.ToLower(pid), Organization: strings.ToLower(id)}, nil
		}
	}
	return Subject{}, errSubject
}

// isUUID reports whether s has the textual form of a UUID (8-4-4-4-12 hex).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
