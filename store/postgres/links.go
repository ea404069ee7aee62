package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/jackc/pgx/v5"
)

const linkCols = `kind, legacy_id, zaikio_id, created_at, via, created_by`

func scanLink(row pgx.Row) (claim.Link, error) {
	var l claim.Link
	var kind string
	var created *time.Time
	if err := row.Scan(&kind, &l.LegacyID, &l.ZaikioID, &created, &l.Via, &l.By); err != nil {
		return claim.Link{}, err
	}
	l.Kind, l.CreatedAt = claim.Kind(kind), fromDB(created)
	return l, nil
}

// checkKind accepts the two link kinds; persons and organizations are
// separate namespaces.
func checkKind(kind claim.Kind) error {
	if kind != claim.KindPerson && kind != claim.KindOrg {
		return fmt.Errorf("%w: link kind %q, want person or org", claim.ErrInvalid, kind)
	}
	return nil
}

// Link returns the link holding this legacy id, or claim.ErrNotFound.
func (db *DB) Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error) {
	if err := checkKind(kind); err != nil {
		return claim.Link{}, err
	}
	l, err := scanLink(db.pool.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE kind = $1 AND legacy_id = $2`, string(kind), legacyID))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Link{}, fmt.Errorf("%w: no link for legacy %s %s", claim.ErrNotFound, kind, legacyID)
	}
	return l, wrap("link", err)
}

// LinkByZaikio returns the link holding this Zaikio id, or claim.ErrNotFound.
func (db *DB) LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error) {
	if err := checkKind(kind); err != nil {
		return claim.Link{}, err
	}
	l, err := scanLink(db.pool.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE kind = $1 AND zaikio_id = $2`, string(kind), zaikioID))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Link{}, fmt.Errorf("%w: no link for Zaikio %s %s", claim.ErrNotFound, kind, zaikioID)
	}
	return l, wrap("link by zaikio", err)
}

// PutLink writes l after claim.CheckLink and appends claim.LinkEvent(l),
// then retires the open claims of l's legacy end (claim.Retire) and appends
// "claim.retire" when there were any. When exactly l's pair is stored it
// does nothing (and appends nothing); when either end is taken it returns
// claim.ErrConflict.
func (db *DB) PutLink(ctx context.Context, l claim.Link) error {
	return db.update(ctx, "put link", func(tx pgx.Tx) error {
		stored, created, err := putLink(ctx, tx, l)
		if err != nil || !created {
			return err
		}
		if err := appendEvent(ctx, tx, claim.LinkEvent(stored)); err != nil {
			return err
		}
		return retireClaims(ctx, tx, stored, stored.CreatedAt)
	})
}

// putLinkAttempts bounds putLink's rounds of read, check and insert. A round
// only repeats when a competing link appeared and vanished again between
// two statements of this transaction.
const putLinkAttempts = 3

// putLink writes l unless claim's rules forbid it (Link.Check, CheckLink). It returns the link as
// stored: l when it was written (created), the existing one when exactly the
// pair was already there.
//
// The read and the check see the links committed so far; the insert is the
// arbiter. INSERT … ON CONFLICT DO NOTHING waits for any transaction holding
// one of l's ends to finish and writes nothing when it committed; the next
// round's read (a new statement, so a new snapshot under READ COMMITTED)
// sees that link, and CheckLink decides as if the two had run one after the
// other.
func putLink(ctx context.Context, tx pgx.Tx, l claim.Link) (stored claim.Link, created bool, err error) {
	if err := l.Check(); err != nil {
		return claim.Link{}, false, err
	}
	l.CreatedAt = utc(l.CreatedAt)
	for range putLinkAttempts {
		byLegacy, byZaikio, err := linkEnds(ctx, tx, l)
		if err != nil {
			return claim.Link{}, false, err
		}
		exists, err := claim.CheckLink(l, byLegacy, byZaikio)
		if err != nil {
			return claim.Link{}, false, err
		}
		if exists {
			return *byLegacy, false, nil
		}
		tag, err := tx.Exec(ctx, `INSERT INTO links (`+linkCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			string(l.Kind), l.LegacyID, l.ZaikioID, ts(l.CreatedAt), l.Via, l.By)
		if constraint, ok := uniqueViolation(err); ok {
			return claim.Link{}, false, fmt.Errorf("%w: link %s %s ⇄ %s (%s)", claim.ErrConflict, l.Kind, l.LegacyID, l.ZaikioID, constraint)
		}
		if err != nil {
			return claim.Link{}, false, err
		}
		if tag.RowsAffected() == 1 {
			return l, true, nil
		}
	}
	return claim.Link{}, false, fmt.Errorf("%w: links of %s %s ⇄ %s keep changing concurrently", claim.ErrConflict, l.Kind, l.LegacyID, l.ZaikioID)
}

// linkEnds returns the links holding l's legacy end and its Zaikio end (nil
// when free).
func linkEnds(ctx context.Context, q querier, l claim.Link) (byLegacy, byZaikio *claim.Link, err error) {
	rows, err := q.Query(ctx, `SELECT `+linkCols+` FROM links WHERE kind = $1 AND (legacy_id = $2 OR zaikio_id = $3)`,
		string(l.Kind), l.LegacyID, l.ZaikioID)
	if err != nil {
		return nil, nil, err
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Link, error) { return scanLink(row) })
	if err != nil {
		return nil, nil, err
	}
	for i := range found {
		if found[i].LegacyID == l.LegacyID {
			byLegacy = &found[i]
		}
		if found[i].ZaikioID == l.ZaikioID {
			byZaikio = &found[i]
		}
	}
	return byLegacy, byZaikio, nil
}

// DeleteLink removes the link holding legacyID, appends claim.UnlinkEvent
// and returns the removed link; claim.ErrNotFound when there is none.
func (db *DB) DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error) {
	if err := checkKind(kind); err != nil {
		return claim.Link{}, err
	}
	var l claim.Link
	err := db.update(ctx, "delete link", func(tx pgx.Tx) error {
		var err error
		l, err = scanLink(tx.QueryRow(ctx, `DELETE FROM links WHERE kind = $1 AND legacy_id = $2 RETURNING `+linkCols, string(kind), legacyID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no link for legacy %s %s", claim.ErrNotFound, kind, legacyID)
		}
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, claim.UnlinkEvent(l, actor, at))
	})
	if err != nil {
		return claim.Link{}, err
	}
	return l, nil
}

// Links lists links of kind ordered by legacy id (byte order) after `after`,
// at most limit (≤ 0: all).
func (db *DB) Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+linkCols+` FROM links WHERE kind = $1 AND legacy_id > $2 ORDER BY legacy_id LIMIT $3`,
		string(kind), after, limitArg(limit))
	if err != nil {
		return nil, wrap("list links", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Link, error) { return scanLink(row) })
	return out, wrap("list links", err)
}
