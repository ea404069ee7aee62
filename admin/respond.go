package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types get here; failing to encode one is a bug.
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads one JSON object from r's body into v. Unknown fields are
// refused (a misspelt field would otherwise be silently ignored); errors name
// the field at fault.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError → 413
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("body", "empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return invalid("body", "not valid JSON at byte %d", syntax.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return invalid(typ.Field, "want a JSON %s, got %s", typ.Type, typ.Value)
		case errors.As(err, &typ):
			return invalid("body", "want a JSON object, got %s", typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(name, "unknown field")
		}
		return invalid("body", "not valid JSON: %v", err)
	}
	if dec.More() {
		return invalid("body", "more than one JSON value")
	}
	return nil
}

// Paging limits: lists answer DefaultLimit items unless asked, at most MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// queryLimit reads ?limit= (default DefaultLimit; larger than MaxLimit is
// capped).
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalid("limit", "%q: want a whole number ≥ 1", v)
	}
	return min(n, MaxLimit), nil
}

// queryAfter reads the ?after= cursor of id-ordered lists.
func queryAfter(r *http.Request) (string, error) {
	v := r.URL.Query().Get("after")
	if len(v) > 256 {
		return "", invalid("after", "longer than 256 bytes")
	}
	return v, nil
}

// queryBool reads a true/false query parameter with a default.
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid(name, "%q: want true or false", v)
	}
	return b, nil
}

// validEmail accepts an empty address (none known) or one that can go into a
// header and a mail without surprises: at most 254 bytes, one @ with text on
// both sides, no spaces, controls, quotes or angle brackets.
func validEmail(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 254 {
		return fmt.Errorf("%d bytes, want at most 254", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == ',' || c == ';' {
			return fmt.Errorf("%q has a space, control character or one of \",;<>", s)
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return fmt.Errorf("%q: want local@domain", s)
	}
	return nil
}
