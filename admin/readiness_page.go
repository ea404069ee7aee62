package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// The dashboard's readiness card and its "mail them" action: who signed in
// the old way lately and is not linked (readiness.go), with a confirmation
// page before any mail goes out.

// dashboardReadiness bounds the people the dashboard lists; the API and
// `hubgate readiness` list everyone.
const dashboardReadiness = 50

// readinessView is the dashboard's readiness card.
type readinessView struct {
	Readiness
	Shown   []ReadinessPerson // the first dashboardReadiness people
	More    int               // people not shown
	Windows []int             // the windows offered as links
	// Partial: sign-ins are recorded only since after the window began.
	Partial bool
	// CanMail: a mailer is configured, the viewer may act and someone on
	// the list can be mailed. NoMailer: no mailer is configured.
	CanMail, NoMailer bool
	// Mailed is the outcome of a "mail them" just done (nil: none).
	Mailed *mailedNotice
}

// mailedNotice is the dashboard's notice after "mail them".
type mailedNotice struct{ Sent, Failed, Skipped int }

// lockout is the sentence that states how many people enforce would lock
// out, for the dashboard and the enforce confirmation.
func (l locale) lockout(n, days int) string {
	key := "ready.other"
	if n == 1 {
		key = "ready.one"
	}
	return l.F(key, l.Num(n), l.Num(days))
}

// Lockout is lockout for templates.
func (l locale) Lockout(rd Readiness) string { return l.lockout(rd.LockedOut, rd.Days) }

// MailStatus names a ReadinessPerson.Mail value.
func (l locale) MailStatus(m string) string {
	switch m {
	case ReadinessMailOK:
		return l.T("ready.mail.ok")
	case ReadinessNoEmail:
		return l.T("ready.mail.none")
	case ReadinessSharedEmail:
		return l.T("ready.mail.shared")
	}
	return l.T("ready.mail.not_dir")
}

// dashboardDays reads the dashboard's ?days= leniently: anything that is
// not a valid window shows the default one.
func dashboardDays(r *http.Request) int {
	if n, err := checkDays(r.URL.Query().Get("days")); err == nil {
		return n
	}
	return DefaultReadinessDays
}

// readinessCard computes the dashboard's readiness card.
func (s *Server) readinessCard(r *http.Request) (readinessView, error) {
	rd, err := s.readiness(r.Context(), dashboardDays(r))
	if err != nil {
		return readinessView{}, err
	}
	v := readinessView{Readiness: rd, Windows: []int{7, 30, 90}, NoMailer: s.cfg.Mailer == nil}
	v.Shown = rd.People[:min(len(rd.People), dashboardReadiness)]
	v.More = len(rd.People) - len(v.Shown)
	v.Partial = rd.RecordingSince != nil && rd.RecordingSince.After(rd.Since)
	v.CanMail = !v.NoMailer && !viewerOf(r).readOnly() && rd.Mailable > 0
	q := r.URL.Query()
	if sent, err := strconv.Atoi(q.Get("mailed")); err == nil {
		failed, _ := strconv.Atoi(q.Get("mail_failed"))
		skipped, _ := strconv.Atoi(q.Get("mail_skipped"))
		v.Mailed = &mailedNotice{Sent: sent, Failed: failed, Skipped: skipped}
	}
	return v, nil
}

// readinessMailView is the confirmation page of "mail them".
type readinessMailView struct {
	Readiness
	Mailable []ReadinessPerson // who gets a mail
	Skipped  int               // on the list, but not reachable by mail
	CSRF     string
	Lang     string // the mails' default language: the page's
	CanMail  bool
	ReadOnly bool
	NoMailer bool
}

// readinessMailConfirm shows whom "mail them" mails, with the form that
// does it: GET /readiness/mail?days=N. A GET never mails.
func (s *Server) readinessMailConfirm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		days, err := readinessDays(r)
		if err != nil {
			s.failPage(w, r, &pageError{status: http.StatusBadRequest, key: "bad_request", err: err})
			return
		}
		rd, err := s.readiness(r.Context(), days)
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		v := readinessMailView{Readiness: rd, Lang: localeOf(r).Lang(), ReadOnly: viewerOf(r).readOnly(), NoMailer: s.cfg.Mailer == nil}
		for _, p := range rd.People {
			if p.Mail == ReadinessMailOK {
				v.Mailable = append(v.Mailable, p)
			}
		}
		v.Skipped = len(rd.People) - len(v.Mailable)
		v.CanMail = len(v.Mailable) > 0 && !v.ReadOnly && !v.NoMailer
		v.CSRF = s.csrfToken(w, r, "readiness-mail")
		s.render(w, r, http.StatusOK, "readiness", v)
	}
}

// readinessMailSend mails the list from the confirmation page: POST
// /readiness/mail with csrf, days and lang. The list is computed afresh (a
// person linked meanwhile gets nothing). It answers with a redirect to the
// dashboard, whose notice gives the counts (post/redirect/get). A read token
// gets 403.
func (s *Server) readinessMailSend() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := s.checkCSRF(r, "readiness-mail"); err != nil {
			s.failPage(w, r, err)
			return
		}
		if v := viewerOf(r); v.readOnly() {
			s.failPage(w, r, &pageError{status: http.StatusForbidden, key: "forbidden", err: fmt.Errorf("token %q is read-only", v.token.name)})
			return
		}
		if s.cfg.Mailer == nil {
			s.failPage(w, r, &pageError{status: http.StatusBadRequest, key: "no_mailer", err: errors.New("claims.smtp is not configured")})
			return
		}
		days, err := checkDays(r.PostFormValue("days"))
		lang := r.PostFormValue("lang")
		if err != nil || (lang != "en" && lang != "de") {
			s.failPage(w, r, &pageError{status: http.StatusBadRequest, key: "bad_request", err: fmt.Errorf("readiness mail: days %q, lang %q", r.PostFormValue("days"), lang)})
			return
		}
		out, err := s.mailListed(r, ReadinessMailRequest{Days: days, Lang: lang}, viewerOf(r).actor())
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		q := url.Values{"days": {strconv.Itoa(days)}, "mailed": {strconv.Itoa(out.Sent)},
			"mail_failed": {strconv.Itoa(out.Failed)}, "mail_skipped": {strconv.Itoa(out.Skipped)}}
		pageHeaders(w)
		http.Redirect(w, r, "/?"+q.Encode()+"#readiness", http.StatusSeeOther)
	}
}

// confirmReadiness is what the enforce confirmation says about readiness:
// the lockout sentence, or why it cannot be known.
type confirmReadiness struct {
	Readiness
	Partial bool
	CanMail bool // offer "mail them first"
}

// enforceReadiness is the readiness part of the confirmation of a switch
// to enforce, over DefaultReadinessDays.
func (s *Server) enforceReadiness(r *http.Request) (*confirmReadiness, error) {
	rd, err := s.readiness(r.Context(), DefaultReadinessDays)
	if err != nil {
		return nil, err
	}
	return &confirmReadiness{Readiness: rd, Partial: rd.RecordingSince != nil && rd.RecordingSince.After(rd.Since),
		CanMail: s.cfg.Mailer != nil && !viewerOf(r).readOnly() && rd.Mailable > 0}, nil
}
