package admin

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
)

// Readiness before enforce: who would actually be locked out. The proxy
// records, per legacy person, the last time they signed in the old way
// (proxy/legacylogin.go, with legacy.whoami); this file joins those records
// with the links and the operator's directory: "active in the last N days
// and not linked", with names and addresses from the directory, and mails
// those people their claim links ("mail them") through the import's mail
// path and its rules (no mail to an address several persons share; audited).

const (
	// DefaultReadinessDays is the window of the readiness view and of the
	// enforce confirmation: sign-ins the old way in the last 30 days.
	DefaultReadinessDays = 30
	// MaxReadinessDays bounds ?days=.
	MaxReadinessDays = 3650
	// maxReadinessMailIDs bounds legacy_ids of one "mail them" request.
	maxReadinessMailIDs = 1000
)

// Values of ReadinessPerson.Mail: can "mail them" reach the person?
const (
	// ReadinessMailOK: the directory gives the person an address of their own.
	ReadinessMailOK = "ok"
	// ReadinessNoEmail: the directory has the person without an address.
	ReadinessNoEmail = "no_email"
	// ReadinessSharedEmail: the directory gives the person's address to
	// several legacy persons: no claim link is mailed there (whoever
	// opened it could claim).
	ReadinessSharedEmail = "shared_email"
	// ReadinessNotInDirectory: whoami named a legacy person the directory
	// does not hold (import them to mail them).
	ReadinessNotInDirectory = "not_in_directory"
)

// MailNotListed is the mail column of a "mail them" result for a legacy id
// that is not on the readiness list (not active in the window, linked
// meanwhile, or not in the directory): nothing was issued or sent.
const MailNotListed = "not_listed"

// Readiness answers GET /api/v1/readiness?days=N.
type Readiness struct {
	Days  int       `json:"days"`
	Since time.Time `json:"since"` // now minus Days
	// Recording is true when the proxy records legacy sign-ins
	// (legacy.whoami is configured). Without it nothing new is recorded and
	// the view cannot say who would be locked out.
	Recording bool `json:"recording"`
	// RecordingSince is the earliest legacy sign-in recorded, null when
	// none was. Later than Since: the window is covered only from then on.
	RecordingSince *time.Time `json:"recording_since"`
	// Active counts the legacy persons who signed in the old way since
	// Since; ActiveLinked those of them who are linked; LockedOut those who
	// are not (enforce locks them out until they use a claim link);
	// Mailable those of LockedOut whom "mail them" reaches.
	Active       int `json:"active"`
	ActiveLinked int `json:"active_linked"`
	LockedOut    int `json:"locked_out"`
	Mailable     int `json:"mailable"`
	// People are the LockedOut persons, latest sign-in first.
	People []ReadinessPerson `json:"people"`
}

// ReadinessPerson is one legacy person who signed in the old way in the
// window and is not linked.
type ReadinessPerson struct {
	LegacyID   string    `json:"legacy_id"`
	Name       string    `json:"name"`  // from the directory
	Email      string    `json:"email"` // from the directory
	LastSignIn time.Time `json:"last_sign_in"`
	Mail       string    `json:"mail"` // ok, no_email, shared_email or not_in_directory
}

// ReadinessMailRequest is the body of POST /api/v1/readiness/mail.
type ReadinessMailRequest struct {
	Days int    `json:"days,omitempty"` // the window; 0: DefaultReadinessDays
	Lang string `json:"lang,omitempty"` // language of the mails: en (default) or de
	// LegacyIDs limits the mails to these persons of the list (the CLI
	// sends the list in parts, for its progress line). Empty: everyone on
	// the list.
	LegacyIDs []string `json:"legacy_ids,omitempty"`
}

// ReadinessMailed answers POST /api/v1/readiness/mail. The claim links are
// in the mails only.
type ReadinessMailed struct {
	Sent    int                   `json:"sent"`
	Failed  int                   `json:"failed"`
	Skipped int                   `json:"skipped"` // no address, a shared address, or not on the list
	Results []ReadinessMailResult `json:"results"`
}

// ReadinessMailResult is the outcome for one person.
type ReadinessMailResult struct {
	LegacyID string `json:"legacy_id"`
	Email    string `json:"email"`
	// Mail is sent, skipped_no_email, skipped_shared_email, not_listed or
	// "failed: <reason>".
	Mail string `json:"mail"`
}

