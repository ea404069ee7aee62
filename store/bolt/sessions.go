package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/session"
	bbolt "go.etcd.io/bbolt"
)

// Session returns the record with this id, or session.ErrNotFound. An expired
// record that DeleteExpiredSessions has not removed yet is still returned.
func (db *DB) Session(ctx context.Context, id string) (session.Record, error) {
	var rec session.Record
	err := db.view(ctx, "session", func(tx *bbolt.Tx) error {
		r, found, err := sessionByID(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: session %s", session.ErrNotFound, id)
		}
		rec = session.Record(r)
		return nil
	})
	return rec, err
}

// Sessions lists session records in id order, the page after id after ("":
// from the start), at most limit (≤ 0: all). Expired records not yet
// removed are included. It serves migrate-store.
func (db *DB) Sessions(ctx context.Context, after string, limit int) ([]session.Record, error) {
	var out []session.Record
	err := db.view(ctx, "list sessions", func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bucketSessions), after, limit, func(k, v []byte) error {
			var r sessionRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode session %q: %w", k, err)
			}
			out = append(out, session.Record(r))
			return nil
		})
	})
	return out, err
}

// PutSession stores rec if the stored version equals prev (0: it must not
// exist); the stored record gets Version = prev+1 whatever rec.Version says.
// Otherwise it returns session.ErrConflict.
func (db *DB) PutSession(ctx context.Context, rec session.Record, prev uint64) error {
	return db.update(ctx, "put session", func(tx *bbolt.Tx) error {
		if rec.ID == "" {
			return errors.New("session has no id")
		}
		old, found, err := sessionByID(tx, rec.ID)
		if err != nil {
			return err
		}
		switch {
		case !found && prev != 0:
			return fmt.Errorf("%w: session %s does not exist, want version %d", session.ErrConflict, rec.ID, prev)
		case found && old.Version != prev:
			return fmt.Errorf("%w: session %s is at version %d, want %d", session.ErrConflict, rec.ID, old.Version, prev)
		}
		exp := tx.Bucket(bucketSessionsExp)
		if found {
			if err := exp.Delete(expiryKey(old.ExpiresAt, old.ID)); err != nil {
				return err
			}
		}
		rec.Version = prev + 1
		rec.ExpiresAt = utc(rec.ExpiresAt)
		if err := put(tx.Bucket(bucketSessions), []byte(rec.ID), sessionRec(rec)); err != nil {
			return err
		}
		return exp.Put(expiryKey(rec.ExpiresAt, rec.ID), nil)
	})
}

// DeleteSession removes a record; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.update(ctx, "delete session", func(tx *bbolt.Tx) error {
		old, found, err := sessionByID(tx, id)
		if err != nil || !found {
			return err
		}
		return deleteSession(tx, old.ID, old.ExpiresAt)
	})
}

