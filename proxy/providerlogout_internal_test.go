package proxy

import (
	"testing"
	"time"
)

// A back-channel logout ends the sessions started before the provider
// signed the person out (its iat, rounded up to the next second), not those
// started since: a token sent again late, or to another replica whose
// replay memory has not seen it, must not end a session the person began
// after signing out. Never later than now; no iat: now.
func TestLogoutMoment(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name string
		iat  time.Time
		want time.Time
	}{
		{"issued 20 s ago", now.Add(-20 * time.Second).Truncate(time.Second), time.Date(2026, 12, 3, 12, 0, 11, 0, time.UTC)},
		{"issued this second", now.Truncate(time.Second), now},
		{"issued in the future (clock skew)", now.Add(time.Minute), now},
		{"no iat", time.Time{}, now},
	} {
		if got := logoutMoment(tc.iat, now); !got.Equal(tc.want) {
			t.Errorf("%s: logoutMoment = %s; want %s", tc.name, got, tc.want)
		}
	}
}
