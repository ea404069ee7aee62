package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Errors of Forms.Check. A face shows both as its "this form has expired"
// page (403) and logs the detail wrapped around them.
var (
	ErrCrossOrigin = errors.New("web: form posted from another origin")
	ErrFormToken   = errors.New("web: missing or wrong form token")
)

// FormField is the name of the form field that carries the token.
const FormField = "csrf"

// nonceLen is the length of a nonce: 32 random bytes in base64url.
const nonceLen = 43

// FormsConfig configures NewForms.
type FormsConfig struct {
	// Cookie is the cookie that holds the browser's nonce; Name is required.
	// Its MaxAge should be zero: a nonce lives as long as the browser
	// session, and a form on screen keeps working as long as the browser
	// is open.
	Cookie Cookie
	// Secrets sign the tokens: the first signs, every one verifies, so that
	// a secret can be rotated without failing the forms on screen. At least
	// one, each of 16 bytes or more; each is bound to this purpose (HMAC as
	// a PRF) before use, so a secret may serve other purposes too.
	Secrets [][]byte
	// Origin is the listener's public origin, scheme://host[:port], which
	// form posts must come from. Empty: the origin of the request's own
	// Host, for a listener reached under whatever name (the admin listener),
	// in which case the scheme is not compared (a TLS-terminating proxy in
	// front of the listener changes it).
	Origin string
}

// Forms guards the state-changing form posts of one listener against
// cross-site request forgery (DESIGN §3). Check refuses a post unless
//
//  1. http.CrossOriginProtection lets it through: Sec-Fetch-Site, which
//     every current browser sends, says same-origin or none (or, for
//     older browsers, Origin names the request's Host or the configured
//     origin);
//  2. Sec-Fetch-Site, when sent, is same-origin or none even though the
//     configured origin is trusted (CrossOriginProtection exempts trusted
//     origins from Sec-Fetch-Site; our own pages never post cross-site, and
//     same-site is not enough: another port of the same host is the same
//     site, RFC 6265bis §5.2);
//  3. Origin, when sent, is the listener's origin exactly (so also not
//     "null", nor another port of the same host);
//  4. the form's token is the HMAC of the browser's nonce cookie and the
//     form's action, so a token works only in the browser that loaded our
//     page, and only for the form it was made for.
//
// The first three need no state and stop every cross-site post from a
// current browser; the token is the second line DESIGN §3 asks for on forms
// that start a claim or change the mode, and it binds a form to its action.
type Forms struct {
	cookie Cookie
	origin string
	keys   [][]byte
	cop    *http.CrossOriginProtection
}

// NewForms validates cfg and returns the Forms of one listener.
func NewForms(cfg FormsConfig) (*Forms, error) {
	if cfg.Cookie.Name == "" {
		return nil, errors.New("web: forms: the nonce cookie needs a name")
	}
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("web: forms: want at least one secret")
	}
	f := &Forms{cookie: cfg.Cookie, origin: cfg.Origin, cop: http.NewCrossOriginProtection()}
	for i, s := range cfg.Secrets {
		if len(s) < 16 {
			return nil, fmt.Errorf("web: forms: secret %d has %d bytes; want at least 16", i, len(s))
		}
		m := hmac.New(sha256.New, s)
		m.Write([]byte("hubgate csrf"))
		f.keys = append(f.keys, m.Sum(nil))
	}
	if cfg.Origin != "" {
		// A proxy in front may rewrite Host (nginx's proxy_pass does by
		// default): the configured origin is ours whatever Host says.
		if err := f.cop.AddTrustedOrigin(cfg.Origin); err != nil {
			return nil, fmt.Errorf("web: forms: origin: %w", err)
		}
	}
	return f, nil
}

// Token returns the token of the form with action, for the page that r is
// answered with. It sets the nonce cookie on w when the browser has none,
// and adds it to r, so that a page with several forms gives them one nonce.
func (f *Forms) Token(w http.ResponseWriter, r *http.Request, action string) string {
	nonce := f.nonce(r)
	if nonce == "" {
		var b [32]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
		nonce = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, f.cookie.New(r, nonce))
		r.AddCookie(&http.Cookie{Name: f.cookie.Name, Value: nonce})
	}
	return f.mac(f.keys[0], nonce, action)
}

// Check accepts a form post for action only from our own page in this
// browser (see Forms). It reads the token from the form field "csrf", so
// it parses the body: callers bound it first (http.MaxBytesReader).
func (f *Forms) Check(r *http.Request, action string) error {
	if err := f.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCrossOrigin, err)
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("%w: Sec-Fetch-Site %q", ErrCrossOrigin, site)
	}
	if o := r.Header.Get("Origin"); o != "" && !f.sameOrigin(r, o) {
		return fmt.Errorf("%w: Origin %q for host %q", ErrCrossOrigin, o, r.Host)
	}
	nonce, tok := f.nonce(r), r.PostFormValue(FormField)
	if nonce == "" || tok == "" {
		return fmt.Errorf("%w: no nonce or no token", ErrFormToken)
	}
	for _, k := range f.keys {
		if hmac.Equal([]byte(tok), []byte(f.mac(k, nonce, action))) {
			return nil
		}
	}
	return fmt.Errorf("%w: token does not match", ErrFormToken)
}

// sameOrigin reports whether origin is the listener's: the configured
// origin, or else an http(s) origin naming the request's Host.
func (f *Forms) sameOrigin(r *http.Request, origin string) bool {
	if f.origin != "" {
		return origin == f.origin
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

// nonce is the first well-formed nonce cookie r carries, or "".
func (f *Forms) nonce(r *http.Request) string {
	for _, v := range f.cookie.Values(r) {
		if len(v) == nonceLen {
			return v
		}
	}
	return ""
}

func (f *Forms) mac(key []byte, nonce, action string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(action))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
