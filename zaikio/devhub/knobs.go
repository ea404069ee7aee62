package devhub

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Endpoint names a hub endpoint for [Hub.FailNext] and [Hub.Requests].
type Endpoint string

// The hub's endpoints.
const (
	EndpointAuthorize     Endpoint = "authorize"      // GET and POST /oauth/authorize
	EndpointToken         Endpoint = "token"          // POST /oauth/access_token
	EndpointKeys          Endpoint = "keys"           // GET /api/v1/jwt_public_keys
	EndpointRevoke        Endpoint = "revoke"         // POST /api/v1/revoked_access_tokens
	EndpointRevokedTokens Endpoint = "revoked_tokens" // GET /api/v1/revoked_access_tokens
	EndpointPerson        Endpoint = "person"         // GET /api/v1/person
	EndpointOrganization  Endpoint = "organization"   // GET /api/v1/organization
	EndpointMemberships   Endpoint = "memberships"    // GET /api/v1/organization/memberships
	EndpointRoles         Endpoint = "roles"          // GET /api/v1/roles
)

// Endpoints lists every [Endpoint], for pages and flags.
func Endpoints() []Endpoint {
	return []Endpoint{EndpointAuthorize, EndpointToken, EndpointKeys, EndpointRevoke,
		EndpointRevokedTokens, EndpointPerson, EndpointOrganization, EndpointMemberships, EndpointRoles}
}

// Failure describes how an endpoint misbehaves; see [Hub.FailNext].
//
// A failure with only a Delay slows the answer and then answers normally. Any
// other failure replaces the answer:
//   - authorize: redirects to the redirect_uri with ?error=<Error>&state=…
//     (Error empty: access_denied; invalid_scope also gets
//     error_description=malformed_scope). Status is ignored.
//   - token: Error set: Status (zero: 400) with {"error":Error,"error_description":…};
//     Error empty: Status with an error fitting it.
//   - every other endpoint: Status (zero: 500) with {"errors":[Error or a code
//     fitting the status]}.
//
// A 429 answer always carries RateLimit-Reset (now + 1 s, in unix seconds) and
// RateLimit-Rule headers and the body {"errors":["rate_limited"]}.
type Failure struct {
	Status int           // HTTP status to answer; ignored by authorize
	Error  string        // error code to answer
	Delay  time.Duration // wait this long first (a cancelled request stops waiting)
	Times  int           // how many requests it affects; 0 means 1
}

// delayOnly reports whether the failure only slows the answer down.
func (f Failure) delayOnly() bool { return f.Status == 0 && f.Error == "" && f.Delay > 0 }

// FailNext makes the next f.Times requests to e fail as f says. Failures
// queue: a second call takes effect once the first is used up.
func (h *Hub) FailNext(e Endpoint, f Failure) {
	if f.Times <= 0 {
		f.Times = 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures[e] = append(h.failures[e], f)
}

// takeFailure consumes one use of the first failure queued for e.
func (h *Hub) takeFailure(e Endpoint) (Failure, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.failures[e]
	if len(q) == 0 {
		return Failure{}, false
	}
	f := q[0]
	q[0].Times--
	if q[0].Times == 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(h.failures, e)
	} else {
		h.failures[e] = q
	}
	return f, true
}

// Requests reports how many requests e has seen, failed ones included.
func (h *Hub) Requests(e Endpoint) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[e]
}

// counted counts every request to e.
func (h *Hub) counted(e Endpoint, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests[e]++
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// failing counts the requests to e and applies the failures queued for it.
func (h *Hub) failing(e Endpoint, next http.Handler) http.Handler {
	return h.counted(e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := h.takeFailure(e)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if !sleep(r.Context(), f.Delay) {
			return // the client gave up; nobody reads the answer
		}
		if f.delayOnly() {
			next.ServeHTTP(w, r)
			return
		}
		h.writeFailure(w, e, f)
	}))
}

