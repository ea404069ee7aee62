package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/jackc/pgx/v5"
)

const claimCols = `id, hash, kind, legacy_id, claimer, email, created_by, created_at, expires_at, used_at, used_by, revoked_at, retired_at`

// claimArgs are c's values in claimCols order.
func claimArgs(c claim.Claim) []any {
	return []any{c.ID, c.Hash[:], string(c.Kind), c.LegacyID, c.Claimer, c.Email, c.CreatedBy,
		ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.UsedAt), c.UsedBy, ts(c.RevokedAt), ts(c.RetiredAt)}
}

const insertClaim = `INSERT INTO claims (` + claimCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func scanClaim(row pgx.Row) (claim.Claim, error) {
	var c claim.Claim
	var hash []byte
	var kind string
	var created, expires, used, revoked, retired *time.Time
	if err := row.Scan(&c.ID, &hash, &kind, &c.LegacyID, &c.Claimer, &c.Email, &c.CreatedBy,
		&created, &expires, &used, &c.UsedBy, &revoked, &retired); err != nil {
		return claim.Claim{}, err
	}
	if len(hash) != len(c.Hash) {
		return claim.Claim{}, fmt.Errorf("claim %s: hash has %d bytes, want %d", c.ID, len(hash), len(c.Hash))
	}
	copy(c.Hash[:], hash)
	c.Kind = claim.Kind(kind)
	c.CreatedAt, c.ExpiresAt, c.UsedAt, c.RevokedAt = fromDB(created), fromDB(expires), fromDB(used), fromDB(revoked)
	c.RetiredAt = fromDB(retired)
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
// written) and the "claim.redeem" event, then retires the other open claims
// of the claim's legacy end (claim.Retire) and appends "claim.retire" when
// there were any. On any error nothing changes; the claim is returned as
// stored when it was found, so that the caller can say why it failed.
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
		var linked *claim.Link
		if stored.RetiredAt != (time.Time{}) {
			// Only a retired claim needs the link holding its legacy end.
			l, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE kind = $1 AND legacy_id = $2`, string(stored.Kind), stored.LegacyID))
			switch {
			case err == nil:
				linked = &l
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if rd, err = stored.RedeemWith(r, linked); err != nil {
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
		if err := appendEvent(ctx, tx, rd.Event); err != nil {
			return err
		}
		return retireClaims(ctx, tx, link, r.At)
	})
	if err != nil {
		return stored, claim.Link{}, err
	}
	return rd.Claim, link, nil
}

// retireClaims stores what claim.Retire decides for the claims of l's
// legacy end, now that l is written: the open ones retired, and their
// "claim.retire" event. Claims another transaction holds locked are
// skipped rather than waited for: that is a concurrent redemption of the
// same legacy end, which waits for this transaction's link and then either
// fails (its claim stays as it was) or consumes its claim for the same
// pair; waiting for it here would deadlock with it.
func retireClaims(ctx context.Context, tx pgx.Tx, l claim.Link, at time.Time) error {
	if at.IsZero() {
		at = time.Now() // a link written without a time (CreatedAt)
	}
	rows, err := tx.Query(ctx, `SELECT `+claimCols+` FROM claims
WHERE kind = $1 AND legacy_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND retired_at IS NULL
ORDER BY id FOR UPDATE SKIP LOCKED`, string(l.Kind), l.LegacyID)
	if err != nil {
		return err
	}
	claims, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Claim, error) { return scanClaim(row) })
	if err != nil {
		return err
	}
	rt := claim.Retire(l, claims, at)
	if len(rt.Claims) == 0 {
		return nil
	}
	ids := make([]string, len(rt.Claims))
	for i, c := range rt.Claims {
		ids[i] = c.ID
	}
	if _, err := tx.Exec(ctx, `UPDATE claims SET retired_at = $2 WHERE id = ANY($1)`, ids, ts(rt.Claims[0].RetiredAt)); err != nil {
		return err
	}
	return appendEvent(ctx, tx, rt.Event)
}
