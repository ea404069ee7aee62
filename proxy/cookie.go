package proxy

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"sync"
	"time"
)

// This file reads cookies written by gorilla/securecookie (which still
// writes them, see codec.encode) without its per-call allocations: hmac.New,
// two base64 buffers, bytes.SplitN, a string for the timestamp and an output
// copy cost it 3 µs and 25 allocations, paid on the first request of every
// session at every replica. The format, from securecookie.Encode:
//
//	base64url( date "|" base64url(iv ‖ AES-CTR(value)) "|" HMAC-SHA256(name "|" date "|" base64url(…)) )
//
// decodeAppend accepts exactly what securecookie.DecodeMulti accepts for the
// same keys and max age; FuzzCookieDecode checks the two against each other.

// cookieKey is one session secret's cookie keys.
type cookieKey struct {
	block cipher.Block
	macs  sync.Pool // hash.Hash: HMAC-SHA256 under this secret's MAC key
}

func newCookieKey(macKey, encKey []byte) (*cookieKey, error) {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	k := &cookieKey{block: block}
	k.macs.New = func() any { return hmac.New(sha256.New, macKey) }
	return k, nil
}

// cookieScratch holds the intermediate forms of one decode.
type cookieScratch struct {
	src, outer, msg, inner []byte
	sum                    [sha256.Size]byte
}

var cookieScratches = sync.Pool{New: func() any { return new(cookieScratch) }}

var (
	errCookieLength  = errors.New("proxy: cookie too long")
	errCookieForm    = errors.New("proxy: cookie is not base64 of date|value|mac")
	errCookieMAC     = errors.New("proxy: cookie signature does not verify with any secret")
	errCookieExpired = errors.New("proxy: cookie expired")
	errCookieCipher  = errors.New("proxy: cookie value too short to decrypt")
)

// grow returns b resized to n bytes, reusing its array when large enough.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// decodeAppend verifies and decrypts value, a cookie called name, and
// appends the plaintext to dst.
func (c *codec) decodeAppend(dst []byte, name, value string) ([]byte, error) {
	if len(value) > maxCookie {
		return dst, errCookieLength
	}
	sc := cookieScratches.Get().(*cookieScratch)
	defer cookieScratches.Put(sc)

	sc.src = append(sc.src[:0], value...)
	sc.outer = grow(sc.outer, base64.URLEncoding.DecodedLen(len(sc.src)))
	n, err := base64.URLEncoding.Decode(sc.outer, sc.src)
	if err != nil {
		return dst, errCookieForm
	}
	b := sc.outer[:n]
	// date | value | mac — the mac is the rest, '|' bytes and all.
	i := bytes.IndexByte(b, '|')
	if i < 0 {
		return dst, errCookieForm
	}
	j := bytes.IndexByte(b[i+1:], '|')
	if j < 0 {
		return dst, errCookieForm
	}
	j += i + 1
	date, payload, mac := b[:i], b[i+1:j], b[j+1:]

	sc.msg = append(append(append(sc.msg[:0], name...), '|'), b[:j]...)
	var key *cookieKey
	for _, k := range c.keys {
		h := k.macs.Get().(hash.Hash)
		h.Reset()
		h.Write(sc.msg)
		sum := h.Sum(sc.sum[:0])
		k.macs.Put(h)
		if len(mac) == len(sum) && subtle.ConstantTimeCompare(mac, sum) == 1 {
			key = k
			break
		}
	}
	if key == nil {
		return dst, errCookieMAC
	}
	t, ok := parseInt(date)
	if !ok {
		return dst, errCookieForm
	}
	if c.maxAge > 0 && t < time.Now().Unix()-c.maxAge {
		return dst, errCookieExpired
	}
	sc.inner = grow(sc.inner, base64.URLEncoding.DecodedLen(len(payload)))
	n, err = base64.URLEncoding.Decode(sc.inner, payload)
	if err != nil {
		return dst, errCookieForm
	}
	ct := sc.inner[:n]
	bs := key.block.BlockSize()
	if len(ct) <= bs {
		return dst, errCookieCipher
	}
	start := len(dst)
	dst = append(dst, ct[bs:]...)
	cipher.NewCTR(key.block, ct[:bs]).XORKeyStream(dst[start:], dst[start:])
	return dst, nil
}

// parseInt reads a decimal int64 with an optional sign, as strconv.ParseInt
// does (base 10), without converting to a string first.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, d := range b {
		if d < '0' || d > '9' || v > (1<<63)/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	switch {
	case neg && v <= 1<<63:
		return -int64(v), true
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}
