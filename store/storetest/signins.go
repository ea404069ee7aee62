package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/claim"
)

func recordSignIn(t *testing.T, s Store, id string, at time.Time) {
	t.Helper()
	if err := s.RecordLegacySignIn(t.Context(), id, at); err != nil {
		t.Fatalf("RecordLegacySignIn(%s, %s) = %v; want nil", id, at, err)
	}
}

func wantSignIns(t *testing.T, s Store, since time.Time, want map[string]time.Time) {
	t.Helper()
	got, err := s.LegacySignIns(t.Context(), since)
	if err != nil {
		t.Fatalf("LegacySignIns(%s) = %v; want nil", since, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("LegacySignIns(%s) mismatch (-want +got):\n%s", since, diff)
	}
}

func wantFirstSignIn(t *testing.T, s Store, want time.Time) {
	t.Helper()
	got, err := s.FirstLegacySignIn(t.Context())
	if err != nil {
		t.Fatalf("FirstLegacySignIn = %v; want nil", err)
	}
	if want.IsZero() && !got.IsZero() || !want.IsZero() && !sameTime(got, want) {
		t.Errorf("FirstLegacySignIn = %v; want %v", got, want)
	}
}

// testSignIns: a store keeps per legacy person the latest legacy sign-in it
// was told (an older one told late changes nothing), lists those at or
// after a time, and knows the earliest it was ever told.
func testSignIns(t *testing.T, s Store) {
	wantSignIns(t, s, time.Time{}, map[string]time.Time{})
	wantFirstSignIn(t, s, time.Time{})

	recordSignIn(t, s, "p1", t0)
	recordSignIn(t, s, "p1", t0.Add(2*time.Hour))
	recordSignIn(t, s, "p1", t0.Add(time.Hour)) // older than the latest: kept as it was
	recordSignIn(t, s, "p2", t0.Add(-48*time.Hour))
	recordSignIn(t, s, "p3", t0.Add(3*time.Hour).In(time.FixedZone("CET", 3600)))
	recordSignIn(t, s, "p3", t0.Add(3*time.Hour)) // the same sign-in again

	wantSignIns(t, s, time.Time{}, map[string]time.Time{
		"p1": t0.Add(2 * time.Hour), "p2": t0.Add(-48 * time.Hour), "p3": t0.Add(3 * time.Hour),
	})
	wantSignIns(t, s, t0, map[string]time.Time{"p1": t0.Add(2 * time.Hour), "p3": t0.Add(3 * time.Hour)})
	wantSignIns(t, s, t0.Add(2*time.Hour), map[string]time.Time{"p1": t0.Add(2 * time.Hour), "p3": t0.Add(3 * time.Hour)})
	wantSignIns(t, s, t0.Add(2*time.Hour+time.Microsecond), map[string]time.Time{"p3": t0.Add(3 * time.Hour)})
	wantSignIns(t, s, t0.Add(4*time.Hour), map[string]time.Time{})
	wantFirstSignIn(t, s, t0.Add(-48*time.Hour))

	// An earlier sign-in told late moves the first one back, not the latest.
	recordSignIn(t, s, "p1", t0.Add(-72*time.Hour))
	wantFirstSignIn(t, s, t0.Add(-72*time.Hour))
	wantSignIns(t, s, t0, map[string]time.Time{"p1": t0.Add(2 * time.Hour), "p3": t0.Add(3 * time.Hour)})

	for _, id := range []string{"", "a\x00b"} {
		if err := s.RecordLegacySignIn(t.Context(), id, t0); !errors.Is(err, claim.ErrInvalid) {
			t.Errorf("RecordLegacySignIn(%q) = %v; want claim.ErrInvalid", id, err)
		}
	}
}

// testSignInsConcurrent: replicas record sign-ins of the same people at
// once; the latest and the earliest time survive, whatever the order.
func testSignInsConcurrent(t *testing.T, s Store) {
	const people, times = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, people*times)
	for p := range people {
		for i := range times {
			wg.Go(func() {
				errs <- s.RecordLegacySignIn(t.Context(), fmt.Sprintf("p%d", p), t0.Add(time.Duration(i)*time.Minute))
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("RecordLegacySignIn = %v; want nil", err)
		}
	}
	want := map[string]time.Time{}
	for p := range people {
		want[fmt.Sprintf("p%d", p)] = t0.Add((times - 1) * time.Minute)
	}
	wantSignIns(t, s, t0, want)
	wantFirstSignIn(t, s, t0)
}
