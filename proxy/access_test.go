package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkAccessLog is the access log alone around a handler that answers
// 204: request id, recorder, metrics and the log line (to io.Discard at the
// deployed info level).
func BenchmarkAccessLog(b *testing.B) {
	s, _ := benchServer(b)
	s.log = s.log.Level(-1)
	h := s.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	r := httptest.NewRequest("GET", "/reports", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		delete(r.Header, "X-Request-Id")
		h.ServeHTTP(w, r)
	}
}

func TestScrubSecrets(t *testing.T) {
	tok := "Zq3n8S0Hh9kP2xV7bR4mT1yW6cL5dF0gJ8aE3uN2sQ4"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text: nothing to hide", "plain text: nothing to hide"},
		{"redeem /_hubgate/claim/" + tok + ": used", "redeem /_hubgate/claim/[masked]: used"},
		{"code=" + tok + "&state=" + tok, "code=[masked]&state=[masked]"},
		{tok, "[masked]"},
		{"person 383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01 not linked", "person 383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01 not linked"},
		{"short ab_cd-ef0123456789 stays", "short ab_cd-ef0123456789 stays"},
	} {
		if got := scrubSecrets(tc.in); got != tc.want {
			t.Errorf("scrubSecrets(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestFailNeverLogsATokenInErrorText: the error funnel masks a token that
// an error's own message carries, whoever wrote that message.
func TestFailNeverLogsATokenInErrorText(t *testing.T) {
	s, _ := benchServer(t)
	var logs strings.Builder
	s.log = zerolog.New(&logs)
	tok := "Zq3n8S0Hh9kP2xV7bR4mT1yW6cL5dF0gJ8aE3uN2sQ4"
	r := httptest.NewRequest("GET", "/reports", nil)
	s.fail(httptest.NewRecorder(), r, fmt.Errorf("look up claim %s: %w", tok, errors.New("boom")))
	if strings.Contains(logs.String(), tok) || !strings.Contains(logs.String(), "[masked]") {
		t.Errorf("fail logged %s; want the token masked", logs.String())
	}
}
