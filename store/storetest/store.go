// Package storetest is the conformance suite every hubgate store must pass
// (store/bolt, store/postgres): the one written contract of a store. Each
// store's own test calls Run with a constructor for a fresh, empty store.
// It owns no storage and never looks inside one: it checks only what the
// interfaces and Run's rules say.
package storetest

import (
	"context"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
)

// Store is what the suite tests: the pieces hubgate's consumers declare,
// each documented where it is declared, plus the suite's own view of what
// no server consumes but a store must still get right.
//
//   - proxy.Store: claim.Store, session.Store, assertion.Store and the
//     proxy's Links, Directory, Deliveries, Modes, SignIns and Ping;
//   - admin.Store: the admin server's Claims, Links, Directory, Counts,
//     Audit, Modes, Revocations, SignIns and Ping.
//
// Errors: claim.ErrNotFound for a missing claim, link or legacy person;
// claim.ErrConflict for a link that would break uniqueness;
// session.ErrNotFound / session.ErrConflict for sessions. Every write that
// says "appends" writes the audit event in the same transaction.
type Store interface {
	proxy.Store
	admin.Store

	// People lists the directory ordered by id after `after`, at most limit
	// (≤0: all). (hubgate migrate-store copies it.)
	People(ctx context.Context, after string, limit int) ([]claim.Person, error)
	// PersonByEmail finds a legacy person by email, compared lower-cased;
	// when several share it, the one written last (claim.ErrNotFound when
	// none). (No consumer calls it any more: "send me my link" asks
	// EmailHolders, so that a shared address gets nothing; the suite keeps
	// it honest.)
	PersonByEmail(ctx context.Context, email string) (claim.Person, error)
	// OrgOwners returns the legacy people who own legacy org id per the
	// directory. (No consumer calls it today; the suite keeps it honest.)
	OrgOwners(ctx context.Context, orgID string) ([]string, error)
	// Sessions lists records ordered by id after `after`, at most limit
	// (≤0: all), expired ones not yet removed included (migrate-store).
	Sessions(ctx context.Context, after string, limit int) ([]session.Record, error)
	// Close releases the store.
	Close() error
}
