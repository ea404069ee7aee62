package zaikio

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The hub's published keys are cached the way zaikio-jwt_auth caches them
// (lib/zaikio/jwt_auth/jwk.rb): for an hour (JWK::CACHE_EXPIRES_AFTER), and
// refetched at once when a token names a kid the cache does not hold (the
// loader's invalidate: true). Unlike go-oidc's RemoteKeySet, which keeps keys
// for the life of the process and refetches after every failed signature,
// keySet
//   - forgets a key the hub stopped publishing at the first refetch, at most
//     an hour later (a withdrawn key must not stay trusted until the next
//     restart), and then drops the cached bearer tokens too (dropGen);
//   - refetches for an unknown kid only, never for a bad signature under a
//     known one, and for bearer tokens (which anyone on the internet can
//     send) at most flightBurst times and then once per flightInterval, so
//     that forged tokens cannot turn hubgate into a client hammering the hub;
//   - tells an unknown kid from a bad signature from an unreachable hub, so
//     that a refused bearer token gets the right error code.
//
// One keySet serves the sign-in verifier and the bearer verifier of a
// Client, so the keys are fetched once for both.
const keysMaxAge = time.Hour

// keySnapshot is one successful fetch of the key set. It never changes.
type keySnapshot struct {
	byKID   map[string]*jose.JSONWebKey
	fetched time.Time
}

// keySet implements oidc.KeySet for the hub's keys; see keysMaxAge.
// Create it with newKeySet.
type keySet struct {
	url     string
	get     func(ctx context.Context, url string) ([]byte, error)
	now     func() time.Time
	cur     atomic.Pointer[keySnapshot]
	dropGen atomic.Uint64 // bumped when a fetch no longer publishes a key the previous one did
	flight  flight
	fetchFn func(context.Context) error // k.fetch, made once so that a due refresh does not allocate per request
}

func newKeySet(url string, get func(context.Context, string) ([]byte, error), now func() time.Time) *keySet {
	k := &keySet{url: url, get: get, now: now}
	k.fetchFn = k.fetch
	return k
}

// refreshIfOld starts a background refetch when the keys are older than
// keysMaxAge, so that a key the hub withdrew is noticed (dropGen) even while
// every request is served from the verified-token cache.
func (k *keySet) refreshIfOld(now time.Time) {
	if s := k.cur.Load(); s != nil && now.Sub(s.fetched) >= keysMaxAge {
		k.flight.background(now, k.fetchFn)
	}
}

// keyOutcome carries, through go-oidc (which flattens the key set's errors
// into text), why a signature check failed and whether its fetches are
// rate-limited. The verifier puts one into the context of each call.
type keyOutcome struct {
	limited bool       // bearer tokens: refetches for unknown kids are rate-limited
	code    BearerCode // set on failure: unavailable, unknown_key, bad_signature or malformed
	err     error      // detail of an unavailable hub
}

type keyOutcomeKey struct{}

func withKeyOutcome(ctx context.Context, o *keyOutcome) context.Context {
	return context.WithValue(ctx, keyOutcomeKey{}, o)
}

func keyOutcomeOf(ctx context.Context) *keyOutcome {
	if o, ok := ctx.Value(keyOutcomeKey{}).(*keyOutcome); ok {
		return o
	}
	return &keyOutcome{}
}

var (
	errUnknownKey   = errors.New("no published key has the token's kid")
	errBadSignature = errors.New("the signature does not verify under the published key")
)

// VerifySignature checks jwt's signature under the published key its kid
// names and returns the payload. go-oidc's verifier has already checked
// that the algorithm is allowed (RS256).
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	out := keyOutcomeOf(ctx)
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		out.code = BearerMalformed
		return nil, fmt.Errorf("zaikio: parse jwt: %v", err)
	}
	// The gem's loader (ruby-jwt with jwks:) requires a kid too.
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" {
		out.code = BearerMalformed
		return nil, errors.New("zaikio: the token names no kid")
	}
	key, err := k.lookup(ctx, kid, out)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		out.code = BearerBadSignature
		return nil, errBadSignature
	}
	return payload, nil
}

// lookup finds the key for kid, fetching the key set when there is none yet,
// when kid is unknown, or (in the background) when it is older than
// keysMaxAge. A failed background refresh keeps the old keys, as the gem's
// DirectoryCache falls back to its stale data.
func (k *keySet) lookup(ctx context.Context, kid string, out *keyOutcome) (*jose.JSONWebKey, error) {
	k.refreshIfOld(k.now())
	seen := k.flight.done.Load()
	snap := k.cur.Load()
	if snap != nil && snap.byKID[kid] != nil {
		return snap.byKID[kid], nil
	}
	err := k.flight.run(ctx, k.now(), out.limited, seen, k.fetchFn)
	snap = k.cur.Load()
	switch {
	case snap != nil && snap.byKID[kid] != nil:
		return snap.byKID[kid], nil
	case errors.Is(err, errThrottled) && snap != nil:
		// We hold keys and fetched them moments ago: the kid is unknown.
		out.code = BearerUnknownKey
		return nil, errUnknownKey
	case err != nil:
		out.code, out.err = BearerUnavailable, err
		return nil, err
	}
	out.code = BearerUnknownKey
	return nil, errUnknownKey
}

