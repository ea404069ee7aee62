package admin

import (
	"context"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
)

// Store is what the admin server needs from storage: the pieces below, each
// named after what uses it, composed because one Config carries one store.
// *bolt.DB and *postgres.DB implement it; the whole written contract of a
// store is the conformance suite, store/storetest. Claims are minted through
// Config.Claims, whose claim.Store is its own.
type Store interface {
	Claims
	Links
	Directory
	Counts
	Audit
	Modes
	Revocations
	SignIns
	// Ping checks that the store answers (/readyz when Config.Ready is nil).
	Ping(ctx context.Context) error
}

// Claims are read for the claim list and the dashboard, and revoked by an
// operator.
type Claims interface {
	// Claim returns the claim with this public id (claim.ErrNotFound).
	Claim(ctx context.Context, id string) (claim.Claim, error)
	// Claims lists claims ordered by id, starting after the id `after`
	// ("" = from the start), at most limit (≤0: all).
	Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error)
	// RevokeClaim stores what claim.Claim.Revoke decides for the stored
	// claim, with its audit entry, in one transaction: a used claim is
	// claim.ErrUsed, revoking twice changes nothing, a missing claim is
	// claim.ErrNotFound.
	RevokeClaim(ctx context.Context, id, actor string, at time.Time) error
}

// Links are the person and organization links an operator reads, lists,
// writes and removes.
type Links interface {
	// Link returns the link holding this legacy id (claim.ErrNotFound).
	Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error)
	// LinkByZaikio returns the link holding this Zaikio id
	// (claim.ErrNotFound): the dashboard names a Zaikio person by the
	// legacy person it is linked to.
	LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error)
	// PutLink writes l after claim.CheckLink (exactly-l-exists is a no-op
	// that appends nothing, either end taken is claim.ErrConflict) and
	// appends claim.LinkEvent(l).
	PutLink(ctx context.Context, l claim.Link) error
	// DeleteLink removes the link holding legacyID and appends
	// claim.UnlinkEvent; it returns the removed link (claim.ErrNotFound when
	// there is none).
	DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error)
	// Links lists links of kind ordered by legacy id after `after`, at most
	// limit (≤0: all).
	Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error)
}

// Directory is the legacy directory an import fills and claims are issued
// against.
type Directory interface {
	// Person returns one legacy person (claim.ErrNotFound).
	Person(ctx context.Context, id string) (claim.Person, error)
	// OrgOwners returns the legacy people who own legacy org orgID per the
	// directory (an organization is in the directory when someone owns it).
	OrgOwners(ctx context.Context, orgID string) ([]string, error)
	// OrgNames returns the display names the directory gives these legacy
	// organizations, by id; organizations without a name are left out
	// (the dashboard shows names beside ids).
	OrgNames(ctx context.Context, ids []string) (map[string]string, error)
	// PutPeople inserts or replaces entries (by id) and appends ev when
	// ev.Action != "".
	PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error
	// EmailHolders returns, for each address of emails that at least one
	// legacy person holds (compared lower-cased), the ids of every person
	// holding it in byte order, keyed by the lower-cased address: mails go
	// only to addresses with a single holder.
	EmailHolders(ctx context.Context, emails []string) (map[string][]string, error)
}

// Counts are the numbers of /api/v1/stats and the dashboard.
type Counts interface {
	// Stats counts the directory, links and claims at now.
	Stats(ctx context.Context, now time.Time) (claim.Stats, error)
}

// Audit is the audit log: read by /api/v1/audit and the dashboard, appended
// to by the operator actions whose store write carries no entry of its own.
type Audit interface {
	// AppendEvent appends ev (the store assigns Seq).
	AppendEvent(ctx context.Context, ev claim.Event) error
	// Events lists events newest first with Seq < before (0 = newest), at
	// most limit (≤0: all).
	Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error)
}

// Modes is where the mode lives, so that every replica runs the one an
// operator switched to.
type Modes interface {
	// Mode returns the stored mode, "" when none was ever set.
	Mode(ctx context.Context) (migration.Mode, error)
	// SetMode stores mode and appends ev, in one transaction.
	SetMode(ctx context.Context, mode migration.Mode, ev claim.Event) error
}

// Revocations end sessions (an operator's revoke), take an unlinked person
// or organization out of them, or make them re-read their identity (after
// a link is made).
type Revocations interface {
	// AddRevocation stores rv (same Kind+Subject: the later At wins).
	AddRevocation(ctx context.Context, rv session.Revocation) error
}

// SignIns are the legacy sign-ins the proxy saw (the readiness view: who
// signed in the old way lately and would be locked out by enforce). Only
// legacy person ids and times are kept.
type SignIns interface {
	// LegacySignIns returns the latest legacy sign-in of every legacy
	// person whose latest one is at or after since, by legacy person id.
	LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error)
	// FirstLegacySignIn returns the earliest legacy sign-in ever recorded
	// (the zero time when none was): since when the view knows anything.
	FirstLegacySignIn(ctx context.Context) (time.Time, error)
}
