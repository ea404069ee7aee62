// Package bolt is hubgate's embedded store, on bbolt: one file, no server.
// It owns the file's layout (buckets, indexes, JSON records) and implements
// the storage pieces hubgate's packages declare; store/storetest is its
// contract. It decides no rule: what a redemption, a revocation or a link
// write may do is claim's to say, and this package persists the decision
// in one transaction.
//
// It is the default because most legacy apps run one hubgate replica, and a
// single replica needs nothing more: bbolt gives serializable transactions
// with a single writer, which is exactly what claim redemption wants (two
// callbacks for the same claim can never both link). Several replicas cannot
// share a bbolt file (it is locked by the process that opens it); they share
// store/postgres instead.
//
// Nothing here is on the request path. An authenticated request decodes its
// cookie and checks the in-memory revocation set; the store is read when
// sessions start or refresh, when claims are issued and redeemed, and by the
// admin API. So records are JSON (easy to inspect with `bbolt get`) rather
// than a compact binary, and every operation is one managed transaction
// (db.Update or db.View).
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// DB implements the pieces its consumers declare. The domain packages'
// pieces are checked here; the faces' pieces (proxy.Store, admin.Store and
// their parts) are checked where the store is wired, in cmd/hubgate, so that
// a store never imports a face (and proxy's own tests can import it).
var (
	_ claim.Store     = (*DB)(nil)
	_ session.Store   = (*DB)(nil)
	_ assertion.Store = (*DB)(nil)
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Options tune Open. The zero value is right for production.
type Options struct {
	// Timeout bounds the wait for the file lock, which another process
	// holds while it has the database open. Zero means DefaultTimeout;
	// negative is an error (bbolt's "wait forever" is never what we want:
	// a second hubgate would hang silently).
	Timeout time.Duration
	// NoSync skips fsync after each commit. Only for tests and benchmarks:
	// a crash may lose recent writes or corrupt the file. False (the zero
	// value) syncs every commit.
	NoSync bool
}

// DB is a hubgate store in one bbolt file. It is safe for concurrent use.
type DB struct {
	b *bbolt.DB
}

// Bucket names. Index buckets map a secondary key to the primary key.
var (
	bucketClaims       = []byte("claims")         // claim id → claimRec
	bucketClaimsByHash = []byte("claims_by_hash") // sha-256 (32 bytes) → claim id
	bucketClaimsBySubj = []byte("claims_by_subj") // kind \0 legacy id \0 claim id → nothing
	bucketLinksPerson  = []byte("links_person")   // legacy id → linkRec
	bucketLinksPersonZ = []byte("links_person_z") // zaikio id → legacy id
	bucketLinksOrg     = []byte("links_org")      // legacy id → linkRec
	bucketLinksOrgZ    = []byte("links_org_z")    // zaikio id → legacy id
	bucketPeople       = []byte("people")         // person id → personRec
	bucketPeopleEmail  = []byte("people_email")   // lower(email) \0 person id → write sequence (8 bytes)
	bucketOrgOwners    = []byte("org_owners")     // org id \0 person id → the org's name in that person's entry (may be empty)
	bucketEvents       = []byte("events")         // seq (8 bytes, big-endian) → eventRec
	bucketMeta         = []byte("meta")           // "mode" → mode
	bucketSessions     = []byte("sessions")       // session id → sessionRec
	bucketSessionsExp  = []byte("sessions_exp")   // timeKey(expires) ‖ session id → nothing
	bucketRevocations  = []byte("revocations")    // kind \0 subject → revocationRec
	bucketDeliveries   = []byte("deliveries")     // webhook event id → timeKey(until)
	bucketKeys         = []byte("keys")           // key id → keyRec
	bucketSignIns      = []byte("legacy_signins") // legacy person id → signInRec

	allBuckets = [][]byte{
		bucketClaims, bucketClaimsByHash, bucketClaimsBySubj,
		bucketLinksPerson, bucketLinksPersonZ, bucketLinksOrg, bucketLinksOrgZ,
		bucketPeople, bucketPeopleEmail, bucketOrgOwners,
		bucketEvents, bucketMeta,
		bucketSessions, bucketSessionsExp, bucketRevocations, bucketDeliveries, bucketKeys,
		bucketSignIns,
	}
)

// Open opens the store at path, creating the file (mode 0600) and its parent
// directory (0700) when missing, and the buckets when new. If another process
// has the file open, Open fails after opts.Timeout with an error that says so.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("bolt: open: empty path")
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("bolt: open %s: timeout %s, want ≥ 0", path, opts.Timeout)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoSync: opts.NoSync})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: database is locked by another process (waited %s): %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = b.Update(func(tx *bbolt.Tx) error {
		// A file written before the claims_by_subj index existed gets it
		// built here, once, from the claims it holds.
		index := tx.Bucket(bucketClaimsBySubj) == nil && tx.Bucket(bucketClaims) != nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if index {
			return indexClaimsBySubject(tx)
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &DB{b: b}, nil
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.b.Path() }

// Close releases the file and its lock.
func (db *DB) Close() error {
	if err := db.b.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// Ping checks that the store is open and readable.
func (db *DB) Ping(ctx context.Context) error {
	return db.view(ctx, "ping", func(*bbolt.Tx) error { return nil })
}

// view runs fn in a read-only transaction; see update for errors.
func (db *DB) view(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	return wrap(op, db.b.View(fn))
}

// update runs fn in a read-write transaction, which commits when fn returns
// nil and rolls back otherwise. bbolt does not take contexts; a context that
// is already done stops the operation before it starts.
func (db *DB) update(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	return wrap(op, db.b.Update(fn))
}

// wrap prefixes storage failures with the package and the operation. Domain
// errors (the claim and session sentinels, built with their detail where they
// arise) pass through unchanged, so that callers which add their own
// operation do not stutter.
func wrap(op string, err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	return fmt.Errorf("bolt: %s: %w", op, err)
}

func isDomain(err error) bool {
	for _, target := range []error{
		claim.ErrNotFound, claim.ErrExpired, claim.ErrUsed, claim.ErrRevoked, claim.ErrRetired,
		claim.ErrConflict, claim.ErrForbidden, claim.ErrInvalid,
		session.ErrNotFound, session.ErrConflict,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
