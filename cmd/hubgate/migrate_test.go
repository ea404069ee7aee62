package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/store/postgres"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
)

// migrateOpts compare records across stores: times to the microsecond
// (PostgreSQL's precision), nil and empty slices alike.
var migrateOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
	}),
	cmpopts.EquateEmpty(),
}

func migrateZID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// migrationFixture is a bolt store as a migrating installation has it, and
// tokens minted on it that must keep working on PostgreSQL.
type migrationFixture struct {
	path   string
	tokens []claim.Issued
}

// buildBoltStore writes 10,000 people, 10,000 claims (used, revoked,
// expired and open, person and org), 3,000 person links (50 of them by
// redemption) and 500 org links, with the events all that appends, a mode,
// revocations, signing keys and sessions.
func buildBoltStore(t *testing.T) migrationFixture {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hubgate.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	defer db.Close()
	now := time.Now().UTC()
	svc := &claim.Service{Store: db}

	const people, batch = 10_000, 1_000
	for start := 0; start < people; start += batch {
		var ps []claim.Person
		for i := start; i < start+batch; i++ {
			p := claim.Person{ID: fmt.Sprintf("p%05d", i), Email: fmt.Sprintf("Person%05d@Example.com", i), Name: fmt.Sprintf("Person %d", i)}
			if i%4 == 0 {
				p.Orgs = []string{fmt.Sprintf("o%04d", i/4)}
			}
			ps = append(ps, p)
		}
		ev := claim.Event{Time: now, Actor: "cli", Action: "people.import", Subject: "directory", Detail: "1000 people"}
		if err := db.PutPeople(ctx, ps, ev); err != nil {
			t.Fatalf("PutPeople = %v", err)
		}
	}

	// 10,000 claims in every state: 9,995 minted here (a tenth each used,
	// revoked and expired, stored as a long-running installation has them;
	// some revoked through RevokeClaim), 5 issued at the end.
	var minted []claim.Issued
	for start := 0; start < 9_995; start += batch {
		var claims []claim.Claim
		for i := start; i < min(start+batch, 9_995); i++ {
			req := claim.Request{Kind: claim.KindPerson, LegacyID: fmt.Sprintf("p%05d", i), Email: fmt.Sprintf("person%05d@example.com", i)}
			if i%7 == 0 {
				req = claim.Request{Kind: claim.KindOrg, LegacyID: fmt.Sprintf("o%04d", i/4), Claimer: fmt.Sprintf("p%05d", i)}
			}
			is, err := svc.Prepare(req)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			switch i % 10 {
			case 1:
				is.Claim.UsedAt, is.Claim.UsedBy = now.Add(-2*time.Hour), migrateZID(200_000+i)
			case 2:
				if i%20 != 2 {
					is.Claim.RevokedAt = now.Add(-time.Minute)
				}
			case 3:
				is.Claim.CreatedAt, is.Claim.ExpiresAt = now.Add(-15*24*time.Hour), now.Add(-time.Hour)
			}
			minted = append(minted, is)
			claims = append(claims, is.Claim)
		}
		ev := claim.Event{Time: now, Actor: "cli", Action: "claim.issue", Subject: "batch", Detail: fmt.Sprintf("%d claims", len(claims))}
		if err := db.CreateClaims(ctx, claims, ev); err != nil {
			t.Fatalf("CreateClaims = %v", err)
		}
	}
	for i, is := range minted {
		if i%20 == 2 {
			if err := db.RevokeClaim(ctx, is.Claim.ID, "admin-api", now.Add(-time.Minute)); err != nil {
				t.Fatalf("RevokeClaim = %v", err)
			}
		}
	}

	// Links: 2,950 by hand, 50 by redeeming a claim, 500 organizations.
	for i := range 2_950 {
		l := claim.Link{Kind: claim.KindPerson, LegacyID: fmt.Sprintf("p%05d", i), ZaikioID: migrateZID(i),
			CreatedAt: now.Add(-time.Hour), Via: "admin", By: "admin-api"}
		if err := db.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink(%s) = %v", l.LegacyID, err)
		}
	}
	var tokens []claim.Issued
	redeemed := 0
	for i, is := range minted {
		c := is.Claim
		if c.Kind != claim.KindPerson || c.Status(now) != "open" || i%20 == 2 || i < 5_000 {
			continue
		}
		switch {
		case redeemed < 50:
			z := migrateZID(50_000 + redeemed)
			if _, _, err := svc.Redeem(ctx, claim.Redemption{Hash: c.Hash, Kind: claim.KindPerson, ZaikioID: z, Actor: "zaikio:" + z}); err != nil {
				t.Fatalf("Redeem(%s) = %v", c.ID, err)
			}
			redeemed++
		case i >= 9_000 && len(tokens) < 5:
			tokens = append(tokens, is) // mailed, not yet used
		}
	}
	for i := range 500 {
		l := claim.Link{Kind: claim.KindOrg, LegacyID: fmt.Sprintf("o%04d", i), ZaikioID: migrateZID(100_000 + i),
			CreatedAt: now.Add(-time.Hour), Via: "admin", By: "cli"}
		if err := db.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink(%s) = %v", l.LegacyID, err)
		}
	}

	for _, mode := range []migration.Mode{"offer", "enforce"} {
		if err := db.SetMode(ctx, mode, claim.Event{Time: now, Actor: "cli", Action: "mode.set", Subject: "mode", Detail: string(mode)}); err != nil {
			t.Fatalf("SetMode = %v", err)
		}
	}
	for i, rv := range []session.Revocation{
		{Kind: session.RevokePerson, Subject: migrateZID(1), At: now, Until: now.Add(12 * time.Hour), Actor: "admin-api", Reason: "offboarded"},
		{Kind: session.RevokeSession, Subject: "s-gone", At: now, Until: now.Add(time.Hour), Actor: "logout"},
		{Kind: session.Revalidate, Subject: migrateZID(2), At: now, Until: now.Add(12 * time.Hour), Actor: "webhook"},
	} {
		if err := db.AddRevocation(ctx, rv); err != nil {
			t.Fatalf("AddRevocation #%d = %v", i, err)
		}
	}
	for i := range 2 {
		k := assertion.Key{ID: fmt.Sprintf("k%d", i), Sealed: []byte{byte(i), 1, 2, 3}, CreatedAt: now.Add(time.Duration(i) * time.Hour),
			RetiresAt: now.Add(48 * time.Hour), DeleteAt: now.Add(72 * time.Hour)}
		if err := db.AddSigningKey(ctx, k); err != nil {
			t.Fatalf("AddSigningKey = %v", err)
		}
	}
	for i, ago := range []time.Duration{time.Hour, 24 * time.Hour, 40 * 24 * time.Hour} {
		if err := db.RecordLegacySignIn(ctx, fmt.Sprintf("p%05d", i), now.Add(-ago)); err != nil {
			t.Fatalf("RecordLegacySignIn = %v", err)
		}
	}
	if err := db.RecordLegacySignIn(ctx, "p00000", now.Add(-90*24*time.Hour)); err != nil { // the first ever
		t.Fatalf("RecordLegacySignIn = %v", err)
	}
	// Sessions: two live (one refreshed twice, so at version 3) and one
	// expired that the sweeper has not removed yet.
	for _, put := range []struct {
		rec  session.Record
		prev uint64
	}{
		{session.Record{ID: "s1", Person: migrateZID(1), Data: []byte("sealed"), ExpiresAt: now.Add(time.Hour)}, 0},
		{session.Record{ID: "s2", Person: migrateZID(2), Data: []byte("v1"), ExpiresAt: now.Add(2 * time.Hour)}, 0},
		{session.Record{ID: "s2", Person: migrateZID(2), Data: []byte("v2"), ExpiresAt: now.Add(2 * time.Hour)}, 1},
		{session.Record{ID: "s2", Person: migrateZID(2), Data: []byte("v3"), ExpiresAt: now.Add(3 * time.Hour)}, 2},
		{session.Record{ID: "s0-expired", Person: migrateZID(3), Data: []byte("old"), ExpiresAt: now.Add(-time.Minute)}, 0},
	} {
		if err := db.PutSession(ctx, put.rec, put.prev); err != nil {
			t.Fatalf("PutSession(%s, %d) = %v", put.rec.ID, put.prev, err)
		}
	}

	// Five more tokens, issued one by one as the admin API does.
	for i := range 5 {
		is, err := svc.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: fmt.Sprintf("p%05d", 9_990+i), CreatedBy: "cli"})
		if err != nil {
			t.Fatalf("Issue = %v", err)
		}
		tokens = append(tokens, is)
	}
	return migrationFixture{path: path, tokens: tokens}
}

