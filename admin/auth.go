package admin

import (
	"net/http"
	"strings"
)

// ActorHeader names who, behind the token, made a request (the CLI sends
// "cli:<user>@<host>"). It is informational: anyone with a token can claim
// any name. It only enriches the audit log, after the token's name.
const ActorHeader = "X-Hubgate-Actor"

// maxActor bounds the client-supplied part of an actor.
const maxActor = 64

// authorize lets a request through only with a configured bearer token (RFC
// 6750 §2.1), compared in constant time (Server.match), and a read token
// only to the routes that change nothing (403 otherwise). The token is
// remembered for the access log and the audit actor.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			// RFC 6750 §3: a request without credentials gets the challenge
			// without an error code.
			w.Header().Set("WWW-Authenticate", `Bearer realm="hubgate-admin"`)
			s.fail(w, r, &apiError{status: http.StatusUnauthorized, code: "unauthorized",
				msg: "missing bearer token: send Authorization: Bearer <admin token>"})
			return
		}
		t, ok := s.match(tok)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hubgate-admin", error="invalid_token"`)
			s.fail(w, r, &apiError{status: http.StatusUnauthorized, code: "unauthorized",
				msg: "invalid bearer token"})
			return
		}
		infoOf(r).token = t
		w.Header().Set("Cache-Control", "no-store")
		if s.forbidReadOnly(w, r, t) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" header;
// the scheme is case-insensitive (RFC 7235 §2.1).
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// actor is who the audit log names for r: "admin-api:<token name>" (see
// tokenActor), with the client's X-Hubgate-Actor reduced to printable
// ASCII and 64 bytes.
func (s *Server) actor(r *http.Request) string {
	return tokenActor(tokenOf(r), r.Header.Get(ActorHeader))
}

func actorSuffix(v string) string {
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < maxActor; i++ {
		if c := v[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		}
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return ""
	}
	return ":" + text
}
