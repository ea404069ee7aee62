package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/session"
	"github.com/jackc/pgx/v5"
)

const sessionCols = `id, person, version, data, expires_at`

func scanSession(row pgx.Row) (session.Record, error) {
	var rec session.Record
	var version int64
	var expires *time.Time
	if err := row.Scan(&rec.ID, &rec.Person, &version, &rec.Data, &expires); err != nil {
		return session.Record{}, err
	}
	rec.Version, rec.ExpiresAt = uint64(version), fromDB(expires)
	return rec, nil
}

// Session returns the record with this id, or session.ErrNotFound. An expired
// record that DeleteExpiredSessions has not removed yet is still returned.
func (db *DB) Session(ctx context.Context, id string) (session.Record, error) {
	rec, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Record{}, fmt.Errorf("%w: session %s", session.ErrNotFound, id)
	}
	return rec, wrap("session", err)
}

// Sessions lists session records in id order, the page after id after ("":
// from the start), at most limit (≤ 0: all). Expired records not yet
// removed are included. It serves migrate-store.
func (db *DB) Sessions(ctx context.Context, after string, limit int) ([]session.Record, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id > $1 ORDER BY id LIMIT $2`, after, limitArg(limit))
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (session.Record, error) { return scanSession(row) })
	return out, wrap("list sessions", err)
}

// PutSession stores rec if the stored version equals prev (0: it must not
// exist); the stored record gets Version = prev+1 whatever rec.Version says.
// Otherwise it returns session.ErrConflict.
//
// It is one statement, a compare-and-swap: INSERT … ON CONFLICT DO NOTHING
// for prev 0, UPDATE … WHERE version = prev otherwise. Of concurrent writers
// with the same prev exactly one changes a row; the others wait for its row
// lock and then find another version (or the row present).
func (db *DB) PutSession(ctx context.Context, rec session.Record, prev uint64) error {
	if rec.ID == "" {
		return errors.New("postgres: put session: session has no id")
	}
	if prev >= 1<<63-1 {
		return fmt.Errorf("%w: session %s: version %d out of range", session.ErrConflict, rec.ID, prev)
	}
	var query string
	if prev == 0 {
		query = `INSERT INTO sessions (` + sessionCols + `) VALUES ($1, $2, $3::bigint + 1, $4, $5) ON CONFLICT (id) DO NOTHING`
	} else {
		query = `UPDATE sessions SET person = $2, version = $3::bigint + 1, data = $4, expires_at = $5 WHERE id = $1 AND version = $3::bigint`
	}
	tag, err := db.pool.Exec(ctx, query, rec.ID, rec.Person, int64(prev), rec.Data, ts(rec.ExpiresAt))
	if err != nil {
		return wrap("put session", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Lost: say against what, for the log (one more read, only on conflicts).
	var stored int64
	err = db.pool.QueryRow(ctx, `SELECT version FROM sessions WHERE id = $1`, rec.ID).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: session %s does not exist, want version %d", session.ErrConflict, rec.ID, prev)
	}
	return fmt.Errorf("%w: session %s is at version %d, want %d", session.ErrConflict, rec.ID, stored, prev)
}

// DeleteSession removes a record; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return wrap("delete session", err)
}

// DeleteExpiredSessions removes records with ExpiresAt ≤ now, revocations
// with Until ≤ now and remembered webhook deliveries whose `until` ≤ now (a
// zero time counts as long past); it returns how many records went.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := db.update(ctx, "delete expired sessions", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at IS NULL OR expires_at <= $1`, now)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `DELETE FROM revocations WHERE until IS NULL OR until <= $1`, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE until IS NULL OR until <= $1`, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const revocationCols = `kind, subject, at, until, actor, reason`

func scanRevocation(row pgx.Row) (session.Revocation, error) {
	var rv session.Revocation
	var kind string
	var at, until *time.Time
	if err := row.Scan(&kind, &rv.Subject, &at, &until, &rv.Actor, &rv.Reason); err != nil {
		return session.Revocation{}, err
	}
	rv.Kind, rv.At, rv.Until = session.RevocationKind(kind), fromDB(at), fromDB(until)
	return rv, nil
}

// AddRevocation stores rv. For the same Kind and Subject the entry with the
// later At wins (on equal At, rv replaces the stored one). When it changed
// something it notifies watchers (see Watch) as it commits.
func (db *DB) AddRevocation(ctx context.Context, rv session.Revocation) error {
	if rv.Kind == "" || hasNUL(string(rv.Kind)) {
		return fmt.Errorf("postgres: add revocation: revocation kind %q", rv.Kind)
	}
	return db.update(ctx, "add revocation", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO revocations (`+revocationCols+`) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (kind, subject) DO UPDATE SET at = excluded.at, until = excluded.until, actor = excluded.actor, reason = excluded.reason
WHERE coalesce(excluded.at, '-infinity') >= coalesce(revocations.at, '-infinity')`,
			string(rv.Kind), rv.Subject, ts(rv.At), ts(rv.Until), rv.Actor, rv.Reason)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return db.notify(ctx, tx, TopicRevocations)
	})
}

