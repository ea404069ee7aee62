package zaikio

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries a Loom webhook's signature.
const SignatureHeader = "X-Loom-Signature"

// VerifySignature reports whether sig is the hex HMAC-SHA256 of body under
// secret, compared in constant time.
func VerifySignature(secret, body []byte, sig string) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Event is a Loom event envelope.
type Event struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Subject   string          `json:"subject"`
	Timestamp string          `json:"timestamp"`
	Version   string          `json:"version"`
	Payload   json.RawMessage `json:"payload"`
}

// Event names hubgate acts on, in their current zaikio. form.
const (
	EventRevokedAccessToken = "zaikio.revoked_access_token"
	EventMemberJoined       = "zaikio.member_joined"
	EventMemberRolesUpdated = "zaikio.member_roles_updated"
	EventMemberLeft         = "zaikio.member_left"
)

// ParseEvent decodes a webhook body. Legacy "directory." names are reported
// in their "zaikio." form.
func ParseEvent(body []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("zaikio: webhook body: %w", err)
	}
	if e.ID == "" || e.Name == "" {
		return Event{}, errors.New("zaikio: webhook body: id and name are required")
	}
	if len(e.ID) > 128 {
		return Event{}, errors.New("zaikio: webhook body: id longer than 128 bytes")
	}
	if rest, ok := strings.CutPrefix(e.Name, "directory."); ok {
		e.Name = "zaikio." + rest
	}
	return e, nil
}

// SubjectID splits a subject like "Org/<uuid>" or "Per/<uuid>" into its type
// and id.
func SubjectID(subject string) (typ, id string) {
	typ, id, ok := strings.Cut(subject, "/")
	if !ok {
		return "", subject
	}
	return typ, id
}
