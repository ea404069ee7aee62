package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hubgate/hubgate/claim"
)

// Legacy sign-ins are one row per legacy person who signed in the old way
// while hubgate watched (legacy_signins): the first and the latest time,
// nothing else. Replicas record them concurrently; one upsert keeps the
// earliest and the latest of what every replica was told.

// RecordLegacySignIn notes that legacy person legacyID signed in the old
// way at `at`: the row keeps the earliest and the latest time it was told.
// An empty id or one with a NUL byte is claim.ErrInvalid.
func (db *DB) RecordLegacySignIn(ctx context.Context, legacyID string, at time.Time) error {
	if legacyID == "" || hasNUL(legacyID) {
		return fmt.Errorf("%w: legacy sign-in of %q: empty id or a NUL byte", claim.ErrInvalid, legacyID)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO legacy_signins (legacy_id, first_at, last_at) VALUES ($1, $2, $2)
ON CONFLICT (legacy_id) DO UPDATE SET first_at = LEAST(legacy_signins.first_at, excluded.first_at),
	last_at = GREATEST(legacy_signins.last_at, excluded.last_at)`, legacyID, at.UTC())
	return wrap("record legacy sign-in", err)
}

// LegacySignIns returns the latest legacy sign-in of every legacy person
// whose latest one is at or after since, by legacy person id.
func (db *DB) LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT legacy_id, last_at FROM legacy_signins WHERE last_at >= $1`, since.UTC())
	if err != nil {
		return nil, wrap("list legacy sign-ins", err)
	}
	out := map[string]time.Time{}
	var id string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		out[id] = at.UTC()
		return nil
	})
	if err != nil {
		return nil, wrap("list legacy sign-ins", err)
	}
	return out, nil
}

// FirstLegacySignIn returns the earliest legacy sign-in ever recorded, the
// zero time when none was.
func (db *DB) FirstLegacySignIn(ctx context.Context) (time.Time, error) {
	var first *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(first_at) FROM legacy_signins`).Scan(&first); err != nil {
		return time.Time{}, wrap("first legacy sign-in", err)
	}
	if first == nil {
		return time.Time{}, nil
	}
	return first.UTC(), nil
}
