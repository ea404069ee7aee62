package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/assertion"
	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
	"github.com/hubgate/hubgate/store/storetest"
)

var _ storetest.Store = (*DB)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openAt opens the store at dsn and closes it when the test ends.
func openAt(tb testing.TB, dsn string, opts Options) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatalf("Open = %v; want nil", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v; want nil", err)
		}
	})
	return db
}

// TestStore runs the conformance suite on a fresh schema per subtest. The
// pool has room for all 50 goroutines of the suite's races, so that they
// really race inside the server.
func TestStore(t *testing.T) {
	pgtest.BaseDSN(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openAt(t, pgtest.DSN(t), Options{MaxConns: 50})
	})
}

func migrationCount(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	return n
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	first, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open = %v; want nil", err)
	}
	if first.migrated != len(migrations) {
		t.Errorf("first Open applied %d migrations; want %d", first.migrated, len(migrations))
	}
	if err := first.SetMode(ctx, "offer", claim.Event{Time: t0, Action: "mode.set"}); err != nil {
		t.Fatalf("SetMode = %v; want nil", err)
	}
	first.Close()

	for i := range 2 {
		db := openAt(t, dsn, Options{})
		if db.migrated != 0 {
			t.Errorf("Open #%d on a migrated schema applied %d migrations; want 0", i+2, db.migrated)
		}
		if n := migrationCount(t, db); n != len(migrations) {
			t.Errorf("schema_migrations has %d rows; want %d", n, len(migrations))
		}
		if mode, err := db.Mode(ctx); err != nil || mode != "offer" {
			t.Errorf("Mode() after reopening = %q, %v; want offer, nil (data kept)", mode, err)
		}
	}
}

// TestConcurrentOpen starts five replicas at once on an empty schema: the
// advisory lock lets exactly one apply the migrations; the others wait and
// find nothing to do. (Without the lock, concurrent CREATE TABLEs fail.)
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 5
	dbs := make([]*DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(context.Background(), dsn, Options{})
		})
	}
	close(start)
	wg.Wait()
	applied := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open #%d = %v; want nil", i, errs[i])
			continue
		}
		applied += dbs[i].migrated
		t.Cleanup(func() { dbs[i].Close() })
	}
	if applied != len(migrations) {
		t.Errorf("%d concurrent Opens applied %d migrations in all; want %d (each once)", n, applied, len(migrations))
	}
	if dbs[0] != nil {
		if got := migrationCount(t, dbs[0]); got != len(migrations) {
			t.Errorf("schema_migrations has %d rows; want %d", got, len(migrations))
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		dsn  string
		opts Options
	}{
		{"negative pool", pgtest.BaseDSN(t), Options{MaxConns: -1}},
		{"negative timeout", pgtest.BaseDSN(t), Options{StatementTimeout: -time.Second}},
		{"bad dsn", "postgres://%zz", Options{}},
		{"nobody listening", "postgres://hubgate:hubgate@127.0.0.1:1/hubgate_test?sslmode=disable", Options{ConnectTimeout: time.Second}},
		{"no schema", pgtest.WithSearchPath(t, pgtest.BaseDSN(t), "no_such_schema"), Options{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(ctx, tt.dsn, tt.opts)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) = nil; want an error", tt.name)
			}
			if !strings.HasPrefix(err.Error(), "postgres: open") {
				t.Errorf("Open(%s) = %q; want it prefixed with postgres: open", tt.name, err)
			}
		})
	}
}

// TestStatementTimeout checks that Options.StatementTimeout reaches the
// server.
func TestStatementTimeout(t *testing.T) {
	db := openAt(t, pgtest.DSN(t), Options{StatementTimeout: 1500 * time.Millisecond})
	var got string
	if err := db.pool.QueryRow(t.Context(), `SHOW statement_timeout`).Scan(&got); err != nil {
		t.Fatalf("SHOW statement_timeout: %v", err)
	}
	if got != "1500ms" {
		t.Errorf("statement_timeout = %s; want 1500ms", got)
	}
}

