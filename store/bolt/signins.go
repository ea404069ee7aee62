package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hubgate/hubgate/claim"
)

// Legacy sign-ins are one record per legacy person who signed in the old
// way while hubgate watched: the first and the latest time, nothing else
// (no password, no session, no address). They are read by the admin API's
// readiness view only, so the lists scan the bucket instead of keeping a
// time index.

// signInRec is what the legacy_signins bucket holds per legacy person id.
type signInRec struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// RecordLegacySignIn notes that legacy person legacyID signed in the old
// way at `at`: the record keeps the earliest and the latest time it was
// told, so that recording the same sign-in twice, or an older one late,
// changes nothing it should not. An empty id or one with a NUL byte is
// claim.ErrInvalid.
func (db *DB) RecordLegacySignIn(ctx context.Context, legacyID string, at time.Time) error {
	if legacyID == "" || hasNUL(legacyID) {
		return fmt.Errorf("%w: legacy sign-in of %q: empty id or a NUL byte", claim.ErrInvalid, legacyID)
	}
	at = utc(at)
	return db.update(ctx, "record legacy sign-in", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSignIns)
		var rec signInRec
		found, err := get(b, []byte(legacyID), &rec)
		if err != nil {
			return err
		}
		if !found {
			rec = signInRec{First: at, Last: at}
		} else {
			if at.Before(rec.First) {
				rec.First = at
			}
			if at.After(rec.Last) {
				rec.Last = at
			}
		}
		return put(b, []byte(legacyID), rec)
	})
}

// LegacySignIns returns the latest legacy sign-in of every legacy person
// whose latest one is at or after since, by legacy person id.
func (db *DB) LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := db.view(ctx, "list legacy sign-ins", func(tx *bbolt.Tx) error {
		return eachSignIn(tx, func(id string, rec signInRec) {
			if !rec.Last.Before(since) {
				out[id] = utc(rec.Last)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FirstLegacySignIn returns the earliest legacy sign-in ever recorded, the
// zero time when none was.
func (db *DB) FirstLegacySignIn(ctx context.Context) (time.Time, error) {
	var first time.Time
	err := db.view(ctx, "first legacy sign-in", func(tx *bbolt.Tx) error {
		return eachSignIn(tx, func(_ string, rec signInRec) {
			if first.IsZero() || rec.First.Before(first) {
				first = rec.First
			}
		})
	})
	return utc(first), err
}

// eachSignIn calls fn for every record of the legacy_signins bucket.
func eachSignIn(tx *bbolt.Tx, fn func(id string, rec signInRec)) error {
	return tx.Bucket(bucketSignIns).ForEach(func(k, v []byte) error {
		var rec signInRec
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode record %q: %w", k, err)
		}
		fn(string(k), rec)
		return nil
	})
}
