package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
)

// apiError is an error with what the client sees (status, code, message and
// the request field at fault) kept apart from what only the log sees (err).
type apiError struct {
	status int
	code   string // stable, machine-readable: "invalid", "not_found", …
	msg    string // for the operator; never a secret
	field  string // "invalid" only: the JSON field or query parameter at fault
	err    error  // detail for the log
}

func (e *apiError) Error() string {
	if e.err == nil {
		return e.code + ": " + e.msg
	}
	return e.code + ": " + e.msg + ": " + e.err.Error()
}

func (e *apiError) Unwrap() error { return e.err }

// invalid is the 400 for a request field that breaks the rules; the message
// starts with the field's name so that the operator sees what to fix.
func invalid(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid", field: field,
		msg: field + ": " + fmt.Sprintf(format, args...)}
}

// classify maps any error to an apiError: the one place that decides the
// status and code an error gets (STYLE §5). Domain errors carry messages
// built by hubgate from ids and times (never tokens), which operators may
// read; anything else is an internal error whose detail stays in the log.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large",
			msg: fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit), err: err}
	case errors.Is(err, claim.ErrNotFound), errors.Is(err, session.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "not_found", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrConflict), errors.Is(err, session.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrUsed):
		return &apiError{status: http.StatusConflict, code: "used", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrExpired):
		return &apiError{status: http.StatusGone, code: "expired", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrRevoked):
		return &apiError{status: http.StatusGone, code: "revoked", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: "forbidden", msg: err.Error(), err: err}
	case errors.Is(err, claim.ErrInvalid):
		return &apiError{status: http.StatusBadRequest, code: "invalid", msg: err.Error(), err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusGatewayTimeout, code: "timeout", msg: "the operation timed out", err: err}
	case errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, code: "canceled", msg: "the request was canceled", err: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", err: err}
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// fail is the one error funnel: it logs the detail with the request id and
// answers {"error","message"} JSON. Internal errors show only the request id.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	msg := ae.msg
	if ae.status >= 500 && ae.code == "internal" {
		msg = "internal error (request id " + requestID(r) + "); the hubgate log has the detail"
	}
	ev := s.log.Info()
	switch {
	case ae.status >= 500:
		ev = s.log.Error()
	case ae.status == http.StatusUnauthorized:
		ev = s.log.Warn() // someone without the token knocked
	}
	ev.Str("event", "admin.error").Str("request_id", requestID(r)).Str("actor", s.actor(r)).
		Str("method", r.Method).Str("path", r.URL.Path).Int("status", ae.status).Str("code", ae.code).
		AnErr("error", ae).Send()
	writeJSON(w, ae.status, errorBody{Error: ae.code, Message: msg, Field: ae.field})
}

// rowError says why one import row was refused; its message names the line.
type rowError struct {
	line int
	msg  string
}

func (e *rowError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// Unwrap makes row errors claim.ErrInvalid for errors.Is.
func (e *rowError) Unwrap() error { return claim.ErrInvalid }
