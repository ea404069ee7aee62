package bolt_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/store/storetest"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ storetest.Store = (*bolt.DB)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openAt opens a store at path and closes it when the test ends.
func openAt(tb testing.TB, path string, opts bolt.Options) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s) = %v; want nil", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v; want nil", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openAt(t, filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{})
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hubgate.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v; want nil", path, err)
	}
	c := claim.Claim{ID: "c1", Hash: sha256.Sum256([]byte("t")), Kind: claim.KindPerson, LegacyID: "p1",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.CreateClaims(ctx, []claim.Claim{c}, claim.Event{Time: t0, Action: "claim.issue"}); err != nil {
		t.Fatalf("CreateClaims = %v; want nil", err)
	}
	l := claim.Link{Kind: claim.KindOrg, LegacyID: "o1", ZaikioID: "00000000-0000-4000-8000-000000000001", CreatedAt: t0}
	if err := db.PutLink(ctx, l); err != nil {
		t.Fatalf("PutLink = %v; want nil", err)
	}
	if err := db.SetMode(ctx, "enforce", claim.Event{Time: t0, Action: "mode.set"}); err != nil {
		t.Fatalf("SetMode = %v; want nil", err)
	}
	if err := db.PutSession(ctx, session.Record{ID: "s1", ExpiresAt: t0}, 0); err != nil {
		t.Fatalf("PutSession = %v; want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}

	db = openAt(t, path, bolt.Options{})
	if got, err := db.ClaimByHash(ctx, c.Hash); err != nil || got.ID != "c1" {
		t.Errorf("ClaimByHash after reopen = %+v, %v; want c1", got, err)
	}
	if got, err := db.LinkByZaikio(ctx, claim.KindOrg, l.ZaikioID); err != nil || got.LegacyID != "o1" {
		t.Errorf("LinkByZaikio after reopen = %+v, %v; want o1", got, err)
	}
	if got, err := db.Mode(ctx); err != nil || got != "enforce" {
		t.Errorf("Mode() after reopen = %q, %v; want enforce", got, err)
	}
	if got, err := db.Session(ctx, "s1"); err != nil || got.Version != 1 {
		t.Errorf("Session(s1) after reopen = %+v, %v; want version 1", got, err)
	}
	if evs, err := db.Events(ctx, 0, 0); err != nil || len(evs) != 3 {
		t.Errorf("Events after reopen = %d events, %v; want 3", len(evs), err)
	}
	// Sequence numbers go on from where they were.
	if err := db.AppendEvent(ctx, claim.Event{Time: t0, Action: "test"}); err != nil {
		t.Fatalf("AppendEvent = %v; want nil", err)
	}
	if evs, err := db.Events(ctx, 0, 1); err != nil || len(evs) != 1 || evs[0].Seq != 4 {
		t.Errorf("newest event after reopen = %+v, %v; want Seq 4", evs, err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubgate.db")
	first, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v; want nil", path, err)
	}
	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := bolt.Open(path, bolt.Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatalf("second Open(%s) = nil error; want the database to be locked", path)
	}
	if !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open error = %q; want it to name %s and say it is locked by another process", err, path)
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Errorf("second Open error = %v; want it to wrap bbolt's ErrTimeout", err)
	}
	if elapsed > timeout+time.Second {
		t.Errorf("second Open took %s; want about %s", elapsed, timeout)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	openAt(t, path, bolt.Options{Timeout: timeout})
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "hubgate")
	path := filepath.Join(dir, "hubgate.db")
	openAt(t, path, bolt.Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat(%s) = %v; want nil", path, err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v; want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("Stat(%s) = %v; want nil", dir, err)
	}
	if got := di.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("created directory mode = %v; want no access for group and others", got)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	notBolt := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notBolt, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		path string
		opts bolt.Options
	}{
		{"empty path", "", bolt.Options{}},
		{"negative timeout", filepath.Join(dir, "a.db"), bolt.Options{Timeout: -time.Second}},
		{"not a bbolt file", notBolt, bolt.Options{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := bolt.Open(tt.path, tt.opts)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q, %+v) = nil error; want an error", tt.path, tt.opts)
			}
			if !strings.HasPrefix(err.Error(), "bolt: open") {
				t.Errorf("Open(%q) error = %q; want it prefixed \"bolt: open\"", tt.path, err)
			}
		})
	}
}

func TestClosedAndCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubgate.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v; want nil", path, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.SetMode(ctx, "offer", claim.Event{Action: "mode.set"}); !errors.Is(err, context.Canceled) {
		t.Errorf("SetMode(canceled context) = %v; want context.Canceled", err)
	}
	if mode, err := db.Mode(t.Context()); err != nil || mode != "" {
		t.Errorf("Mode() after a canceled SetMode = %q, %v; want \"\", nil", mode, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Errorf("Ping() after Close = nil; want an error")
	}
}

// TestPersonByEmailShared pins the bbolt store's rule for an address shared by
// several people: the one written last wins, and the others take over when it
// moves away.
func TestPersonByEmailShared(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	put := func(p claim.Person) {
		t.Helper()
		if err := db.PutPeople(ctx, []claim.Person{p}, claim.Event{}); err != nil {
			t.Fatalf("PutPeople(%s) = %v; want nil", p.ID, err)
		}
	}
	want := func(email, id string) {
		t.Helper()
		p, err := db.PersonByEmail(ctx, email)
		if err != nil || p.ID != id {
			t.Errorf("PersonByEmail(%q) = %q, %v; want %q", email, p.ID, err, id)
		}
	}
	put(claim.Person{ID: "p2", Email: "team@example.com"})
	put(claim.Person{ID: "p1", Email: "Team@Example.com"})
	want("team@example.com", "p1")
	put(claim.Person{ID: "p2", Email: "TEAM@example.com", Name: "rewritten"})
	want("team@example.com", "p2")
	put(claim.Person{ID: "p2", Email: "p2@example.com"})
	want("team@example.com", "p1")
	want("p2@example.com", "p2")
}

