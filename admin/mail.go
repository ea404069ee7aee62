package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/mail"
)

// Mailer delivers a batch of mails over one connection: the claim links of
// POST /api/v1/claims/import?send=true. It returns how many were sent and
// one error per failed message; each error is a *mail.SendError naming the
// message's index in msgs (an error without an index fails every mail of
// the batch that is not known to be sent). progress, if not nil, is called
// after each message with the number handled so far and the number failed.
// *mail.Sender implements it.
type Mailer interface {
	SendMany(ctx context.Context, msgs []mail.Message, progress func(done, failed int)) (sent int, errs []error)
}

var _ Mailer = (*mail.Sender)(nil)

// Values of the mail column of an import answer (with send=true).
const (
	// MailSent: the server accepted the mail with the row's claim link.
	MailSent = "sent"
	// MailSkippedNoEmail: a claim was issued, but the row has no address.
	MailSkippedNoEmail = "skipped_no_email"
	// MailNotSent: no claim was issued for the row (already linked, or an
	// error), so there was nothing to mail.
	MailNotSent = "not_sent"
	// MailSkippedSharedEmail: a claim was issued, but the row's address
	// belongs to more than one legacy person in the directory, so it was
	// not mailed (whichever account the link named, the others at that
	// address could claim it). The audit log names the holders.
	MailSkippedSharedEmail = "skipped_shared_email"
	// MailFailedPrefix starts the mail column of a mail that failed,
	// followed by the reason: "failed: 550 mailbox unavailable".
	MailFailedPrefix = "failed: "
)

// MailColumn is the column an import answer gains with send=true.
const MailColumn = "mail"

// errNoMailer refuses send=true when no SMTP server is configured.
var errNoMailer = &apiError{status: http.StatusBadRequest, code: "mail_not_configured", field: "send",
	msg: "send: claims.smtp is not configured, so hubgate cannot mail claim links; configure claims.smtp or import without send"}

// mailLang reads ?lang= of an import: the language of the claim mails, "en"
// (default) or "de".
func mailLang(r *http.Request, send bool) (string, error) {
	v := r.URL.Query().Get("lang")
	switch {
	case v == "":
		return "en", nil
	case !send:
		return "", invalid("lang", "applies only with send=true")
	case v == "en" || v == "de":
		return v, nil
	}
	return "", invalid("lang", "%q: want en or de", v)
}

// mailCounts are the outcomes of mailing an import's claim links.
type mailCounts struct{ sent, failed, noEmail, shared int }

// mailClaims mails every issued row its claim link, in one SendMany over one
// connection, and fills the rows' Mail column. expires holds the expiry of
// each issued row's claim. An address that more than one legacy person
// holds in the directory (after this import) gets no mail: the row is
// skipped_shared_email, logged and audited with the holders' ids. The links
// are in the messages only; the log gets counts.
func (s *Server) mailClaims(r *http.Request, rows []Row, results []ImportResult, expires map[int]time.Time, lang, actor, via string) mailCounts {
	ctx := r.Context()
	var n mailCounts
	var msgs []mail.Message
	var msgRow []int // row of each message
	holders, err := s.emailHolders(ctx, results)
	if err != nil {
		s.log.Error().Err(err).Str("event", "claims.mail_holders").Str("request_id", requestID(r)).Send()
	}
	for i := range results {
		res := &results[i]
		switch {
		case res.Status != StatusIssued:
			res.Mail = MailNotSent
		case res.Email == "":
			res.Mail = MailSkippedNoEmail
			n.noEmail++
		case err != nil:
			// Without knowing that the address is not shared, nothing goes out.
			res.Mail = MailFailedPrefix + "could not check that the address belongs to this person alone (request id " + requestID(r) + ")"
			n.failed++
		case len(holders[strings.ToLower(res.Email)]) > 1:
			res.Mail = MailSkippedSharedEmail
			n.shared++
			s.withheld(r, res.ID, holders[strings.ToLower(res.Email)], actor, via)
		default:
			p := rows[i].Person
			msgs = append(msgs, mail.ClaimMessage(s.cfg.ProviderName, lang, p.Email, p.Name, s.appName, res.URL, expires[i]))
			msgRow = append(msgRow, i)
		}
	}
	if len(msgs) > 0 {
		start := time.Now()
		sent, failed := s.sendClaims(r, msgs, msgRow, results)
		n.sent, n.failed = sent, n.failed+failed
		s.log.Info().Str("event", "claims.mail").Str("actor", actor).Str("request_id", requestID(r)).
			Str("lang", lang).Int("sent", n.sent).Int("failed", n.failed).Int("no_email", n.noEmail).
			Int("shared_email", n.shared).Dur("dur_ms", time.Since(start)).Send()
	}
	if len(msgs) > 0 || n.noEmail > 0 || n.shared > 0 || n.failed > 0 {
		detail := fmt.Sprintf("%d claim links mailed (%s), %d failed, %d without email", n.sent, lang, n.failed, n.noEmail)
		if n.shared > 0 {
			detail += fmt.Sprintf(", %d withheld (address shared by several legacy persons)", n.shared)
		}
		ev := claim.Event{Time: s.now(), Actor: actor, Action: claim.ActionClaimsMail, Subject: "directory", Detail: detail}
		if err := s.cfg.Store.AppendEvent(context.WithoutCancel(ctx), ev); err != nil {
			// The mails are out; only their audit entry is missing.
			s.log.Error().Err(err).Str("event", "claims.mail_audit").Str("request_id", requestID(r)).Send()
		}
	}
	return n
}

