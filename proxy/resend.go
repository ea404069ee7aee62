package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	hgmail "github.com/hubgate/hubgate/mail"
)

// Mailer sends one message; *mail.Sender implements it.
type Mailer interface {
	Send(ctx context.Context, m hgmail.Message) error
}

// resendJob is one "send me my link" request, handled off the request path.
type resendJob struct {
	email string
	lang  string
}

// resendPage shows the "send me my link" form: GET /_hubgate/resend.
func (s *Server) resendPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Mailer == nil {
			s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found", err: errors.New("no mailer configured")})
			return
		}
		s.render(w, r, http.StatusOK, "resend", map[string]any{"CSRF": s.csrfToken(w, r, "resend")})
	}
}

// resend is the self-service "send me my claim link": POST /_hubgate/resend.
// The answer, and its timing, are the same whether or not the address
// belongs to anyone: the lookup, minting and mailing happen in the
// background. Requests are limited per address and per client.
func (s *Server) resend() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Mailer == nil {
			s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found", err: errors.New("no mailer configured")})
			return
		}
		if err := s.checkCSRF(r, "resend"); err != nil {
			s.fail(w, r, err)
			return
		}
		addr, err := mail.ParseAddress(strings.TrimSpace(r.PostFormValue("email")))
		if err != nil || len(addr.Address) > 254 {
			s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_email"})
			return
		}
		email := strings.ToLower(addr.Address)
		if !s.resendByClient.Allow(s.clientKey(r)) || !s.resendByEmail.Allow(email) {
			s.fail(w, r, &pageError{status: http.StatusTooManyRequests, key: "rate_limited"})
			return
		}
		select {
		case s.resendQueue <- resendJob{email: email, lang: langOf(r)}:
		default:
			s.log.Warn().Str("event", "resend.queue_full").Str("request_id", requestID(r)).Send()
		}
		s.render(w, r, http.StatusOK, "resent", nil)
	}
}

// runResend works through the resend queue until ctx ends.
func (s *Server) runResend(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.resendQueue:
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := s.sendClaimLink(jctx, job); err != nil {
				s.log.Warn().Err(err).Str("event", "resend.failed").Send()
			}
			cancel()
		}
	}
}

// sendClaimLink mints a fresh claim for the unclaimed legacy person with
// this email, if there is exactly one, and mails it. Unknown and already
// linked addresses get nothing (and the asker can't tell). An address two
// or more legacy persons share gets nothing either: whichever of them the
// link named, the others could claim that account with it. That is logged
// and audited with the holders' ids (never the address or a token), for
// the operator to fix the directory.
func (s *Server) sendClaimLink(ctx context.Context, job resendJob) error {
	holders, err := s.store.EmailHolders(ctx, []string{job.email})
	if err != nil {
		return err
	}
	ids := holders[strings.ToLower(job.email)]
	switch {
	case len(ids) == 0:
		s.log.Info().Str("event", "resend.unknown").Send()
		return nil
	case len(ids) > 1:
		s.log.Warn().Str("event", "resend.withheld").Strs("users", ids).Msg("address shared by several legacy persons: no claim link mailed")
		return s.store.AppendEvent(ctx, claim.MailWithheldEvent(ids, "send me my link", "resend", s.now()))
	}
	p, err := s.store.Person(ctx, ids[0])
	if err != nil {
		return err
	}
	if _, err := s.store.Link(ctx, claim.KindPerson, p.ID); err == nil {
		s.log.Info().Str("event", "resend.already_linked").Str("user", p.ID).Send()
		return nil
	}
	is, err := s.claims.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: p.ID, Email: p.Email, CreatedBy: "resend"})
	if err != nil {
		return err
	}
	url := s.public.String() + "/_hubgate/claim/" + is.Token.Reveal()
	msg := hgmail.ClaimMessage(s.cfg.ProviderName, job.lang, p.Email, p.Name, s.cfg.AppName, url, is.Claim.ExpiresAt)
	if err := s.cfg.Mailer.Send(ctx, msg); err != nil {
		return err
	}
	s.log.Info().Str("event", "resend.sent").Str("user", p.ID).Str("claim", is.Claim.ID).Send()
	return nil
}
