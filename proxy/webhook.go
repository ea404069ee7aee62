package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// maxWebhookBody bounds a Loom event.
const maxWebhookBody = 64 << 10

// webhook receives Loom events: POST /_hubgate/webhook. The signature
// (X-Loom-Signature, HMAC-SHA256 of the raw body) is checked in constant time
// before the body is parsed; deliveries are at-least-once and unordered, so
// events are deduplicated by id. The hub wants an answer within a second:
// handling is one store write.
func (s *Server) webhook() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.cfg.WebhookSecret) == 0 {
			s.jsonError(w, r, http.StatusNotFound, "webhooks_disabled")
			return
		}
		s.bodyDeadline(w)
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			s.jsonError(w, r, http.StatusRequestEntityTooLarge, "body_too_large")
			return
		}
		if !zaikio.VerifySignature(s.cfg.WebhookSecret, body, r.Header.Get(zaikio.SignatureHeader)) {
			s.log.Warn().Str("event", "webhook.bad_signature").Str("request_id", requestID(r)).Str("remote", s.clientIP(r)).Send()
			s.jsonError(w, r, http.StatusUnauthorized, "bad_signature")
			return
		}
		ev, err := zaikio.ParseEvent(body)
		if err != nil {
			s.jsonError(w, r, http.StatusBadRequest, "bad_event")
			return
		}
		ctx := r.Context()
		deliveryID := "loom:" + ev.ID
		first, err := s.store.FirstDelivery(ctx, deliveryID, s.now().Add(7*24*time.Hour))
		if err != nil {
			s.log.Error().Err(err).Str("event", "webhook.store").Str("request_id", requestID(r)).Send()
			s.jsonError(w, r, http.StatusServiceUnavailable, "store_unavailable")
			return
		}
		if !first {
			w.WriteHeader(http.StatusOK)
			return
		}
		applied, err := s.applyEvent(ctx, ev)
		if err != nil {
			// The hub redelivers on an error answer: that delivery must
			// apply the event, not be taken for a duplicate.
			if ferr := s.store.ForgetDelivery(context.WithoutCancel(ctx), deliveryID); ferr != nil {
				err = errors.Join(err, fmt.Errorf("forget delivery: %w", ferr))
			}
			s.log.Error().Err(err).Str("event", "webhook.apply").Str("name", ev.Name).Str("id", ev.ID).Str("request_id", requestID(r)).Send()
			s.jsonError(w, r, http.StatusServiceUnavailable, "store_unavailable")
			return
		}
		s.log.Info().Str("event", "webhook").Str("name", ev.Name).Str("id", ev.ID).Bool("applied", applied).Str("request_id", requestID(r)).Send()
		w.WriteHeader(http.StatusOK)
	}
}

// applyEvent turns an event into a revocation entry. Membership events are
// not trusted for their content (their payload keys are not documented):
// they only make the affected sessions re-read everything from the hub on
// their next request.
func (s *Server) applyEvent(ctx context.Context, ev zaikio.Event) (bool, error) {
	var kind session.RevocationKind
	var subject string
	switch ev.Name {
	case zaikio.EventRevokedAccessToken:
		var p struct {
			ID string `json:"access_token_id"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.ID == "" {
			return false, nil
		}
		// A bearer token stops working on this replica at once; the
		// stored revocation ends the session holding the token and
		// reaches the other replicas' bearer gates with their next poll
		// of the revocation list (revocationTap).
		if s.bearer != nil {
			s.bearer.v.Revoke(p.ID)
		}
		kind, subject = session.RevokeToken, p.ID
	case zaikio.EventMemberJoined, zaikio.EventMemberRolesUpdated, zaikio.EventMemberLeft:
		stale, ok := s.staleSubject(ctx, ev)
		if !ok {
			return false, nil
		}
		kind, subject = session.Revalidate, stale
	default:
		return false, nil
	}
	rv := session.NewRevocation(kind, subject, s.now(), s.cfg.SessionTTL, "webhook:"+ev.ID, ev.Name)
	if err := s.sessions.Revoke(ctx, rv); err != nil {
		return false, err
	}
	return true, nil
}

// staleSubject decides whose sessions a membership event makes stale: the
// person it names (if the payload names one), else every session holding the
// linked legacy organization, and for a join into a linked organization
// (the new member's sessions do not hold it yet) every session. Events about
// organizations that are not linked change no header and are ignored.
func (s *Server) staleSubject(ctx context.Context, ev zaikio.Event) (string, bool) {
	if p := findPersonID(ev.Payload); p != "" {
		return p, true
	}
	typ, subjectID := zaikio.SubjectID(ev.Subject)
	switch typ {
	case "Per", "Person":
		if subjectID != "" {
			return subjectID, true // the subject names the person
		}
		return "*", true
	case "Org", "Organization":
	default:
		return "*", true
	}
	l, err := s.store.LinkByZaikio(ctx, claim.KindOrg, subjectID)
	if errors.Is(err, claim.ErrNotFound) {
		return "", false
	}
	if err != nil || ev.Name == zaikio.EventMemberJoined {
		return "*", true
	}
	return "org:" + l.LegacyID, true
}

// findPersonID looks for a person id in an event payload under the keys
// Zaikio's events have been seen with: person_id, or an id inside a "person"
// object, at any depth.
func findPersonID(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var walk func(v any, depth int) string
	walk = func(v any, depth int) string {
		if depth > 4 {
			return ""
		}
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["person_id"].(string); ok && claim.ValidZaikioID(id) {
				return id
			}
			if p, ok := x["person"].(map[string]any); ok {
				if id, ok := p["id"].(string); ok && claim.ValidZaikioID(id) {
					return id
				}
			}
			for _, c := range x {
				if id := walk(c, depth+1); id != "" {
					return id
				}
			}
		case []any:
			for _, c := range x {
				if id := walk(c, depth+1); id != "" {
					return id
				}
			}
		}
		return ""
	}
	return walk(v, 0)
}

// jsonError answers a machine-facing error.
func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "request_id": requestID(r)})
}
