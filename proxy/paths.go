package proxy

import (
	"net/url"
	"strings"
)

// Path rules are the entries of legacy.login_paths and legacy.public_paths,
// and hubgate's own namespace: an exact path ("/login") or a prefix ending
// in "/" ("/assets/"; it also covers "/assets" itself). They are matched on
// the path the gate forwards (normalizePath's result), in one of two ways,
// chosen by what a wrong answer would cost:
//
//   - A closing rule (a legacy login that enforce mode closes; /_hubgate/,
//     which is never forwarded) matches every spelling that some upstream
//     framework routes to it, with or without a session:
//     letters in any ASCII case (Express, ASP.NET, IIS), and the non-ASCII
//     letters that Java's equalsIgnoreCase folds onto ASCII (ı İ ſ K);
//     a trailing slash (Express, Rails, Spring); ";params" in any segment
//     and empty segments (Tomcat, Spring, Jetty); "\" as a separator (IIS);
//     a ".format" suffix and trailing dots or spaces on the last segment
//     (Rails, Spring's suffix patterns, Windows file names); a path info
//     after a rule whose last segment names a file ("/login.php/x" runs
//     login.php in PHP and CGI); and all of these after one, two or three
//     more rounds of percent-decoding (upstreams behind a decoding proxy,
//     or that decode twice). In doubt, a closing rule matches.
//   - An opening rule (a public path) matches only the path as written,
//     letter for letter and in both forms the upstream may read: decoded,
//     and raw when the request keeps an encoded slash (see openedBy).
//     "/ASSETS/x", "/assets;x/y", "/Assets" and "/assets%2Fx" are not
//     under "/assets/": an operator who wants them public lists them. In
//     doubt, an opening rule does not match.
//
// Both are plain functions over the rule strings, so that matching needs no
// compiled state (policies are swapped at run time) and a clean path costs
// a scan per rule, without allocating. Route rules that name methods can
// build on closedBy/openedBy.

// ownPaths is hubgate's namespace as a closing rule: no spelling of it is
// ever forwarded or approved by forward-auth.
var ownPaths = []string{"/_hubgate/"}

// ownSpelling reports whether the normalized path p is some spelling of
// /_hubgate or a path under it.
func ownSpelling(p string) bool { return closedBy(p, ownPaths) }

// closedBy reports whether the normalized path p matches a closing rule in
// any spelling (see above).
func closedBy(p string, rules []string) bool {
	if len(rules) == 0 {
		return false
	}
	for _, r := range rules {
		if looseMatch(p, r) {
			return true
		}
	}
	// More layers of percent-encoding ("%256cogin" is "/login" to an
	// upstream that decodes twice). Only paths that still hold a "%" pay.
	for range 3 {
		if strings.IndexByte(p, '%') < 0 {
			return false
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			return false
		}
		for _, r := range rules {
			if looseMatch(d, r) {
				return true
			}
		}
		p = d
	}
	return false
}

// looseMatch reports whether p matches one closing rule. Rule and path are
// compared segment by segment after the same reading (";params" cut, empty
// segments skipped, "/" and "\" as separators); only the last segments of
// both may differ by a ".format" suffix, and p may go on after the rule's
// last segment when the rule is a prefix or names a file (path info).
func looseMatch(p, rule string) bool {
	prefix := strings.HasSuffix(rule, "/")
	ri, pi := 0, 0
	for {
		r, rEnd, rok := nextSegment(rule, ri)
		q, pEnd, pok := nextSegment(p, pi)
		switch {
		case !rok: // the rule is used up: p equals it, or p lies under a prefix
			return !pok || prefix
		case !pok: // p is shorter than the rule
			return false
		case q[0] < 0x80 && r[0] < 0x80 && lowerASCII(q[0]) != lowerASCII(r[0]):
			return false // the common case, decided by one byte (bareName keeps it)
		case !foldEqual(q, r):
			// Only two last segments may still match, by their bare names.
			if !foldEqual(bareName(q), bareName(r)) {
				return false
			}
			return !more(rule, rEnd) && !more(p, pEnd)
		}
		ri, pi = rEnd, pEnd
		if !more(rule, ri) { // the rule's last segment: p equals it, or goes on
			return !more(p, pi) || prefix || hasExtension(r)
		}
	}
}

// more reports whether s holds another segment at or after i.
func more(s string, i int) bool {
	_, _, ok := nextSegment(s, i)
	return ok
}

// nextSegment returns the first segment of s at or after i that is not
// empty once its ";params" are cut, and the index after it; ok is false
// when none is left. Both "/" and "\" separate segments.
func nextSegment(s string, i int) (seg string, end int, ok bool) {
	for i < len(s) {
		j := i
		for j < len(s) && s[j] != '/' && s[j] != '\\' {
			j++
		}
		seg = s[i:j]
		if k := strings.IndexByte(seg, ';'); k >= 0 {
			seg = seg[:k]
		}
		if seg != "" {
			return seg, j, true
		}
		i = j + 1
	}
	return "", len(s), false
}

// bareName is a last segment without its ".format" suffix (from the first
// dot that does not start the name) and without trailing spaces: "login",
// "login.json", "login.json.xml", "login." and "login " are all "login".
func bareName(seg string) string {
	if len(seg) > 1 {
		if i := strings.IndexByte(seg[1:], '.'); i >= 0 {
			seg = seg[:i+1]
		}
	}
	return strings.TrimRight(seg, " ")
}

// hasExtension reports whether a segment names a file ("login.php").
func hasExtension(seg string) bool {
	return len(seg) > 1 && strings.IndexByte(seg[1:], '.') >= 0
}

// foldEqual compares two segments ignoring ASCII letter case; segments with
// other bytes are compared with Unicode simple folding plus the dotless and
// dotted i, which Java's equalsIgnoreCase also takes for "i".
func foldEqual(a, b string) bool {
	if len(a) == len(b) {
		i := 0
		for ; i < len(a); i++ {
			ca, cb := a[i], b[i]
			if ca >= 0x80 || cb >= 0x80 {
				break
			}
			if ca != cb && lowerASCII(ca) != lowerASCII(cb) {
				return false
			}
		}
		if i == len(a) {
			return true
		}
	}
	if isASCII(a) && isASCII(b) {
		return false
	}
	return strings.EqualFold(javaFold.Replace(a), javaFold.Replace(b))
}

var javaFold = strings.NewReplacer("ı", "i", "İ", "i")

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// matchExact reports whether p equals an opening rule, or lies under one
// that ends in "/" (which also covers the path without its slash). Letter
// for letter: no folding, no params, no suffixes.
func matchExact(p string, rules []string) bool {
	for _, e := range rules {
		if p == e || (strings.HasSuffix(e, "/") && strings.HasPrefix(p, e)) || (p+"/" == e) {
			return true
		}
	}
	return false
}

// openedBy reports whether the normalized path p matches an opening rule.
// When the request keeps encoded slashes (RawPath set), the escaped form
// that the upstream receives must match too: "/assets%2Fsecret" decodes to
// "/assets/secret", but an upstream that routes on the raw path sees one
// segment "assets%2Fsecret", which is no file under /assets/ (and may well
// be a protected route such as "/:page"). Opening rules never see the query.
func openedBy(u *url.URL, p string, rules []string) bool {
	if !matchExact(p, rules) {
		return false
	}
	return u.RawPath == "" || matchExact(u.EscapedPath(), rules)
}