// Revocations returns every revocation with Until > now, ordered by kind and
// subject.
func (db *DB) Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+revocationCols+` FROM revocations WHERE until > $1 ORDER BY kind, subject`, now)
	if err != nil {
		return nil, wrap("list revocations", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (session.Revocation, error) { return scanRevocation(row) })
	return out, wrap("list revocations", err)
}

// FirstDelivery records a webhook event id and reports whether it is new. The
// id is remembered at least until `until` (a later redelivery with a later
// until extends it); DeleteExpiredSessions forgets it afterwards.
//
// INSERT … ON CONFLICT DO NOTHING decides: of concurrent deliveries of one id
// exactly one inserts (the others wait for it and then find the row).
func (db *DB) FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error) {
	if id == "" {
		return false, errors.New("postgres: first delivery: delivery has no id")
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO deliveries (id, until) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, ts(until))
	if err != nil {
		return false, wrap("first delivery", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	_, err = db.pool.Exec(ctx, `UPDATE deliveries SET until = $2 WHERE id = $1 AND (until IS NULL OR until < $2)`, id, ts(until))
	return false, wrap("first delivery", err)
}

// ForgetDelivery removes a delivery id recorded by FirstDelivery, so that the
// next delivery of the event counts as the first (the webhook handler calls
// it when applying the event failed). A missing id is not an error.
func (db *DB) ForgetDelivery(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM deliveries WHERE id = $1`, id)
	return wrap("forget delivery", err)
}

const keyCols = `id, sealed, created_at, retires_at, delete_at`

func scanKey(row pgx.Row) (assertion.Key, error) {
	var k assertion.Key
	var created, retires, deletes *time.Time
	if err := row.Scan(&k.ID, &k.Sealed, &created, &retires, &deletes); err != nil {
		return assertion.Key{}, err
	}
	k.CreatedAt, k.RetiresAt, k.DeleteAt = fromDB(created), fromDB(retires), fromDB(deletes)
	return k, nil
}

// SigningKeys returns the stored assertion signing keys, oldest first (by
// CreatedAt, then id).
func (db *DB) SigningKeys(ctx context.Context) ([]assertion.Key, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at ASC NULLS FIRST, id`)
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (assertion.Key, error) { return scanKey(row) })
	return out, wrap("signing keys", err)
}

// AddSigningKey stores k unless a key with the same id exists, in which case
// it does nothing and returns nil: the stored key is kept, so replicas racing
// to store a fresh key cannot replace one another's.
func (db *DB) AddSigningKey(ctx context.Context, k assertion.Key) error {
	if k.ID == "" {
		return errors.New("postgres: add signing key: signing key has no id")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		k.ID, sealedArg(k.Sealed), ts(k.CreatedAt), ts(k.RetiresAt), ts(k.DeleteAt))
	return wrap("add signing key", err)
}

// sealedArg keeps a nil key body from becoming NULL.
func sealedArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteSigningKey removes a key; a missing one is not an error.
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	return wrap("delete signing key", err)
}
