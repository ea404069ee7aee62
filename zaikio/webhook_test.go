package zaikio_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// hmacHex is the Loom signature, computed here independently of both the
// client and the dev hub.
func hmacHex(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	const secret = "loom-secret"
	body := `{"id":"1","name":"zaikio.member_left","payload":{}}`
	good := hmacHex(secret, body)
	tests := []struct {
		name   string
		secret string
		body   string
		sig    string
		want   bool
	}{
		{"good", secret, body, good, true},
		{"good, dev hub's signature", secret, body, devhub.Sign(secret, []byte(body)), true},
		{"good, upper-case hex", secret, body, strings.ToUpper(good), true},
		{"good, surrounding space", secret, body, " " + good + "\n", true},
		{"empty body", secret, "", hmacHex(secret, ""), true},
		{"other secret", "other-secret", body, good, false},
		{"body changed", secret, body + " ", good, false},
		{"one digit flipped", secret, body, good[:10] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[10])+1)%16]) + good[11:], false},
		{"short", secret, body, good[:62], false},
		{"half", secret, body, good[:32], false},
		{"long", secret, body, good + "00", false},
		{"non-hex", secret, body, strings.Repeat("zz", 32), false},
		{"odd length", secret, body, good[:63], false},
		{"sha256= prefix", secret, body, "sha256=" + good, false},
		{"empty signature", secret, body, "", false},
		{"empty secret", "", body, hmacHex("", body), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := zaikio.VerifySignature([]byte(tc.secret), []byte(tc.body), tc.sig); got != tc.want {
				t.Errorf("VerifySignature(%q, %q, %q) = %v; want %v", tc.secret, tc.body, tc.sig, got, tc.want)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	id128 := strings.Repeat("a", 128)
	tests := []struct {
		name    string
		body    string
		want    zaikio.Event
		wantErr string // "" means success
	}{
		{"revoked token", `{"id":"e1","name":"zaikio.revoked_access_token","subject":"Org/b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01",
			"timestamp":"2026-11-25T19:20:00Z","version":"1.0","payload":{"access_token_id":"7f1c"}}`,
			zaikio.Event{ID: "e1", Name: zaikio.EventRevokedAccessToken, Subject: "Org/b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01",
				Timestamp: "2026-11-25T19:20:00Z", Version: "1.0", Payload: json.RawMessage(`{"access_token_id":"7f1c"}`)}, ""},
		{"legacy directory. name", `{"id":"e2","name":"directory.member_left","payload":{}}`,
			zaikio.Event{ID: "e2", Name: zaikio.EventMemberLeft, Payload: json.RawMessage(`{}`)}, ""},
		{"directory. prefix only at the start", `{"id":"e3","name":"app.directory.x"}`,
			zaikio.Event{ID: "e3", Name: "app.directory.x"}, ""},
		{"unknown fields ignored", `{"id":"e4","name":"zaikio.member_joined","received_at":"x","link":{"a":1}}`,
			zaikio.Event{ID: "e4", Name: zaikio.EventMemberJoined}, ""},
		{"id of 128 bytes", `{"id":"` + id128 + `","name":"zaikio.member_roles_updated"}`,
			zaikio.Event{ID: id128, Name: zaikio.EventMemberRolesUpdated}, ""},
		{"id of 129 bytes", `{"id":"` + id128 + `b","name":"zaikio.member_left"}`, zaikio.Event{}, "longer than 128"},
		{"no id", `{"name":"zaikio.member_left"}`, zaikio.Event{}, "id and name"},
		{"no name", `{"id":"e5"}`, zaikio.Event{}, "id and name"},
		{"empty object", `{}`, zaikio.Event{}, "id and name"},
		{"id is a number", `{"id":5,"name":"zaikio.member_left"}`, zaikio.Event{}, "webhook body"},
		{"not json", `id=1&name=x`, zaikio.Event{}, "webhook body"},
		{"empty body", ``, zaikio.Event{}, "webhook body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := zaikio.ParseEvent([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "zaikio: ") {
					t.Errorf("ParseEvent(%s) = %+v, %v; want an error with %q", tc.body, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEvent(%s) = %v; want success", tc.body, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseEvent(%s) (-want +got):\n%s", tc.body, diff)
			}
		})
	}
}

// TestWebhookFromHub receives an event the dev hub delivers, as hubgate's
// webhook endpoint would: verify the signature over the raw body, then parse.
func TestWebhookFromHub(t *testing.T) {
	t.Parallel()
	const secret = "whsec-dev"
	type received struct {
		ok    bool
		event zaikio.Event
		err   error
	}
	got := make(chan received, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ok := zaikio.VerifySignature([]byte(secret), body, r.Header.Get(zaikio.SignatureHeader))
		ev, err := zaikio.ParseEvent(body)
		got <- received{ok, ev, err}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	hub, err := devhub.New(devhub.Config{Apps: []devhub.App{{
		ClientID: clientID, ClientSecret: clientSecret, Name: appName, RedirectURIs: []string{redirectURL},
		WebhookURL: recv.URL, WebhookSecret: secret,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subject := "Org/" + devhub.BountySoapID
	resp, err := hub.Deliver(ctx, clientID, "directory.revoked_access_token", subject, map[string]string{"access_token_id": "7f1c"})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	resp.Body.Close()
	r := <-got
	if !r.ok {
		t.Errorf("VerifySignature(delivered body) = false; want true")
	}
	if r.err != nil {
		t.Fatalf("ParseEvent(delivered body) = %v", r.err)
	}
	if r.event.Name != zaikio.EventRevokedAccessToken || r.event.ID == "" || r.event.Subject != subject {
		t.Errorf("ParseEvent(delivered body) = %+v; want a %s event about %s", r.event, zaikio.EventRevokedAccessToken, subject)
	}
	var payload struct {
		AccessTokenID string `json:"access_token_id"`
	}
	if err := json.Unmarshal(r.event.Payload, &payload); err != nil || payload.AccessTokenID != "7f1c" {
		t.Errorf("payload = %s (%v); want access_token_id 7f1c", r.event.Payload, err)
	}
}

func TestSubjectID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject, wantType, wantID string
	}{
		{"Org/" + devhub.BountySoapID, "Org", devhub.BountySoapID},
		{"Per/" + devhub.FrankID, "Per", devhub.FrankID},
		{"Organization/x/y", "Organization", "x/y"},
		{devhub.FrankID, "", devhub.FrankID},
		{"", "", ""},
	}
	for _, tc := range tests {
		typ, id := zaikio.SubjectID(tc.subject)
		if typ != tc.wantType || id != tc.wantID {
			t.Errorf("SubjectID(%q) = %q, %q; want %q, %q", tc.subject, typ, id, tc.wantType, tc.wantID)
		}
	}
}
