package zaikio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bearer names who a token speaks for.
type Bearer struct {
	ID    string   `json:"id"`
	Type  string   `json:"type"`            // "Person" or "Organization"
	Roles []string `json:"roles,omitempty"` // only on bearer_on_behalf_of
}

// Token is a decoded token response.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	// Scope is the granted scope, split at commas; it may be a subset of what
	// was asked for.
	Scope     []string
	Audiences []string
	// Expiry comes from expires_in (either form); Verify replaces it with the
	// JWT's exp, which is authoritative.
	Expiry time.Time
	Bearer Bearer
	// OnBehalfOf is set for Per>Org. grants: the acting person and their roles
	// in the bearer organization.
	OnBehalfOf *Bearer
}

// HasScope reports whether the grant includes scope s (compared without any
// Per./Org./Per>Org. prefix, as the hub reports scopes).
func (t *Token) HasScope(s string) bool {
	s = unprefixScope(s)
	for _, g := range t.Scope {
		if unprefixScope(g) == s {
			return true
		}
	}
	return false
}

// unprefixScope strips "Per.", "Org.", "Org/<uuid>." and "Per>Org." from s.
func unprefixScope(s string) string {
	for _, p := range []string{"Per>Org.", "Per.", "Org."} {
		if strings.HasPrefix(s, p) {
			return s[len(p):]
		}
	}
	if strings.HasPrefix(s, "Org/") {
		if i := strings.IndexByte(s, '.'); i > 0 {
			return s[i+1:]
		}
	}
	return s
}

