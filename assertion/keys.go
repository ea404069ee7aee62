package assertion

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"sort"
	"sync"
	"time"
)

// KeyLife is how long a signing key signs; KeyLead is how long before use a
// successor is created and published.
const (
	KeyLife = 7 * 24 * time.Hour
	KeyLead = 24 * time.Hour
)

type signingKey struct {
	id      string
	priv    *ecdsa.PrivateKey
	created time.Time
	retires time.Time
}

// keyring holds the loaded signing keys.
type keyring struct {
	mu   sync.RWMutex // guards keys
	keys []signingKey // oldest first
}

// current returns the key to sign with at now: the oldest not yet retired.
func (k *keyring) current(now time.Time) (signingKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if now.Before(key.retires) {
			return key, true
		}
	}
	return signingKey{}, false
}

func (k *keyring) all() []signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]signingKey(nil), k.keys...)
}

// Load reads the signing keys from the store, creates a successor when the
// current key retires within KeyLead (or there is none), and forgets keys
// past their publication window.
func (s *Signer) Load(ctx context.Context) error {
	now := s.cfg.Now()
	keys, latest, err := s.readKeys(ctx, now)
	if err != nil {
		return err
	}
	if latest.Sub(now) < KeyLead {
		start := now
		if latest.After(now) {
			start = latest
		}
		if err := s.newSigningKey(ctx, now, start.Add(KeyLife).Truncate(time.Minute)); err != nil {
			return err
		}
		// Read again rather than use ours: replicas that found the same
		// gap at the same time derived the same key id, and the store kept
		// the first one stored, so all of them sign with that one.
		if keys, _, err = s.readKeys(ctx, now); err != nil {
			return err
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].retires.Before(keys[j].retires) })
	s.keys.mu.Lock()
	s.keys.keys = keys
	s.keys.mu.Unlock()
	return nil
}

// readKeys opens the stored signing keys (deleting those past DeleteAt) and
// returns them with the latest retirement time among them.
func (s *Signer) readKeys(ctx context.Context, now time.Time) ([]signingKey, time.Time, error) {
	stored, err := s.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("load signing keys: %w", err)
	}
	var keys []signingKey
	latest := time.Time{}
	for _, sk := range stored {
		if !now.Before(sk.DeleteAt) {
			if err := s.cfg.Store.DeleteSigningKey(ctx, sk.ID); err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
		der, err := s.cfg.Sealer.Open("sigkey:"+sk.ID, sk.Sealed)
		if err != nil {
			s.cfg.Logger.Warn().Err(err).Str("event", "signing_key.unreadable").Str("kid", sk.ID).Send()
			continue
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		ec, ok := pk.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			continue
		}
		keys = append(keys, signingKey{id: sk.ID, priv: ec, created: sk.CreatedAt, retires: sk.RetiresAt})
		if sk.RetiresAt.After(latest) {
			latest = sk.RetiresAt
		}
	}
	return keys, latest, nil
}

// newSigningKey stores a new key retiring at retires. Its id is derived from
// retires (a minute), so that replicas racing to fill the same gap store one
// key: AddSigningKey keeps the first of equal ids.
func (s *Signer) newSigningKey(ctx context.Context, now, retires time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	kid := "k" + retires.UTC().Format("20060102t1504")
	sealed, err := s.cfg.Sealer.Seal("sigkey:"+kid, der)
	if err != nil {
		return err
	}
	sk := Key{ID: kid, Sealed: sealed, CreatedAt: now.UTC(), RetiresAt: retires.UTC(), DeleteAt: retires.Add(KeyLife).UTC()}
	if err := s.cfg.Store.AddSigningKey(ctx, sk); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	s.cfg.Logger.Info().Str("event", "signing_key.created").Str("kid", kid).Time("retires", retires).Send()
	return nil
}
