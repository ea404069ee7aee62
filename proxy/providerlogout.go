package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio"
)

// backchannelLogout ends every session of the person a provider signed out:
// POST /_hubgate/backchannel-logout (OpenID Connect Back-Channel Logout 1.0
// §2.5), routed only when the Hub is a BackchannelLogout. The caller is
// the provider, server to server: no CSRF token, no cookie; the signed
// logout_token is the whole authentication. The sessions end by a person
// revocation (like the admin API's "sessions end"), which every replica
// applies without asking the provider: the next request with such a cookie
// is signed out even while the provider is down. Failed requests spend the
// client's failed-callback budget.
func (s *Server) backchannelLogout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		client := s.clientKey(r)
		if !s.callbackLimit.Allow(client) {
			w.Header().Set("Retry-After", "60")
			s.jsonError(w, r, http.StatusTooManyRequests, "rate_limited")
			return
		}
		s.bodyDeadline(w)
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("logout_token") == "" {
			s.jsonError(w, r, http.StatusBadRequest, "invalid_request")
			return
		}
		ctx := r.Context()
		person, at, err := s.caps.backchannel.VerifyLogout(ctx, r.PostForm.Get("logout_token"))
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, zaikio.ErrUnavailable) {
				status = http.StatusServiceUnavailable // keys unreadable: the token may be fine
			}
			s.log.Warn().Err(err).Str("event", "backchannel_logout.refused").Str("request_id", requestID(r)).Str("remote", s.clientIP(r)).Send()
			s.jsonError(w, r, status, "invalid_request")
			return
		}
		s.callbackLimit.Give(client)
		if person == "" {
			// A token naming only a provider session this replica did not
			// see start (the sid map is in memory): nothing it can end.
			s.log.Warn().Str("event", "backchannel_logout.unknown_session").Str("request_id", requestID(r)).Send()
		} else if err := s.endPerson(ctx, person, "back-channel logout", logoutMoment(at, s.now())); err != nil {
			s.log.Error().Err(err).Str("event", "backchannel_logout.store").Str("request_id", requestID(r)).Send()
			s.jsonError(w, r, http.StatusServiceUnavailable, "store_unavailable")
			return
		} else {
			s.log.Info().Str("event", "backchannel_logout").Str("person", person).Str("request_id", requestID(r)).Send()
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// logoutMoment is when a back-channel logout issued at iat took effect:
// the token's iat (whole seconds) plus one second, so that no session of
// the second it was issued in survives, and never after now. A session
// started after the sign-out is left alone when the provider sends the
// token again, late or to another replica.
func logoutMoment(iat, now time.Time) time.Time {
	if at := iat.Add(time.Second); !iat.IsZero() && at.Before(now) {
		return at
	}
	return now
}

// endPerson ends every session of person started before at, on every
// replica, and notes it in the audit log.
func (s *Server) endPerson(ctx context.Context, person, reason string, at time.Time) error {
	ctx = context.WithoutCancel(ctx) // half a revocation helps nobody
	rv := session.NewRevocation(session.RevokePerson, person, at, s.cfg.SessionTTL, "provider", reason)
	if err := s.sessions.Revoke(ctx, rv); err != nil {
		return err
	}
	ev := claim.Event{Time: s.now(), Actor: "provider", Action: claim.ActionSessionRevoke, Subject: "zaikio:" + person,
		Detail: "every session of the person ended: " + reason}
	if err := s.store.AppendEvent(ctx, ev); err != nil {
		// The revocation stands; only its audit entry is missing.
		s.log.Warn().Err(err).Str("event", "audit.append").Str("person", person).Send()
	}
	return nil
}

// endSessionURL is where the browser goes after hubgate's sign-out of
// person when the provider has RP-initiated logout, else "". A provider
// that cannot say (discovery down) leaves the sign-out as it is: hubgate's
// session has ended already.
func (s *Server) endSessionURL(ctx context.Context, person string) string {
	if s.caps.endSession == nil || person == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := s.caps.endSession.EndSessionURL(ctx, person)
	if err != nil {
		s.log.Warn().Err(err).Str("event", "logout.end_session").Str("person", person).Send()
		return ""
	}
	return u
}
