package devhub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestFailNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		endpoint   devhub.Endpoint
		failure    devhub.Failure
		call       func(t *testing.T, e *env, token string) (int, http.Header, any)
		wantStatus int
		wantBody   any
		wantHeader map[string]string
		normal     int // the status once the failure is used up
	}{
		{
			name: "429 on the person endpoint", endpoint: devhub.EndpointPerson,
			failure:    devhub.Failure{Status: 429},
			call:       callPerson,
			wantStatus: 429, wantBody: map[string]any{"errors": []any{"rate_limited"}},
			wantHeader: map[string]string{"RateLimit-Reset": "1795634401", "RateLimit-Rule": "dev_hub_requests_per_minute"},
			normal:     200,
		},
		{
			name: "429 on the token endpoint", endpoint: devhub.EndpointToken,
			failure:    devhub.Failure{Status: 429},
			call:       callRefresh,
			wantStatus: 429, wantBody: map[string]any{"errors": []any{"rate_limited"}},
			wantHeader: map[string]string{"RateLimit-Reset": "1795634401"},
			normal:     200,
		},
		{
			name: "500 on the token endpoint", endpoint: devhub.EndpointToken,
			failure:    devhub.Failure{Status: 500},
			call:       callRefresh,
			wantStatus: 500, wantBody: map[string]any{"error": "server_error", "error_description": "dev hub: injected failure"},
			normal: 200,
		},
		{
			name: "invalid_grant on the token endpoint", endpoint: devhub.EndpointToken,
			failure:    devhub.Failure{Error: "invalid_grant"},
			call:       callRefresh,
			wantStatus: 400, wantBody: map[string]any{"error": "invalid_grant", "error_description": "dev hub: injected failure"},
			normal: 200,
		},
		{
			name: "503 on the keys endpoint", endpoint: devhub.EndpointKeys,
			failure: devhub.Failure{Status: 503},
			call: func(t *testing.T, e *env, _ string) (int, http.Header, any) {
				return call(t, e, "GET", "/api/v1/jwt_public_keys", "")
			},
			wantStatus: 503, wantBody: map[string]any{"errors": []any{"service_unavailable"}},
			normal: 200,
		},
		{
			name: "zero failure on the organization endpoint", endpoint: devhub.EndpointOrganization,
			call: func(t *testing.T, e *env, _ string) (int, http.Header, any) {
				return call(t, e, "GET", "/api/v1/organization", "")
			},
			wantStatus: 500, wantBody: map[string]any{"errors": []any{"internal_server_error"}},
			normal: 401,
		},
		{
			name: "access_denied on authorize", endpoint: devhub.EndpointAuthorize,
			failure:    devhub.Failure{Error: "access_denied", Status: 500},
			call:       callAuthorize,
			wantStatus: 302, wantBody: map[string]any{"error": "access_denied", "state": "st4te/with?odd&chars"},
			normal: 200,
		},
		{
			name: "invalid_scope on authorize", endpoint: devhub.EndpointAuthorize,
			failure:    devhub.Failure{Error: "invalid_scope"},
			call:       callAuthorize,
			wantStatus: 302, wantBody: map[string]any{"error": "invalid_scope", "error_description": "malformed_scope", "state": "st4te/with?odd&chars"},
			normal: 200,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.clock.Add(time.Duration(1795634400-e.clock.Now().Unix()) * time.Second)
			res := e.login(t, devhub.FrankID, "", "zaikio.person.r") // before the failure is queued
			tc.failure.Times = 2
			e.hub.FailNext(tc.endpoint, tc.failure)
			before := e.hub.Requests(tc.endpoint)
			for i := range 2 {
				status, header, body := tc.call(t, e, res.str("refresh_token")+" "+res.str("access_token"))
				if status != tc.wantStatus {
					t.Errorf("call %d: status = %d (%v); want %d", i, status, body, tc.wantStatus)
				}
				if diff := cmp.Diff(tc.wantBody, body); diff != "" {
					t.Errorf("call %d: body (-want +got):\n%s", i, diff)
				}
				for k, v := range tc.wantHeader {
					if got := header.Get(k); got != v {
						t.Errorf("call %d: %s = %q; want %q", i, k, got, v)
					}
				}
			}
			if status, _, body := tc.call(t, e, res.str("refresh_token")+" "+res.str("access_token")); status != tc.normal {
				t.Errorf("third call, failure used up: status %d (%v); want %d", status, body, tc.normal)
			}
			if got := e.hub.Requests(tc.endpoint) - before; got != 3 {
				t.Errorf("Requests(%s) grew by %d; want 3", tc.endpoint, got)
			}
		})
	}
}

