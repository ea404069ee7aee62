// Package postgres is hubgate's shared store, on PostgreSQL: the one to use
// when several replicas serve the same legacy app. It owns the schema and
// its migrations, the locking that keeps the rules true under concurrency,
// and the change notifications; it implements the storage pieces
// hubgate's packages declare, with store/storetest as its contract. It
// decides no rule: what a redemption, a revocation or a link write may do
// is claim's to say, and this package persists the decision.
//
// # Why pgx
//
// github.com/jackc/pgx/v5 speaks PostgreSQL's protocol directly instead of
// through database/sql. hubgate needs three things database/sql hides: typed
// errors carrying the SQLSTATE and the violated constraint (a unique
// violation on a link is claim.ErrConflict, not a storage failure), a
// dedicated connection that LISTENs for notifications ([DB.Watch]), and
// batches that send a thousand directory rows in one round trip. pgxpool
// keeps the connections; each one gets the statement timeout of [Options].
//
// # Replicas
//
// Every replica opens the same database (and schema: the DSN may set
// search_path). [Open] applies the schema migrations under a session-level
// pg_advisory_lock, so replicas starting together apply each migration
// exactly once and the others wait and then find nothing to do; applied
// versions are recorded in schema_migrations. Migrations only add (tables,
// columns, indexes), so a replica still running the previous release keeps
// working while a newer one upgrades the schema.
//
// Replicas cache the mode and the revocation list (DESIGN §6). They poll
// every second anyway; [DB.Watch] is the fast path: SetMode and
// AddRevocation NOTIFY the channel hubgate_changes inside their transactions,
// so the notification is delivered exactly when (and only if) the change
// commits, and Watch calls back within milliseconds on every replica.
//
// # Locking, and why it is correct
//
// Every operation is one transaction at PostgreSQL's default isolation, READ
// COMMITTED; none depends on a snapshot staying stable. Where concurrent
// writers could break a rule, a row lock or a unique index decides:
//
//   - RedeemClaim loads the claim with SELECT … FOR UPDATE. Concurrent
//     redemptions of one claim queue on that row lock; when the winner
//     commits, each waiter re-reads the row's newest version (READ COMMITTED
//     re-evaluates a locked row) and finds it used: claim.ErrUsed. So a claim
//     is consumed at most once.
//   - Links are unique both ways by constraint: PRIMARY KEY (kind,
//     legacy_id) and UNIQUE (kind, zaikio_id). A link is written with INSERT
//     … ON CONFLICT DO NOTHING after claim.CheckLink approved what the
//     transaction could see. If another transaction took either end in the
//     meantime, the insert waits for it to commit and then writes nothing; a
//     fresh read (every statement sees all commits so far) then finds the
//     competitor and CheckLink answers as a serial execution would: exactly
//     our pair (nothing to write) or claim.ErrConflict. Two links sharing an
//     end can therefore never both commit, whatever the interleaving. A
//     unique violation that still surfaces is mapped to claim.ErrConflict.
//   - PutSession is a compare-and-swap: INSERT … ON CONFLICT DO NOTHING for
//     a new record, UPDATE … WHERE version = prev otherwise. A concurrent
//     writer blocks on the row, then the WHERE is re-checked against the
//     committed version, which no longer matches: session.ErrConflict.
//   - FirstDelivery is INSERT … ON CONFLICT DO NOTHING: of concurrent
//     deliveries of one id exactly one inserts.
//   - CreateClaims relies on the primary key and UNIQUE (hash); RevokeClaim
//     locks the claim row like RedeemClaim, so revoking and redeeming one
//     claim serialize.
//
// SERIALIZABLE with retries would be correct too, but it aborts whole
// transactions on predicate-lock conflicts that have nothing to do with the
// rule (redemptions of unrelated claims whose links land on the same index
// page), and hides which statement decides. Here the decision points are explicit and
// a winner is never aborted. A transaction that fails with a serialization
// failure or a deadlock (none is expected with this scheme) is retried a few
// times: it had no effect. The conformance suite's races (50 concurrent
// redemptions of one claim, of 50 claims for one Zaikio id, 20 concurrent
// session swaps) run against a real server in this package's tests, with
// more races of its own (redemptions of 20 claims for one pair, PutLink,
// FirstDelivery).
//
// # Deploying
//
// PostgreSQL 11 or later. Behind PgBouncer in transaction mode, add
// default_query_exec_mode=exec to the DSN (prepared statements do not
// survive transaction pooling) and expect Watch to fail: LISTEN needs a
// session, so point replicas at PostgreSQL directly or rely on polling.
//
// # Data
//
// Text keys that are paged through (claim ids, legacy ids, person ids) use
// COLLATE "C", so that paging is in byte order as in store/bolt, whatever
// the database's collation. Times are timestamptz (microseconds), returned
// in UTC; the zero time is stored as NULL. Emails are matched through a
// lower-cased copy computed in Go (strings.ToLower, as store/bolt), so that
// the match does not depend on the database's ctype.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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

