// Package session owns a sign-in session's whole life in hubgate: the
// signed and encrypted cookie that carries the Identity (so that an
// authenticated request needs no store or hub), the identity cache that
// decodes each cookie once per process, the in-memory revocation set that
// every request is checked against, the server-side Record (which holds the
// hub's tokens sealed), the single-flight revalidation that re-reads identity
// and roles from the hub, and the start and end of a session.
//
// The hub, the links and the role map are not this package's: a Refresher
// (implemented by package proxy) rotates the refresh token at the hub,
// verifies the new access token and builds the fresh identity. Storage is
// not this package's either: a Store persists records and revocations.
// session never speaks HTTP to anyone but the browser whose cookie it reads
// and sets, and it never decides what a request may do with an identity.
//
// The package uses only the standard library and gorilla/securecookie.
package session

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors.
var (
	// ErrNotFound: a store holds no record under that id.
	ErrNotFound = errors.New("session: not found")
	// ErrConflict: a compare-and-swap write found another version than expected
	// (another request or replica saved the record first).
	ErrConflict = errors.New("session: version conflict")
	// ErrEnded: the session cannot go on (its record is gone or unreadable,
	// the hub refused its tokens, or its person may no longer have one). A
	// Refresher wraps it to say so; any other error from a Refresher is an
	// outage, which the session rides out for its grace period.
	ErrEnded = errors.New("session: ended")
	// ErrCookieTooLarge: the identity does not fit one cookie.
	ErrCookieTooLarge = errors.New("session: does not fit in a cookie")
)

// Defaults of the Config fields (and of the proxy settings that feed them).
const (
	DefaultTTL        = 12 * time.Hour
	DefaultRevalidate = 5 * time.Minute
	DefaultGrace      = 15 * time.Minute
)

// Store is what a session needs from storage; store/bolt and store/postgres
// implement it. Records are opaque to stores: Data is sealed here.
type Store interface {
	// Session returns the record with this id (ErrNotFound).
	Session(ctx context.Context, id string) (Record, error)
	// PutSession stores rec if the stored version equals prev (0: must not
	// exist); the stored record gets Version = prev+1. Otherwise ErrConflict.
	PutSession(ctx context.Context, rec Record, prev uint64) error
	// DeleteSession removes a record; a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions removes records with ExpiresAt ≤ now and
	// revocations with Until ≤ now; it returns how many records went.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// AddRevocation stores rv (same Kind+Subject: the later At wins).
	AddRevocation(ctx context.Context, rv Revocation) error
	// Revocations returns every revocation with Until > now.
	Revocations(ctx context.Context, now time.Time) ([]Revocation, error)
}

// Record is the server-side half of a session.
type Record struct {
	ID string
	// Person is the Zaikio person the session belongs to.
	Person string
	// Version increases by one with every save; writes compare it (see
	// PutSession in the stores) so that concurrent refreshes cannot both win.
	Version uint64
	// Data is opaque to stores: sealed (AES-GCM) by this package; it holds
	// the hub's tokens and the latest identity.
	Data      []byte
	ExpiresAt time.Time
}

// Tokens are a session's hub tokens, kept sealed in its Record.
type Tokens struct {
	Refresh string
	Access  string
	// JTI is the id of the access token (revocation by token names it).
	JTI string
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
	// from the hub on its next request (membership webhooks). The subject
	// "*" names everyone, "org:<legacy org>" every session holding that
	// organization.
	Revalidate RevocationKind = "revalidate"
	// Unlink takes a legacy person or organization that was unlinked out of
	// every identity validated before At that still carries it (Subject
	// "person:<legacy id>" or "org:<legacy org id>"). On its next request,
	// on every replica and whether or not the hub answers, such a session
	// drops it — User emptied, or the organization removed from Orgs and
	// Roles — and then revalidates as if announced. The session goes on
	// with what remains unless its revalidation ends it.
	Unlink RevocationKind = "unlink"
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

// NewRevocation is a revocation made at at, kept until no session it could
// affect can still live: sessions live at most ttl (session.ttl), plus a
// minute for clocks that disagree.
func NewRevocation(kind RevocationKind, subject string, at time.Time, ttl time.Duration, actor, reason string) Revocation {
	return Revocation{Kind: kind, Subject: subject, At: at, Until: at.Add(ttl + time.Minute), Actor: actor, Reason: reason}
}
