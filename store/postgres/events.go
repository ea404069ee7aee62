package postgres

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/jackc/pgx/v5"
)

// AppendEvent appends ev to the audit log; the store assigns Seq.
func (db *DB) AppendEvent(ctx context.Context, ev claim.Event) error {
	return wrap("append event", appendEvent(ctx, db.pool, ev))
}

// appendEvent writes ev under the next value of the events' identity
// sequence, which starts at 1 and never repeats. Seqs are increasing in the
// order transactions append; a transaction that commits later than another
// may hold the lower Seq, so a reader may see an older event appear below
// one it already listed. The audit log is read by people; that is fine.
func appendEvent(ctx context.Context, q querier, ev claim.Event) error {
	_, err := q.Exec(ctx, `INSERT INTO events (time, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)`,
		ts(ev.Time), ev.Actor, ev.Action, ev.Subject, ev.Detail)
	return err
}

const eventCols = `seq, time, actor, action, subject, detail`

func scanEvent(row pgx.Row) (claim.Event, error) {
	var ev claim.Event
	var seq int64
	var at *time.Time
	if err := row.Scan(&seq, &at, &ev.Actor, &ev.Action, &ev.Subject, &ev.Detail); err != nil {
		return claim.Event{}, err
	}
	ev.Seq, ev.Time = uint64(seq), fromDB(at)
	return ev, nil
}

// Events lists audit events newest first with Seq < before (0 = from the
// newest), at most limit (≤ 0: all).
func (db *DB) Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error) {
	upTo := int64(math.MaxInt64)
	if before != 0 && before < math.MaxInt64 {
		upTo = int64(before)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, upTo, limitArg(limit))
	if err != nil {
		return nil, wrap("list events", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Event, error) { return scanEvent(row) })
	return out, wrap("list events", err)
}

// Mode returns the stored mode, "" when none was ever set. It is returned
// as stored: which modes are valid is for the consumers to say.
func (db *DB) Mode(ctx context.Context) (migration.Mode, error) {
	var mode string
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'mode'`).Scan(&mode)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return migration.Mode(mode), wrap("mode", err)
}

// SetMode stores mode and appends ev, in one transaction, and notifies
// watchers (see Watch) when it commits.
func (db *DB) SetMode(ctx context.Context, mode migration.Mode, ev claim.Event) error {
	return db.update(ctx, "set mode", func(tx pgx.Tx) error {
		if err := setMode(ctx, tx, mode); err != nil {
			return err
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return db.notify(ctx, tx, TopicMode)
	})
}

func setMode(ctx context.Context, tx pgx.Tx, mode migration.Mode) error {
	_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('mode', $1)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(mode))
	return err
}

// Stats counts the directory, links and claims at now, in one statement (one
// snapshot). A claim's status follows claim.Claim.Status: used, else
// revoked, else expired when its expiry is not after now, else open.
func (db *DB) Stats(ctx context.Context, now time.Time) (claim.Stats, error) {
	var s claim.Stats
	err := db.pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM people),
	(SELECT count(DISTINCT org) FROM people, unnest(orgs) AS org),
	(SELECT count(*) FROM links WHERE kind = 'person'),
	(SELECT count(*) FROM links WHERE kind = 'org'),
	count(*) FILTER (WHERE used_at IS NULL AND revoked_at IS NULL AND retired_at IS NULL AND expires_at > $1 AND l.legacy_id IS NULL),
	count(*) FILTER (WHERE c.kind = 'org' AND used_at IS NULL AND revoked_at IS NULL AND retired_at IS NULL AND expires_at > $1 AND l.legacy_id IS NULL),
	count(*) FILTER (WHERE used_at IS NOT NULL),
	count(*) FILTER (WHERE used_at IS NULL AND revoked_at IS NULL AND retired_at IS NULL AND (expires_at IS NULL OR expires_at <= $1)),
	count(*) FILTER (WHERE used_at IS NULL AND revoked_at IS NOT NULL),
	-- retired, or open while its legacy end is linked (issued after the
	-- link): nobody can redeem it.
	count(*) FILTER (WHERE used_at IS NULL AND revoked_at IS NULL AND (retired_at IS NOT NULL OR (expires_at > $1 AND l.legacy_id IS NOT NULL)))
FROM claims c LEFT JOIN links l ON l.kind = c.kind AND l.legacy_id = c.legacy_id`, now).Scan(&s.People, &s.Orgs, &s.LinkedPersons, &s.LinkedOrgs,
		&s.ClaimsOpen, &s.ClaimsOpenOrgs, &s.ClaimsUsed, &s.ClaimsExpired, &s.ClaimsRevoked, &s.ClaimsRetired)
	return s, wrap("stats", err)
}