// readinessDays reads ?days= (default DefaultReadinessDays).
func readinessDays(r *http.Request) (int, error) {
	v := r.URL.Query().Get("days")
	if v == "" {
		return DefaultReadinessDays, nil
	}
	return checkDays(v)
}

func checkDays(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxReadinessDays {
		return 0, invalid("days", "%q: want a whole number of days from 1 to %d", v, MaxReadinessDays)
	}
	return n, nil
}

// getReadiness answers GET /api/v1/readiness?days=N.
func (s *Server) getReadiness() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		days, err := readinessDays(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rd, err := s.readiness(r.Context(), days)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rd)
	}
}

// readiness computes the view for the last `days` days. Links are read a
// page at a time (the store has no join of sign-ins and links): a few
// milliseconds per ten thousand links, on the admin listener only.
func (s *Server) readiness(ctx context.Context, days int) (Readiness, error) {
	now := s.now()
	rd := Readiness{Days: days, Since: now.Add(-time.Duration(days) * 24 * time.Hour), Recording: s.cfg.SignInsRecorded, People: []ReadinessPerson{}}
	first, err := s.cfg.Store.FirstLegacySignIn(ctx)
	if err != nil {
		return rd, err
	}
	if !first.IsZero() {
		rd.RecordingSince = &first
	}
	active, err := s.cfg.Store.LegacySignIns(ctx, rd.Since)
	if err != nil || len(active) == 0 {
		return rd, err
	}
	rd.Active = len(active)
	if err := s.dropLinked(ctx, active); err != nil {
		return rd, err
	}
	rd.ActiveLinked = rd.Active - len(active)
	var emails []string
	for _, id := range slices.Sorted(maps.Keys(active)) {
		p := ReadinessPerson{LegacyID: id, LastSignIn: active[id], Mail: ReadinessNotInDirectory}
		switch dir, err := s.cfg.Store.Person(ctx, id); {
		case errors.Is(err, claim.ErrNotFound):
		case err != nil:
			return rd, err
		default:
			p.Name, p.Email, p.Mail = dir.Name, dir.Email, ReadinessMailOK
			if dir.Email == "" {
				p.Mail = ReadinessNoEmail
			} else {
				emails = append(emails, dir.Email)
			}
		}
		rd.People = append(rd.People, p)
	}
	holders, err := s.holdersOf(ctx, emails)
	if err != nil {
		return rd, err
	}
	for i := range rd.People {
		p := &rd.People[i]
		if p.Mail == ReadinessMailOK && len(holders[strings.ToLower(p.Email)]) > 1 {
			p.Mail = ReadinessSharedEmail
		}
		if p.Mail == ReadinessMailOK {
			rd.Mailable++
		}
	}
	slices.SortStableFunc(rd.People, func(a, b ReadinessPerson) int { return b.LastSignIn.Compare(a.LastSignIn) })
	rd.LockedOut = len(rd.People)
	return rd, nil
}

// dropLinked removes the linked legacy persons from active.
func (s *Server) dropLinked(ctx context.Context, active map[string]time.Time) error {
	after := ""
	for {
		links, err := s.cfg.Store.Links(ctx, claim.KindPerson, after, MaxLimit)
		if err != nil {
			return err
		}
		for _, l := range links {
			delete(active, l.LegacyID)
		}
		if len(links) < MaxLimit {
			return nil
		}
		after = links[len(links)-1].LegacyID
	}
}

