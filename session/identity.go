package session

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"time"
)

// Identity is what hubgate knows about a signed-in person. It travels in the
// session cookie (signed and encrypted), so that an authenticated request
// needs no store or hub access: the header values are computed at sign-in and
// at each revalidation, not per request. An Identity handed out by a Manager
// is shared by every request of its session: treat it as read-only.
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
	headers HeaderValues
	values  [6]string
	// signed caches the signed assertion of this identity (package
	// assertion makes it).
	signed atomic.Pointer[Signed]
}

// HeaderValues holds one []string per identity header, built once per
// decoded cookie so that forwarding allocates nothing for them. A nil entry
// means the header is not set. The slices are shared: never modify them.
type HeaderValues struct {
	User, Person, Email, Name, Orgs, Roles []string
}

// Headers returns the identity's prepared header values.
func (id *Identity) Headers() *HeaderValues { return &id.headers }

// Signed is a signed statement of an identity (the X-Hubgate-Assertion value
// that package assertion makes), kept with the identity so that it is signed
// once per half-life rather than once per request.
type Signed struct {
	Header  []string // ready-made header value; shared, never modify
	Mode    string   // the mode it states
	Expires time.Time
}

// Signed returns the cached signed statement, nil if none.
func (id *Identity) Signed() *Signed { return id.signed.Load() }

// SetSigned caches a signed statement of id (safe for concurrent use).
func (id *Identity) SetSigned(s *Signed) { id.signed.Store(s) }

// OrgList returns Orgs as a list, never nil (so JSON shows []).
func (id *Identity) OrgList() []string { return splitList(id.Orgs) }

// RoleList returns Roles as a list, never nil (so JSON shows []).
func (id *Identity) RoleList() []string { return splitList(id.Roles) }

func splitList(s string) []string {
	out := []string{}
	for part := range strings.SplitSeq(s, ",") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (id *Identity) prepare() {
	id.values = [6]string{id.User, id.Person, id.Email, headerSafe(id.Name), id.Orgs, id.Roles}
	one := func(i int) []string {
		if id.values[i] == "" {
			return nil
		}
		return id.values[i : i+1 : i+1]
	}
	id.headers = HeaderValues{User: one(0), Person: one(1), Email: one(2), Name: one(3), Orgs: one(4), Roles: one(5)}
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

// marshal writes id in a compact binary form: a version byte, three varint
// unix times in milliseconds (revocations and stale marks are compared at
// that precision), then length-prefixed strings. It is smaller and far
// cheaper to decode than gob or JSON.
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

var errBadSession = errors.New("session: malformed identity")

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

// NewID returns 128 random bits in hex: session ids, assertion ids.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("session: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
