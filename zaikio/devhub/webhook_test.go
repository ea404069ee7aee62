package devhub_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestSign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret, body, want string
	}{
		// RFC 4231-style vector, widely published for HMAC-SHA256.
		{"known vector", "key", "The quick brown fox jumps over the lazy dog", "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{"empty body", "key", "", "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := devhub.Sign(tc.secret, []byte(tc.body)); got != tc.want {
				t.Errorf("Sign(%q, %q) = %s; want %s", tc.secret, tc.body, got, tc.want)
			}
		})
	}
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	const secret = "loom-secret"
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header, b}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	e := newEnv(t, func(c *devhub.Config) {
		a := testApp()
		a.WebhookURL, a.WebhookSecret = receiver.URL+"/_hubgate/webhook", secret
		c.Apps = []devhub.App{a, {ClientID: "quiet", ClientSecret: "x", Name: "quiet", RedirectURIs: []string{redirectURI}}}
	})
	resp, err := e.hub.Deliver(context.Background(), clientID, "zaikio.revoked_access_token",
		"Org/"+devhub.BountySoapID, map[string]string{"access_token_id": "4f6c0b1e-5b0e-4a3e-9c1d-2e3f4a5b6c7d"})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("Deliver status = %d; want the receiver's 204", resp.StatusCode)
	}
	d := <-got

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	if sig := d.header.Get("X-Loom-Signature"); !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		t.Errorf("X-Loom-Signature = %q; want the hex HMAC-SHA256 of the body", sig)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	var env map[string]any
	if err := json.Unmarshal(d.body, &env); err != nil {
		t.Fatalf("body: %v", err)
	}
	if id, _ := env["id"].(string); len(id) != 36 {
		t.Errorf("id = %v; want a UUID", env["id"])
	}
	delete(env, "id")
	want := map[string]any{
		"name": "zaikio.revoked_access_token", "subject": "Org/" + devhub.BountySoapID,
		"timestamp": "2026-11-25T19:20:00Z", "version": "1.0",
		"payload": map[string]any{"access_token_id": "4f6c0b1e-5b0e-4a3e-9c1d-2e3f4a5b6c7d"},
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}

	for _, id := range []string{"quiet", "unknown"} {
		if _, err := e.hub.Deliver(context.Background(), id, "zaikio.member_left", "Org/x", nil); err == nil {
			t.Errorf("Deliver to %s: no error; want one", id)
		}
	}
}

func TestEventIDsAreUnique(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, _ := e.hub.Event("zaikio.member_joined", "Org/x", nil)
	b, _ := e.hub.Event("zaikio.member_joined", "Org/x", nil)
	var ea, eb map[string]any
	json.Unmarshal(a, &ea)
	json.Unmarshal(b, &eb)
	if ea["id"] == eb["id"] {
		t.Errorf("two events share id %v", ea["id"])
	}
}
