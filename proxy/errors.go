package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// pageError is an error with what a person may see (a status and a message
// key into the page catalog) kept apart from what only the log sees (err).
type pageError struct {
	status int
	key    string // catalog key: error.<key>.title / error.<key>.body
	err    error  // detail for the log, never shown
	retry  bool   // offer "sign in again"
	data   map[string]any
}

func (e *pageError) Error() string {
	if e.err == nil {
		return e.key
	}
	return e.key + ": " + e.err.Error()
}

func (e *pageError) Unwrap() error { return e.err }

// classify maps any error to a pageError: the one place that decides what
// status and message an error gets (STYLE §5).
func classify(err error) *pageError {
	var pe *pageError
	if errors.As(err, &pe) {
		return pe
	}
	var ne net.Error
	switch {
	case errors.Is(err, claim.ErrNotFound):
		return &pageError{status: http.StatusNotFound, key: "claim_unknown", err: err}
	case errors.Is(err, claim.ErrUsed):
		return &pageError{status: http.StatusConflict, key: "claim_used", err: err}
	case errors.Is(err, claim.ErrExpired):
		return &pageError{status: http.StatusGone, key: "claim_expired", err: err}
	case errors.Is(err, claim.ErrRevoked):
		return &pageError{status: http.StatusGone, key: "claim_revoked", err: err}
	case errors.Is(err, claim.ErrRetired):
		return &pageError{status: http.StatusGone, key: "claim_retired", err: err}
	case errors.Is(err, claim.ErrConflict):
		return &pageError{status: http.StatusConflict, key: "claim_conflict", err: err}
	case errors.Is(err, claim.ErrForbidden):
		return &pageError{status: http.StatusForbidden, key: "claim_forbidden", err: err}
	case errors.Is(err, claim.ErrInvalid):
		return &pageError{status: http.StatusBadRequest, key: "bad_request", err: err}
	case errors.Is(err, zaikio.ErrInvalidGrant):
		return &pageError{status: http.StatusBadRequest, key: "code_rejected", retry: true, err: err}
	case errors.Is(err, zaikio.ErrInvalidToken):
		return &pageError{status: http.StatusUnauthorized, key: "token_invalid", retry: true, err: err}
	case errors.Is(err, zaikio.ErrUnavailable):
		return &pageError{status: http.StatusServiceUnavailable, key: "hub_down", retry: true, err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &pageError{status: http.StatusGatewayTimeout, key: "timeout", retry: true, err: err}
	case errors.Is(err, session.ErrCookieTooLarge):
		return &pageError{status: http.StatusInternalServerError, key: "cookie_too_large", err: err}
	}
	var ze *zaikio.Error
	if errors.As(err, &ze) {
		return &pageError{status: http.StatusBadGateway, key: "hub_error", retry: true, err: err}
	}
	return &pageError{status: http.StatusInternalServerError, key: "internal", err: err}
}

// fail is the one error funnel: it logs the detail with the request id and
// answers a safe page (or JSON for API-style requests) that shows only the
// catalog message and the request id. err.Error() never reaches a browser.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	pe := classify(err)
	ev := s.log.Warn()
	if pe.status >= 500 {
		ev = s.log.Error()
	}
	ev = ev.Str("event", "error").Str("key", pe.key).Int("status", pe.status).Str("request_id", requestID(r)).Str("path", logPath(r))
	if pe.err != nil {
		// Whatever wrote the error, a token in its text stays out of the log.
		ev = ev.Str("error", scrubSecrets(pe.err.Error()))
	}
	ev.Send()
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(pe.status)
		l := s.localeOf(r)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error": pe.key, "message": l.T("error." + pe.key + ".title"), "request_id": requestID(r),
		})
		return
	}
	data := map[string]any{"Key": pe.key, "Retry": pe.retry}
	for k, v := range pe.data {
		data[k] = v
	}
	s.render(w, r, pe.status, "error", data)
}

// wantsJSON: API-style callers (forward-auth, /me, fetch()) get JSON errors.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/_hubgate/me") || strings.HasPrefix(r.URL.Path, "/_hubgate/auth") {
		return true
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}