// Defaults for the zero values of Options.
const (
	// DefaultStatementTimeout bounds every statement of a pooled connection.
	DefaultStatementTimeout = 15 * time.Second
	// DefaultConnectTimeout bounds establishing one connection.
	DefaultConnectTimeout = 10 * time.Second
)

// Options tune Open. The zero value is right for production.
type Options struct {
	// MaxConns caps the pool. Zero means the DSN's pool_max_conns when it
	// has one, else pgxpool's default (the larger of 4 and the number of
	// CPUs). Negative is an error.
	MaxConns int32
	// StatementTimeout is set as statement_timeout on every pooled
	// connection, so that a stuck query cannot hold a connection (and its
	// locks) for ever. Zero means DefaultStatementTimeout; negative is an
	// error. Migrations and Watch's listening connection run without it.
	StatementTimeout time.Duration
	// ConnectTimeout bounds establishing one connection. Zero means the
	// DSN's connect_timeout when it has one, else DefaultConnectTimeout.
	// Negative is an error.
	ConnectTimeout time.Duration
	// WatchError is called with each failure of Watch's listening
	// connection before Watch reconnects, for the log. Nil: failures are
	// not reported (Watch keeps retrying either way).
	WatchError func(err error)
}

// DB is a hubgate store in a PostgreSQL schema. It is safe for concurrent
// use by any number of goroutines and replicas.
type DB struct {
	pool *pgxpool.Pool
	// schema is current_schema() of the pool's connections: it scopes the
	// migration lock and the change notifications.
	schema string
	// listenCfg configures Watch's dedicated connections.
	listenCfg *pgx.ConnConfig
	// migrated counts the migrations this Open applied (tests).
	migrated int

	// closing is cancelled by Close, which stops every Watch.
	closing context.Context
	cancel  context.CancelFunc
	// mu guards closed and watchers: Close must not start waiting while a
	// Watch registers.
	mu       sync.Mutex
	closed   bool
	watchers sync.WaitGroup
	// watchError is Options.WatchError.
	watchError func(error)
	// watchIdle is how long Watch waits quietly before checking its
	// connection: watchIdleCheck, shorter in tests.
	watchIdle time.Duration
	// watchPID is the backend pid of the newest listening connection (tests).
	watchPID int64
}

// Open connects to the database dsn names (a postgres:// URL or a
// keyword=value string, see pgx), applies pending schema migrations and
// returns the store. It fails when the server cannot be reached within ctx
// or the connect timeout.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.MaxConns < 0 || opts.StatementTimeout < 0 || opts.ConnectTimeout < 0 {
		return nil, fmt.Errorf("postgres: open: options %+v: negative values are not allowed", opts)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; keep it, it redacts passwords.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ConnectTimeout > 0 || cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = cmpOr(opts.ConnectTimeout, DefaultConnectTimeout)
	}
	// Connections for migrations and LISTEN: no statement timeout (waiting
	// for the migration lock, or for notifications, is their job).
	plain := cfg.ConnConfig.Copy()
	plain.RuntimeParams["statement_timeout"] = "0"
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cmpOr(opts.StatementTimeout, DefaultStatementTimeout).Milliseconds(), 10)

	host := cfg.ConnConfig.Host
	schema, migrated, err := migrate(ctx, plain)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", host, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", host, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", host, err)
	}
	listen := plain.Copy()
	listen.RuntimeParams["application_name"] = "hubgate watch"
	closing, cancel := context.WithCancel(context.Background())
	return &DB{pool: pool, schema: schema, listenCfg: listen, migrated: migrated,
		closing: closing, cancel: cancel, watchError: opts.WatchError, watchIdle: watchIdleCheck}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

// Close stops every Watch, waits for them to return and closes the pool.
func (db *DB) Close() error {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	db.cancel()
	db.watchers.Wait()
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// maxAttempts bounds the retries of a transaction that failed with a
// serialization failure or a deadlock.
const maxAttempts = 5

// update runs fn in a transaction, which commits when fn returns nil and
// rolls back otherwise. A transaction that PostgreSQL aborted to resolve a
// serialization failure or a deadlock changed nothing and is run again, so fn
// must set its results afresh on every call.
func (db *DB) update(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, db.pool, fn)
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			continue
		}
		return wrap(op, err)
	}
}

// SQLSTATE codes the store reacts to.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// uniqueViolation returns the violated constraint when err is a unique
// violation.
func uniqueViolation(err error) (constraint string, ok bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeUniqueViolation {
		return pe.ConstraintName, true
	}
	return "", false
}

// wrap prefixes storage failures with the package and the operation. Domain
// errors (the claim and session sentinels, built with their detail where they
// arise) pass through unchanged, as in store/bolt.
func wrap(op string, err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
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

// ts is the SQL value of t: NULL for the zero time.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromDB is the Go value of a nullable timestamptz: UTC, zero for NULL.
func fromDB(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// utc drops the location (and the monotonic reading) of t, keeping zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// limitArg is the SQL LIMIT for limit: NULL (no limit) when limit ≤ 0.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}
