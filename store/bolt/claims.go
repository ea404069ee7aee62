package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	bbolt "go.etcd.io/bbolt"
)

// CreateClaims stores claims and appends ev, all or nothing. A claim whose id
// or hash is already stored, or repeated in the batch, fails the whole batch
// with claim.ErrInvalid.
func (db *DB) CreateClaims(ctx context.Context, claims []claim.Claim, ev claim.Event) error {
	return db.update(ctx, "create claims", func(tx *bbolt.Tx) error {
		byID, byHash := tx.Bucket(bucketClaims), tx.Bucket(bucketClaimsByHash)
		for i, c := range claims {
			if c.ID == "" {
				return fmt.Errorf("%w: claim %d has no id", claim.ErrInvalid, i+1)
			}
			if byID.Get([]byte(c.ID)) != nil {
				return fmt.Errorf("%w: duplicate claim id %s", claim.ErrInvalid, c.ID)
			}
			if byHash.Get(c.Hash[:]) != nil {
				return fmt.Errorf("%w: claim %s: duplicate token hash", claim.ErrInvalid, c.ID)
			}
			if err := putClaim(tx, c); err != nil {
				return err
			}
			if err := byHash.Put(c.Hash[:], []byte(c.ID)); err != nil {
				return err
			}
		}
		return appendEvent(tx, ev)
	})
}

// ClaimByHash returns the claim whose token hashes to h, or claim.ErrNotFound.
func (db *DB) ClaimByHash(ctx context.Context, h claim.Hash) (claim.Claim, error) {
	var c claim.Claim
	err := db.view(ctx, "claim by hash", func(tx *bbolt.Tx) error {
		var err error
		c, err = claimByHash(tx, h)
		return err
	})
	return c, err
}

// Claim returns the claim with this public id, or claim.ErrNotFound.
func (db *DB) Claim(ctx context.Context, id string) (claim.Claim, error) {
	var c claim.Claim
	err := db.view(ctx, "claim", func(tx *bbolt.Tx) error {
		var err error
		c, err = claimByID(tx, id)
		return err
	})
	return c, err
}

// Claims lists claims ordered by id, starting after the id `after` ("" = from
// the start), at most limit (≤ 0: all).
func (db *DB) Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error) {
	var out []claim.Claim
	err := db.view(ctx, "list claims", func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bucketClaims), after, limit, func(k, v []byte) error {
			c, err := decodeClaim(k, v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// RevokeClaim marks an unused claim revoked at `at` and appends a
// "claim.revoke" event. A used claim is claim.ErrUsed; revoking twice is a
// no-op that appends nothing; a missing claim is claim.ErrNotFound.
func (db *DB) RevokeClaim(ctx context.Context, id, actor string, at time.Time) error {
	return db.update(ctx, "revoke claim", func(tx *bbolt.Tx) error {
		c, err := claimByID(tx, id)
		if err != nil {
			return err
		}
		switch {
		case !c.UsedAt.IsZero():
			return fmt.Errorf("%w: claim %s was redeemed at %s and cannot be revoked", claim.ErrUsed, c.ID, c.UsedAt.Format(time.RFC3339))
		case !c.RevokedAt.IsZero():
			return nil
		}
		c.RevokedAt = at
		if err := putClaim(tx, c); err != nil {
			return err
		}
		return appendEvent(tx, claim.Event{Time: at, Actor: actor, Action: "claim.revoke",
			Subject: string(c.Kind) + ":" + c.LegacyID, Detail: "claim " + c.ID})
	})
}

// RedeemClaim, in one transaction: loads the claim by r.Hash, applies
// Claim.Check(r), applies claim.CheckLink against the links holding either
// end, writes the link unless exactly it exists, marks the claim used and
// appends claim.LinkEvent (only when a link was written) and a "claim.redeem"
// event. On any error nothing changes; the claim is returned as stored when it
// was found, so that the caller can say why it failed.
//
// When exactly the link already exists (an operator linked the pair by hand),
// the claim is still consumed and the stored link is returned.
func (db *DB) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	var stored, used claim.Claim
	var link claim.Link
	err := db.update(ctx, "redeem claim", func(tx *bbolt.Tx) error {
		var err error
		if stored, err = claimByHash(tx, r.Hash); err != nil {
			return err
		}
		if err := stored.Check(r); err != nil {
			return err
		}
		want := claim.Link{Kind: stored.Kind, LegacyID: stored.LegacyID, ZaikioID: r.ZaikioID,
			CreatedAt: utc(r.At), Via: "claim:" + stored.ID, By: r.Actor}
		var created bool
		if link, created, err = putLink(tx, want); err != nil {
			return err
		}
		used = stored
		used.UsedAt, used.UsedBy = utc(r.At), r.ZaikioID
		if err := putClaim(tx, used); err != nil {
			return err
		}
		if created {
			if err := appendEvent(tx, claim.LinkEvent(link)); err != nil {
				return err
			}
		}
		return appendEvent(tx, claim.Event{Time: r.At, Actor: r.Actor, Action: "claim.redeem",
			Subject: string(stored.Kind) + ":" + stored.LegacyID,
			Detail:  "claim " + stored.ID + " for zaikio " + r.ZaikioID})
	})
	if err != nil {
		return stored, claim.Link{}, err
	}
	return used, link, nil
}

func claimByHash(tx *bbolt.Tx, h claim.Hash) (claim.Claim, error) {
	id := tx.Bucket(bucketClaimsByHash).Get(h[:])
	if id == nil {
		return claim.Claim{}, fmt.Errorf("%w: no claim with this token", claim.ErrNotFound)
	}
	return claimByID(tx, string(id))
}

func claimByID(tx *bbolt.Tx, id string) (claim.Claim, error) {
	if id == "" {
		return claim.Claim{}, fmt.Errorf("%w: claim with empty id", claim.ErrNotFound)
	}
	v := tx.Bucket(bucketClaims).Get([]byte(id))
	if v == nil {
		return claim.Claim{}, fmt.Errorf("%w: claim %s", claim.ErrNotFound, id)
	}
	return decodeClaim([]byte(id), v)
}

func decodeClaim(k, v []byte) (claim.Claim, error) {
	var r claimRec
	if err := json.Unmarshal(v, &r); err != nil {
		return claim.Claim{}, fmt.Errorf("decode claim %q: %w", k, err)
	}
	return r.claim()
}

// putClaim writes c's record (not its hash index).
func putClaim(tx *bbolt.Tx, c claim.Claim) error {
	return put(tx.Bucket(bucketClaims), []byte(c.ID), encodeClaim(c))
}
