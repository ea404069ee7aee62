package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hubgate/hubgate/claim"
	"github.com/jackc/pgx/v5"
)

// The legacy directory is one row per person. Two indexes serve lookups:
//
//   - people_email_lower_idx on the lower-cased address and the write
//     sequence: when several people share an address, PersonByEmail returns
//     the one written last; if that one later changes address, the address
//     falls back to the one written before (as store/bolt).
//   - people_orgs_idx, a GIN index on the owned organizations, for OrgOwners
//     and for counting organizations.

const personCols = `id, email, name, orgs, org_names`

const upsertPerson = `INSERT INTO people (id, email, email_lower, name, orgs, org_names) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET email = excluded.email, email_lower = excluded.email_lower,
	name = excluded.name, orgs = excluded.orgs, org_names = excluded.org_names, seq = excluded.seq`

func scanPerson(row pgx.Row) (claim.Person, error) {
	var p claim.Person
	if err := row.Scan(&p.ID, &p.Email, &p.Name, &p.Orgs, &p.OrgNames); err != nil {
		return claim.Person{}, err
	}
	if len(p.Orgs) == 0 {
		p.Orgs = nil
	}
	if len(p.OrgNames) == 0 {
		p.OrgNames = nil
	}
	return p, nil
}

// namesArg is p.OrgNames as a jsonb object that is never NULL.
func namesArg(names map[string]string) map[string]string {
	if names == nil {
		return map[string]string{}
	}
	return names
}

// checkPerson refuses what store/bolt refuses: an empty id or org, and NUL
// bytes (which PostgreSQL's text cannot hold anyway).
func checkPerson(i int, p claim.Person) error {
	if p.ID == "" || hasNUL(p.ID, p.Email, p.Name) || hasNUL(p.Orgs...) || slices.Contains(p.Orgs, "") || namesHaveNUL(p.OrgNames) {
		return fmt.Errorf("%w: person %d (%q): empty id or org, or a NUL byte", claim.ErrInvalid, i+1, p.ID)
	}
	return nil
}

// orgsArg is p.Orgs as a text[] that is never NULL.
func orgsArg(orgs []string) []string {
	if orgs == nil {
		return []string{}
	}
	return orgs
}

// PutPeople inserts or replaces legacy directory entries by id and appends ev
// when ev.Action != "". Within one batch a repeated id is written twice (the
// last entry wins). Ids must be non-empty and no field may contain a NUL
// byte (claim.ErrInvalid); a bad entry fails the whole batch.
func (db *DB) PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error {
	for i, p := range people {
		if err := checkPerson(i, p); err != nil {
			return err
		}
	}
	return db.update(ctx, "put people", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, p := range people {
			b.Queue(upsertPerson, p.ID, p.Email, strings.ToLower(p.Email), p.Name, orgsArg(p.Orgs), namesArg(p.OrgNames))
		}
		if err := sendBatch(ctx, tx, b, func(i int, err error) error {
			return fmt.Errorf("person %s: %w", people[i].ID, err)
		}); err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		return appendEvent(ctx, tx, ev)
	})
}

// Person returns one legacy person, or claim.ErrNotFound.
func (db *DB) Person(ctx context.Context, id string) (claim.Person, error) {
	p, err := scanPerson(db.pool.QueryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Person{}, fmt.Errorf("%w: legacy person %s", claim.ErrNotFound, id)
	}
	return p, wrap("person", err)
}

// PersonByEmail finds a legacy person by email, compared lower-cased; when
// several share it, the one written last. claim.ErrNotFound when none.
func (db *DB) PersonByEmail(ctx context.Context, email string) (claim.Person, error) {
	if email == "" || hasNUL(email) {
		return claim.Person{}, fmt.Errorf("%w: no person with email %q", claim.ErrNotFound, email)
	}
	p, err := scanPerson(db.pool.QueryRow(ctx, `SELECT `+personCols+` FROM people
WHERE email_lower = $1 AND email_lower <> '' ORDER BY seq DESC LIMIT 1`, strings.ToLower(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return claim.Person{}, fmt.Errorf("%w: no person with email %q", claim.ErrNotFound, email)
	}
	return p, wrap("person by email", err)
}

// EmailHolders returns, for each address of emails that at least one legacy
// person holds (compared lower-cased), the ids of every person holding it in
// byte order, keyed by the lower-cased address. An empty address is held by
// nobody.
func (db *DB) EmailHolders(ctx context.Context, emails []string) (map[string][]string, error) {
	lower := make([]string, 0, len(emails))
	for _, e := range emails {
		if e != "" && !hasNUL(e) {
			lower = append(lower, strings.ToLower(e))
		}
	}
	out := map[string][]string{}
	if len(lower) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT email_lower, id FROM people
WHERE email_lower = ANY($1) AND email_lower <> '' ORDER BY email_lower, id`, lower)
	if err != nil {
		return nil, wrap("email holders", err)
	}
	var email, id string
	_, err = pgx.ForEachRow(rows, []any{&email, &id}, func() error {
		out[email] = append(out[email], id)
		return nil
	})
	if err != nil {
		return nil, wrap("email holders", err)
	}
	return out, nil
}

// People lists the directory ordered by id (byte order) after `after`, at
// most limit (≤ 0: all).
func (db *DB) People(ctx context.Context, after string, limit int) ([]claim.Person, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+personCols+` FROM people WHERE id > $1 ORDER BY id LIMIT $2`, after, limitArg(limit))
	if err != nil {
		return nil, wrap("list people", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claim.Person, error) { return scanPerson(row) })
	return out, wrap("list people", err)
}

// OrgOwners returns the ids of the legacy people who own legacy org orgID per
// the directory, in id order; none is not an error.
func (db *DB) OrgOwners(ctx context.Context, orgID string) ([]string, error) {
	if orgID == "" || hasNUL(orgID) {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id FROM people WHERE orgs @> ARRAY[$1::text] ORDER BY id`, orgID)
	if err != nil {
		return nil, wrap("org owners", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, wrap("org owners", err)
}

// OrgNames returns the display names the directory gives the legacy
// organizations ids, by id: for each, the name in the entry of its first
// owner (in id order) that names it. Organizations without a name are left
// out.
func (db *DB) OrgNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	var clean []string
	for _, id := range ids {
		if id != "" && !hasNUL(id) {
			clean = append(clean, id)
		}
	}
	if len(clean) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (o) o, p.org_names->>o FROM unnest($1::text[]) AS o
JOIN people p ON p.orgs @> ARRAY[o] AND coalesce(p.org_names->>o, '') <> ''
ORDER BY o, p.id`, clean)
	if err != nil {
		return nil, wrap("org names", err)
	}
	var id, name string
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		out[id] = name
		return nil
	})
	if err != nil {
		return nil, wrap("org names", err)
	}
	return out, nil
}

// namesHaveNUL reports whether an org name holds a NUL byte, which
// PostgreSQL's text and jsonb cannot.
func namesHaveNUL(names map[string]string) bool {
	for _, n := range names {
		if hasNUL(n) {
			return true
		}
	}
	return false
}

// hasNUL reports whether any of ss contains a NUL byte.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}
