package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// keySet verifies signatures: asymmetric algorithms against the provider's
// published keys (go-oidc's RemoteKeySet: cached, refetched on an unknown
// kid), HS* against the client secret and nothing else. The verifier has
// already refused any algorithm discovery and the config do not accept, so
// an HS* token reaches here only with AllowHMAC; and it is never checked
// against a published key's bytes (the algorithm-confusion attack).
type keySet struct {
	remote *gooidc.RemoteKeySet
	secret []byte // the client secret, for HS*; nil when HMAC is off
}

func (c *Client) newKeySet(jwks string) *keySet {
	// go-oidc keeps this context for its fetches; only its HTTP client
	// matters (cancellation is ignored).
	keyCtx := gooidc.ClientContext(context.Background(), &http.Client{
		Timeout:       10 * time.Second,
		Transport:     keyTransport{next: c.http.Transport, failures: &c.keyFailures},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	ks := &keySet{remote: gooidc.NewRemoteKeySet(keyCtx, jwks)}
	if c.cfg.AllowHMAC {
		ks.secret = []byte(c.cfg.ClientSecret)
	}
	return ks
}

func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, append(slices.Clone(asymmetricJOSE), hmacJOSE...))
	if err != nil {
		return nil, fmt.Errorf("oidc: malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: want exactly one signature")
	}
	if !slices.Contains(hmacJOSE, jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm)) {
		return k.remote.VerifySignature(ctx, raw)
	}
	if k.secret == nil {
		return nil, errors.New("oidc: HMAC-signed token, and HMAC is off")
	}
	return jws.Verify(k.secret)
}

var (
	asymmetricJOSE = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384,
		jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}
	hmacJOSE = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}
)

// keyTransport counts the key set's failed fetches (see
// Client.keyFailures): go-oidc reports them only as text inside its
// verification error.
type keyTransport struct {
	next     http.RoundTripper // nil: http.DefaultTransport
	failures *atomic.Uint64
}

func (t keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.failures.Add(1)
	}
	return resp, err
}

// CheckKeys reads discovery and the provider's published keys and reports
// an error unless there is at least one key: readiness means sign-ins can
// be verified. A success is remembered for a minute so that probes do not
// hammer the provider.
func (c *Client) CheckKeys(ctx context.Context) error {
	if t := c.keysOK.Load(); t != 0 && c.cfg.Now().Sub(time.Unix(0, t)) < time.Minute {
		return nil
	}
	m, err := c.discover(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.jwks, nil)
	if err != nil {
		return &Error{Op: "keys", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: "keys", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &Error{Op: "keys", Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{Op: "keys", Status: resp.StatusCode}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
		return &Error{Op: "keys", Status: resp.StatusCode, Code: "no keys published"}
	}
	c.keysOK.Store(c.cfg.Now().UnixNano())
	return nil
}

// maxBody bounds every answer read from the provider.
const maxBody = 1 << 20
