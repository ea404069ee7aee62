package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hubgate/hubgate/claim"
	bbolt "go.etcd.io/bbolt"
)

// The legacy directory is kept with two indexes, both maintained by PutPeople:
//
//   - people_email: lower(email) \0 person id → the write's sequence number.
//     A person without an email is not indexed. When several people share an
//     address, PersonByEmail returns the one written last; if that one later
//     changes address, the address falls back to the one written before.
//   - org_owners: org id \0 person id, one key per (organization, owner).
//     Replacing a person removes the organizations they no longer own.

// PutPeople inserts or replaces legacy directory entries by id and appends ev
// when ev.Action != "". Within one batch a repeated id is written twice (the
// last entry wins). Ids must be non-empty and no field may contain a NUL
// byte (claim.ErrInvalid); a bad entry fails the whole batch.
func (db *DB) PutPeople(ctx context.Context, people []claim.Person, ev claim.Event) error {
	return db.update(ctx, "put people", func(tx *bbolt.Tx) error {
		for i, p := range people {
			if p.ID == "" || hasNUL(p.ID, p.Email) || hasNUL(p.Orgs...) || slices.Contains(p.Orgs, "") || namesHaveNUL(p.OrgNames) {
				return fmt.Errorf("%w: person %d (%q): empty id or org, or a NUL byte", claim.ErrInvalid, i+1, p.ID)
			}
			if err := putPerson(tx, p); err != nil {
				return err
			}
		}
		if ev.Action == "" {
			return nil
		}
		return appendEvent(tx, ev)
	})
}

func putPerson(tx *bbolt.Tx, p claim.Person) error {
	people, emails, owners := tx.Bucket(bucketPeople), tx.Bucket(bucketPeopleEmail), tx.Bucket(bucketOrgOwners)
	if v := people.Get([]byte(p.ID)); v != nil {
		old, err := decodePerson([]byte(p.ID), v)
		if err != nil {
			return err
		}
		if old.Email != "" {
			if err := emails.Delete(pair(strings.ToLower(old.Email), old.ID)); err != nil {
				return err
			}
		}
		for _, org := range old.Orgs {
			if err := owners.Delete(pair(org, old.ID)); err != nil {
				return err
			}
		}
	}
	if err := put(people, []byte(p.ID), personRec(p)); err != nil {
		return err
	}
	if p.Email != "" {
		seq, err := emails.NextSequence()
		if err != nil {
			return err
		}
		if err := emails.Put(pair(strings.ToLower(p.Email), p.ID), u64(seq)); err != nil {
			return err
		}
	}
	for _, org := range p.Orgs {
		if err := owners.Put(pair(org, p.ID), []byte(p.OrgNames[org])); err != nil {
			return err
		}
	}
	return nil
}

// Person returns one legacy person, or claim.ErrNotFound.
func (db *DB) Person(ctx context.Context, id string) (claim.Person, error) {
	var p claim.Person
	err := db.view(ctx, "person", func(tx *bbolt.Tx) error {
		var err error
		p, err = personByID(tx, id)
		return err
	})
	return p, err
}

// PersonByEmail finds a legacy person by email, compared lower-cased; when
// several share it, the one written last. claim.ErrNotFound when none.
func (db *DB) PersonByEmail(ctx context.Context, email string) (claim.Person, error) {
	var p claim.Person
	err := db.view(ctx, "person by email", func(tx *bbolt.Tx) error {
		if email == "" || hasNUL(email) {
			return fmt.Errorf("%w: no person with email %q", claim.ErrNotFound, email)
		}
		prefix := pair(strings.ToLower(email), "")
		var id []byte
		var last uint64
		c := tx.Bucket(bucketPeopleEmail).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) != 8 {
				return fmt.Errorf("email index entry %q: value has %d bytes, want 8", k, len(v))
			}
			if seq := binary.BigEndian.Uint64(v); id == nil || seq > last {
				id, last = k[len(prefix):], seq
			}
		}
		if id == nil {
			return fmt.Errorf("%w: no person with email %q", claim.ErrNotFound, email)
		}
		var err error
		p, err = personByID(tx, string(id))
		return err
	})
	return p, err
}

// EmailHolders returns, for each address of emails that at least one legacy
// person holds (compared lower-cased), the ids of every person holding it in
// byte order, keyed by the lower-cased address. An empty address is held by
// nobody.
func (db *DB) EmailHolders(ctx context.Context, emails []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := db.view(ctx, "email holders", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPeopleEmail).Cursor()
		for _, email := range emails {
			email = strings.ToLower(email)
			if email == "" || hasNUL(email) || out[email] != nil {
				continue
			}
			prefix := pair(email, "")
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				out[email] = append(out[email], string(k[len(prefix):]))
			}
		}
		return nil
	})
	return out, err
}

// People lists the directory ordered by id after `after`, at most limit
// (≤ 0: all).
func (db *DB) People(ctx context.Context, after string, limit int) ([]claim.Person, error) {
	var out []claim.Person
	err := db.view(ctx, "list people", func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bucketPeople), after, limit, func(k, v []byte) error {
			p, err := decodePerson(k, v)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// OrgOwners returns the ids of the legacy people who own legacy org orgID per
// the directory, in id order; none is not an error.
func (db *DB) OrgOwners(ctx context.Context, orgID string) ([]string, error) {
	var out []string
	err := db.view(ctx, "org owners", func(tx *bbolt.Tx) error {
		if orgID == "" || hasNUL(orgID) {
			return nil
		}
		prefix := pair(orgID, "")
		c := tx.Bucket(bucketOrgOwners).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, string(k[len(prefix):]))
		}
		return nil
	})
	return out, err
}

// namesHaveNUL reports whether an org name holds a NUL byte (PostgreSQL's
// text cannot, so neither store takes one).
func namesHaveNUL(names map[string]string) bool {
	for _, n := range names {
		if hasNUL(n) {
			return true
		}
	}
	return false
}

// OrgNames returns the display names the directory gives the legacy
// organizations ids, by id: for each, the name in the entry of its first
// owner (in id order) that names it. Organizations without a name are left
// out.
func (db *DB) OrgNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := db.view(ctx, "org names", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOrgOwners).Cursor()
		for _, id := range ids {
			if id == "" || hasNUL(id) || out[id] != "" {
				continue
			}
			prefix := pair(id, "")
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if len(v) > 0 {
					out[id] = string(v)
					break
				}
			}
		}
		return nil
	})
	return out, err
}

func personByID(tx *bbolt.Tx, id string) (claim.Person, error) {
	if id == "" {
		return claim.Person{}, fmt.Errorf("%w: legacy person with empty id", claim.ErrNotFound)
	}
	v := tx.Bucket(bucketPeople).Get([]byte(id))
	if v == nil {
		return claim.Person{}, fmt.Errorf("%w: legacy person %s", claim.ErrNotFound, id)
	}
	return decodePerson([]byte(id), v)
}

func decodePerson(k, v []byte) (claim.Person, error) {
	var r personRec
	if err := json.Unmarshal(v, &r); err != nil {
		return claim.Person{}, fmt.Errorf("decode person %q: %w", k, err)
	}
	return claim.Person(r), nil
}
