package mail_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: neither the
// context watchers of Sender nor mailtest's connection handlers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