func TestDeliveriesForgotten(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	first := func(id string, until time.Time, want bool) {
		t.Helper()
		if got, err := db.FirstDelivery(ctx, id, until); err != nil || got != want {
			t.Errorf("FirstDelivery(%q, %s) = %t, %v; want %t", id, until, got, err, want)
		}
	}
	first("old", t0, true)
	first("kept", t0.Add(time.Second), true)
	first("extended", t0, true)
	first("extended", t0.Add(time.Hour), false)
	if _, err := db.DeleteExpiredSessions(ctx, t0); err != nil {
		t.Fatalf("DeleteExpiredSessions = %v; want nil", err)
	}
	first("old", t0.Add(time.Hour), true)
	first("kept", t0.Add(time.Hour), false)
	first("extended", t0.Add(time.Hour), false)
}

// seed stores n person claims (c00000…) in batches and returns them.
func seed(tb testing.TB, db *bolt.DB, n int) []claim.Claim {
	tb.Helper()
	claims := make([]claim.Claim, n)
	for i := range claims {
		id := fmt.Sprintf("c%06d", i)
		claims[i] = claim.Claim{ID: id, Hash: sha256.Sum256([]byte(id)), Kind: claim.KindPerson,
			LegacyID: fmt.Sprintf("p%06d", i), Email: fmt.Sprintf("p%06d@example.com", i), CreatedBy: "bench",
			CreatedAt: t0, ExpiresAt: t0.Add(claim.DefaultTTL)}
	}
	for start := 0; start < n; start += 5000 {
		end := min(start+5000, n)
		if err := db.CreateClaims(context.Background(), claims[start:end], claim.Event{Time: t0, Action: "claim.issue"}); err != nil {
			tb.Fatalf("CreateClaims = %v; want nil", err)
		}
	}
	return claims
}

func zaikioID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func BenchmarkRedeemClaim(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%t", sync), func(b *testing.B) {
			db := openAt(b, filepath.Join(b.TempDir(), "hubgate.db"), bolt.Options{NoSync: !sync})
			claims := seed(b, db, b.N)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				r := claim.Redemption{Hash: claims[i].Hash, Kind: claim.KindPerson, ZaikioID: zaikioID(i),
					Actor: "bench", At: t0.Add(time.Hour)}
				if _, _, err := db.RedeemClaim(ctx, r); err != nil {
					b.Fatalf("RedeemClaim(%d) = %v; want nil", i, err)
				}
			}
		})
	}
}

func BenchmarkClaimByHash(b *testing.B) {
	db := openAt(b, filepath.Join(b.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	claims := seed(b, db, 10_000)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := db.ClaimByHash(ctx, claims[i%len(claims)].Hash); err != nil {
				b.Errorf("ClaimByHash = %v; want nil", err)
				return
			}
			i += 7
		}
	})
}

// BenchmarkStats measures Stats over 10,000 people, claims and links.
func BenchmarkStats(b *testing.B) {
	const n = 10_000
	db := openAt(b, filepath.Join(b.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	ctx := context.Background()
	claims := seed(b, db, n)
	people := make([]claim.Person, n)
	for i := range people {
		people[i] = claim.Person{ID: fmt.Sprintf("p%06d", i), Email: fmt.Sprintf("p%06d@example.com", i),
			Orgs: []string{fmt.Sprintf("o%05d", i/3)}}
	}
	if err := db.PutPeople(ctx, people, claim.Event{}); err != nil {
		b.Fatalf("PutPeople = %v; want nil", err)
	}
	for i := range n / 2 {
		r := claim.Redemption{Hash: claims[i].Hash, Kind: claim.KindPerson, ZaikioID: zaikioID(i), At: t0.Add(time.Hour)}
		if _, _, err := db.RedeemClaim(ctx, r); err != nil {
			b.Fatalf("RedeemClaim(%d) = %v; want nil", i, err)
		}
	}
	for b.Loop() {
		st, err := db.Stats(ctx, t0)
		if err != nil || st.People != n || st.LinkedPersons != n/2 {
			b.Fatalf("Stats = %+v, %v; want %d people, %d linked", st, err, n, n/2)
		}
	}
}

// TestOpenIndexesClaimsOfOlderFiles: a file written before claims were
// indexed by legacy person or organization gets the index when it is
// opened, so that linking retires the claims it already held.
func TestOpenIndexesClaimsOfOlderFiles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hubgate.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := claim.Claim{ID: "c1", Hash: sha256.Sum256([]byte("old")), Kind: claim.KindPerson, LegacyID: "p1",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.CreateClaims(ctx, []claim.Claim{old}, claim.Event{Time: t0, Action: "claim.issue"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// As an older hubgate left it: no claims_by_subj bucket.
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("claims_by_subj")) }); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db = openAt(t, path, bolt.Options{})
	l := claim.Link{Kind: claim.KindPerson, LegacyID: "p1", ZaikioID: "00000000-0000-4000-8000-000000000001", CreatedAt: t0.Add(time.Minute), By: "admin-api"}
	if err := db.PutLink(ctx, l); err != nil {
		t.Fatalf("PutLink = %v", err)
	}
	c, err := db.Claim(ctx, "c1")
	if err != nil || c.Status(t0.Add(2*time.Minute)) != "retired" {
		t.Errorf("claim of the older file after linking its person = %+v, %v; want retired", c, err)
	}
}
