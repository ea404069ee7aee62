package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/postgres/pgtest"
)

// watcher collects what Watch reports.
type watcher struct {
	topics chan string
	errs   chan error
	done   chan error
}

func startWatch(t *testing.T, db *DB, ctx context.Context) *watcher {
	t.Helper()
	w := &watcher{topics: make(chan string, 100), errs: make(chan error, 100), done: make(chan error, 1)}
	db.watchError = func(err error) {
		select {
		case w.errs <- err:
		default:
		}
	}
	go func() { w.done <- db.Watch(ctx, func(topic string) { w.topics <- topic }) }()
	w.expect(t, "the first calls", 5*time.Second, TopicMode, TopicRevocations)
	return w
}

// expect fails t unless the next topics are want, each within d.
func (w *watcher) expect(t *testing.T, what string, d time.Duration, want ...string) {
	t.Helper()
	for _, topic := range want {
		select {
		case got := <-w.topics:
			if got != topic {
				t.Fatalf("%s: Watch called fn(%q); want fn(%q)", what, got, topic)
			}
		case <-time.After(d):
			t.Fatalf("%s: no fn(%q) within %s", what, topic, d)
		}
	}
}

// quiet fails t if Watch calls fn within d.
func (w *watcher) quiet(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case got := <-w.topics:
		t.Errorf("%s: Watch called fn(%q); want no call", what, got)
	case <-time.After(d):
	}
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	dsn := pgtest.DSN(t)
	watching, other := openAt(t, dsn, Options{}), openAt(t, dsn, Options{})
	elsewhere := openAt(t, pgtest.DSN(t), Options{}) // another schema, same database
	w := startWatch(t, watching, ctx)

	start := time.Now()
	if err := other.SetMode(ctx, "enforce", claim.Event{Time: t0, Actor: "cli", Action: "mode.set"}); err != nil {
		t.Fatalf("SetMode = %v; want nil", err)
	}
	w.expect(t, "SetMode on another pool", 2*time.Second, TopicMode)
	t.Logf("mode change reached the watcher in %s", time.Since(start))

	rv := session.Revocation{Kind: session.RevokePerson, Subject: "z1", At: t0, Until: t0.Add(time.Hour)}
	if err := other.AddRevocation(ctx, rv); err != nil {
		t.Fatalf("AddRevocation = %v; want nil", err)
	}
	w.expect(t, "AddRevocation on another pool", 2*time.Second, TopicRevocations)

	// An older revocation changes nothing, so it announces nothing; nor do
	// changes in another schema or of other things.
	stale := rv
	stale.At = t0.Add(-time.Hour)
	if err := other.AddRevocation(ctx, stale); err != nil {
		t.Fatalf("AddRevocation(stale) = %v; want nil", err)
	}
	if err := elsewhere.SetMode(ctx, "offer", claim.Event{Time: t0, Action: "mode.set"}); err != nil {
		t.Fatalf("SetMode elsewhere = %v; want nil", err)
	}
	if err := other.AppendEvent(ctx, claim.Event{Time: t0, Action: "test"}); err != nil {
		t.Fatalf("AppendEvent = %v; want nil", err)
	}
	w.quiet(t, "stale revocation, other schema, other writes", 300*time.Millisecond)

	// A change that rolls back announces nothing: SetMode with an event
	// the server refuses (text cannot hold a NUL byte) stores no mode either.
	if err := other.SetMode(ctx, "passthrough", claim.Event{Time: t0, Action: "bad\x00action"}); err == nil {
		t.Fatalf("SetMode with a NUL in the event = nil; want an error")
	}
	w.quiet(t, "rolled-back SetMode", 300*time.Millisecond)
	if mode, _ := other.Mode(ctx); mode != "enforce" {
		t.Errorf("Mode() after a failed SetMode = %q; want enforce", mode)
	}

	// A bare NOTIFY (an operator's) reaches every schema.
	pgtest.Exec(t, dsn, `NOTIFY hubgate_changes, 'revocations'`)
	w.expect(t, "bare NOTIFY", 2*time.Second, TopicRevocations)

	cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch after cancel = %v; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of its context ending")
	}
}

// TestWatchReconnects kills the listening connection from the server side:
// Watch reconnects, says so by calling fn with every topic, and delivers the
// next change.
func TestWatchReconnects(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	watching, other := openAt(t, dsn, Options{}), openAt(t, dsn, Options{})
	w := startWatch(t, watching, ctx)

	for round := range 2 {
		pid := atomic.LoadInt64(&watching.watchPID)
		var killed bool
		if err := other.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1::int)`, pid).Scan(&killed); err != nil || !killed {
			t.Fatalf("pg_terminate_backend(%d) = %t, %v; want true", pid, killed, err)
		}
		w.expect(t, fmt.Sprintf("reconnect #%d", round+1), 5*time.Second, TopicMode, TopicRevocations)
		if now := atomic.LoadInt64(&watching.watchPID); now == pid {
			t.Errorf("listening backend pid = %d after reconnecting; want a new one", now)
		}
		select {
		case err := <-w.errs:
			t.Logf("WatchError got: %v", err)
		default:
			t.Errorf("WatchError was not called for the lost connection")
		}
		if err := other.SetMode(ctx, migration.Mode(fmt.Sprintf("mode-%d", round)), claim.Event{Time: t0, Action: "mode.set"}); err != nil {
			t.Fatalf("SetMode = %v; want nil", err)
		}
		w.expect(t, "SetMode after reconnecting", 2*time.Second, TopicMode)
	}
}

// TestWatchIdle lets the listening connection idle past several liveness
// checks: it stays the same connection and still delivers.
func TestWatchIdle(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	watching, other := openAt(t, dsn, Options{}), openAt(t, dsn, Options{})
	watching.watchIdle = 100 * time.Millisecond
	w := startWatch(t, watching, ctx)
	pid := atomic.LoadInt64(&watching.watchPID)
	w.quiet(t, "idle", 600*time.Millisecond)
	select {
	case err := <-w.errs:
		t.Errorf("WatchError(%v) while idle; want no failure", err)
	default:
	}
	if now := atomic.LoadInt64(&watching.watchPID); now != pid {
		t.Errorf("listening backend pid went from %d to %d while idle; want the same connection", pid, now)
	}
	if err := other.SetMode(ctx, "offer", claim.Event{Time: t0, Action: "mode.set"}); err != nil {
		t.Fatalf("SetMode = %v; want nil", err)
	}
	w.expect(t, "SetMode after idling", 2*time.Second, TopicMode)
}

// TestWatchStopsOnClose: Close ends every Watch, and a closed store
// refuses to start one.
func TestWatchStopsOnClose(t *testing.T) {
	db, err := Open(t.Context(), pgtest.DSN(t), Options{})
	if err != nil {
		t.Fatalf("Open = %v; want nil", err)
	}
	w := startWatch(t, db, context.Background())
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch after Close = %v; want nil", err)
		}
	default:
		t.Fatal("Close returned before Watch did")
	}
	if err := db.Watch(t.Context(), func(string) {}); err == nil {
		t.Errorf("Watch on a closed store = nil; want an error")
	}
}
