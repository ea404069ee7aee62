package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Logout is a verified back-channel logout request: end the sessions of
// PersonID, or the one whose provider session is SessionID (both may be
// set: then the sessions that match both).
type Logout struct {
	// PersonID is PersonID(issuer, Subject); empty when the token named
	// only a session.
	PersonID string
	Subject  string
	// SessionID is the sid of the provider session that ended; empty when
	// the token named only a subject.
	SessionID string
	// TokenID is the token's jti.
	TokenID  string
	IssuedAt time.Time
}

// VerifyLogout verifies a logout_token (OpenID Connect Back-Channel Logout
// 1.0 §2.6): signature with an accepted algorithm, iss, aud containing our
// client id, exp, the back-channel event claim, sub or sid, no nonce (so
// that no ID token passes for one) — go-oidc's VerifyLogout — and then an
// iat no older than Config.LogoutMaxAge and not in the future, and a jti
// not seen before (§2.6 step 9). Refusals wrap ErrLogoutToken; keys that
// cannot be read are ErrUnavailable.
func (c *Client) VerifyLogout(ctx context.Context, raw string) (*Logout, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	failures := c.keyFailures.Load()
	lt, err := m.verifier.VerifyLogout(c.ctx(ctx), raw)
	if err != nil {
		if c.keyFailures.Load() != failures {
			return nil, &Error{Op: "keys", Err: fmt.Errorf("verify logout_token: %w", err)}
		}
		return nil, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	var extra struct {
		IAT *json.Number `json:"iat"`
	}
	if err := lt.Claims(&extra); err != nil || extra.IAT == nil {
		return nil, fmt.Errorf("%w: no iat", ErrLogoutToken)
	}
	now := c.cfg.Now()
	switch {
	case lt.IssuedAt.Before(now.Add(-c.cfg.LogoutMaxAge)):
		return nil, fmt.Errorf("%w: issued %v ago, older than %v", ErrLogoutToken, now.Sub(lt.IssuedAt).Round(time.Second), c.cfg.LogoutMaxAge)
	case lt.IssuedAt.After(now.Add(time.Minute)):
		return nil, fmt.Errorf("%w: issued in the future (iat %v)", ErrLogoutToken, lt.IssuedAt)
	}
	if !c.seen.add(lt.TokenID, lt.IssuedAt.Add(c.cfg.LogoutMaxAge+time.Minute), now) {
		return nil, fmt.Errorf("%w: jti %q already used", ErrLogoutToken, lt.TokenID)
	}
	l := &Logout{Subject: lt.Subject, SessionID: lt.SessionID, TokenID: lt.TokenID, IssuedAt: lt.IssuedAt}
	if lt.Subject != "" {
		l.PersonID = PersonID(m.issuer, lt.Subject)
	}
	return l, nil
}

// replay remembers logout token ids until they could no longer pass the
// iat check anyway. It is per process: with several replicas a replayed
// token ends, at worst, sessions that had already ended.
type replay struct {
	mu  sync.Mutex // guards ids
	ids map[string]time.Time
}

// maxReplay bounds the ids remembered; past it the oldest go first.
const maxReplay = 10000

// add records id until forget and reports whether it was new.
func (r *replay) add(id string, forget, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return false
	}
	if len(r.ids) >= maxReplay {
		var oldest string
		for k, t := range r.ids {
			if t.Before(now) {
				delete(r.ids, k)
			} else if oldest == "" || t.Before(r.ids[oldest]) {
				oldest = k
			}
		}
		if len(r.ids) >= maxReplay {
			delete(r.ids, oldest)
		}
	}
	r.ids[id] = forget
	return true
}

// EndSessionURL returns where to send the browser for RP-initiated logout
// (OpenID Connect RP-Initiated Logout 1.0 §2): the provider's
// end_session_endpoint with id_token_hint, client_id, the configured
// post_logout_redirect_uri and state. ErrUnsupported when the provider has
// no such endpoint (Google): then signing out of hubgate is all there is.
func (c *Client) EndSessionURL(ctx context.Context, idTokenHint, state string) (string, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	if m.endSession == "" {
		return "", fmt.Errorf("%w: no end_session_endpoint in discovery", ErrUnsupported)
	}
	u, err := url.Parse(m.endSession)
	if err != nil {
		return "", &Error{Op: "discovery", Status: http.StatusOK, Code: "bad end_session_endpoint", Err: err}
	}
	q := u.Query()
	q.Set("client_id", c.cfg.ClientID)
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if c.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURL)
		if state != "" {
			q.Set("state", state)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Revoke revokes a token at the provider's revocation endpoint (RFC 7009):
// kind is "refresh_token" or "access_token" (the token_type_hint).
// Revoking a refresh token usually ends its grant. An unknown or already
// invalid token is not an error (RFC 7009 §2.2); a provider without the
// endpoint is ErrUnsupported.
func (c *Client) Revoke(ctx context.Context, token, kind string) error {
	m, err := c.discover(ctx)
	if err != nil {
		return err
	}
	if m.revocation == "" {
		return fmt.Errorf("%w: no revocation_endpoint in discovery", ErrUnsupported)
	}
	form := url.Values{"token": {token}}
	if kind != "" {
		form.Set("token_type_hint", kind)
	}
	if c.cfg.ClientSecret == "" {
		form.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return &Error{Op: "revoke", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.cfg.ClientSecret != "" {
		// RFC 6749 §2.3.1: form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: "revoke", Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	return &Error{Op: "revoke", Status: resp.StatusCode, Code: e.Error, Description: e.Description}
}