func zid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func testClaim(id, legacy string) claim.Claim {
	return claim.Claim{ID: id, Hash: sha256.Sum256([]byte("token:" + id)), Kind: claim.KindPerson, LegacyID: legacy,
		CreatedBy: "test", CreatedAt: t0, ExpiresAt: t0.Add(claim.DefaultTTL)}
}

func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func actionCount(t *testing.T, db *DB, action string) int {
	t.Helper()
	evs, err := db.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("Events = %v", err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestRedeemConcurrentSamePair redeems 20 claims for one legacy person, all
// for the same Zaikio person, at once. Run one after the other, the first
// writes the link and the others find exactly it: every one succeeds. The
// concurrent run must agree: the losers of the insert re-read and find the
// winner's link, not a conflict.
func TestRedeemConcurrentSamePair(t *testing.T) {
	db := openAt(t, pgtest.DSN(t), Options{MaxConns: 25})
	const n = 20
	claims := make([]claim.Claim, n)
	for i := range claims {
		claims[i] = testClaim(fmt.Sprintf("c%02d", i), "p1")
	}
	if err := db.CreateClaims(t.Context(), claims, claim.Event{Time: t0, Action: "claim.issue"}); err != nil {
		t.Fatalf("CreateClaims = %v", err)
	}
	errs := race(n, func(i int) error {
		_, _, err := db.RedeemClaim(t.Context(), claim.Redemption{Hash: claims[i].Hash, Kind: claim.KindPerson,
			ZaikioID: zid(1), Actor: "zaikio:" + zid(1), At: t0.Add(time.Hour)})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("RedeemClaim(%s) = %v; want nil", claims[i].ID, err)
		}
	}
	ls, err := db.Links(t.Context(), claim.KindPerson, "", 0)
	if err != nil || len(ls) != 1 {
		t.Fatalf("Links = %v, %v; want one", ls, err)
	}
	if got := actionCount(t, db, "link.create"); got != 1 {
		t.Errorf("link.create events = %d; want 1", got)
	}
	if got := actionCount(t, db, "claim.redeem"); got != n {
		t.Errorf("claim.redeem events = %d; want %d", got, n)
	}
}

// TestPutLinkConcurrent races PutLink: the same pair (all succeed, one
// write), and one Zaikio id for many legacy ids (one wins, the rest
// conflict).
func TestPutLinkConcurrent(t *testing.T) {
	db := openAt(t, pgtest.DSN(t), Options{MaxConns: 25})
	const n = 20
	l := claim.Link{Kind: claim.KindOrg, LegacyID: "o1", ZaikioID: zid(1), CreatedAt: t0, Via: "admin", By: "test"}
	for i, err := range race(n, func(int) error { return db.PutLink(t.Context(), l) }) {
		if err != nil {
			t.Errorf("PutLink #%d of the same pair = %v; want nil", i, err)
		}
	}
	if got := actionCount(t, db, "link.create"); got != 1 {
		t.Errorf("link.create events = %d; want 1", got)
	}

	errs := race(n, func(i int) error {
		return db.PutLink(t.Context(), claim.Link{Kind: claim.KindPerson, LegacyID: fmt.Sprintf("p%02d", i), ZaikioID: zid(2), CreatedAt: t0})
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, claim.ErrConflict):
			t.Errorf("PutLink #%d = %v; want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d PutLinks for one Zaikio id succeeded; want 1", wins, n)
	}
}

func TestFirstDeliveryConcurrent(t *testing.T) {
	db := openAt(t, pgtest.DSN(t), Options{MaxConns: 25})
	const n = 20
	var firsts atomic.Int32
	for i, err := range race(n, func(int) error {
		first, err := db.FirstDelivery(t.Context(), "evt-1", t0.Add(time.Hour))
		if first {
			firsts.Add(1)
		}
		return err
	}) {
		if err != nil {
			t.Errorf("FirstDelivery #%d = %v; want nil", i, err)
		}
	}
	if got := firsts.Load(); got != 1 {
		t.Errorf("%d of %d concurrent FirstDelivery calls said first; want 1", got, n)
	}
}

// TestZeroTimes stores zero times and gets zero times back, and checks the
// rules that compare them: a zero expiry is long past.
func TestZeroTimes(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, pgtest.DSN(t), Options{})
	c := claim.Claim{ID: "c1", Hash: sha256.Sum256([]byte("c1")), Kind: claim.KindPerson, LegacyID: "p1"}
	if err := db.CreateClaims(ctx, []claim.Claim{c}, claim.Event{Action: "claim.issue"}); err != nil {
		t.Fatalf("CreateClaims = %v", err)
	}
	got, err := db.Claim(ctx, "c1")
	if err != nil {
		t.Fatalf("Claim = %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("claim with zero times mismatch (-want +got):\n%s", diff)
	}
	if st, err := db.Stats(ctx, t0); err != nil || st.ClaimsExpired != 1 {
		t.Errorf("Stats = %+v, %v; want the claim without expiry counted expired", st, err)
	}
	if err := db.PutSession(ctx, session.Record{ID: "s1"}, 0); err != nil {
		t.Fatalf("PutSession = %v", err)
	}
	if n, err := db.DeleteExpiredSessions(ctx, t0); err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want the session without expiry gone", n, err)
	}
	evs, err := db.Events(ctx, 0, 0)
	if err != nil || len(evs) != 1 || !evs[0].Time.IsZero() {
		t.Errorf("Events = %+v, %v; want one event with a zero time", evs, err)
	}
}

func TestImport(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, pgtest.DSN(t), Options{})
	used := testClaim("c2", "p2")
	used.UsedAt, used.UsedBy = t0.Add(time.Hour), zid(2)
	people := []claim.Person{{ID: "p1", Email: "A@example.com", Orgs: []string{"o1"}}, {ID: "p2"}}
	claims := []claim.Claim{testClaim("c1", "p1"), used}
	links := []claim.Link{{Kind: claim.KindPerson, LegacyID: "p2", ZaikioID: zid(2), CreatedAt: t0.Add(time.Hour), Via: "claim:c2", By: "zaikio:" + zid(2)}}
	events := []claim.Event{{Seq: 3, Time: t0, Action: "claim.issue"}, {Seq: 7, Time: t0.Add(time.Hour), Action: "claim.redeem"}}
	recs := []session.Record{{ID: "s1", Person: zid(2), Version: 4, Data: []byte("sealed"), ExpiresAt: t0.Add(time.Hour)}}
	rvs := []session.Revocation{{Kind: session.RevokePerson, Subject: zid(9), At: t0, Until: t0.Add(time.Hour)}}
	keys := []assertion.Key{{ID: "k1", Sealed: []byte("k"), CreatedAt: t0}}

	importAll := func() ImportResult {
		t.Helper()
		var total ImportResult
		for _, step := range []func() (ImportResult, error){
			func() (ImportResult, error) { return db.ImportPeople(ctx, people) },
			func() (ImportResult, error) { return db.ImportClaims(ctx, claims) },
			func() (ImportResult, error) { return db.ImportLinks(ctx, links) },
			func() (ImportResult, error) { return db.ImportEvents(ctx, events) },
			func() (ImportResult, error) { return db.ImportMode(ctx, "offer") },
			func() (ImportResult, error) { return db.ImportSessions(ctx, recs) },
			func() (ImportResult, error) { return db.ImportRevocations(ctx, rvs) },
			func() (ImportResult, error) { return db.ImportSigningKeys(ctx, keys) },
		} {
			res, err := step()
			if err != nil {
				t.Fatalf("import = %v; want nil", err)
			}
			total.Add(res)
		}
		return total
	}
	if got, want := importAll(), (ImportResult{Added: 11}); !cmp.Equal(got, want) {
		t.Errorf("first import = %+v; want %+v", got, want)
	}
	if got, want := importAll(), (ImportResult{Same: 11}); !cmp.Equal(got, want) {
		t.Errorf("second import = %+v; want %+v", got, want)
	}

	// What was imported is stored verbatim, and nothing was appended.
	if got, err := db.Claim(ctx, "c2"); err != nil || !sameClaim(got, used) {
		t.Errorf("Claim(c2) = %+v, %v; want %+v", got, err, used)
	}
	if got, err := db.Session(ctx, "s1"); err != nil || got.Version != 4 {
		t.Errorf("Session(s1) = %+v, %v; want version 4", got, err)
	}
	if p, err := db.PersonByEmail(ctx, "a@EXAMPLE.com"); err != nil || p.ID != "p1" {
		t.Errorf("PersonByEmail = %+v, %v; want p1", p, err)
	}
	evs, err := db.Events(ctx, 0, 0)
	if err != nil || len(evs) != 2 || evs[0].Seq != 7 || evs[1].Seq != 3 {
		t.Fatalf("Events = %+v, %v; want seqs 7 and 3", evs, err)
	}
	// New events continue above the imported ones.
	if err := db.AppendEvent(ctx, claim.Event{Time: t0, Action: "after"}); err != nil {
		t.Fatalf("AppendEvent = %v", err)
	}
	if evs, _ := db.Events(ctx, 0, 1); len(evs) != 1 || evs[0].Seq <= 7 {
		t.Errorf("newest event after import = %+v; want Seq > 7", evs)
	}

	// Different records under the same keys are reported and left alone.
	claims[0].Email = "changed@example.com"
	otherHash := testClaim("c9", "p9")
	otherHash.Hash = claims[1].Hash
	links = []claim.Link{{Kind: claim.KindPerson, LegacyID: "p3", ZaikioID: zid(2)}}
	res, err := db.ImportClaims(ctx, []claim.Claim{claims[0], otherHash})
	if err != nil || res.Added != 0 || len(res.Conflicts) != 2 {
		t.Errorf("ImportClaims(changed, hash taken) = %+v, %v; want 2 conflicts", res, err)
	}
	res, err = db.ImportLinks(ctx, links)
	if err != nil || len(res.Conflicts) != 1 || !strings.Contains(res.Conflicts[0], "linked to p2") {
		t.Errorf("ImportLinks(Zaikio end taken) = %+v, %v; want 1 conflict naming p2", res, err)
	}
	res, err = db.ImportMode(ctx, "enforce")
	if err != nil || len(res.Conflicts) != 1 {
		t.Errorf("ImportMode(enforce over offer) = %+v, %v; want 1 conflict", res, err)
	}
	for _, c := range res.Conflicts {
		t.Logf("conflict: %s", c)
	}
}

