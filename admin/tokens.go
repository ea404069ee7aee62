package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Bearer tokens. Each token has a name, which the audit log gives as the
// actor ("admin-api:<name>"), and a role: a read token may use the GET
// routes (and see the dashboard), an operator token everything. The
// single Config.Token of earlier versions still works: it is the operator
// token named LegacyTokenName, whose actor stays "admin-api" plus what the
// client says about itself (X-Hubgate-Actor), as before.

// Role is what a token may do.
type Role string

// The roles.
const (
	// RoleRead may use the GET routes of the API (lists, stats, audit,
	// mode) and see the dashboard, and change nothing.
	RoleRead Role = "read"
	// RoleOperator may use every route.
	RoleOperator Role = "operator"
)

// Token is a named bearer token of the admin API and dashboard.
type Token struct {
	// Name names the token in the audit log and the access log:
	// 1 to 64 of A-Z a-z 0-9 . _ @ -, unique.
	Name string
	// Value is the bearer token itself, at least 16 characters, unique.
	Value string
	// Role is RoleRead or RoleOperator.
	Role Role
}

// LegacyTokenName is the name of Config.Token among the tokens.
const LegacyTokenName = "admin"

// tokenNameRE is what a token name may look like: it goes into audit
// entries and log lines as it is.
var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// tokenEntry is a configured token: its SHA-256, never the token itself.
type tokenEntry struct {
	name   string
	role   Role
	hash   [32]byte
	legacy bool // Config.Token: the actor keeps the client's self-description
}

// readOnly reports whether the token may only read.
func (t *tokenEntry) readOnly() bool { return t.role != RoleOperator }

// newTokens checks the configured tokens and hashes each once.
func newTokens(legacy string, named []Token) ([]*tokenEntry, error) {
	var out []*tokenEntry
	if legacy != "" {
		named = append([]Token{{Name: LegacyTokenName, Value: legacy, Role: RoleOperator}}, named...)
	}
	seen := map[[32]byte]string{}
	for i, t := range named {
		what := fmt.Sprintf("admin: tokens[%d]", i)
		if legacy != "" {
			what = fmt.Sprintf("admin: tokens[%d]", i-1)
			if i == 0 {
				what = "admin: token"
			}
		}
		if !tokenNameRE.MatchString(t.Name) {
			return nil, fmt.Errorf("%s: name %q: want 1 to 64 of A-Z a-z 0-9 . _ @ -", what, t.Name)
		}
		if slices.ContainsFunc(out, func(e *tokenEntry) bool { return e.name == t.Name }) {
			return nil, fmt.Errorf("%s: name %q is given twice", what, t.Name)
		}
		if t.Role != RoleRead && t.Role != RoleOperator {
			return nil, fmt.Errorf("%s (%s): role %q: want read or operator", what, t.Name, t.Role)
		}
		if len(t.Value) < 16 {
			return nil, fmt.Errorf("%s (%s): token must have at least 16 characters", what, t.Name)
		}
		h := sha256.Sum256([]byte(t.Value))
		if other, dup := seen[h]; dup {
			return nil, fmt.Errorf("%s (%s): the same token as %s: each token must be its own", what, t.Name, other)
		}
		seen[h] = t.Name
		out = append(out, &tokenEntry{name: t.Name, role: t.Role, hash: h, legacy: legacy != "" && i == 0})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("admin: token must have at least 16 characters (or give named tokens)")
	}
	return out, nil
}

// tokenSecret is the secret the dashboard's cookie and form keys derive
// from: all tokens' hashes, names and roles, so that changing, adding or
// removing any token (or a role) ends every dashboard session.
func tokenSecret(tokens []*tokenEntry) []byte {
	h := sha256.New()
	for _, t := range tokens {
		fmt.Fprintf(h, "%s\x00%s\x00%x\x00", t.name, t.role, t.hash)
	}
	return h.Sum(nil)
}

// match returns the token tok is, comparing its SHA-256 with every
// configured hash in constant time and without stopping at a match, so
// that neither the comparison's duration nor the token's length tells
// which token, if any, was close (DESIGN §3 "Admin API").
func (s *Server) match(tok string) (*tokenEntry, bool) {
	got := sha256.Sum256([]byte(tok))
	var found *tokenEntry
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(got[:], t.hash[:]) == 1 {
			found = t
		}
	}
	return found, found != nil
}

// tokenNamed returns the configured token called name.
func (s *Server) tokenNamed(name string) (*tokenEntry, bool) {
	for _, t := range s.tokens {
		if t.name == name {
			return t, true
		}
	}
	return nil, false
}

// requestInfo is what the access log learns about a request while it is
// served: its id, given before, and the token that authorized it, set by
// authorize or dashboardAuth.
type requestInfo struct {
	id    string
	token *tokenEntry
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

func withInfo(ctx context.Context, ri *requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// tokenOf is the token that authorized r; nil before authorization.
func tokenOf(r *http.Request) *tokenEntry { return infoOf(r).token }

// readMethod reports whether a method only reads (RFC 9110 §9.2.1 safe
// methods the API has).
func readMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// forbidReadOnly answers 403 when a read token asks for a route that
// changes state.
func (s *Server) forbidReadOnly(w http.ResponseWriter, r *http.Request, t *tokenEntry) bool {
	if !t.readOnly() || readMethod(r.Method) {
		return false
	}
	s.fail(w, r, &apiError{status: http.StatusForbidden, code: "forbidden",
		msg: fmt.Sprintf("token %q is read-only: %s %s needs an operator token", t.name, r.Method, r.URL.Path)})
	return true
}

// operatorOnly refuses read tokens even on GET routes.
func (s *Server) operatorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t := tokenOf(r); t == nil || t.readOnly() {
			s.fail(w, r, &apiError{status: http.StatusForbidden, code: "forbidden",
				msg: fmt.Sprintf("%s %s needs an operator token", r.Method, r.URL.Path)})
			return
		}
		h(w, r)
	}
}

// tokenActor is the audit actor for a request made with token t and the
// client's X-Hubgate-Actor v: "admin-api:<name>", with what the client
// says about itself in parentheses; for the legacy token, "admin-api"
// and the client's words as before.
func tokenActor(t *tokenEntry, v string) string {
	suffix := actorSuffix(v)
	if t == nil || t.legacy {
		return "admin-api" + suffix
	}
	if suffix != "" {
		return "admin-api:" + t.name + " (" + strings.TrimPrefix(suffix, ":") + ")"
	}
	return "admin-api:" + t.name
}
