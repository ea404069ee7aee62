package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	bbolt "go.etcd.io/bbolt"
)

var keyMode = []byte("mode")

// AppendEvent appends ev to the audit log; the store assigns Seq.
func (db *DB) AppendEvent(ctx context.Context, ev claim.Event) error {
	return db.update(ctx, "append event", func(tx *bbolt.Tx) error { return appendEvent(tx, ev) })
}

// appendEvent writes ev under the events bucket's next sequence number, which
// starts at 1 and never repeats.
func appendEvent(tx *bbolt.Tx, ev claim.Event) error {
	b := tx.Bucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return put(b, u64(seq), eventRec{Time: utc(ev.Time), Actor: ev.Actor, Action: ev.Action,
		Subject: ev.Subject, Detail: ev.Detail})
}

// Events lists audit events newest first with Seq < before (0 = from the
// newest), at most limit (≤ 0: all).
func (db *DB) Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error) {
	var out []claim.Event
	err := db.view(ctx, "list events", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(u64(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("event key %x: %d bytes, want 8", k, len(k))
			}
			var r eventRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, claim.Event{Seq: binary.BigEndian.Uint64(k), Time: r.Time, Actor: r.Actor,
				Action: r.Action, Subject: r.Subject, Detail: r.Detail})
		}
		return nil
	})
	return out, err
}

// Mode returns the stored mode, "" when none was ever set. It is returned
// as stored: which modes are valid is for the consumers to say.
func (db *DB) Mode(ctx context.Context) (migration.Mode, error) {
	var mode migration.Mode
	err := db.view(ctx, "mode", func(tx *bbolt.Tx) error {
		mode = migration.Mode(tx.Bucket(bucketMeta).Get(keyMode))
		return nil
	})
	return mode, err
}

// SetMode stores mode and appends ev, in one transaction.
func (db *DB) SetMode(ctx context.Context, mode migration.Mode, ev claim.Event) error {
	return db.update(ctx, "set mode", func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keyMode, []byte(mode)); err != nil {
			return err
		}
		return appendEvent(tx, ev)
	})
}

// Stats counts the directory, links and claims at now. It scans the people,
// organization-owner, link and claim buckets in one read transaction: tens of
// milliseconds for tens of thousands of entries, and it blocks no writer.
func (db *DB) Stats(ctx context.Context, now time.Time) (claim.Stats, error) {
	var s claim.Stats
	err := db.view(ctx, "stats", func(tx *bbolt.Tx) error {
		s.People = count(tx.Bucket(bucketPeople))
		s.LinkedPersons = count(tx.Bucket(bucketLinksPerson))
		s.LinkedOrgs = count(tx.Bucket(bucketLinksOrg))

		// org_owners keys are org \0 person, sorted: count distinct orgs.
		var prev []byte
		c := tx.Bucket(bucketOrgOwners).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			org, _, _ := bytes.Cut(k, []byte{0})
			if prev == nil || !bytes.Equal(org, prev) {
				s.Orgs++
				prev = org
			}
		}

		personLinks, orgLinks := tx.Bucket(bucketLinksPerson), tx.Bucket(bucketLinksOrg)
		return tx.Bucket(bucketClaims).ForEach(func(k, v []byte) error {
			var r claimStatusRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode claim %q: %w", k, err)
			}
			c := claim.Claim{ExpiresAt: r.ExpiresAt, UsedAt: r.UsedAt, RevokedAt: r.RevokedAt, RetiredAt: r.RetiredAt}
			st := c.Status(now)
			if st == "open" {
				// Open, but its legacy end is linked (it was issued after
				// the link): nobody can redeem it, so it is not open.
				links := personLinks
				if r.Kind == string(claim.KindOrg) {
					links = orgLinks
				}
				if links.Get([]byte(r.LegacyID)) != nil {
					st = "retired"
				}
			}
			switch st {
			case "open":
				s.ClaimsOpen++
				if r.Kind == string(claim.KindOrg) {
					s.ClaimsOpenOrgs++
				}
			case "used":
				s.ClaimsUsed++
			case "expired":
				s.ClaimsExpired++
			case "revoked":
				s.ClaimsRevoked++
			case "retired":
				s.ClaimsRetired++
			}
			return nil
		})
	})
	return s, err
}

// claimStatusRec is the part of claimRec that decides a claim's status; Stats
// decodes only it.
type claimStatusRec struct {
	Kind      string    `json:"kind"`
	LegacyID  string    `json:"legacy_id"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at"`
	RevokedAt time.Time `json:"revoked_at"`
	RetiredAt time.Time `json:"retired_at"`
}
