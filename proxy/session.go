package proxy

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
)

// Identity is what hubgate knows about a signed-in person. It travels in the
// session cookie (signed and encrypted), so that an authenticated request
// needs no store or hub access: the header values are computed at sign-in and
// at each revalidation, not per request.
type Identity struct {
	SessionID string // 128 random bits, hex; rotated at every sign-in and link
	Person    string // Zaikio person id
	JTI       string // id of the current hub access token
	User      string // legacy person id; "" when not linked
	Email     string
	Name      string
	Orgs      string // X-Hubgate-Orgs value
	Roles     string // X-Hubgate-Roles value
	Created   time.Time
	Validated time.Time // last time identity and roles were read from the hub
	Expires   time.Time // absolute end of the session

	// headers are the ready-made upstream header values (set by prepare);
	// their slices point into values, so preparing allocates nothing.
	headers identityHeaders
	values  [6]string
	// assertion caches the signed identity assertion (see assertion.go).
	assertion atomic.Pointer[assertion]
}

// identityHeaders holds one []string per identity header, built once per
// decoded cookie so forwarding allocates nothing for them.
type identityHeaders struct {
	user, person, email, name, orgs, roles []string
}

func (id *Identity) prepare() {
	id.values = [6]string{id.User, id.Person, id.Email, headerSafe(id.Name), id.Orgs, id.Roles}
	one := func(i int) []string {
		if id.values[i] == "" {
			return nil
		}
		return id.values[i : i+1 : i+1]
	}
	id.headers = identityHeaders{user: one(0), person: one(1), email: one(2), name: one(3), orgs: one(4), roles: one(5)}
}

// headerSafe drops control characters (CR, LF, NUL, …) from a value that came
// from the hub, so that it can never split a header.
func headerSafe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x20 && s[i] != 0x7f {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// maxCookie bounds the session cookie's encoded size: browsers keep 4096
// bytes per cookie including its name and attributes.
const maxCookie = 3900

// errCookieTooLarge: the identity does not fit one cookie.
var errCookieTooLarge = errors.New("proxy: session does not fit in a cookie")

// marshal writes id in a compact binary form: a version byte, three varint
// unix times in milliseconds (revocations and stale marks are compared at
// that precision), then length-prefixed strings. It is smaller and far cheaper to
// decode than gob or JSON.
func (id *Identity) marshal() []byte {
	b := make([]byte, 0, 64+len(id.SessionID)+len(id.Person)+len(id.JTI)+len(id.User)+len(id.Email)+len(id.Name)+len(id.Orgs)+len(id.Roles))
	b = append(b, 1)
	for _, t := range []time.Time{id.Created, id.Validated, id.Expires} {
		b = binary.AppendVarint(b, t.UnixMilli())
	}
	for _, s := range []string{id.SessionID, id.Person, id.JTI, id.User, id.Email, id.Name, id.Orgs, id.Roles} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errBadSession = errors.New("proxy: malformed session")

// unmarshal reads marshal's form. The strings share one backing copy of b.
func (id *Identity) unmarshal(b []byte) error {
	if len(b) < 1 || b[0] != 1 {
		return errBadSession
	}
	s := string(b) // one copy; every field below is a substring of it
	p := 1
	var times [3]int64
	for i := range times {
		v, n := binary.Varint(b[p:])
		if n <= 0 {
			return errBadSession
		}
		times[i], p = v, p+n
	}
	var fields [8]string
	for i := range fields {
		l, n := binary.Uvarint(b[p:])
		if n <= 0 || l > uint64(len(b)-p-n) {
			return errBadSession
		}
		p += n
		fields[i] = s[p : p+int(l)]
		p += int(l)
	}
	if p != len(b) {
		return errBadSession
	}
	*id = Identity{
		Created: time.UnixMilli(times[0]), Validated: time.UnixMilli(times[1]), Expires: time.UnixMilli(times[2]),
		SessionID: fields[0], Person: fields[1], JTI: fields[2], User: fields[3],
		Email: fields[4], Name: fields[5], Orgs: fields[6], Roles: fields[7],
	}
	return nil
}

// codec signs and encrypts cookies with gorilla/securecookie (HMAC-SHA256 +
// AES-256-CTR). Several secrets allow rotation: the first signs, all verify.
type codec struct {
	codecs []securecookie.Codec // encode (first) and the reference decoder
	keys   []*cookieKey         // decodeAppend, one per secret, same order
	maxAge int64                // seconds; 0: no limit
	seal   []cipher.AEAD        // AES-GCM per secret, for server-side data
}

func newCodec(secrets [][]byte, maxAge time.Duration) (*codec, error) {
	if len(secrets) == 0 {
		return nil, errors.New("proxy: no session secret")
	}
	c := &codec{maxAge: int64(maxAge / time.Second)}
	for i, s := range secrets {
		if len(s) < 32 {
			return nil, fmt.Errorf("proxy: session secret %d has %d bytes, want at least 32", i+1, len(s))
		}
		macKey, encKey := derive(s, "hubgate cookie mac"), derive(s, "hubgate cookie enc")
		sc := securecookie.New(macKey, encKey)
		sc.SetSerializer(securecookie.NopEncoder{})
		sc.MaxAge(int(c.maxAge))
		sc.MaxLength(maxCookie)
		c.codecs = append(c.codecs, sc)
		k, err := newCookieKey(macKey, encKey)
		if err != nil {
			return nil, err
		}
		c.keys = append(c.keys, k)
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

// encode signs and encrypts value. securecookie encrypts in place, so it
// gets a copy: value is the caller's still.
func (c *codec) encode(name string, value []byte) (string, error) {
	return securecookie.EncodeMulti(name, bytes.Clone(value), c.codecs...)
}

// decode verifies and decrypts a cookie value written by encode.
func (c *codec) decode(name, value string) ([]byte, error) {
	b, err := c.decodeAppend(nil, name, value)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// sealData encrypts server-side session data with AES-GCM under the first
// secret; the session id is the additional data, so a record cannot be moved
// to another session.
func (c *codec) sealData(sessionID string, plain []byte) ([]byte, error) {
	aead := c.seal[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(sessionID)), nil
}

func (c *codec) openData(sessionID string, sealed []byte) ([]byte, error) {
	for _, aead := range c.seal {
		if len(sealed) < aead.NonceSize() {
			break
		}
		if p, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(sessionID)); err == nil {
			return p, nil
		}
	}
	return nil, errors.New("proxy: server-side session data does not open with any secret")
}

// newSessionID returns 128 random bits in hex.
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("proxy: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
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
