package proxy

import (
	"context"
	"time"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
)

// Store is what the proxy needs from storage: the pieces below, each named
// after what uses it; *bolt.DB and *postgres.DB implement it (checked in
// cmd/hubgate: this package's tests import store/bolt, so the stores
// cannot import it). The whole written contract of a store is the
// conformance suite, store/storetest.
type Store interface {
	claim.Store     // claims: minted and redeemed by claim.Service
	session.Store   // session records and revocations
	assertion.Store // assertion signing keys
	Links
	Directory
	Audit
	Deliveries
	Modes
	SignIns
	// Ping checks that the store answers (readiness).
	Ping(ctx context.Context) error
}

// Links are the person and organization links: read to build an identity,
// to decide whether a claim is still needed and to find whose sessions a
// webhook concerns; written by provisioning, removed by an undo.
type Links interface {
	// Link returns the link holding this legacy id (claim.ErrNotFound).
	Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error)
	// LinkByZaikio returns the link holding this Zaikio id (claim.ErrNotFound).
	LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error)
	// PutLink writes l after claim.CheckLink and appends
	// claim.LinkEvent(l): exactly l stored already is a no-op that appends
	// nothing, either end taken is claim.ErrConflict.
	PutLink(ctx context.Context, l claim.Link) error
	// DeleteLink removes the link holding legacyID, appends
	// claim.UnlinkEvent and returns the removed link (claim.ErrNotFound
	// when there is none).
	DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error)
}

// Directory is the operator's legacy directory: who a legacy person is and
// which organizations they own (claim pages, "send me my link", the org
// offer after a claim). The proxy only reads it: only the import and the
// admin API write it (DESIGN §3, "the directory is the operator's").
type Directory interface {
	// Person returns one legacy person (claim.ErrNotFound).
	Person(ctx context.Context, id string) (claim.Person, error)
	// OrgNames returns the display names the directory gives these legacy
	// organizations, by id (for each, the first owner's in id order that
	// names it); organizations without a name are left out. Shown on
	// pages, never used to decide anything.
	OrgNames(ctx context.Context, ids []string) (map[string]string, error)
	// EmailHolders returns, for each address of emails that at least one
	// legacy person holds (compared lower-cased), the ids of every person
	// holding it in byte order, keyed by the lower-cased address. An empty
	// address is held by nobody.
	EmailHolders(ctx context.Context, emails []string) (map[string][]string, error)
}

// Audit is the audit log, appended to when a rule withholds something
// from someone (a claim link not mailed to an address two legacy persons
// share).
type Audit interface {
	// AppendEvent appends ev (the store assigns Seq).
	AppendEvent(ctx context.Context, ev claim.Event) error
}

// Deliveries remember single-use ids across replicas: webhook deliveries
// and redirect-flow states.
type Deliveries interface {
	// FirstDelivery records id until `until` and reports whether it is new.
	FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error)
	// ForgetDelivery removes a recorded id (missing: not an error), so that
	// it is new again.
	ForgetDelivery(ctx context.Context, id string) error
}

// Modes is where the mode lives, so that every replica runs the same one.
type Modes interface {
	// Mode returns the stored mode, "" when none was ever set; the proxy
	// ignores a stored name that is not one of migration.Modes.
	Mode(ctx context.Context) (migration.Mode, error)
}
