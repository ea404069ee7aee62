package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hubgate/hubgate/admin"
)

// readinessUsage is the help of `hubgate readiness`.
const readinessUsage = `Usage: hubgate readiness [--days N] [--json] [--mail [--lang de]]

Before enforce: who signed in the old way in the last N days (default 30)
and has not linked their account — the people enforce locks out until they
use their claim link — with names and addresses from the directory, latest
sign-in first. hubgate records legacy sign-ins (the legacy person id and the
time) when legacy.whoami is configured; without it the list cannot say who
would be locked out. A read token is enough to list.

With --mail, each of them gets a new claim link by mail, in English or, with
--lang de, in German (the server needs claims.smtp; an operator token).
People without an address of their own in the directory (none, or one that
several people share) get none. Progress goes to stderr; the command exits 1
when a mail failed.
`

// mailBatch is how many people one "mail them" request mails: small enough
// for the progress line to move and each request to finish well within the
// client's timeout.
const mailBatch = 50

// readinessOptions are the flags of `hubgate readiness`.
type readinessOptions struct {
	days int
	mail bool
	lang string
}

// runReadiness implements `hubgate readiness`.
func runReadiness(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "readiness"
	var opt readinessOptions
	fs, af := newOperatorFlags(name, readinessUsage, stderr)
	fs.IntVar(&opt.days, "days", admin.DefaultReadinessDays, "the window: sign-ins the old way in the last `N` days")
	fs.BoolVar(&opt.mail, "mail", false, "mail each of them a new claim link (the server needs claims.smtp)")
	fs.StringVar(&opt.lang, "lang", "en", "`language` of the mails with --mail: en or de")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	langSet := false
	fs.Visit(func(f *flag.Flag) { langSet = langSet || f.Name == "lang" })
	switch {
	case opt.days < 1 || opt.days > admin.MaxReadinessDays:
		return usageError{fmt.Sprintf("%s: --days %d: want 1 to %d", name, opt.days, admin.MaxReadinessDays)}
	case opt.lang != "en" && opt.lang != "de":
		return usageError{fmt.Sprintf("%s: --lang %q: want en or de", name, opt.lang)}
	case langSet && !opt.mail:
		return usageError{name + ": --lang applies only with --mail"}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	rd, err := op.client.Readiness(ctx, opt.days)
	if err != nil {
		return op.explain(err)
	}
	if opt.mail {
		return op.mailReadiness(ctx, rd, opt.lang)
	}
	if op.json {
		return op.printJSON(rd)
	}
	op.readinessNotes(rd)
	fmt.Fprintln(stdout, lockoutSentence(rd))
	fmt.Fprintf(stdout, "(%d signed in the old way, %d of them linked; %d of the others can be mailed their link)\n", rd.Active, rd.ActiveLinked, rd.Mailable)
	if len(rd.People) == 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	rows := make([][]string, len(rd.People))
	for i, p := range rd.People {
		rows[i] = []string{p.LegacyID, orDash(p.Name), orDash(p.Email), when(&p.LastSignIn), mailCell(p.Mail)}
	}
	return op.table([]string{"LEGACY ID", "NAME", "EMAIL", "LAST SIGN-IN (UTC)", "MAIL"}, rows)
}

// lockoutSentence states how many people enforce would lock out, as the
// dashboard does.
func lockoutSentence(rd admin.Readiness) string {
	if rd.LockedOut == 1 {
		return fmt.Sprintf("1 person signed in the old way in the last %d days and has not linked their account; they will be locked out until they use their link.", rd.Days)
	}
	return fmt.Sprintf("%d people signed in the old way in the last %d days and have not linked their account; they will be locked out until they use their link.", rd.LockedOut, rd.Days)
}

// readinessNotes warns on stderr when the list cannot be complete.
func (o *operator) readinessNotes(rd admin.Readiness) {
	if !rd.Recording {
		fmt.Fprintln(o.stderr, "hubgate: note: legacy.whoami is not configured, so hubgate records no legacy sign-ins and cannot tell who would be locked out")
	}
	if rd.RecordingSince != nil && rd.RecordingSince.After(rd.Since) {
		fmt.Fprintf(o.stderr, "hubgate: note: legacy sign-ins are recorded only since %s: the last %d days are not covered entirely\n", when(rd.RecordingSince), rd.Days)
	}
}

// mailCell names a ReadinessPerson.Mail value in a table.
func mailCell(m string) string {
	switch m {
	case admin.ReadinessMailOK:
		return "can be mailed"
	case admin.ReadinessNoEmail:
		return "no address"
	case admin.ReadinessSharedEmail:
		return "shared address: no mail"
	}
	return "not in the directory"
}

// mailReadiness mails the people of rd whom mail can reach, mailBatch at a
// time, with progress on stderr, and prints every listed person's outcome.
func (o *operator) mailReadiness(ctx context.Context, rd admin.Readiness, lang string) error {
	o.readinessNotes(rd)
	var ids []string
	results := map[string]admin.ReadinessMailResult{}
	for _, p := range rd.People {
		switch p.Mail {
		case admin.ReadinessMailOK:
			ids = append(ids, p.LegacyID)
			continue
		case admin.ReadinessNoEmail:
			results[p.LegacyID] = admin.ReadinessMailResult{LegacyID: p.LegacyID, Mail: admin.MailSkippedNoEmail}
		case admin.ReadinessSharedEmail:
			results[p.LegacyID] = admin.ReadinessMailResult{LegacyID: p.LegacyID, Email: p.Email, Mail: admin.MailSkippedSharedEmail}
		default:
			results[p.LegacyID] = admin.ReadinessMailResult{LegacyID: p.LegacyID, Mail: admin.MailNotListed}
		}
	}
	start := time.Now()
	prog := newProgress(o.stderr)
	var sent, failed int
	var stop error
	for done := 0; done < len(ids) && stop == nil; {
		prog.show(fmt.Sprintf("mailing… %d/%d, sent %d, %d failed", done, len(ids), sent, failed))
		batch := ids[done:min(done+mailBatch, len(ids))]
		out, err := o.client.MailReadiness(ctx, admin.ReadinessMailRequest{Days: rd.Days, Lang: lang, LegacyIDs: batch})
		if err != nil {
			stop = fmt.Errorf("stopped after %d of %d people: %w", done, len(ids), err)
			break
		}
		for _, r := range out.Results {
			results[r.LegacyID] = r
		}
		sent, failed, done = sent+out.Sent, failed+out.Failed, done+len(batch)
	}
	skipped := len(rd.People) - sent - failed
	prog.done(fmt.Sprintf("mailed claim links in %s: %d sent, %d failed, %d skipped (no address of their own, or no longer on the list)",
		time.Since(start).Round(time.Millisecond), sent, failed, skipped))
	if err := o.printMailResults(rd, results); err != nil {
		return err
	}
	switch {
	case stop != nil:
		return o.explain(stop)
	case failed > 0:
		return fmt.Errorf("%s: %d of %d mails failed; the mail column says why", o.name, failed, sent+failed)
	}
	return nil
}

// printMailResults prints each listed person's mail outcome, in the list's
// order.
func (o *operator) printMailResults(rd admin.Readiness, results map[string]admin.ReadinessMailResult) error {
	list := make([]admin.ReadinessMailResult, 0, len(rd.People))
	for _, p := range rd.People {
		r, ok := results[p.LegacyID]
		if !ok {
			r = admin.ReadinessMailResult{LegacyID: p.LegacyID, Email: p.Email, Mail: "not sent (the mailing stopped early)"}
		}
		list = append(list, r)
	}
	if o.json {
		return o.printJSON(list)
	}
	if len(list) == 0 {
		return nil
	}
	rows := make([][]string, len(list))
	for i, r := range list {
		rows[i] = []string{r.LegacyID, orDash(r.Email), r.Mail}
	}
	return o.table([]string{"LEGACY ID", "EMAIL", "MAIL"}, rows)
}

// confirmEnforce shows on stderr what the dashboard's confirmation of a
// switch to enforce shows — what the switch means, how many persons are not
// linked, and how many people it locks out — and, when a person can answer
// at a terminal and yes is false, asks. Without a terminal (scripts, CI) it
// only shows, so that scripts keep working. A refusal is an error.
func (o *operator) confirmEnforce(ctx context.Context, from string, yes bool) error {
	w := o.stderr
	fmt.Fprintf(w, "Switching from %s to enforce:\n", from)
	fmt.Fprintln(w, "  The legacy login will be closed. Everyone needs a Zaikio session; people who have not linked their account yet can only get in through their claim link.")
	if st, err := o.client.Stats(ctx); err == nil {
		fmt.Fprintf(w, "  %d of %d persons in the directory are not linked yet.\n", max(0, st.People-st.LinkedPersons), st.People)
	}
	rd, err := o.client.Readiness(ctx, admin.DefaultReadinessDays)
	switch {
	case err != nil:
		fmt.Fprintf(w, "  (who would be locked out is not known: %v)\n", err)
	default:
		if rd.Recording || rd.LockedOut > 0 {
			fmt.Fprintln(w, "  "+lockoutSentence(rd))
		}
		if !rd.Recording {
			fmt.Fprintln(w, "  hubgate cannot tell who still signs in the old way: legacy.whoami is not configured.")
		}
		if rd.RecordingSince != nil && rd.RecordingSince.After(rd.Since) {
			fmt.Fprintf(w, "  Legacy sign-ins are recorded only since %s.\n", when(rd.RecordingSince))
		}
		if rd.Mailable > 0 {
			fmt.Fprintf(w, "  Mail them their links first: hubgate readiness --mail (%d can be mailed)\n", rd.Mailable)
		}
	}
	tty, answers := termOf(w)
	if yes || !tty || answers == nil {
		return nil
	}
	fmt.Fprint(w, "Switch to enforce? [y/N] ")
	line, _ := bufio.NewReader(answers).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s: not switched (answer y to switch, or pass --yes)", o.name)
}
