// Package storetest is the conformance suite every hubgate store must pass
// (store/bolt, store/postgres). Each store's own test calls Run with a
// constructor for a fresh, empty store.
package storetest

import (
	"context"
	"time"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// Store is the union of what hubgate's packages need from storage. Each
// consumer declares the subset it uses; this is the whole contract.
//
// Errors: claim.ErrNotFound for a missing claim, link or legacy person;
// claim.ErrConflict for a link that would break uniqueness;
// session.ErrNotFound / session.ErrConflict for sessions. Every write that
// says "appends" writes the audit event in the same transaction.
type Store interface {
	claim.Store

	// Claim returns the claim with this public id.
	Claim(ctx context.Context, id string) (claim.Claim, error)
	// Claims lists claims ordered by id, starting after the id `after`
	// ("" = from the start), at most limit (≤0: all).
	Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error)
	// RevokeClaim marks an unused claim revoked at `at` and appends a
	// "claim.revoke" event. A used claim: claim.ErrUsed. Revoking twice is a
	// no-op (the first RevokedAt stays, nothing is appended). A missing
	// claim: claim.ErrNotFound.
	RevokeClaim(ctx context.Context, id, actor string, at time.Time) error

	// Link returns the link holding this legacy id.
	Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error)
	// LinkByZaikio returns the link holding this Zaikio id.
	LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error)
	// PutLink writes l after claim.CheckLink (exactly-l-exists is a no-op
	// that appends nothing, either end taken is claim.ErrConflict) and
	// appends claim.LinkEvent(l). (RedeemClaim follows the same rule: its
	// LinkEvent is appended only when it writes a link.)
	PutLink(ctx context.Context, l claim.Link) error
	// DeleteLink removes the link holding legacyID and appends
	// claim.UnlinkEvent; it returns the removed link (claim.ErrNotFound when
	// there is none).
	DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error)
	// Links lists links of kind ordered by legacy id after `after`, at most
	// limit (≤0: all).
	Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error)

	// PutPeople inserts or replaces legacy directory entries (by id) and
	// appends ev when ev.Action != "".
	PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error
	// Person returns one legacy person.
	Person(ctx context.Context, id string) (claim.Person, error)
	// PersonByEmail finds a legacy person by email, case-insensitively.
	PersonByEmail(ctx context.Context, email string) (claim.Person, error)
	// People lists the directory ordered by id after `after`, at most limit
	// (≤0: all).
	People(ctx context.Context, after string, limit int) ([]claim.Person, error)
	// OrgOwners returns the legacy people who own legacy org id per the directory.
	OrgOwners(ctx context.Context, orgID string) ([]string, error)

	// Stats counts the directory, links and claims at now.
	Stats(ctx context.Context, now time.Time) (claim.Stats, error)

	// AppendEvent appends ev to the audit log (the store assigns Seq).
	AppendEvent(ctx context.Context, ev claim.Event) error
	// Events lists audit events newest first with Seq < before (0 = newest),
	// at most limit (≤0: all).
	Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error)

	// Mode returns the stored mode, "" when none was ever set.
	Mode(ctx context.Context) (string, error)
	// SetMode stores mode and appends ev, in one transaction.
	SetMode(ctx context.Context, mode string, ev claim.Event) error

	// Session returns the record with this id (session.ErrNotFound).
	Session(ctx context.Context, id string) (session.Record, error)
	// PutSession stores rec if the stored version equals prev (0: must not
	// exist); the stored record gets Version = prev+1. Otherwise
	// session.ErrConflict.
	PutSession(ctx context.Context, rec session.Record, prev uint64) error
	// DeleteSession removes a record; a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error
	// Sessions lists records ordered by id after `after`, at most limit
	// (≤0: all), expired ones not yet removed included (migrate-store).
	Sessions(ctx context.Context, after string, limit int) ([]session.Record, error)
	// DeleteExpiredSessions removes records with ExpiresAt ≤ now and
	// revocations with Until ≤ now; it returns how many records went.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// AddRevocation stores rv (same Kind+Subject: the entry with the later
	// At wins whole; on equal At, rv replaces the stored one).
	AddRevocation(ctx context.Context, rv session.Revocation) error
	// Revocations returns every revocation with Until > now.
	Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error)

	// FirstDelivery records a webhook event id and reports whether it is new;
	// ids are remembered until `until`.
	FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error)
	// ForgetDelivery removes a recorded id (missing: not an error), so that
	// the next FirstDelivery of it is true again.
	ForgetDelivery(ctx context.Context, id string) error

	// SigningKeys returns the stored assertion signing keys, oldest first.
	SigningKeys(ctx context.Context) ([]assertion.Key, error)
	// AddSigningKey stores k unless a key with the same id exists; then it
	// returns nil and keeps the stored key (replicas racing to store a new
	// key cannot replace each other's).
	AddSigningKey(ctx context.Context, k assertion.Key) error
	// DeleteSigningKey removes a key; a missing one is not an error.
	DeleteSigningKey(ctx context.Context, id string) error

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
