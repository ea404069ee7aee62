package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	bbolt "go.etcd.io/bbolt"
)

// The on-disk records are separate from the domain types so that renaming a
// Go field never silently changes (or breaks reading) the file. Times are
// stored in UTC with full precision; zero times are omitted.

type claimRec struct {
	ID        string    `json:"id"`
	Hash      []byte    `json:"hash"`
	Kind      string    `json:"kind"`
	LegacyID  string    `json:"legacy_id"`
	Claimer   string    `json:"claimer,omitempty"`
	Email     string    `json:"email,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    string    `json:"used_by,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

func encodeClaim(c claim.Claim) claimRec {
	return claimRec{
		ID: c.ID, Hash: c.Hash[:], Kind: string(c.Kind), LegacyID: c.LegacyID, Claimer: c.Claimer,
		Email: c.Email, CreatedBy: c.CreatedBy, CreatedAt: utc(c.CreatedAt), ExpiresAt: utc(c.ExpiresAt),
		UsedAt: utc(c.UsedAt), UsedBy: c.UsedBy, RevokedAt: utc(c.RevokedAt), RetiredAt: utc(c.RetiredAt),
	}
}

func (r claimRec) claim() (claim.Claim, error) {
	c := claim.Claim{
		ID: r.ID, Kind: claim.Kind(r.Kind), LegacyID: r.LegacyID, Claimer: r.Claimer,
		Email: r.Email, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		UsedAt: r.UsedAt, UsedBy: r.UsedBy, RevokedAt: r.RevokedAt, RetiredAt: r.RetiredAt,
	}
	if len(r.Hash) != len(c.Hash) {
		return claim.Claim{}, fmt.Errorf("claim %s: hash has %d bytes, want %d", r.ID, len(r.Hash), len(c.Hash))
	}
	copy(c.Hash[:], r.Hash)
	return c, nil
}

type linkRec struct {
	Kind      string    `json:"kind"`
	LegacyID  string    `json:"legacy_id"`
	ZaikioID  string    `json:"zaikio_id"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	Via       string    `json:"via,omitempty"`
	By        string    `json:"by,omitempty"`
}

func encodeLink(l claim.Link) linkRec {
	return linkRec{Kind: string(l.Kind), LegacyID: l.LegacyID, ZaikioID: l.ZaikioID,
		CreatedAt: utc(l.CreatedAt), Via: l.Via, By: l.By}
}

func (r linkRec) link() claim.Link {
	return claim.Link{Kind: claim.Kind(r.Kind), LegacyID: r.LegacyID, ZaikioID: r.ZaikioID,
		CreatedAt: r.CreatedAt, Via: r.Via, By: r.By}
}

type personRec struct {
	ID       string            `json:"id"`
	Email    string            `json:"email,omitempty"`
	Name     string            `json:"name,omitempty"`
	Orgs     []string          `json:"orgs,omitempty"`
	OrgNames map[string]string `json:"org_names,omitempty"`
}

type eventRec struct {
	Time    time.Time `json:"time,omitzero"`
	Actor   string    `json:"actor,omitempty"`
	Action  string    `json:"action"`
	Subject string    `json:"subject,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

type sessionRec struct {
	ID        string    `json:"id"`
	Person    string    `json:"person,omitempty"`
	Version   uint64    `json:"version"`
	Data      []byte    `json:"data,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type revocationRec struct {
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	At      time.Time `json:"at,omitzero"`
	Until   time.Time `json:"until,omitzero"`
	Actor   string    `json:"actor,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

func encodeRevocation(rv session.Revocation) revocationRec {
	return revocationRec{Kind: string(rv.Kind), Subject: rv.Subject, At: utc(rv.At), Until: utc(rv.Until),
		Actor: rv.Actor, Reason: rv.Reason}
}

func (r revocationRec) revocation() session.Revocation {
	return session.Revocation{Kind: session.RevocationKind(r.Kind), Subject: r.Subject, At: r.At, Until: r.Until,
		Actor: r.Actor, Reason: r.Reason}
}

type keyRec struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	RetiresAt time.Time `json:"retires_at,omitzero"`
	DeleteAt  time.Time `json:"delete_at,omitzero"`
}

// utc drops the location (and the monotonic reading) so that what is stored
// and returned is plain UTC.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// get decodes the JSON record under key in b into v and reports whether it
// was there.
func get(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode record %q: %w", key, err)
	}
	return true, nil
}

// put stores v as JSON under key in b.
func put(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record %q: %w", key, err)
	}
	return b.Put(key, data)
}

// u64 encodes n big-endian, so that byte order is numeric order.
func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// timeKey encodes t (seconds, then nanoseconds) so that byte order is time
// order, also before 1970 and for the zero time.
func timeKey(t time.Time) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 12), uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(k, uint32(t.Nanosecond()))
}

// pair joins two key parts with a NUL byte, which none of them may contain.
func pair(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// hasNUL reports whether any of ss contains a NUL byte, which would make a
// pair key ambiguous.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

// page walks b in key order from the first key after `after` ("" = from the
// start), calling fn for at most limit entries (≤ 0: all).
func page(b *bbolt.Bucket, after string, limit int, fn func(k, v []byte) error) error {
	c := b.Cursor()
	var k, v []byte
	if after == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	}
	for n := 0; k != nil && (limit <= 0 || n < limit); n++ {
		if err := fn(k, v); err != nil {
			return err
		}
		k, v = c.Next()
	}
	return nil
}

// count returns the number of keys in b.
func count(b *bbolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
