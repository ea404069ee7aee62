package bolt

import (
	"bytes"
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
			if err := indexClaim(tx, c); err != nil {
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

// RevokeClaim stores what claim.Claim.Revoke decides for the stored claim:
// an unused claim revoked at `at` and its "claim.revoke" event. A used claim
// is claim.ErrUsed; revoking twice is a no-op that appends nothing; a missing
// claim is claim.ErrNotFound.
func (db *DB) RevokeClaim(ctx context.Context, id, actor string, at time.Time) error {
	return db.update(ctx, "revoke claim", func(tx *bbolt.Tx) error {
		c, err := claimByID(tx, id)
		if err != nil {
			return err
		}
		rv, err := c.Revoke(actor, at)
		if err != nil || rv.Unchanged {
			return err
		}
		if err := putClaim(tx, rv.Claim); err != nil {
			return err
		}
		return appendEvent(tx, rv.Event)
	})
}

// RedeemClaim, in one transaction: loads the claim by r.Hash, asks
// claim.Claim.Redeem what redeeming it changes, applies claim.CheckLink
// against the links holding either end, writes the link unless exactly it
// exists, stores the used claim and appends claim.LinkEvent (only when a
// link was written) and the "claim.redeem" event, then retires the other
// open claims of the claim's legacy end (claim.Retire) and appends
// "claim.retire" when there were any. On any error nothing changes; the
// claim is returned as stored when it was found, so that the caller can
// say why it failed.
//
// When exactly the link already exists (an operator linked the pair by hand),
// the claim is still consumed and the stored link is returned.
func (db *DB) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	var stored claim.Claim
	var rd claim.Redeemed
	var link claim.Link
	err := db.update(ctx, "redeem claim", func(tx *bbolt.Tx) error {
		var err error
		if stored, err = claimByHash(tx, r.Hash); err != nil {
			return err
		}
		linked, err := linkByLegacy(tx, stored.Kind, stored.LegacyID)
		if err != nil {
			return err
		}
		if rd, err = stored.RedeemWith(r, linked); err != nil {
			return err
		}
		var created bool
		if link, created, err = putLink(tx, rd.Link); err != nil {
			return err
		}
		if err := putClaim(tx, rd.Claim); err != nil {
			return err
		}
		if created {
			if err := appendEvent(tx, claim.LinkEvent(link)); err != nil {
				return err
			}
		}
		if err := appendEvent(tx, rd.Event); err != nil {
			return err
		}
		return retireClaims(tx, link, r.At)
	})
	if err != nil {
		return stored, claim.Link{}, err
	}
	return rd.Claim, link, nil
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

// subjectPrefix is the claims_by_subj prefix of a legacy person's or
// organization's claims.
func subjectPrefix(kind claim.Kind, legacyID string) []byte {
	return append(pair(string(kind), legacyID), 0)
}

// indexClaim adds c to the claims_by_subj index.
func indexClaim(tx *bbolt.Tx, c claim.Claim) error {
	if hasNUL(string(c.Kind), c.LegacyID) {
		return fmt.Errorf("%w: claim %s: NUL byte in its kind or legacy id", claim.ErrInvalid, c.ID)
	}
	return tx.Bucket(bucketClaimsBySubj).Put(append(subjectPrefix(c.Kind, c.LegacyID), c.ID...), nil)
}

// indexClaimsBySubject builds the claims_by_subj index from the claims
// bucket (a file from before the index).
func indexClaimsBySubject(tx *bbolt.Tx) error {
	return tx.Bucket(bucketClaims).ForEach(func(k, v []byte) error {
		c, err := decodeClaim(k, v)
		if err != nil {
			return err
		}
		return indexClaim(tx, c)
	})
}

// claimsOf returns the claims of a legacy person or organization.
func claimsOf(tx *bbolt.Tx, kind claim.Kind, legacyID string) ([]claim.Claim, error) {
	prefix := subjectPrefix(kind, legacyID)
	var out []claim.Claim
	c := tx.Bucket(bucketClaimsBySubj).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		cl, err := claimByID(tx, string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("claims_by_subj entry %q: %w", k, err)
		}
		out = append(out, cl)
	}
	return out, nil
}

// retireClaims stores what claim.Retire decides for the claims of l's
// legacy end, now that l is written: the open ones retired, and their
// "claim.retire" event.
func retireClaims(tx *bbolt.Tx, l claim.Link, at time.Time) error {
	if at.IsZero() {
		at = time.Now() // a link written without a time (CreatedAt)
	}
	claims, err := claimsOf(tx, l.Kind, l.LegacyID)
	if err != nil {
		return err
	}
	rt := claim.Retire(l, claims, at)
	for _, c := range rt.Claims {
		if err := putClaim(tx, c); err != nil {
			return err
		}
	}
	if rt.Event.Action == "" {
		return nil
	}
	return appendEvent(tx, rt.Event)
}
