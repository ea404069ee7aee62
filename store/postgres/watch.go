package postgres

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel on which SetMode and
// AddRevocation announce their commits. The payload is "<topic>:<schema>";
// a bare "<topic>" (an operator's NOTIFY hubgate_changes, 'mode') reaches
// every schema.
const Channel = "hubgate_changes"

// Topics passed to Watch's callback: what changed, so what to re-read.
const (
	TopicMode        = "mode"        // SetMode committed: re-read Mode
	TopicRevocations = "revocations" // AddRevocation committed: re-read Revocations
)

// Watch timing: reconnection backoff, and how long the listening connection
// may stay silent before Watch checks that it is still alive (a server that
// vanished without closing the TCP connection sends nothing, ever).
const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 5 * time.Second
	watchIdleCheck  = 30 * time.Second // DB.watchIdle
	watchPingWait   = 5 * time.Second
)

// notify announces topic to every Watch of this schema when tx commits.
func (db *DB) notify(ctx context.Context, tx pgx.Tx, topic string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, topic+":"+db.schema)
	return err
}

// Watch calls fn(TopicMode) or fn(TopicRevocations) whenever SetMode or
// AddRevocation commits a change in this store's schema, on this replica or
// any other, until ctx is done or the store is closed; then it returns nil.
//
// Watch LISTENs on a connection of its own, outside the pool. When that
// connection fails it reconnects for as long as it takes (backoff from 100ms
// to 5s, each failure reported to Options.WatchError); after every
// successful connection, the first included, it calls fn once with each
// topic, because changes that committed while nobody listened were missed.
// A caller that re-reads on every call therefore never keeps a stale value
// longer than the outage, and the first two calls also say that listening
// has begun.
//
// fn runs on Watch's goroutine, one call at a time, and should return
// quickly (signal a channel, say); notifications queue meanwhile.
// Notifications are a fast path: a replica should still poll now and then.
func (db *DB) Watch(ctx context.Context, fn func(topic string)) error {
	if fn == nil {
		return errors.New("postgres: watch: nil callback")
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return errors.New("postgres: watch: the store is closed")
	}
	db.watchers.Add(1)
	db.mu.Unlock()
	defer db.watchers.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(db.closing, cancel)
	defer stop()

	backoff := watchMinBackoff
	for {
		listened, err := db.listen(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if db.watchError != nil {
			db.watchError(err)
		}
		if listened {
			backoff = watchMinBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchMaxBackoff)
	}
}

// listen connects, LISTENs and calls fn until the connection fails or ctx is
// done. listened reports whether it got as far as listening.
func (db *DB) listen(ctx context.Context, fn func(string)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, db.listenCfg)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), watchPingWait)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return false, err
	}
	atomic.StoreInt64(&db.watchPID, int64(conn.PgConn().PID()))
	fn(TopicMode)
	fn(TopicRevocations)

	for {
		waitCtx, cancel := context.WithTimeout(ctx, db.watchIdle)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case err != nil && waitCtx.Err() != nil && !conn.IsClosed():
			// Quiet for a while: make sure the server is still there.
			pingCtx, cancel := context.WithTimeout(ctx, watchPingWait)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return true, err
			}
			continue
		case err != nil:
			return true, err
		}
		topic, schema, scoped := strings.Cut(n.Payload, ":")
		if scoped && schema != db.schema {
			continue
		}
		if topic == TopicMode || topic == TopicRevocations {
			fn(topic)
		}
	}
}
