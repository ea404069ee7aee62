package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/jackc/pgx/v5"
)

const claimCols = `id, hash, kind, legacy_id, claimer, email, created_by, created_at, expires_at, used_at, used_by, revoked_at`

// claimArgs are c's values in claimCols order.
func claimArgs(c claim.Claim) []any {
	return []any{c.ID, c.Hash[:], string(c.Kind), c.LegacyID, c.Claimer, c.Email, c.CreatedBy,
		ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.UsedAt), c.UsedBy, ts(c.RevokedAt)}
}

const insertClaim = `INSERT INTO claims (` + claimCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func scanClaim(row pgx.Row) (claim.Claim, error) {
	var c claim.Claim
	var hash []byte
	var kind string
	var created, expires, used, revoked *time.Time
	if err := row.Scan(&c.ID, &hash, &kind, &c.LegacyID, &c.Claimer, &c.Email, &c.CreatedBy,
		&created, &expires, &used, &c.UsedBy, &revoked); err != nil {
		return claim.Claim{}, err
	}
	if len(hash) != len(c.Hash) {
		return claim.Claim{}, fmt.Errorf("claim %s: hash has %d bytes, want %d", c.ID, len(hash), len(c.Hash))
	}
	copy(c.Hash[:], hash)
	c.Kind = claim.Kind(kind)
	c.CreatedAt, c.ExpiresAt, c.UsedAt, c.RevokedAt = fromDB(created), fromDB(expires), fromDB(used), fromDB(revoked)
	return c, nil
}

// CreateClaims stores claims and appends ev, all or nothing. A claim whose id
// or hash is already stored, or repeated in the batch, fails the whole batch
// with claim.ErrInvalid.
func (db *DB) CreateClaims(ctx context.Context, claims []claim.Claim, ev claim.Event) error {
	return db.update(ctx, "create claims", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i, c := range claims {
			if c.ID == "" {
				return fmt.Errorf("%w: claim %d has no id", claim.ErrInvalid, i+1)
			}
			b.Queue(insertClaim, claimArgs(c)...)
		}
		if err := sendBatch(ctx, tx, b, func(i int, err error) error {
			switch constraint, _ := uniqueViolation(err); constraint {
			case "claims_pkey":
				return fmt.Errorf("%w: duplicate claim id %s", claim.ErrInvalid, claims[i].ID)
			case "claims_hash_key":
				return fmt.Errorf("%w: claim %s: duplicate token hash", claim.ErrInvalid, claims[i].ID)
			}
			return fmt.Errorf("claim %s: %w", claims[i].ID, err)
		}); err != nil {
			return err
		}
		return appendEvent(ctx, tx, ev)
	})
}

// sendBatch runs b in tx and returns the first statement's error, passed
// through explain with the statement's index.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, explain func(i int, err error) error) error {
	if b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, b)
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return explain(i, err)
		}
	}
	return br.Close()
}

// ClaimByHash returns the claim whose token hashes to h, or claim.ErrNotFound.
func (db *DB) ClaimByHash(ctx context.Context, h claim.Hash) (claim.Claim, error) {
	c, err := scanClaim(db.pool.QueryRow(ctx, `SELECT `+claimCols+` FROM claims WHERE hash = $1`, h[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Claim{}, fmt.Errorf("%w: no claim with this token", claim.ErrNotFound)
	}
	return c, wrap("claim by hash", err)
}

// Claim returns the claim with this public id, or claim.ErrNotFound.
func (db *DB) Claim(ctx context.Context, id string) (claim.Claim, error) {
	c, err := claimByID(ctx, db.pool, id, "")
	return c, wrap("claim", err)
}

// claimByID loads a claim; lock is appended to the query ("FOR UPDATE").
func claimByID(ctx context.Context, q querier, id, lock string) (claim.Claim, error) {
	c, err := scanClaim(q.QueryRow(ctx, `SELECT `+claimCols+` FROM claims WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Claim{}, fmt.Errorf("%w: claim %s", claim.ErrNotFound, id)
	}
	return c, err
}

// Claims lists claims ordered by id (byte order), starting after the id
// `after` ("" = from the start), at most limit (≤ 0: all).
func (db *DB) Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+claimCols+` FROM claims WHERE id > $1 ORDER BY id LIMIT $2`, after, limitArg(limit))
	if err != nil {
		return nil, wrap("list claims", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Claim, error) { return scanClaim(row) })
	return out, wrap("list claims", err)
}

// RevokeClaim stores what claim.Claim.Revoke decides for the stored claim:
// an unused claim revoked at `at` and its "claim.revoke" event. A used claim
// is claim.ErrUsed; revoking twice is a no-op that appends nothing; a missing
// claim is claim.ErrNotFound. The claim row is locked, so revoking and
// redeeming one claim serialize.
func (db *DB) RevokeClaim(ctx context.Context, id, actor string, at time.Time) error {
	return db.update(ctx, "revoke claim", func(tx pgx.Tx) error {
		c, err := claimByID(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		rv, err := c.Revoke(actor, at)
		if err != nil || rv.Unchanged {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE claims SET revoked_at = $2 WHERE id = $1`, c.ID, ts(rv.Claim.RevokedAt)); err != nil {
			return err
		}
		return appendEvent(ctx, tx, rv.Event)
	})
}

// RedeemClaim, in one transaction: loads and locks the claim by r.Hash,
// asks claim.Claim.Redeem what redeeming it changes, writes the link as
// PutLink does (claim.CheckLink, the unique constraints deciding races),
// stores the used claim and appends claim.LinkEvent (only when a link was
// written) and the "claim.redeem" event. On any error nothing changes; the
// claim is returned as stored when it was found, so that the caller can say
// why it failed.
//
// When exactly the link already exists (an operator linked the pair by hand),
// the claim is still consumed and the stored link is returned.
func (db *DB) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	var stored claim.Claim
	var rd claim.Redeemed
	var link claim.Link
	err := db.update(ctx, "redeem claim", func(tx pgx.Tx) error {
		stored, rd, link = claim.Claim{}, claim.Redeemed{}, claim.Link{}
		var err error
		// FOR UPDATE: concurrent redemptions of this claim wait here and
		// then see it used.
		stored, err = scanClaim(tx.QueryRow(ctx, `SELECT `+claimCols+` FROM claims WHERE hash = $1 FOR UPDATE`, r.Hash[:]))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no claim with this token", claim.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if rd, err = stored.Redeem(r); err != nil {
			return err
		}
		var created bool
		if link, created, err = putLink(ctx, tx, rd.Link); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE claims SET used_at = $2, used_by = $3 WHERE id = $1`,
			rd.Claim.ID, ts(rd.Claim.UsedAt), rd.Claim.UsedBy); err != nil {
			return err
		}
		if created {
			if err := appendEvent(ctx, tx, claim.LinkEvent(link)); err != nil {
				return err
			}
		}
		return appendEvent(ctx, tx, rd.Event)
	})
	if err != nil {
		return stored, claim.Link{}, err
	}
	return rd.Claim, link, nil
}
