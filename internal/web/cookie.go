package web

import (
	"net/http"
	"strings"
	"time"
)

// Cookie describes one cookie a face sets, so that every cookie of ours gets
// the same attributes: HttpOnly (no script of ours reads a cookie), Path=/,
// no Domain (a cookie stays on the host that set it), Secure on HTTPS and a
// SameSite mode.
type Cookie struct {
	// Name is the cookie's name. A name with the "__Host-" or "__Secure-"
	// prefix is always Secure, as browsers require (RFC 6265bis §4.1.3);
	// "__Host-" also needs Path=/ and no Domain, which every cookie here has.
	Name string
	// Secure sends the cookie over HTTPS only. False still marks it Secure
	// on requests that came over TLS: a listener that serves TLS itself
	// needs no setting.
	Secure bool
	// SameSite is the cookie's SameSite mode. Zero means Strict.
	SameSite http.SameSite
	// MaxAge is how long the cookie lives. Zero makes a browser-session
	// cookie (no Max-Age).
	MaxAge time.Duration
}

// New returns the cookie with value, to set on the answer to r.
func (c Cookie) New(r *http.Request, value string) *http.Cookie {
	sc := &http.Cookie{Name: c.Name, Value: value, Path: "/", HttpOnly: true,
		Secure: c.secure(r), SameSite: c.SameSite, MaxAge: int(c.MaxAge / time.Second)}
	if sc.SameSite == 0 {
		sc.SameSite = http.SameSiteStrictMode
	}
	return sc
}

// Clear returns the cookie that deletes c (Max-Age=0 on the wire), with
// the same attributes, which browsers need to match it.
func (c Cookie) Clear(r *http.Request) *http.Cookie {
	sc := c.New(r, "")
	sc.MaxAge = -1
	return sc
}

// Values returns the values of c that r carries, first first: a browser may
// hold several cookies of one name (set for other paths or by a
// subdomain), so a reader takes the first that is valid for it.
func (c Cookie) Values(r *http.Request) []string {
	var vs []string
	for _, hc := range r.CookiesNamed(c.Name) {
		vs = append(vs, hc.Value)
	}
	return vs
}

func (c Cookie) secure(r *http.Request) bool {
	return c.Secure || r.TLS != nil || strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-")
}
