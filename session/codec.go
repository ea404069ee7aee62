package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// maxCookie bounds an encoded cookie value: browsers keep 4096 bytes per
// cookie including its name and attributes.
const maxCookie = 3900

// Codec signs and encrypts cookies with gorilla/securecookie (HMAC-SHA256 +
// AES-256-CTR) and seals server-side data with AES-GCM. Several secrets allow
// rotation: the first signs and seals, all verify and open. The session
// cookie uses one; package proxy uses another for its flow cookies, and the
// assertion signing keys are sealed with one.
type Codec struct {
	codecs []securecookie.Codec // one per secret, same order
	seal   []cipher.AEAD        // AES-GCM per secret
}

// NewCodec returns a codec for secrets (each at least 32 bytes) whose
// cookies are refused once older than maxAge (0: no limit).
func NewCodec(secrets [][]byte, maxAge time.Duration) (*Codec, error) {
	if len(secrets) == 0 {
		return nil, errors.New("session: no session secret")
	}
	c := &Codec{}
	for i, s := range secrets {
		if len(s) < 32 {
			return nil, fmt.Errorf("session: session secret %d has %d bytes, want at least 32", i+1, len(s))
		}
		sc := securecookie.New(derive(s, "hubgate cookie mac"), derive(s, "hubgate cookie enc"))
		sc.SetSerializer(securecookie.NopEncoder{})
		sc.MaxAge(int(maxAge / time.Second))
		sc.MaxLength(maxCookie)
		c.codecs = append(c.codecs, sc)
		block, err := aes.NewCipher(derive(s, "hubgate seal"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.seal = append(c.seal, aead)
	}
	return c, nil
}

// derive returns a 32-byte key for purpose from secret (HMAC-SHA256), so the
// cookie MAC, cookie cipher and sealing keys are independent.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Encode signs and encrypts value as the value of cookie name. securecookie
// encrypts in place, so it gets a copy: value stays the caller's.
func (c *Codec) Encode(name string, value []byte) (string, error) {
	return securecookie.EncodeMulti(name, bytes.Clone(value), c.codecs...)
}

// Decode verifies and decrypts a value that Encode wrote for cookie name
// under any of the secrets, within the max age.
func (c *Codec) Decode(name, value string) ([]byte, error) {
	var b []byte
	if err := securecookie.DecodeMulti(name, value, &b, c.codecs...); err != nil {
		return nil, err
	}
	return b, nil
}

// Seal encrypts plain with AES-GCM under the first secret, bound to ad
// (additional data: a sealed session record cannot be moved to another
// session, nor a sealed key to another key id).
func (c *Codec) Seal(ad string, plain []byte) ([]byte, error) {
	aead := c.seal[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(ad)), nil
}

// Open decrypts what Seal sealed with any of the secrets for the same ad.
func (c *Codec) Open(ad string, sealed []byte) ([]byte, error) {
	for _, aead := range c.seal {
		if len(sealed) < aead.NonceSize() {
			break
		}
		if p, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(ad)); err == nil {
			return p, nil
		}
	}
	return nil, errors.New("session: sealed data does not open with any secret")
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
