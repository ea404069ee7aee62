package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	bbolt "go.etcd.io/bbolt"
)

// linkBuckets returns the bucket of links of kind (by legacy id) and its
// index by Zaikio id. Persons and organizations are separate namespaces.
func linkBuckets(tx *bbolt.Tx, kind claim.Kind) (byLegacy, byZaikio *bbolt.Bucket, err error) {
	switch kind {
	case claim.KindPerson:
		return tx.Bucket(bucketLinksPerson), tx.Bucket(bucketLinksPersonZ), nil
	case claim.KindOrg:
		return tx.Bucket(bucketLinksOrg), tx.Bucket(bucketLinksOrgZ), nil
	}
	return nil, nil, fmt.Errorf("%w: link kind %q, want person or org", claim.ErrInvalid, kind)
}

// Link returns the link holding this legacy id, or claim.ErrNotFound.
func (db *DB) Link(ctx context.Context, kind claim.Kind, legacyID string) (claim.Link, error) {
	var l claim.Link
	err := db.view(ctx, "link", func(tx *bbolt.Tx) error {
		found, err := linkByLegacy(tx, kind, legacyID)
		if err != nil {
			return err
		}
		if found == nil {
			return fmt.Errorf("%w: no link for legacy %s %s", claim.ErrNotFound, kind, legacyID)
		}
		l = *found
		return nil
	})
	return l, err
}

// LinkByZaikio returns the link holding this Zaikio id, or claim.ErrNotFound.
func (db *DB) LinkByZaikio(ctx context.Context, kind claim.Kind, zaikioID string) (claim.Link, error) {
	var l claim.Link
	err := db.view(ctx, "link by zaikio", func(tx *bbolt.Tx) error {
		found, err := linkByZaikio(tx, kind, zaikioID)
		if err != nil {
			return err
		}
		if found == nil {
			return fmt.Errorf("%w: no link for Zaikio %s %s", claim.ErrNotFound, kind, zaikioID)
		}
		l = *found
		return nil
	})
	return l, err
}

// PutLink writes l after claim.CheckLink and appends claim.LinkEvent(l),
// then retires the open claims of l's legacy end (claim.Retire) and appends
// "claim.retire" when there were any. When exactly l's pair is stored it
// does nothing (and appends nothing); when either end is taken it returns
// claim.ErrConflict.
func (db *DB) PutLink(ctx context.Context, l claim.Link) error {
	return db.update(ctx, "put link", func(tx *bbolt.Tx) error {
		stored, created, err := putLink(tx, l)
		if err != nil || !created {
			return err
		}
		if err := appendEvent(tx, claim.LinkEvent(stored)); err != nil {
			return err
		}
		return retireClaims(tx, stored, stored.CreatedAt)
	})
}

// DeleteLink removes the link holding legacyID, appends claim.UnlinkEvent
// and returns the removed link; claim.ErrNotFound when there is none.
func (db *DB) DeleteLink(ctx context.Context, kind claim.Kind, legacyID, actor string, at time.Time) (claim.Link, error) {
	var l claim.Link
	err := db.update(ctx, "delete link", func(tx *bbolt.Tx) error {
		byLegacy, byZaikio, err := linkBuckets(tx, kind)
		if err != nil {
			return err
		}
		found, err := linkByLegacy(tx, kind, legacyID)
		if err != nil {
			return err
		}
		if found == nil {
			return fmt.Errorf("%w: no link for legacy %s %s", claim.ErrNotFound, kind, legacyID)
		}
		l = *found
		if err := byLegacy.Delete([]byte(l.LegacyID)); err != nil {
			return err
		}
		if err := byZaikio.Delete([]byte(l.ZaikioID)); err != nil {
			return err
		}
		return appendEvent(tx, claim.UnlinkEvent(l, actor, at))
	})
	if err != nil {
		return claim.Link{}, err
	}
	return l, nil
}

// Links lists links of kind ordered by legacy id after `after`, at most limit
// (≤ 0: all).
func (db *DB) Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error) {
	var out []claim.Link
	err := db.view(ctx, "list links", func(tx *bbolt.Tx) error {
		byLegacy, _, err := linkBuckets(tx, kind)
		if err != nil {
			return err
		}
		return page(byLegacy, after, limit, func(k, v []byte) error {
			l, err := decodeLink(k, v)
			if err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	})
	return out, err
}

// putLink writes l unless claim's rules forbid it (Link.Check, CheckLink). It returns the link as
// stored: l when it was written (created), the existing one when exactly the
// pair was already there.
func putLink(tx *bbolt.Tx, l claim.Link) (stored claim.Link, created bool, err error) {
	if err := l.Check(); err != nil {
		return claim.Link{}, false, err
	}
	byLegacy, byZaikio, err := linkBuckets(tx, l.Kind)
	if err != nil {
		return claim.Link{}, false, err
	}
	holdsLegacy, err := linkByLegacy(tx, l.Kind, l.LegacyID)
	if err != nil {
		return claim.Link{}, false, err
	}
	holdsZaikio, err := linkByZaikio(tx, l.Kind, l.ZaikioID)
	if err != nil {
		return claim.Link{}, false, err
	}
	exists, err := claim.CheckLink(l, holdsLegacy, holdsZaikio)
	if err != nil {
		return claim.Link{}, false, err
	}
	if exists {
		return *holdsLegacy, false, nil
	}
	l.CreatedAt = utc(l.CreatedAt)
	if err := put(byLegacy, []byte(l.LegacyID), encodeLink(l)); err != nil {
		return claim.Link{}, false, err
	}
	if err := byZaikio.Put([]byte(l.ZaikioID), []byte(l.LegacyID)); err != nil {
		return claim.Link{}, false, err
	}
	return l, true, nil
}

// linkByLegacy returns the link holding legacyID, or nil.
func linkByLegacy(tx *bbolt.Tx, kind claim.Kind, legacyID string) (*claim.Link, error) {
	byLegacy, _, err := linkBuckets(tx, kind)
	if err != nil {
		return nil, err
	}
	if legacyID == "" {
		return nil, nil
	}
	v := byLegacy.Get([]byte(legacyID))
	if v == nil {
		return nil, nil
	}
	l, err := decodeLink([]byte(legacyID), v)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// linkByZaikio returns the link holding zaikioID, or nil.
func linkByZaikio(tx *bbolt.Tx, kind claim.Kind, zaikioID string) (*claim.Link, error) {
	_, byZaikio, err := linkBuckets(tx, kind)
	if err != nil {
		return nil, err
	}
	if zaikioID == "" {
		return nil, nil
	}
	legacyID := byZaikio.Get([]byte(zaikioID))
	if legacyID == nil {
		return nil, nil
	}
	l, err := linkByLegacy(tx, kind, string(legacyID))
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("index of Zaikio %s %s names legacy %s, which has no link", kind, zaikioID, legacyID)
	}
	return l, nil
}

func decodeLink(k, v []byte) (claim.Link, error) {
	var r linkRec
	if err := json.Unmarshal(v, &r); err != nil {
		return claim.Link{}, fmt.Errorf("decode link %q: %w", k, err)
	}
	return r.link(), nil
}
