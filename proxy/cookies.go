package proxy

import (
	"net/http"
	"strings"
	"time"
)

// hubgate's own cookies besides the session's (package session reads and
// sets that one): the flow cookies, the CSRF nonce and the offer choice.

// cookie builds a hubgate cookie: HttpOnly, SameSite=Lax, Path=/, Secure
// when the public URL is https. maxAge < 0 deletes it.
func (s *Server) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// cookieValue finds the value of cookie name in r's Cookie headers without
// parsing every cookie (r.Cookie allocates for each one).
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " ")
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return strings.TrimRight(v, " ")
			}
		}
	}
	return ""
}
