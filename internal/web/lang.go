package web

import (
	"net/http"
	"strings"
)

// Lang returns the language of supported that the request's Accept-Language
// prefers (RFC 9110 §12.5.4), supported[0] when it names none of them. It
// decides the language only; each face keeps its own catalog of texts.
//
// Supported languages are primary subtags ("en", "de"); a range matches the
// language its primary subtag names ("de-AT" matches "de"), in any case. A
// language takes the highest q-value of the ranges that match it; "*" gives
// its q-value to the languages no range names; q=0 means "not this one".
// The highest q-value wins, ties go to the range named first, then to the
// order of supported. Malformed ranges and q-values are skipped.
func Lang(r *http.Request, supported ...string) string {
	if len(supported) == 0 {
		panic("web: Lang without languages")
	}
	return negotiate(r.Header.Values("Accept-Language"), supported)
}

// maxLangs bounds the languages a face may support, so that negotiation
// keeps its scores on the stack.
const maxLangs = 8

// score is what the Accept-Language field says about one language.
type score struct {
	q   float64 // highest q-value of the ranges naming it
	pos int     // index of the first range naming it; -1: none did
}

func negotiate(fields []string, supported []string) string {
	if len(supported) > maxLangs {
		panic("web: Lang supports at most 8 languages")
	}
	var scores [maxLangs]score
	for i := range supported {
		scores[i] = score{pos: -1}
	}
	star := score{pos: -1}
	pos := 0
	for _, field := range fields {
		for field != "" {
			var elem string
			elem, field, _ = strings.Cut(field, ",")
			tag, q, ok := parseRange(elem)
			if !ok {
				continue
			}
			pos++
			if tag == "*" {
				if star.pos < 0 || q > star.q {
					star = score{q: q, pos: pos}
				}
				continue
			}
			primary, _, _ := strings.Cut(tag, "-")
			for i, l := range supported {
				if !strings.EqualFold(primary, l) {
					continue
				}
				if scores[i].pos < 0 {
					scores[i] = score{q: q, pos: pos}
				} else if q > scores[i].q {
					scores[i].q = q
				}
			}
		}
	}
	best, bestScore := 0, score{pos: -1}
	for i := range supported {
		s := scores[i]
		if s.pos < 0 {
			s = star
		}
		if s.pos < 0 || s.q <= 0 {
			continue
		}
		if bestScore.pos < 0 || s.q > bestScore.q || (s.q == bestScore.q && s.pos < bestScore.pos) {
			best, bestScore = i, s
		}
	}
	return supported[best]
}

// parseRange splits one element of Accept-Language, "de-AT;q=0.8", into its
// range and q-value (1 when absent). ok is false for an empty or malformed
// element.
func parseRange(elem string) (tag string, q float64, ok bool) {
	tag, params, _ := strings.Cut(elem, ";")
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return "", 0, false
	}
	q = 1
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		if q, ok = parseQ(strings.TrimSpace(value)); !ok {
			return "", 0, false
		}
	}
	return tag, q, true
}

// parseQ parses a qvalue (RFC 9110 §12.4.2): "0" or "1", optionally with up
// to three decimals, 1 at most.
func parseQ(v string) (float64, bool) {
	if v == "" || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	whole, frac, _ := strings.Cut(v, ".")
	if len(whole) != 1 || len(frac) > 3 {
		return 0, false
	}
	n := 0
	for i := range 3 {
		n *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n += int(c - '0')
		}
	}
	if whole == "1" {
		return 1, n == 0
	}
	return float64(n) / 1000, true
}