// mailReadiness answers POST /api/v1/readiness/mail: a new claim link for
// each person on the readiness list (or those of LegacyIDs on it), mailed
// like an import's (mail.go). A read token gets 403 (authorize).
func (s *Server) mailReadiness() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Mailer == nil {
			s.fail(w, r, errNoMailer)
			return
		}
		var body ReadinessMailRequest
		if err := decodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		if body.Days == 0 {
			body.Days = DefaultReadinessDays
		}
		if _, err := checkDays(strconv.Itoa(body.Days)); err != nil {
			s.fail(w, r, err)
			return
		}
		switch body.Lang {
		case "":
			body.Lang = "en"
		case "en", "de":
		default:
			s.fail(w, r, invalid("lang", "%q: want en or de", body.Lang))
			return
		}
		if len(body.LegacyIDs) > maxReadinessMailIDs {
			s.fail(w, r, invalid("legacy_ids", "%d ids: want at most %d per request", len(body.LegacyIDs), maxReadinessMailIDs))
			return
		}
		out, err := s.mailListed(r, body, s.actor(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// mailListed mails a new claim link to each person of req's readiness list
// (all, or those of req.LegacyIDs) whom mail reaches; the others get a
// skipped result. The list is computed afresh: an id that is not on it is
// not_listed, whatever the client thought.
func (s *Server) mailListed(r *http.Request, req ReadinessMailRequest, actor string) (ReadinessMailed, error) {
	ctx := r.Context()
	rd, err := s.readiness(ctx, req.Days)
	if err != nil {
		return ReadinessMailed{}, err
	}
	listed := make(map[string]ReadinessPerson, len(rd.People))
	ids := req.LegacyIDs
	for _, p := range rd.People {
		listed[p.LegacyID] = p
		if len(req.LegacyIDs) == 0 {
			ids = append(ids, p.LegacyID)
		}
	}
	out := ReadinessMailed{Results: []ReadinessMailResult{}}
	var shared []ReadinessPerson
	var rows []Row
	var results []ImportResult
	var reqs []claim.Request
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		p, ok := listed[id]
		res := ReadinessMailResult{LegacyID: id, Email: p.Email}
		switch {
		case !ok || p.Mail == ReadinessNotInDirectory:
			res.Mail = MailNotListed
		case p.Mail == ReadinessNoEmail:
			res.Mail = MailSkippedNoEmail
		case p.Mail == ReadinessSharedEmail:
			res.Mail = MailSkippedSharedEmail
			shared = append(shared, p)
		default:
			rows = append(rows, Row{Person: claim.Person{ID: p.LegacyID, Email: p.Email, Name: p.Name}})
			results = append(results, ImportResult{ID: p.LegacyID, Email: p.Email})
			reqs = append(reqs, claim.Request{Kind: claim.KindPerson, LegacyID: p.LegacyID, Email: p.Email})
			continue
		}
		out.Skipped++
		out.Results = append(out.Results, res)
	}
	if err := s.auditShared(r, shared, actor); err != nil {
		return ReadinessMailed{}, err
	}
	if len(reqs) > 0 {
		issued, err := s.cfg.Claims.IssueMany(ctx, reqs, actor)
		if err != nil {
			return ReadinessMailed{}, err
		}
		expires := make(map[int]time.Time, len(issued))
		for k, is := range issued {
			results[k].URL, results[k].Status, expires[k] = s.claimURL(is.Token), StatusIssued, is.Claim.ExpiresAt
		}
		n := s.mailClaims(r, rows, results, expires, req.Lang, actor, "readiness")
		out.Sent, out.Failed, out.Skipped = n.sent, n.failed, out.Skipped+n.noEmail+n.shared
		for _, res := range results {
			out.Results = append(out.Results, ReadinessMailResult{LegacyID: res.ID, Email: res.Email, Mail: res.Mail})
		}
	}
	slices.SortStableFunc(out.Results, func(a, b ReadinessMailResult) int { return cmp.Compare(a.LegacyID, b.LegacyID) })
	s.log.Info().Str("event", "readiness.mail").Str("actor", actor).Str("request_id", requestID(r)).
		Int("days", req.Days).Int("sent", out.Sent).Int("failed", out.Failed).Int("skipped", out.Skipped).Send()
	return out, nil
}

// auditShared logs and audits, like an import's withheld rows, that no
// claim link went to people whose address others in the directory share.
func (s *Server) auditShared(r *http.Request, shared []ReadinessPerson, actor string) error {
	if len(shared) == 0 {
		return nil
	}
	emails := make([]string, len(shared))
	for i, p := range shared {
		emails[i] = p.Email
	}
	holders, err := s.holdersOf(r.Context(), emails)
	if err != nil {
		return err
	}
	for _, p := range shared {
		s.withheld(r, p.LegacyID, holders[strings.ToLower(p.Email)], actor, "readiness")
	}
	return nil
}

// holdersOf is EmailHolders in batches of importBatch addresses.
func (s *Server) holdersOf(ctx context.Context, emails []string) (map[string][]string, error) {
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