// migrateReader is what the tests read from either store.
type migrateReader interface {
	People(ctx context.Context, after string, limit int) ([]claim.Person, error)
	Claims(ctx context.Context, after string, limit int) ([]claim.Claim, error)
	Links(ctx context.Context, kind claim.Kind, after string, limit int) ([]claim.Link, error)
	Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error)
	Stats(ctx context.Context, now time.Time) (claim.Stats, error)
	Mode(ctx context.Context) (migration.Mode, error)
	Revocations(ctx context.Context, now time.Time) ([]session.Revocation, error)
	SigningKeys(ctx context.Context) ([]assertion.Key, error)
	Sessions(ctx context.Context, after string, limit int) ([]session.Record, error)
	LegacySignIns(ctx context.Context, since time.Time) (map[string]time.Time, error)
	FirstLegacySignIn(ctx context.Context) (time.Time, error)
}

// storeContents is everything migrate-store copies.
type storeContents struct {
	Stats       claim.Stats
	People      []claim.Person
	Claims      []claim.Claim
	PersonLinks []claim.Link
	OrgLinks    []claim.Link
	Events      []claim.Event
	Mode        migration.Mode
	Revocations []session.Revocation
	Keys        []assertion.Key
	Sessions    []session.Record // unexpired
	SignIns     map[string]time.Time
	FirstSignIn time.Time
}