// DeleteExpiredSessions removes records with ExpiresAt ≤ now, revocations
// with Until ≤ now and remembered webhook deliveries whose `until` ≤ now; it
// returns how many records went. Sessions are found through their expiry
// index, so the cost follows what is removed, not what is kept.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := db.update(ctx, "delete expired sessions", func(tx *bbolt.Tx) error {
		n = 0
		limit := timeKey(now)
		var gone [][]byte // sessions_exp keys: expiry ‖ id
		exp, sessions := tx.Bucket(bucketSessionsExp), tx.Bucket(bucketSessions)
		c := exp.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:len(limit)], limit) <= 0; k, _ = c.Next() {
			gone = append(gone, bytes.Clone(k))
		}
		for _, k := range gone {
			if err := sessions.Delete(k[len(limit):]); err != nil {
				return err
			}
		}
		if err := deleteKeys(exp, gone); err != nil {
			return err
		}
		n = len(gone)

		var keys [][]byte
		revs := tx.Bucket(bucketRevocations)
		err := revs.ForEach(func(k, v []byte) error {
			var r revocationRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode revocation %q: %w", k, err)
			}
			if !r.Until.After(now) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := deleteKeys(revs, keys); err != nil {
			return err
		}

		keys = keys[:0]
		deliveries := tx.Bucket(bucketDeliveries)
		err = deliveries.ForEach(func(k, v []byte) error {
			if bytes.Compare(v, limit) <= 0 {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return deleteKeys(deliveries, keys)
	})
	return n, err
}

// deleteKeys deletes keys from b after a scan: deleting while a cursor walks
// a bbolt bucket skips entries.
func deleteKeys(b *bbolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func sessionByID(tx *bbolt.Tx, id string) (sessionRec, bool, error) {
	var r sessionRec
	if id == "" {
		return r, false, nil
	}
	found, err := get(tx.Bucket(bucketSessions), []byte(id), &r)
	return r, found, err
}

func deleteSession(tx *bbolt.Tx, id string, expires time.Time) error {
	if err := tx.Bucket(bucketSessionsExp).Delete(expiryKey(expires, id)); err != nil {
		return err
	}
	return tx.Bucket(bucketSessions).Delete([]byte(id))
}

// expiryKey is the sessions_exp key: the expiry, then the id (the time part
// has a fixed length, so no separator is needed).
func expiryKey(t time.Time, id string) []byte { return append(timeKey(t), id...) }

// AddRevocation stores rv. For the same Kind and Subject the entry with the
// later At wins (on equal At, rv replaces the stored one).
func (db *DB) AddRevocation(ctx context.Context, rv session.Revocation) error {
	return db.update(ctx, "add revocation", func(tx *bbolt.Tx) error {
		if rv.Kind == "" || hasNUL(string(rv.Kind)) {
			return fmt.Errorf("revocation kind %q", rv.Kind)
		}
		b := tx.Bucket(bucketRevocations)
		key := pair(string(rv.Kind), rv.Subject)
		var old revocationRec
		found, err := get(b, key, &old)
		if err != nil {
			return err
		}
		if found && rv.At.Before(old.At) {
			return nil
		}
		return put(b, key, encodeRevocation(rv))
	})
}

// Revocations returns every revocation with Until > now, ordered by kind and
// subject.
func (db *DB) Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error) {
	var out []session.Revocation
	err := db.view(ctx, "list revocations", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			var r revocationRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode revocation %q: %w", k, err)
			}
			if r.Until.After(now) {
				out = append(out, r.revocation())
			}
			return nil
		})
	})
	return out, err
}

// FirstDelivery records a webhook event id and reports whether it is new. The
// id is remembered at least until `until` (a later redelivery with a later
// until extends it); DeleteExpiredSessions forgets it afterwards.
func (db *DB) FirstDelivery(ctx context.Context, id string, until time.Time) (bool, error) {
	first := false
	err := db.update(ctx, "first delivery", func(tx *bbolt.Tx) error {
		if id == "" {
			return errors.New("delivery has no id")
		}
		b := tx.Bucket(bucketDeliveries)
		key, newUntil := []byte(id), timeKey(until)
		old := b.Get(key)
		first = old == nil
		if old != nil && bytes.Compare(old, newUntil) >= 0 {
			return nil
		}
		return b.Put(key, newUntil)
	})
	return first, err
}

// ForgetDelivery removes a delivery id recorded by FirstDelivery, so that the
// next delivery of the event counts as the first (the webhook handler calls
// it when applying the event failed). A missing id is not an error.
func (db *DB) ForgetDelivery(ctx context.Context, id string) error {
	return db.update(ctx, "forget delivery", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDeliveries).Delete([]byte(id))
	})
}

// SigningKeys returns the stored assertion signing keys, oldest first (by
// CreatedAt, then id).
func (db *DB) SigningKeys(ctx context.Context) ([]assertion.Key, error) {
	var out []assertion.Key
	err := db.view(ctx, "signing keys", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var r keyRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode key %q: %w", k, err)
			}
			out = append(out, assertion.Key(r))
			return nil
		})
	})
	slices.SortFunc(out, func(a, b assertion.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// AddSigningKey stores k unless a key with the same id exists, in which case
// it does nothing and returns nil: the stored key is kept, so replicas racing
// to store a fresh key cannot replace one another's.
func (db *DB) AddSigningKey(ctx context.Context, k assertion.Key) error {
	return db.update(ctx, "add signing key", func(tx *bbolt.Tx) error {
		if k.ID == "" {
			return errors.New("signing key has no id")
		}
		b := tx.Bucket(bucketKeys)
		if b.Get([]byte(k.ID)) != nil {
			return nil
		}
		return put(b, []byte(k.ID), keyRec{ID: k.ID, Sealed: k.Sealed, CreatedAt: utc(k.CreatedAt),
			RetiresAt: utc(k.RetiresAt), DeleteAt: utc(k.DeleteAt)})
	})
}

// DeleteSigningKey removes a key; a missing one is not an error.
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	return db.update(ctx, "delete signing key", func(tx *bbolt.Tx) error {
		if id == "" {
			return nil
		}
		return tx.Bucket(bucketKeys).Delete([]byte(id))
	})
}
