package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/jackc/pgx/v5"
)

// The Import… methods copy another store's records in verbatim, for
// `hubgate migrate-store`: claims keep their state and times, events their
// Seq, sessions their version, and nothing is appended to the audit log (the
// source's log is copied instead). Each call is one transaction. An entry
// whose key is free is written; one stored exactly so (times to the
// microsecond) is skipped; one stored otherwise is left alone and reported
// as a conflict. Importing the same entries twice therefore changes nothing
// the second time.

// ImportResult is what one Import… call did with its entries.
type ImportResult struct {
	Added int // written
	Same  int // already stored exactly so: skipped
	// Conflicts says, one line per entry, what is stored instead of an entry
	// that was left out.
	Conflicts []string
}

// Add adds o's counts and conflicts to r.
func (r *ImportResult) Add(o ImportResult) {
	r.Added += o.Added
	r.Same += o.Same
	r.Conflicts = append(r.Conflicts, o.Conflicts...)
}

// importRows writes items in one transaction: insert queues one INSERT …
// ON CONFLICT DO NOTHING per item; for the items it did not write, lookup
// queues a query for what is stored under the item's keys and compare reads
// its rows, returning "" when they hold exactly the item, else the conflict.
// Both rounds are sent as batches (one round trip each, not one per item).
// finish, when not nil, runs last in the same transaction.
func importRows[T any](ctx context.Context, db *DB, op string, items []T,
	insert, lookup func(b *pgx.Batch, item T), compare func(rows pgx.Rows, item T) (string, error),
	finish func(tx pgx.Tx, res ImportResult) error) (ImportResult, error) {
	var res ImportResult
	err := db.update(ctx, op, func(tx pgx.Tx) error {
		res = ImportResult{}
		if len(items) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, item := range items {
			insert(b, item)
		}
		br := tx.SendBatch(ctx, b)
		var skipped []T
		for i, item := range items {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("entry %d: %w", i+1, err)
			}
			if tag.RowsAffected() == 1 {
				res.Added++
			} else {
				skipped = append(skipped, item)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		if len(skipped) > 0 {
			b = &pgx.Batch{}
			for _, item := range skipped {
				lookup(b, item)
			}
			br = tx.SendBatch(ctx, b)
			for _, item := range skipped {
				rows, err := br.Query()
				if err != nil {
					br.Close()
					return err
				}
				conflict, err := compare(rows, item)
				rows.Close()
				if err != nil {
					br.Close()
					return err
				}
				if conflict == "" {
					res.Same++
				} else {
					res.Conflicts = append(res.Conflicts, conflict)
				}
			}
			if err := br.Close(); err != nil {
				return err
			}
		}
		if finish != nil {
			return finish(tx, res)
		}
		return nil
	})
	return res, err
}

// collectOne reads at most one row with scan.
func collectOne[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) (T, bool, error) {
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	var zero T
	if err != nil || len(all) == 0 {
		return zero, false, err
	}
	return all[0], true, nil
}

// missing is the error for an entry that was neither written nor found: a
// concurrent writer deleted it in between.
func missing(what string) error {
	return fmt.Errorf("%s was neither written nor found (is hubgate running on the target?)", what)
}

// sameTime compares times as stored: to the microsecond.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// ImportPeople copies directory entries in. People who share an address are
// ordered for PersonByEmail in the order given.
func (db *DB) ImportPeople(ctx context.Context, people []claim.Person) (ImportResult, error) {
	for i, p := range people {
		if err := checkPerson(i, p); err != nil {
			return ImportResult{}, err
		}
	}
	return importRows(ctx, db, "import people", people, func(b *pgx.Batch, p claim.Person) {
		b.Queue(`INSERT INTO people (id, email, email_lower, name, orgs, org_names) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			p.ID, p.Email, strings.ToLower(p.Email), p.Name, orgsArg(p.Orgs), namesArg(p.OrgNames))
	}, func(b *pgx.Batch, p claim.Person) {
		b.Queue(`SELECT `+personCols+` FROM people WHERE id = $1`, p.ID)
	}, func(rows pgx.Rows, p claim.Person) (string, error) {
		stored, found, err := collectOne(rows, scanPerson)
		if err != nil || !found {
			return "", cmpOrErr(err, missing("person "+p.ID))
		}
		if stored.Email == p.Email && stored.Name == p.Name && slices.Equal(stored.Orgs, p.Orgs) && maps.Equal(stored.OrgNames, p.OrgNames) {
			return "", nil
		}
		return fmt.Sprintf("person %s: stored as %+v, source has %+v", p.ID, stored, p), nil
	}, nil)
}

// ImportClaims copies claims in with their hashes, states and times.
func (db *DB) ImportClaims(ctx context.Context, claims []claim.Claim) (ImportResult, error) {
	for i, c := range claims {
		if c.ID == "" {
			return ImportResult{}, fmt.Errorf("%w: claim %d has no id", claim.ErrInvalid, i+1)
		}
	}
	return importRows(ctx, db, "import claims", claims, func(b *pgx.Batch, c claim.Claim) {
		b.Queue(insertClaim+` ON CONFLICT DO NOTHING`, claimArgs(c)...)
	}, func(b *pgx.Batch, c claim.Claim) {
		b.Queue(`SELECT `+claimCols+` FROM claims WHERE id = $1 OR hash = $2`, c.ID, c.Hash[:])
	}, func(rows pgx.Rows, c claim.Claim) (string, error) {
		stored, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Claim, error) { return scanClaim(row) })
		if err != nil {
			return "", err
		}
		for _, s := range stored {
			if s.ID != c.ID {
				continue
			}
			if sameClaim(s, c) {
				return "", nil
			}
			now := time.Now()
			return fmt.Sprintf("claim %s: stored differently (%s %s, %s here, %s in the source)", c.ID,
				s.Kind, s.LegacyID, s.Status(now), c.Status(now)), nil
		}
		if len(stored) > 0 {
			return fmt.Sprintf("claim %s: its token hash belongs to claim %s here", c.ID, stored[0].ID), nil
		}
		return "", missing("claim " + c.ID)
	}, nil)
}

func sameClaim(a, b claim.Claim) bool {
	return a.ID == b.ID && a.Hash == b.Hash && a.Kind == b.Kind && a.LegacyID == b.LegacyID &&
		a.Claimer == b.Claimer && a.Email == b.Email && a.CreatedBy == b.CreatedBy &&
		sameTime(a.CreatedAt, b.CreatedAt) && sameTime(a.ExpiresAt, b.ExpiresAt) &&
		sameTime(a.UsedAt, b.UsedAt) && a.UsedBy == b.UsedBy && sameTime(a.RevokedAt, b.RevokedAt) &&
		sameTime(a.RetiredAt, b.RetiredAt)
}

// ImportLinks copies links in, keeping their times, origins and actors.
func (db *DB) ImportLinks(ctx context.Context, links []claim.Link) (ImportResult, error) {
	for _, l := range links {
		if err := checkKind(l.Kind); err != nil {
			return ImportResult{}, err
		}
		if l.LegacyID == "" || l.ZaikioID == "" {
			return ImportResult{}, fmt.Errorf("%w: link %s %q ⇄ %q has an empty end", claim.ErrInvalid, l.Kind, l.LegacyID, l.ZaikioID)
		}
	}
	return importRows(ctx, db, "import links", links, func(b *pgx.Batch, l claim.Link) {
		b.Queue(`INSERT INTO links (`+linkCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			string(l.Kind), l.LegacyID, l.ZaikioID, ts(l.CreatedAt), l.Via, l.By)
	}, func(b *pgx.Batch, l claim.Link) {
		b.Queue(`SELECT `+linkCols+` FROM links WHERE kind = $1 AND (legacy_id = $2 OR zaikio_id = $3)`,
			string(l.Kind), l.LegacyID, l.ZaikioID)
	}, func(rows pgx.Rows, l claim.Link) (string, error) {
		stored, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Link, error) { return scanLink(row) })
		if err != nil {
			return "", err
		}
		for _, s := range stored {
			switch {
			case s.LegacyID == l.LegacyID && s.ZaikioID == l.ZaikioID && sameTime(s.CreatedAt, l.CreatedAt) && s.Via == l.Via && s.By == l.By:
				return "", nil
			case s.LegacyID == l.LegacyID:
				return fmt.Sprintf("%s link %s: here ⇄ %s (%s), source ⇄ %s (%s)", l.Kind, l.LegacyID,
					s.ZaikioID, s.Via, l.ZaikioID, l.Via), nil
			}
		}
		if len(stored) > 0 {
			return fmt.Sprintf("%s link %s ⇄ %s: Zaikio %s is linked to %s here", l.Kind, l.LegacyID, l.ZaikioID,
				l.ZaikioID, stored[0].LegacyID), nil
		}
		return "", missing(fmt.Sprintf("%s link %s ⇄ %s", l.Kind, l.LegacyID, l.ZaikioID))
	}, nil)
}

// ImportEvents copies audit events in under their own Seq (which must be
// > 0); later appends continue above the highest Seq stored.
func (db *DB) ImportEvents(ctx context.Context, events []claim.Event) (ImportResult, error) {
	for _, ev := range events {
		if ev.Seq == 0 || ev.Seq >= 1<<63 {
			return ImportResult{}, fmt.Errorf("%w: event seq %d", claim.ErrInvalid, ev.Seq)
		}
	}
	return importRows(ctx, db, "import events", events, func(b *pgx.Batch, ev claim.Event) {
		b.Queue(`INSERT INTO events (`+eventCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING`,
			int64(ev.Seq), ts(ev.Time), ev.Actor, ev.Action, ev.Subject, ev.Detail)
	}, func(b *pgx.Batch, ev claim.Event) {
		b.Queue(`SELECT `+eventCols+` FROM events WHERE seq = $1`, int64(ev.Seq))
	}, func(rows pgx.Rows, ev claim.Event) (string, error) {
		stored, found, err := collectOne(rows, scanEvent)
		if err != nil || !found {
			return "", cmpOrErr(err, missing(fmt.Sprintf("event %d", ev.Seq)))
		}
		if sameTime(stored.Time, ev.Time) && stored.Actor == ev.Actor && stored.Action == ev.Action &&
			stored.Subject == ev.Subject && stored.Detail == ev.Detail {
			return "", nil
		}
		return fmt.Sprintf("event %d: here %s %s by %s, source %s %s by %s", ev.Seq,
			stored.Action, stored.Subject, stored.Actor, ev.Action, ev.Subject, ev.Actor), nil
	}, func(tx pgx.Tx, res ImportResult) error {
		if res.Added == 0 {
			return nil
		}
		// Move the identity past the imported Seqs, never backwards.
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('events', 'seq'),
	greatest((SELECT max(seq) FROM events), nextval(pg_get_serial_sequence('events', 'seq'))))`)
		return err
	})
}

// ImportMode sets the mode when none is stored (notifying watchers), and
// reports a conflict when another one is. An empty mode imports nothing.
func (db *DB) ImportMode(ctx context.Context, mode migration.Mode) (ImportResult, error) {
	var res ImportResult
	if mode == "" {
		return res, nil
	}
	err := db.update(ctx, "import mode", func(tx pgx.Tx) error {
		res = ImportResult{}
		var stored string
		err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'mode' FOR UPDATE`).Scan(&stored)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch migration.Mode(stored) {
		case mode:
			res.Same++
			return nil
		case "":
			res.Added++
			if err := setMode(ctx, tx, mode); err != nil {
				return err
			}
			return db.notify(ctx, tx, TopicMode)
		}
		res.Conflicts = append(res.Conflicts, fmt.Sprintf("mode: %s here, %s in the source", stored, mode))
		return nil
	})
	return res, err
}

// ImportSessions copies session records in with their versions.
func (db *DB) ImportSessions(ctx context.Context, recs []session.Record) (ImportResult, error) {
	for _, rec := range recs {
		if rec.ID == "" || rec.Version == 0 || rec.Version >= 1<<63 {
			return ImportResult{}, fmt.Errorf("postgres: import sessions: session %q at version %d", rec.ID, rec.Version)
		}
	}
	return importRows(ctx, db, "import sessions", recs, func(b *pgx.Batch, rec session.Record) {
		b.Queue(`INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			rec.ID, rec.Person, int64(rec.Version), rec.Data, ts(rec.ExpiresAt))
	}, func(b *pgx.Batch, rec session.Record) {
		b.Queue(`SELECT `+sessionCols+` FROM sessions WHERE id = $1`, rec.ID)
	}, func(rows pgx.Rows, rec session.Record) (string, error) {
		stored, found, err := collectOne(rows, scanSession)
		if err != nil || !found {
			return "", cmpOrErr(err, missing("session "+rec.ID))
		}
		if stored.Person == rec.Person && stored.Version == rec.Version && bytes.Equal(stored.Data, rec.Data) &&
			sameTime(stored.ExpiresAt, rec.ExpiresAt) {
			return "", nil
		}
		return fmt.Sprintf("session %s: here at version %d, source at %d", rec.ID, stored.Version, rec.Version), nil
	}, nil)
}

// ImportRevocations copies revocations in whole. (Unlike AddRevocation, a
// stored entry is never replaced: a different one is a conflict.)
func (db *DB) ImportRevocations(ctx context.Context, rvs []session.Revocation) (ImportResult, error) {
	for _, rv := range rvs {
		if rv.Kind == "" || hasNUL(string(rv.Kind)) {
			return ImportResult{}, fmt.Errorf("postgres: import revocations: revocation kind %q", rv.Kind)
		}
	}
	return importRows(ctx, db, "import revocations", rvs, func(b *pgx.Batch, rv session.Revocation) {
		b.Queue(`INSERT INTO revocations (`+revocationCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, subject) DO NOTHING`,
			string(rv.Kind), rv.Subject, ts(rv.At), ts(rv.Until), rv.Actor, rv.Reason)
	}, func(b *pgx.Batch, rv session.Revocation) {
		b.Queue(`SELECT `+revocationCols+` FROM revocations WHERE kind = $1 AND subject = $2`, string(rv.Kind), rv.Subject)
	}, func(rows pgx.Rows, rv session.Revocation) (string, error) {
		stored, found, err := collectOne(rows, scanRevocation)
		if err != nil || !found {
			return "", cmpOrErr(err, missing(fmt.Sprintf("revocation %s %s", rv.Kind, rv.Subject)))
		}
		if sameTime(stored.At, rv.At) && sameTime(stored.Until, rv.Until) && stored.Actor == rv.Actor && stored.Reason == rv.Reason {
			return "", nil
		}
		return fmt.Sprintf("revocation %s %s: here at %s, source at %s", rv.Kind, rv.Subject,
			stored.At.Format(time.RFC3339), rv.At.Format(time.RFC3339)), nil
	}, func(tx pgx.Tx, res ImportResult) error {
		if res.Added == 0 {
			return nil
		}
		return db.notify(ctx, tx, TopicRevocations)
	})
}

// ImportSigningKeys copies signing keys in (still sealed).
func (db *DB) ImportSigningKeys(ctx context.Context, keys []assertion.Key) (ImportResult, error) {
	for _, k := range keys {
		if k.ID == "" {
			return ImportResult{}, errors.New("postgres: import signing keys: a key has no id")
		}
	}
	return importRows(ctx, db, "import signing keys", keys, func(b *pgx.Batch, k assertion.Key) {
		b.Queue(`INSERT INTO signing_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			k.ID, sealedArg(k.Sealed), ts(k.CreatedAt), ts(k.RetiresAt), ts(k.DeleteAt))
	}, func(b *pgx.Batch, k assertion.Key) {
		b.Queue(`SELECT `+keyCols+` FROM signing_keys WHERE id = $1`, k.ID)
	}, func(rows pgx.Rows, k assertion.Key) (string, error) {
		stored, found, err := collectOne(rows, scanKey)
		if err != nil || !found {
			return "", cmpOrErr(err, missing("signing key "+k.ID))
		}
		if bytes.Equal(stored.Sealed, k.Sealed) && sameTime(stored.CreatedAt, k.CreatedAt) &&
			sameTime(stored.RetiresAt, k.RetiresAt) && sameTime(stored.DeleteAt, k.DeleteAt) {
			return "", nil
		}
		return fmt.Sprintf("signing key %s: stored differently (created %s here, %s in the source)", k.ID,
			stored.CreatedAt.Format(time.RFC3339), k.CreatedAt.Format(time.RFC3339)), nil
	}, nil)
}

// cmpOrErr returns err when it is not nil, else otherwise.
func cmpOrErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
