package admin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/hubgate/hubgate/claim"
)

// importBatch is how many rows share one store transaction: one PutPeople
// and one CreateClaims (through claim.Service.IssueMany) per batch.
const importBatch = 1000

// importClaims upserts legacy people and mints one person claim each: POST
// /api/v1/claims/import with a CSV or NDJSON body (see [Format]), query
// ttl= and skip_linked= (default true: people already linked get no claim).
// It answers CSV id,email,url,status in the order of the input, one line per
// row; a bad row is reported there and does not stop the others.
//
// With send=true it then mails each issued claim link to its person (query
// lang=en|de, default en) through Config.Mailer, all over one connection,
// and the answer gains a fifth column, mail: sent, skipped_no_email,
// skipped_shared_email (the address belongs to more than one legacy person:
// no mail, audited), not_sent (no claim issued) or "failed: <reason>".
// Without a mailer,
// send=true is refused before anything is read or minted.
func (s *Server) importClaims() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		send, err := queryBool(r, "send", false)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if send && s.cfg.Mailer == nil {
			s.fail(w, r, errNoMailer)
			return
		}
		lang, err := mailLang(r, send)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		format, err := importFormat(r.Header.Get("Content-Type"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var ttl time.Duration
		if v := r.URL.Query().Get("ttl"); v != "" {
			if ttl, err = ParseTTL(v); err != nil {
				s.fail(w, r, invalid("ttl", "%v", err))
				return
			}
		}
		skipLinked, err := queryBool(r, "skip_linked", true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rows, err := ReadRows(r.Body, format)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		actor := s.actor(r)
		results, expires, n := s.importRows(r, rows, ttl, skipLinked, actor)
		var m mailCounts
		if send {
			m = s.mailClaims(r, rows, results, expires, lang, actor, "import")
		}

		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		header := ImportHeader
		if send {
			header = append(header[:len(header):len(header)], MailColumn)
		}
		_ = cw.Write(header)
		for _, res := range results {
			rec := []string{res.ID, res.Email, res.URL, res.Status}
			if send {
				rec = append(rec, res.Mail)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		ev := s.log.Info().Str("event", "claims.import").Str("actor", actor).Str("request_id", requestID(r)).
			Str("format", string(format)).Int("rows", len(rows)).Int("issued", n.issued).
			Int("skipped", n.skipped).Int("errors", n.errors)
		if send {
			ev = ev.Int("mailed", m.sent).Int("mail_failed", m.failed).Int("no_email", m.noEmail).Int("shared_email", m.shared)
		}
		ev.Dur("dur_ms", time.Since(start)).Send()
	}
}

// importFormat reads the format from the request's media type.
func importFormat(contentType string) (Format, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil {
		switch mt {
		case "text/csv":
			return CSV, nil
		case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
			return NDJSON, nil
		}
	}
	return "", &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
		msg: fmt.Sprintf("Content-Type %q: want text/csv or application/x-ndjson", contentType)}
}

type importCounts struct{ issued, skipped, errors int }

// importRows does the work of an import in batches of importBatch rows.
// Store failures fail their batch's rows (with the request id; the detail
// goes to the log) and the import goes on with the next batch. expires holds
// the expiry of each issued row's claim, for the mails.
func (s *Server) importRows(r *http.Request, rows []Row, ttl time.Duration, skipLinked bool, actor string) (results []ImportResult, expires map[int]time.Time, n importCounts) {
	ctx := r.Context()
	results = make([]ImportResult, len(rows))
	expires = make(map[int]time.Time)
	good := make([]int, 0, len(rows))
	for i, row := range rows {
		results[i] = ImportResult{ID: row.Person.ID, Email: row.Person.Email}
		if row.Err != nil {
			results[i].Status = statusErrorPrefix + row.Err.Error()
			continue
		}
		good = append(good, i)
	}
	batchFailed := func(batch []int, err error) {
		s.log.Error().Err(err).Str("event", "claims.import_batch").Str("request_id", requestID(r)).Int("rows", len(batch)).Send()
		msg := statusErrorPrefix + s.safeMessage(r, err)
		for _, i := range batch {
			if results[i].Status == "" {
				results[i].Status = msg
			}
		}
	}
	for start := 0; start < len(good); start += importBatch {
		batch := good[start:min(start+importBatch, len(good))]
		people := make([]claim.Person, len(batch))
		for k, i := range batch {
			people[k] = rows[i].Person
		}
		ev := claim.Event{Time: s.now(), Actor: actor, Action: claim.ActionPeopleImport, Subject: "directory",
			Detail: fmt.Sprintf("%d people", len(people))}
		if err := s.cfg.Store.PutPeople(ctx, people, ev); err != nil {
			batchFailed(batch, err)
			continue
		}
		reqs := make([]claim.Request, 0, len(batch))
		issue := make([]int, 0, len(batch)) // rows of reqs
		for _, i := range batch {
			p := rows[i].Person
			if skipLinked {
				linked, err := s.linked(ctx, p.ID)
				if err != nil {
					batchFailed([]int{i}, err)
					continue
				}
				if linked {
					results[i].Status = StatusSkippedLinked
					continue
				}
			}
			reqs = append(reqs, claim.Request{Kind: claim.KindPerson, LegacyID: p.ID, Email: p.Email, TTL: ttl})
			issue = append(issue, i)
		}
		issued, err := s.cfg.Claims.IssueMany(ctx, reqs, actor)
		if err != nil {
			batchFailed(issue, err)
			continue
		}
		for k, is := range issued {
			results[issue[k]].URL = s.claimURL(is.Token)
			results[issue[k]].Status = StatusIssued
			expires[issue[k]] = is.Claim.ExpiresAt
		}
	}
	for _, res := range results {
		switch res.Status {
		case StatusIssued:
			n.issued++
		case StatusSkippedLinked:
			n.skipped++
		default:
			n.errors++
		}
	}
	return results, expires, n
}

// linked reports whether a legacy person is linked.
func (s *Server) linked(ctx context.Context, legacyID string) (bool, error) {
	_, err := s.cfg.Store.Link(ctx, claim.KindPerson, legacyID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, claim.ErrNotFound):
		return false, nil
	}
	return false, err
}

// safeMessage is what a client may see of err: the funnel's message.
func (s *Server) safeMessage(r *http.Request, err error) string {
	ae := classify(err)
	if ae.code == "internal" {
		return "internal error (request id " + requestID(r) + ")"
	}
	return ae.msg
}