type tokenJSON struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	TokenType    string          `json:"token_type"`
	Scope        string          `json:"scope"`
	Audiences    []string        `json:"audiences"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	Bearer       Bearer          `json:"bearer"`
	OnBehalfOf   *Bearer         `json:"bearer_on_behalf_of"`
}

// decodeToken reads a token response. expires_in is accepted as an integer
// (seconds, as recorded responses show), a string of digits, an ISO-8601
// timestamp (as the docs show) or an ISO-8601 duration ("PT600S").
func decodeToken(body []byte, now time.Time) (*Token, error) {
	var tj tokenJSON
	if err := json.Unmarshal(body, &tj); err != nil {
		return nil, fmt.Errorf("decode token response: %w", err)
	}
	if tj.AccessToken == "" {
		return nil, errors.New("token response has no access_token")
	}
	if tj.TokenType != "" && !strings.EqualFold(tj.TokenType, "bearer") {
		return nil, fmt.Errorf("token_type %q, want bearer", tj.TokenType)
	}
	if tj.Bearer.ID == "" || (tj.Bearer.Type != "Person" && tj.Bearer.Type != "Organization") {
		return nil, fmt.Errorf("token response bearer %+v, want an id and type Person or Organization", tj.Bearer)
	}
	exp, err := parseExpiresIn(tj.ExpiresIn, now)
	if err != nil {
		return nil, err
	}
	t := &Token{
		AccessToken: tj.AccessToken, RefreshToken: tj.RefreshToken, TokenType: tj.TokenType,
		Scope: splitScope(tj.Scope), Audiences: tj.Audiences, Expiry: exp,
		Bearer: tj.Bearer, OnBehalfOf: tj.OnBehalfOf,
	}
	return t, nil
}

func splitScope(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func parseExpiresIn(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		f, err := n.Float64()
		if err != nil {
			return time.Time{}, fmt.Errorf("expires_in %s: %w", raw, err)
		}
		return expiresAfter(now, f, string(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("expires_in %s: want a number or a string", raw)
	}
	s = strings.TrimSpace(s)
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return expiresAfter(now, float64(secs), strconv.Quote(s))
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05 MST", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if d, ok := parseISODuration(s); ok {
		return expiresAfter(now, d.Seconds(), strconv.Quote(s))
	}
	return time.Time{}, fmt.Errorf("expires_in %q: want seconds or an ISO-8601 time", s)
}

// maxExpiresIn bounds a relative expires_in. Access tokens live minutes; a
// negative or huge lifetime is a malformed answer, and past ~292 years it
// would overflow time.Duration into a wrong, even past, expiry.
const maxExpiresIn = 366 * 24 * time.Hour

func expiresAfter(now time.Time, secs float64, shown string) (time.Time, error) {
	if !(secs >= 0 && secs <= maxExpiresIn.Seconds()) {
		return time.Time{}, fmt.Errorf("expires_in %s: want between 0 and %.0f seconds", shown, maxExpiresIn.Seconds())
	}
	return now.Add(time.Duration(secs * float64(time.Second))), nil
}

// parseISODuration reads the time part of an ISO-8601 duration: PT#H#M#S.
func parseISODuration(s string) (time.Duration, bool) {
	if !strings.HasPrefix(s, "PT") || len(s) < 4 {
		return 0, false
	}
	var d time.Duration
	num := ""
	for _, r := range s[2:] {
		switch {
		case r >= '0' && r <= '9' || r == '.':
			num += string(r)
		case r == 'H' || r == 'M' || r == 'S':
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, false
			}
			unit := map[rune]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second}[r]
			if f*float64(unit) > float64(maxExpiresIn) {
				return 0, false // would overflow; expiresAfter bounds the sum
			}
			d += time.Duration(f * float64(unit))
			num = ""
		default:
			return 0, false
		}
	}
	return d, num == ""
}

// Exchange trades an authorization code and its PKCE verifier for a token
// (RFC 6749 §4.1.3, RFC 7636 §4.5). The token is not yet verified: call
// Verify.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*Token, error) {
	if code == "" {
		return nil, &Error{Op: "token", Code: "invalid_request", Description: "empty code"}
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	return c.tokenRequest(ctx, form)
}

// Refresh trades a refresh token for a new token. Refresh tokens are single
// use: the answer carries the next one, which must be stored before the old
// one is forgotten. A rejected token is ErrInvalidGrant.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, &Error{Op: "refresh", Code: "invalid_grant", Description: "no refresh token"}
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return c.tokenRequest(ctx, form)
}

func (c *Client) tokenRequest(ctx context.Context, form url.Values) (*Token, error) {
	op := "token"
	if form.Get("grant_type") == "refresh_token" {
		op = "refresh"
	}
	body := []byte(form.Encode())
	status, resp, err := c.do(ctx, op, http.MethodPost, c.url("/oauth/access_token"), body, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// Confidential client: HTTP Basic (RFC 6749 §2.3.1), which the hub
		// accepts for both grants.
		r.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, oauthError(op, status, resp)
	}
	t, err := decodeToken(resp, c.cfg.Now())
	if err != nil {
		return nil, &Error{Op: op, Status: status, Err: err}
	}
	return t, nil
}

func oauthError(op string, status int, body []byte) *Error {
	var e struct {
		Error       string   `json:"error"`
		Description string   `json:"error_description"`
		Errors      []string `json:"errors"`
	}
	_ = json.Unmarshal(body, &e)
	code := e.Error
	if code == "" && len(e.Errors) > 0 {
		code = e.Errors[0]
	}
	return &Error{Op: op, Status: status, Code: code, Description: e.Description}
}

// maxBody bounds every response read from the hub.
const maxBody = 1 << 20

// do sends one request, retrying after 429 (honouring RateLimit-Reset, with
// jitter) and, for GETs, after 502/503/504. It returns the final status and
// body; transport failures and exhausted retries are *Error wrapping
// ErrUnavailable.
func (c *Client) do(ctx context.Context, op, method, u string, body []byte, prepare func(*http.Request)) (int, []byte, error) {
	retries := max(c.cfg.Retries, 0)
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return 0, nil, &Error{Op: op, Err: err}
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "hubgate")
		prepare(req)
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, nil, &Error{Op: op, Err: err}
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return 0, nil, &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("read body: %w", err)}
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests ||
			(method == http.MethodGet && (resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 504))
		if !retryable || attempt >= retries {
			return resp.StatusCode, data, nil
		}
		wait := c.backoff(resp, attempt)
		if wait > c.cfg.MaxRateLimitWait {
			return resp.StatusCode, data, nil
		}
		// The deadline is on the real clock, not the injected one.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return resp.StatusCode, data, nil
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return 0, nil, &Error{Op: op, Err: err}
		}
	}
}

// backoff is how long to wait before retry number attempt+1: until the hub's
// RateLimit-Reset (unix seconds) when given, else exponential from 200 ms;
// plus up to 25% jitter so that replicas do not retry in lockstep.
func (c *Client) backoff(resp *http.Response, attempt int) time.Duration {
	d := 200 * time.Millisecond << attempt
	if v := resp.Header.Get("RateLimit-Reset"); v != "" {
		if unix, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			// Small values are delta-seconds (IETF draft), large ones unix time.
			if unix < 1e9 {
				d = time.Duration(unix) * time.Second
			} else {
				d = time.Unix(unix, 0).Sub(c.cfg.Now())
			}
		}
	} else if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			d = time.Duration(secs) * time.Second
		}
	}
	d = max(d, 50*time.Millisecond)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}