// sleep waits d unless ctx ends first; it reports whether it waited fully.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (h *Hub) writeFailure(w http.ResponseWriter, e Endpoint, f Failure) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
		if e == EndpointToken && f.Error != "" {
			status = http.StatusBadRequest
		}
	}
	if status == http.StatusTooManyRequests {
		h.writeRateLimited(w)
		return
	}
	if e == EndpointToken {
		code := f.Error
		if code == "" {
			code = oauthCodeFor(status)
		}
		writeOAuthError(w, status, code, "dev hub: injected failure")
		return
	}
	code := f.Error
	if code == "" {
		code = apiCodeFor(status)
	}
	writeErrors(w, status, code)
}

// writeRateLimited answers 429 the way the hub's rate limiter does.
func (h *Hub) writeRateLimited(w http.ResponseWriter) {
	reset := h.now().Add(time.Second).Unix()
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
	w.Header().Set("RateLimit-Rule", "dev_hub_requests_per_minute")
	writeErrors(w, http.StatusTooManyRequests, "rate_limited")
}

func oauthCodeFor(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_client"
	case status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request"
}

func apiCodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "invalid_token"
	case http.StatusForbidden:
		return "unpermitted_scope"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusUnprocessableEntity:
		return "unprocessable_entity"
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	}
	return "internal_server_error"
}

// ExpiresIn selects the form of expires_in in token responses; the sources
// disagree, so clients must accept both.
type ExpiresIn int

// The forms of expires_in.
const (
	// ExpiresInSeconds: an integer number of seconds (recorded responses).
	ExpiresInSeconds ExpiresIn = iota
	// ExpiresInISO8601: the expiry as a timestamp string, e.g.
	// "2026-11-25T19:30:00Z" (the documentation).
	ExpiresInISO8601
)

// SetExpiresIn makes every later token response use the given form.
func (h *Hub) SetExpiresIn(form ExpiresIn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expiresIn = form
}

// Tamper spoils an access token so that a client's verification must reject it.
type Tamper int

// The ways to spoil a token. Only the JWT is spoiled: the token response
// around it looks right, as the JWT is what clients must trust.
const (
	TamperNone          Tamper = iota
	TamperBadSignature         // signed by an unpublished key, under the current key's kid
	TamperWrongAudience        // aud names another app
	TamperExpired              // exp (and nbf) lie in the past; expires_in still looks fine
	TamperSubMismatch          // sub names another id than the response's bearer.id
	TamperWrongIssuer          // iss is not "ZAI"
)

func (t Tamper) String() string {
	switch t {
	case TamperNone:
		return "none"
	case TamperBadSignature:
		return "bad_signature"
	case TamperWrongAudience:
		return "wrong_audience"
	case TamperExpired:
		return "expired"
	case TamperSubMismatch:
		return "sub_mismatch"
	case TamperWrongIssuer:
		return "wrong_issuer"
	}
	return "tamper(" + strconv.Itoa(int(t)) + ")"
}

// TamperNext spoils the next access token the hub issues. Calls queue: two
// calls spoil the next two tokens, in order. TamperNext(TamperNone) clears the
// queue.
func (h *Hub) TamperNext(t Tamper) {
	if t == TamperNone {
		h.mu.Lock()
		h.tamper = nil
		h.mu.Unlock()
		return
	}
	if t == TamperBadSignature {
		h.ensureRogue()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tamper = append(h.tamper, t)
}

// autoApproval is the programmatic login of [Hub.AutoApprove].
type autoApproval struct {
	personID, orgID string
}

// AutoApprove makes GET /oauth/authorize, for a valid request, redirect back
// at once with a code, as if personID had signed in and approved (choosing
// orgID when the scope asks for an organization; "" picks the organization of
// an Org/<uuid> scope, else the person's first membership).
// AutoApprove("", "") switches it off: the sign-in page is shown again.
func (h *Hub) AutoApprove(personID, orgID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auto = autoApproval{personID: personID, orgID: orgID}
}