func call(t *testing.T, e *env, method, path, token string) (int, http.Header, any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, resp.Header, v
}

// tokens are "<refresh token> <access token>".
func callPerson(t *testing.T, e *env, tokens string) (int, http.Header, any) {
	_, access, _ := strings.Cut(tokens, " ")
	return call(t, e, "GET", "/api/v1/person", access)
}

// callRefresh refreshes; the refresh token rotates after each success.
func callRefresh(t *testing.T, e *env, tokens string) (int, http.Header, any) {
	t.Helper()
	e.mu.Lock()
	rt := e.refreshToken
	if rt == "" {
		rt, _, _ = strings.Cut(tokens, " ")
	}
	e.mu.Unlock()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/access_token", nopCloser(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	json.NewDecoder(resp.Body).Decode(&v)
	if resp.StatusCode == http.StatusOK {
		e.mu.Lock()
		e.refreshToken = v.(map[string]any)["refresh_token"].(string)
		e.mu.Unlock()
	}
	return resp.StatusCode, resp.Header, v
}

// callAuthorize runs an auto-approved authorization request and returns the
// redirect's query (without the code) as a map, or 200 when it carries a code.
func callAuthorize(t *testing.T, e *env, _ string) (int, http.Header, any) {
	t.Helper()
	e.hub.AutoApprove(devhub.FrankID, "")
	resp := e.get(t, e.authorizeURL("zaikio.person.r", nil))
	q := redirectParams(t, resp)
	if q.Get("code") != "" {
		return http.StatusOK, resp.Header, nil
	}
	m := map[string]any{}
	for k := range q {
		m[k] = q.Get(k)
	}
	return resp.StatusCode, resp.Header, m
}

func TestFailNextDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const delay = 400 * time.Millisecond
	e.hub.FailNext(devhub.EndpointKeys, devhub.Failure{Delay: delay})
	start := time.Now()
	status, _, _ := call(t, e, "GET", "/api/v1/jwt_public_keys", "")
	if took := time.Since(start); status != http.StatusOK || took < delay {
		t.Errorf("delayed keys: status %d after %v; want 200 after at least %v", status, took, delay)
	}
	start = time.Now()
	if status, _, _ := call(t, e, "GET", "/api/v1/jwt_public_keys", ""); status != http.StatusOK || time.Since(start) >= delay {
		t.Errorf("next keys request: status %d after %v; want 200 without the delay", status, time.Since(start))
	}
}

func TestFailNextDelayHonoursCancellation(t *testing.T) {
	t.Parallel()
	h, err := devhub.New(devhub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	h.FailNext(devhub.EndpointRoles, devhub.Failure{Delay: time.Hour, Status: 500})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/roles", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("request answered %d; want it to time out", resp.StatusCode)
	}
	// Close waits for running handlers: it returns soon only if the delay
	// stopped with the request.
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the delayed handler kept running after the client gave up")
	}
	if n := h.Requests(devhub.EndpointRoles); n != 1 {
		t.Errorf("Requests(roles) = %d; want 1", n)
	}
}

func TestRequestsCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login(t, devhub.FrankID, "", "zaikio.person.r")
	call(t, e, "GET", "/api/v1/roles", "")
	call(t, e, "GET", "/api/v1/roles", "")
	got := map[devhub.Endpoint]int{}
	for _, ep := range devhub.Endpoints() {
		if n := e.hub.Requests(ep); n > 0 {
			got[ep] = n
		}
	}
	want := map[devhub.Endpoint]int{devhub.EndpointAuthorize: 1, devhub.EndpointToken: 1, devhub.EndpointRoles: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
}

func TestRateLimitResetFollowsClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.hub.FailNext(devhub.EndpointRoles, devhub.Failure{Status: 429})
	_, h, _ := call(t, e, "GET", "/api/v1/roles", "")
	if got, want := h.Get("RateLimit-Reset"), strconv.FormatInt(e.clock.Now().Add(time.Second).Unix(), 10); got != want {
		t.Errorf("RateLimit-Reset = %q; want %q", got, want)
	}
}