func contents(t *testing.T, s migrateReader, now time.Time) storeContents {
	t.Helper()
	ctx := t.Context()
	var c storeContents
	var errs []error
	var err error
	c.Stats, err = s.Stats(ctx, now)
	errs = append(errs, err)
	c.People, err = s.People(ctx, "", 0)
	errs = append(errs, err)
	c.Claims, err = s.Claims(ctx, "", 0)
	errs = append(errs, err)
	c.PersonLinks, err = s.Links(ctx, claim.KindPerson, "", 0)
	errs = append(errs, err)
	c.OrgLinks, err = s.Links(ctx, claim.KindOrg, "", 0)
	errs = append(errs, err)
	c.Events, err = s.Events(ctx, 0, 0)
	errs = append(errs, err)
	c.Mode, err = s.Mode(ctx)
	errs = append(errs, err)
	c.Revocations, err = s.Revocations(ctx, time.Time{})
	errs = append(errs, err)
	c.Keys, err = s.SigningKeys(ctx)
	errs = append(errs, err)
	c.SignIns, err = s.LegacySignIns(ctx, time.Time{})
	errs = append(errs, err)
	c.FirstSignIn, err = s.FirstLegacySignIn(ctx)
	errs = append(errs, err)
	all, err := s.Sessions(ctx, "", 0)
	errs = append(errs, err)
	for _, rec := range all {
		if rec.ExpiresAt.After(now) {
			c.Sessions = append(c.Sessions, rec)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("read store: %v", err)
	}
	return c
}

// migrate runs the command and returns its output.
func migrate(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return migrateEnv(t, func(string) string { return "" }, args...)
}

func migrateEnv(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), append([]string{"migrate-store"}, args...), getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestMigrateStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-person store")
	}
	dsn := pgtest.DSN(t)
	built := time.Now()
	fx := buildBoltStore(t)
	t.Logf("built the bolt store in %s", time.Since(built).Round(time.Millisecond))

	args := []string{"--from", "bolt://" + fx.path, "--to", dsn}
	start := time.Now()
	stdout, stderr, err := migrate(t, args...)
	first := time.Since(start)
	if err != nil {
		t.Fatalf("migrate-store = %v; want nil\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("first migration took %s; stdout:\n%s\nstderr:\n%s", first.Round(time.Millisecond), stdout, stderr)
	for _, want := range []string{"\rpeople 1000/10000", "\rpeople 10000/10000: 10000 added", "claims 10000/10000: 10000 added",
		"person links 3000/3000: 3000 added", "org links 500/500: 500 added", "sessions 2/2: 2 added",
		"legacy sign-ins 3/3: 3 added"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(stdout, "DIFFERS") || !strings.Contains(stdout, "KIND") {
		t.Errorf("verification table shows a difference or is missing:\n%s", stdout)
	}

	src, err := bolt.Open(fx.path, bolt.Options{})
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	defer src.Close()
	dst, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("postgres.Open = %v", err)
	}
	defer dst.Close()

	now := time.Now()
	want := contents(t, src, now)
	if len(want.Sessions) != 2 || want.Sessions[1].Version != 3 || string(want.Sessions[1].Data) != "v3" {
		t.Fatalf("fixture sessions %+v; want s1 and s2 at version 3", want.Sessions)
	}
	if len(want.People) != 10_000 || len(want.Claims) != 10_000 || len(want.PersonLinks) != 3_000 || len(want.OrgLinks) != 500 {
		t.Fatalf("fixture: %d people, %d claims, %d person links, %d org links; want 10000, 10000, 3000, 500",
			len(want.People), len(want.Claims), len(want.PersonLinks), len(want.OrgLinks))
	}
	if len(want.SignIns) != 3 || want.FirstSignIn.IsZero() || now.Sub(want.FirstSignIn) < 89*24*time.Hour {
		t.Fatalf("fixture legacy sign-ins %v, first %v; want 3, the first 90 days ago", want.SignIns, want.FirstSignIn)
	}
	st := want.Stats
	if st.ClaimsOpen == 0 || st.ClaimsUsed == 0 || st.ClaimsExpired == 0 || st.ClaimsRevoked == 0 {
		t.Fatalf("fixture stats %+v; want claims in every state", st)
	}
	t.Logf("source: %+v, %d events", st, len(want.Events))
	got := contents(t, dst, now)
	if diff := cmp.Diff(want, got, migrateOpts); diff != "" {
		t.Fatalf("PostgreSQL after migrate-store differs from bolt (-bolt +postgres):\n%s", diff)
	}

	// Again, the target from the environment: nothing changes, everything
	// is found in place.
	src.Close()
	start = time.Now()
	stdout, stderr, err = migrateEnv(t, func(k string) string {
		if k == "HUBGATE_MIGRATE_TO" {
			return dsn
		}
		return ""
	}, "--from", "bolt://"+fx.path)
	second := time.Since(start)
	if err != nil {
		t.Fatalf("migrate-store again = %v; want nil\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("second migration took %s; stderr:\n%s", second.Round(time.Millisecond), stderr)
	if !strings.Contains(stderr, "people 10000/10000: 0 added, 10000 already there, 0 conflicts") ||
		!strings.Contains(stderr, "legacy sign-ins 3/3: 0 added, 3 already there") ||
		!strings.Contains(stderr, "events") || strings.Contains(stdout, "DIFFERS") {
		t.Errorf("second run did not find everything in place:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if diff := cmp.Diff(want, contents(t, dst, now), migrateOpts); diff != "" {
		t.Errorf("second migrate-store changed PostgreSQL (-before +after):\n%s", diff)
	}

	// Tokens mailed before the switch resolve and redeem on PostgreSQL.
	if len(fx.tokens) != 10 {
		t.Fatalf("fixture kept %d tokens; want 10", len(fx.tokens))
	}
	svc := &claim.Service{Store: dst}
	for i, is := range fx.tokens {
		if _, err := svc.Inspect(t.Context(), is.Token); err != nil {
			t.Errorf("Inspect(token %d for %s) on PostgreSQL = %v; want nil", i, is.Claim.LegacyID, err)
			continue
		}
		if _, err := dst.ClaimByHash(t.Context(), is.Token.Hash()); err != nil {
			t.Errorf("ClaimByHash(token %d) = %v; want nil", i, err)
		}
		z := migrateZID(300_000 + i)
		c, l, err := svc.Redeem(t.Context(), claim.Redemption{Hash: is.Token.Hash(), Kind: claim.KindPerson, ZaikioID: z, Actor: "zaikio:" + z})
		if err != nil {
			t.Errorf("Redeem(token %d) on PostgreSQL = %v; want nil", i, err)
			continue
		}
		if c.UsedBy != z || l.LegacyID != is.Claim.LegacyID {
			t.Errorf("Redeem(token %d) = claim used by %s, link %s; want %s, %s", i, c.UsedBy, l.LegacyID, z, is.Claim.LegacyID)
		}
	}
	// New events continue after the copied ones.
	if evs, err := dst.Events(t.Context(), 0, 1); err != nil || len(evs) != 1 || evs[0].Seq <= want.Events[0].Seq {
		t.Errorf("newest event after redeeming on PostgreSQL = %+v, %v; want Seq > %d", evs, err, want.Events[0].Seq)
	}

	// Now the target has moved on: a third run reports it and fails.
	dst.Close()
	stdout, stderr, err = migrate(t, args...)
	if err == nil || !strings.Contains(stdout, "DIFFERS") || !strings.Contains(stderr, "conflict: claim") {
		t.Errorf("migrate-store onto a changed target = %v; want an error, a DIFFERS row and claim conflicts\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
}

func TestMigrateStoreArgs(t *testing.T) {
	boltPath := filepath.Join(t.TempDir(), "hubgate.db")
	for _, tt := range []struct {
		name  string
		args  []string
		usage bool
	}{
		{"nothing", nil, true},
		{"no target", []string{"--from", "bolt://" + boltPath}, true},
		{"no source", []string{"--to", "postgres://u:s3cret@h/db"}, true},
		{"source not bolt", []string{"--from", "postgres://u:s3cret@h/db", "--to", "postgres://u:s3cret@h/db"}, true},
		{"target not postgres", []string{"--from", "bolt://" + boltPath, "--to", "bolt:///x.db"}, true},
		{"bad scheme", []string{"--from", "mysql://h/db", "--to", "postgres://u:s3cret@h/db"}, true},
		{"extra argument", []string{"--from", "bolt://" + boltPath, "--to", "postgres://u:s3cret@h/db", "now"}, true},
		{"batch zero", []string{"--from", "bolt://" + boltPath, "--to", "postgres://u:s3cret@h/db", "--batch", "0"}, true},
		{"unknown flag", []string{"--frm", "x"}, true},
		{"missing source file", []string{"--from", "bolt://" + boltPath, "--to", "postgres://u:s3cret@h/db"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := migrate(t, tt.args...)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tt.usage {
				t.Errorf("migrate-store %q = %v (%T); want a usage error: %t", tt.args, err, err, tt.usage)
			}
			if strings.Contains(stderr+fmt.Sprint(err), "s3cret") {
				t.Errorf("output shows a password: %s %v", stderr, err)
			}
		})
	}
	// -h shows no password from the environment.
	// (-h succeeds and prints on stdout since issue #14.)
	stdout, stderr, err := migrateEnv(t, func(string) string { return "postgres://u:s3cret@h/db" }, "-h")
	if err != nil || strings.Contains(stdout+stderr, "s3cret") || !strings.Contains(stdout, "Usage: hubgate migrate-store") {
		t.Errorf("migrate-store -h = %v; want nil and the usage without the password:\n%s", err, stdout+stderr)
	}
}