// sendClaims sends msgs (msgs[k] is the mail of row msgRow[k]) in one
// SendMany, fills those rows' Mail column and returns how many went out and
// how many failed.
func (s *Server) sendClaims(r *http.Request, msgs []mail.Message, msgRow []int, results []ImportResult) (sent, failed int) {
	mailerSent, errs := s.cfg.Mailer.SendMany(r.Context(), msgs, nil)
	reasons := make(map[int]string, len(errs))
	var unindexed error
	for _, err := range errs {
		var se *mail.SendError
		if errors.As(err, &se) && se.Index >= 0 && se.Index < len(msgs) {
			reasons[se.Index] = mailReason(se.Err)
			continue
		}
		unindexed = err
	}
	for k, i := range msgRow {
		switch reason, bad := reasons[k]; {
		case bad:
			results[i].Mail = MailFailedPrefix + reason
			failed++
		case unindexed != nil:
			results[i].Mail = MailFailedPrefix + mailReason(unindexed)
			failed++
		default:
			results[i].Mail = MailSent
		}
	}
	sent = len(msgs) - failed
	if unindexed != nil || mailerSent != sent {
		s.log.Warn().Str("event", "claims.mail_count").Str("request_id", requestID(r)).
			Int("mailer_sent", mailerSent).Int("rows_sent", sent).AnErr("unindexed", unindexed).
			Msg("the mailer's count disagrees with its errors; rows without a known outcome are reported failed")
	}
	return sent, failed
}

// emailHolders looks up who holds the address of every issued row that has
// one, in batches of importBatch addresses.
func (s *Server) emailHolders(ctx context.Context, results []ImportResult) (map[string][]string, error) {
	var emails []string
	for _, res := range results {
		if res.Status == StatusIssued && res.Email != "" {
			emails = append(emails, res.Email)
		}
	}
	out := map[string][]string{}
	for start := 0; start < len(emails); start += importBatch {
		m, err := s.cfg.Store.EmailHolders(ctx, emails[start:min(start+importBatch, len(emails))])
		if err != nil {
			return nil, err
		}
		maps.Copy(out, m)
	}
	return out, nil
}

// withheld logs and audits a claim link not mailed to the address of legacy
// person id, which holders (id among them) share; via names the action
// ("import", "readiness"). Neither names the address or the link.
func (s *Server) withheld(r *http.Request, id string, holders []string, actor, via string) {
	s.log.Warn().Str("event", "claims.mail_withheld").Str("actor", actor).Str("request_id", requestID(r)).
		Str("user", id).Strs("holders", holders).Msg("address shared by several legacy persons: claim link not mailed")
	ev := claim.MailWithheldEvent(holders, via+", row of "+id, actor, s.now())
	if err := s.cfg.Store.AppendEvent(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.Error().Err(err).Str("event", "claims.mail_audit").Str("request_id", requestID(r)).Send()
	}
}

// maxReason bounds the reason of a failed mail in the answer.
const maxReason = 200

// mailReason is why one mail failed, as one line of at most 200 bytes. The
// mail package's errors hold no body and no password; SMTP replies may name
// the recipient, which the operator's own import named already.
func mailReason(err error) string {
	if err == nil {
		return "unknown"
	}
	text := strings.Join(strings.FieldsFunc(err.Error(), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if len(text) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8Start(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	if text == "" {
		return "unknown"
	}
	return text
}

// utf8Start reports whether b begins a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