// benchStore opens a store on a fresh schema with n open claims.
func benchStore(b *testing.B, n int) (*DB, []claim.Claim) {
	b.Helper()
	db := openAt(b, pgtest.DSN(b), Options{MaxConns: 8})
	claims := make([]claim.Claim, n)
	for i := range claims {
		claims[i] = testClaim(fmt.Sprintf("c%07d", i), fmt.Sprintf("p%07d", i))
	}
	for start := 0; start < n; start += 5000 {
		end := min(start+5000, n)
		if err := db.CreateClaims(context.Background(), claims[start:end], claim.Event{Time: t0, Action: "claim.issue"}); err != nil {
			b.Fatalf("CreateClaims = %v", err)
		}
	}
	return db, claims
}

func BenchmarkRedeemClaim(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		db, claims := benchStore(b, b.N)
		b.ResetTimer()
		for i := range b.N {
			c := claims[i]
			if _, _, err := db.RedeemClaim(context.Background(), claim.Redemption{Hash: c.Hash, Kind: c.Kind,
				ZaikioID: zid(i), Actor: "bench", At: t0.Add(time.Hour)}); err != nil {
				b.Fatalf("RedeemClaim = %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		db, claims := benchStore(b, b.N)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1) - 1)
				c := claims[i]
				if _, _, err := db.RedeemClaim(context.Background(), claim.Redemption{Hash: c.Hash, Kind: c.Kind,
					ZaikioID: zid(i), Actor: "bench", At: t0.Add(time.Hour)}); err != nil {
					b.Errorf("RedeemClaim = %v", err)
					return
				}
			}
		})
	})
}

func BenchmarkClaimByHash(b *testing.B) {
	const n = 10_000
	db, claims := benchStore(b, n)
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.ClaimByHash(context.Background(), claims[i%n].Hash); err != nil {
				b.Fatalf("ClaimByHash = %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if _, err := db.ClaimByHash(context.Background(), claims[i%n].Hash); err != nil {
					b.Errorf("ClaimByHash = %v", err)
					return
				}
			}
		})
	})
}
