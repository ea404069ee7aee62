// Package session holds the nouns hubgate keeps about sign-in sessions outside
// the browser: the server-side record of a session (which holds, sealed, the
// hub's refresh token), revocations, and signing keys. The cookie codec and the
// refresh logic live in package proxy; storage adapters persist these types.
//
// The package uses only the standard library.
package session

import (
	"errors"
	"time"
)

// Sentinel errors returned by stores.
var (
	// ErrNotFound: no record under that id.
	ErrNotFound = errors.New("session: not found")
	// ErrConflict: a compare-and-swap write found another version than expected
	// (another request or replica saved the record first).
	ErrConflict = errors.New("session: version conflict")
)

// Record is the server-side half of a session.
type Record struct {
	ID string
	// Person is the Zaikio person the session belongs to.
	Person string
	// Version increases by one with every save; writes compare it (see
	// PutSession in the stores) so that concurrent refreshes cannot both win.
	Version uint64
	// Data is opaque to stores: sealed (AES-GCM) by package proxy; it holds
	// the hub refresh token and the latest identity.
	Data      []byte
	ExpiresAt time.Time
}

// RevocationKind says what a revocation names.
type RevocationKind string

// Kinds of revocation.
const (
	// RevokeSession ends one session (Subject = session id): logout, admin.
	RevokeSession RevocationKind = "session"
	// RevokePerson ends every session of a Zaikio person created before At.
	RevokePerson RevocationKind = "person"
	// RevokeToken ends the session whose current hub access token has this
	// jti (webhook zaikio.revoked_access_token).
	RevokeToken RevocationKind = "token"
	// Revalidate does not end sessions: it makes every session of a Zaikio
	// person that was last validated before At re-read identity and roles
	// from the hub on its next request (membership webhooks).
	Revalidate RevocationKind = "revalidate"
)

// Revocation is one entry of the revocation list, which every replica holds
// in memory for the request path.
type Revocation struct {
	Kind    RevocationKind
	Subject string
	At      time.Time
	// Until is when the entry may be forgotten: no session it could affect
	// outlives it.
	Until time.Time
	// Actor and Reason are for operators and the audit log.
	Actor  string
	Reason string
}

// Key is a signing key for identity assertions, shared by replicas through
// the store.
type Key struct {
	ID string
	// Sealed is the private key, sealed by package proxy with the session
	// secret; stores never see it in the clear.
	Sealed    []byte
	CreatedAt time.Time
	// RetiresAt: after it the key no longer signs; it stays published for
	// verification until DeleteAt.
	RetiresAt time.Time
	DeleteAt  time.Time
}
