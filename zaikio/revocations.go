package zaikio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Revocation list timing. zaikio-jwt_auth (lib/zaikio/jwt_auth.rb,
// revoked_token_ids) caches GET api/v1/revoked_access_tokens for 60
// minutes, refetches it when a request finds it older, falls back to the
// stale list when the hub cannot be reached (DirectoryCache.fetch), and adds
// the access_token_id of every revoked_access_token webhook at once
// (RevokeAccessTokenJob). hubgate refetches sooner, in the background,
// because a revocation whose webhook was lost (or sent to another replica)
// should not stay unnoticed for an hour when the list is one small public
// GET; and it keeps the gem's hour as the most it trusts a list it could not
// refresh. Past that it fails closed (BearerUnavailable) where the gem would
// go on with the stale list, or with none at all.
const (
	// DefaultRevocationRefresh is how old the list grows before a request
	// that finds it so starts a background refetch.
	DefaultRevocationRefresh = 5 * time.Minute
	// DefaultRevocationMaxAge is how old a list may be and still be
	// trusted when refetches fail: the gem's 60 minutes.
	DefaultRevocationMaxAge = time.Hour
	// localRevocationTTL is how long a jti learned from outside the list is
	// kept: far longer than any access token lives (10 to 60 minutes).
	localRevocationTTL = 24 * time.Hour
	// maxRevokedBody bounds the list's answer (a jti is 36 bytes).
	maxRevokedBody = 16 << 20
	maxJTILen      = 128
)

// revSnapshot is the revocation set at one moment. It never changes.
type revSnapshot struct {
	ids     map[string]struct{} // the fetched list and the jtis learned from outside
	fetched time.Time           // when the list was fetched; zero: never
}

// revocations is the hub's list of revoked access token ids, merged with
// the ids learned from outside it. Lookups take no lock.
type revocations struct {
	url             string
	get             func(ctx context.Context, url string) ([]byte, error)
	now             func() time.Time
	refresh, maxAge time.Duration
	fetchFn         func(context.Context) error // r.fetch, made once so that a due refresh does not allocate per request
	cur             atomic.Pointer[revSnapshot]
	flight          flight

	mu      sync.Mutex           // guards local, listed and writes of cur
	local   map[string]time.Time // jtis from Revoke and AddRevoked: when learned
	listed  []string             // the last fetched list
	fetched time.Time
}

func newRevocations(url string, get func(context.Context, string) ([]byte, error), now func() time.Time, refresh, maxAge time.Duration) *revocations {
	r := &revocations{url: url, get: get, now: now, refresh: refresh, maxAge: maxAge, local: map[string]time.Time{}}
	r.fetchFn = r.fetch
	r.cur.Store(&revSnapshot{ids: map[string]struct{}{}})
	return r
}

// revoked reports whether jti is revoked as far as we know.
func (r *revocations) revoked(jti string) bool {
	_, ok := r.cur.Load().ids[jti]
	return ok
}

// usable reports whether the list may be trusted at now (fetched less than
// maxAge ago), and starts a background refresh when it is due.
func (r *revocations) usable(now time.Time) bool {
	s := r.cur.Load()
	if s.fetched.IsZero() {
		return false
	}
	age := now.Sub(s.fetched)
	if age >= r.refresh {
		r.flight.background(now, r.fetchFn)
	}
	return age < r.maxAge
}

// ensure makes the list usable, fetching it now when it is not; it fails
// when the hub cannot be asked (or was asked too often just now).
func (r *revocations) ensure(ctx context.Context) error {
	seen := r.flight.done.Load()
	if r.usable(r.now()) {
		return nil
	}
	err := r.flight.run(ctx, r.now(), true, seen, r.fetchFn)
	if r.usable(r.now()) {
		return nil
	}
	if err == nil {
		err = errors.New("the revocation list is out of date")
	}
	return fmt.Errorf("revocation list: %w", err)
}

// fetch reads the hub's list and makes it current.
func (r *revocations) fetch(ctx context.Context) error {
	body, err := r.get(ctx, r.url)
	if err != nil {
		return err
	}
	var list struct {
		IDs *[]string `json:"revoked_token_ids"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if list.IDs == nil {
		return errors.New("decode: no revoked_token_ids")
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed, r.fetched = *list.IDs, now
	for jti, at := range r.local {
		if now.Sub(at) > localRevocationTTL {
			delete(r.local, jti)
		}
	}
	ids := make(map[string]struct{}, len(r.listed)+len(r.local))
	for _, jti := range r.listed {
		ids[jti] = struct{}{}
	}
	for jti := range r.local {
		ids[jti] = struct{}{}
	}
	r.cur.Store(&revSnapshot{ids: ids, fetched: now})
	return nil
}

// add records jtis learned from outside the list; it returns how many were
// new. Empty or overlong ids are ignored.
func (r *revocations) add(jtis []string) int {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.cur.Load()
	var fresh []string
	for _, jti := range jtis {
		if jti == "" || len(jti) > maxJTILen {
			continue
		}
		if _, ok := r.local[jti]; !ok {
			r.local[jti] = now
		}
		if _, ok := cur.ids[jti]; !ok {
			fresh = append(fresh, jti)
		}
	}
	if len(fresh) == 0 {
		return 0
	}
	ids := make(map[string]struct{}, len(cur.ids)+len(fresh))
	for jti := range cur.ids {
		ids[jti] = struct{}{}
	}
	for _, jti := range fresh {
		ids[jti] = struct{}{}
	}
	r.cur.Store(&revSnapshot{ids: ids, fetched: cur.fetched})
	return len(ids) - len(cur.ids)
}
