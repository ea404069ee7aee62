package devhub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// SignatureHeader carries a webhook body's signature.
const SignatureHeader = "X-Loom-Signature"

// Sign returns the Loom signature of a webhook body: hex HMAC-SHA256 of the
// raw body under the app's shared secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// event is the Loom envelope.
type event struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Subject   string `json:"subject"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	Payload   any    `json:"payload"`
}

// Event builds the JSON envelope of a Loom event with a fresh id and the hub's
// current time, e.g. Event("zaikio.revoked_access_token", "Org/<uuid>",
// map[string]string{"access_token_id": jti}). Deliver the same body twice to
// test deduplication.
func (h *Hub) Event(name, subject string, payload any) ([]byte, error) {
	b, err := json.Marshal(event{
		ID:        newUUID(),
		Name:      name,
		Subject:   subject,
		Timestamp: h.now().UTC().Format(time.RFC3339Nano),
		Version:   "1.0",
		Payload:   payload,
	})
	if err != nil {
		return nil, fmt.Errorf("devhub: event %s: %w", name, err)
	}
	return b, nil
}

// Deliver builds an event (see [Hub.Event]) and POSTs it, signed, to the
// webhook URL of the app with clientID. The caller closes the response body.
func (h *Hub) Deliver(ctx context.Context, clientID, name, subject string, payload any) (*http.Response, error) {
	body, err := h.Event(name, subject, payload)
	if err != nil {
		return nil, err
	}
	return h.DeliverBody(ctx, clientID, body)
}

// DeliverBody POSTs a prepared body, signed, to the app's webhook URL: for
// redeliveries and for bodies a test wants to craft.
func (h *Hub) DeliverBody(ctx context.Context, clientID string, body []byte) (*http.Response, error) {
	h.mu.Lock()
	app, ok := h.apps[clientID]
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("devhub: deliver: no app with client id %q", clientID)
	}
	if app.WebhookURL == "" {
		return nil, fmt.Errorf("devhub: deliver: app %q has no webhook URL", clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("devhub: deliver: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Zaikio-Loom (dev hub)")
	req.Header.Set(SignatureHeader, Sign(app.WebhookSecret, body))
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devhub: deliver to %s: %w", app.WebhookURL, err)
	}
	return resp, nil
}