// fetch reads the key set and makes it current.
func (k *keySet) fetch(ctx context.Context) error {
	body, err := k.get(ctx, k.url)
	if err != nil {
		return fmt.Errorf("fetch keys: %w", err)
	}
	byKID, err := parseKeys(body)
	if err != nil {
		return fmt.Errorf("fetch keys: %w", err)
	}
	next := &keySnapshot{byKID: byKID, fetched: k.now()}
	if prev := k.cur.Swap(next); prev != nil {
		for kid := range prev.byKID {
			if byKID[kid] == nil {
				k.dropGen.Add(1)
				break
			}
		}
	}
	return nil
}

// parseKeys reads a JWK set, keeping the RSA keys meant for RS256 (or for no
// stated algorithm) that have a kid, and skipping the others as RFC 7517 §5
// asks of keys an implementation does not understand.
func parseKeys(body []byte) (map[string]*jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	byKID := map[string]*jose.JSONWebKey{}
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue
		}
		if k.KeyID == "" || !k.IsPublic() || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		if _, ok := k.Key.(*rsa.PublicKey); !ok {
			continue
		}
		byKID[k.KeyID] = &k
	}
	if len(byKID) == 0 {
		return nil, errors.New("the hub publishes no RS256 key")
	}
	return byKID, nil
}

// getPublic fetches a public hub document (no credentials) with client,
// reading at most limit bytes of it.
func getPublic(client *http.Client, limit int64) func(ctx context.Context, url string) ([]byte, error) {
	return func(ctx context.Context, url string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Cache-Control", "no-cache")
		req.Header.Set("User-Agent", "hubgate")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		if int64(len(body)) > limit {
			return nil, fmt.Errorf("the answer is longer than %d bytes", limit)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return body, nil
	}
}

// flight runs one fetch of a hub document at a time and bounds how often
// fetches start: a burst of flightBurst, then one per flightInterval (the
// 10 seconds after which the gem's DirectoryCache::UpdateJob retries a
// failed fetch).
type flight struct {
	// quiet is when (unix nanoseconds, on the caller's clock) background
	// need look again: until then a fetch runs or the budget is spent. It
	// keeps the hot path, which asks for a refresh on every request while
	// one is due, from taking mu.
	quiet atomic.Int64
	// done counts finished fetches, so that a caller who looked at the
	// data before another caller's fetch finished does not fetch again.
	done atomic.Uint64

	mu      sync.Mutex    // guards everything below
	running chan struct{} // closed when the running fetch ends; nil when idle
	err     error         // the last fetch's result, for those who waited on it
	budget  float64       // fetches that may start now (≤ flightBurst)
	stamp   time.Time     // when budget was last topped up; zero: never (full)
}

const (
	flightBurst    = 3
	flightInterval = 10 * time.Second
	// flightTimeout bounds a fetch nobody waits for.
	flightTimeout = 10 * time.Second
)

var errThrottled = errors.New("fetched too recently; not asking the hub again yet")

// take spends one fetch from the budget if limited; f.mu is held.
func (f *flight) take(now time.Time, limited bool) bool {
	if f.stamp.IsZero() {
		f.budget, f.stamp = flightBurst, now
	}
	if d := now.Sub(f.stamp); d > 0 {
		f.budget = min(flightBurst, f.budget+float64(d)/float64(flightInterval))
		f.stamp = now
	}
	if f.budget < 1 {
		if limited {
			f.quiet.Store(now.Add(time.Duration((1 - f.budget) * float64(flightInterval))).UnixNano())
		}
		return !limited
	}
	f.budget--
	return true
}

// run waits for the running fetch, or starts fn when none runs (and the
// budget allows: unlimited callers always may), and returns its error. seen
// is f.done as the caller read it before finding the data wanting: if a
// fetch has finished since, its result is returned without fetching again.
// fn gets a context that the caller's cancellation does not end (others may
// be waiting for the result); the HTTP client's timeout bounds it.
func (f *flight) run(ctx context.Context, now time.Time, limited bool, seen uint64, fn func(context.Context) error) error {
	f.mu.Lock()
	if f.done.Load() != seen {
		defer f.mu.Unlock()
		return f.err
	}
	if ch := f.running; ch != nil {
		f.mu.Unlock()
		select {
		case <-ch:
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !f.take(now, limited) {
		f.mu.Unlock()
		return errThrottled
	}
	ch := make(chan struct{})
	f.running = ch
	f.quiet.Store(now.Add(flightTimeout).UnixNano())
	f.mu.Unlock()
	err := fn(context.WithoutCancel(ctx))
	f.finish(ch, err)
	return err
}

// finish records the end of the running fetch.
func (f *flight) finish(ch chan struct{}, err error) {
	f.mu.Lock()
	f.err, f.running = err, nil
	f.quiet.Store(0)
	f.done.Add(1)
	close(ch)
	f.mu.Unlock()
}

// background starts fn in a goroutine unless a fetch runs or the budget is
// spent; nobody waits for it.
func (f *flight) background(now time.Time, fn func(context.Context) error) {
	if now.UnixNano() < f.quiet.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running != nil || !f.take(now, true) {
		return
	}
	ch := make(chan struct{})
	f.running = ch
	f.quiet.Store(now.Add(flightTimeout).UnixNano())
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), flightTimeout)
		err := fn(ctx)
		cancel()
		f.finish(ch, err)
	}()
}
