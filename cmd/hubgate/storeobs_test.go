package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// A store operation's outcome: not_found and the rules' refusals are the
// store answering; only its own failures are errors (HubgateStoreErrors
// alerts on them); a caller that gave up says nothing about the store.
func TestStoreOutcome(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{context.Background(), nil, "ok"},
		{context.Background(), fmt.Errorf("link: %w", claim.ErrNotFound), "not_found"},
		{context.Background(), session.ErrNotFound, "not_found"},
		{context.Background(), fmt.Errorf("redeem: %w", claim.ErrUsed), "ok"},
		{context.Background(), claim.ErrConflict, "ok"},
		{context.Background(), session.ErrConflict, "ok"},
		{context.Background(), errors.New("postgres: connection refused"), "error"},
		{context.Background(), context.DeadlineExceeded, "error"},
		{context.Background(), context.Canceled, "error"},
		{gone, fmt.Errorf("query: %w", context.Canceled), ""},
	} {
		if got := storeOutcome(tc.ctx, tc.err); got != tc.want {
			t.Errorf("storeOutcome(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}
