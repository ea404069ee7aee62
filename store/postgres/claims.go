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

// RevokeClaim marks an unused claim revoked at `at` and appends a
// "claim.revoke" event. A used claim is claim.ErrUsed; revoking twice is a
// no-op that appends nothing; a missing claim is claim.ErrNotFound. The claim
// row is locked, so revoking and redeeming one claim serialize.
func (db *DB) RevokeClaim(ctx context.Context, id, actor string, at time.Time) error {
	return db.update(ctx, "revoke claim", func(tx pgx.Tx) error {
		c, err := claimByID(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		switch {
		case !c.UsedAt.IsZero():
			return fmt.Errorf("%w: claim %s was redeemed at %s and cannot be revoked", claim.ErrUsed, c.ID, c.UsedAt.Format(time.RFC3339))
		case !c.RevokedAt.IsZero():
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE claims SET revoked_at = $2 WHERE id = $1`, c.ID, ts(at)); err != nil {
			return err
		}
		return appendEvent(ctx, tx, claim.Event{Time: at, Actor: actor, Action: "claim.revoke",
			Subject: string(c.Kind) + ":" + c.LegacyID, Detail: "claim " + c.ID})
	})
}

// RedeemClaim, in one transaction: loads and locks the claim by r.Hash,
// applies Claim.Check(r), writes the link as PutLink does (claim.CheckLink,
// the unique constraints deciding races), marks the claim used and appends
// claim.LinkEvent (only when a link was written) and a "claim.redeem" event.
// On any error nothing changes; the claim is returned as stored when it was
// found, so that the caller can say why it failed.
//
// When exactly the link already exists (an operator linked the pair by hand),
// the claim is still consumed and the stored link is returned.
func (db *DB) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	var stored, used claim.Claim
	var link claim.Link
	err := db.update(ctx, "redeem claim", func(tx pgx.Tx) error {
		stored, used, link = claim.Claim{}, claim.Claim{}, claim.Link{}
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
		if err := stored.Check(r); err != nil {
			return err
		}
		want := claim.Link{Kind: stored.Kind, LegacyID: stored.LegacyID, ZaikioID: r.ZaikioID,
			CreatedAt: utc(r.At), Via: "claim:" + stored.ID, By: r.Actor}
		var created bool
		if link, created, err = putLink(ctx, tx, want); err != nil {
			return err
		}
		used = stored
		used.UsedAt, used.UsedBy = utc(r.At), r.ZaikioID
		if _, err := tx.Exec(ctx, `UPDATE claims SET used_at = $2, used_by = $3 WHERE id = $1`,
			used.ID, ts(used.UsedAt), used.UsedBy); err != nil {
			return err
		}
		if created {
			if err := appendEvent(ctx, tx, claim.LinkEvent(link)); err != nil {
				return err
			}
		}
		return appendEvent(ctx, tx, claim.Event{Time: r.At, Actor: r.Actor, Action: "claim.redeem",
			Subject: string(stored.Kind) + ":" + stored.LegacyID,
			Detail:  "claim " + stored.ID + " for zaikio " + r.ZaikioID})
	})
	if err != nil {
		return stored, claim.Link{}, err
	}
	return used, link, nil
}
