package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// statsJSON is what `hubgate stats --json` prints: the API's stats and the
// mode in force.
type statsJSON struct {
	Mode string `json:"mode"`
	admin.Stats
}

// runStats implements `hubgate stats`: the dashboard's counts.
func runStats(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "stats"
	fs, af := newOperatorFlags(name, `Usage: hubgate stats [--json]

Prints how far the migration has come, as the dashboard shows it: the mode,
linked persons and organizations of the directory, claim links by status,
and the links made in the last 30 days. --json adds the links of each day.
A read token is enough.
`, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	m, err := op.client.Mode(ctx)
	if err != nil {
		return op.explain(err)
	}
	st, err := op.client.Stats(ctx)
	if err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(statsJSON{Mode: m.Mode, Stats: st})
	}
	var persons, orgs int
	for _, d := range st.LinksByDay {
		persons += d.Persons
		orgs += d.Orgs
	}
	pct := func(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + " %" }
	mode := m.Mode
	if m.Default != "" && m.Default != m.Mode {
		mode += " (default " + m.Default + ")"
	}
	return op.table([]string{"WHAT", "COUNT"}, [][]string{
		{"mode", mode},
		{"persons linked", fmt.Sprintf("%d of %d (%s)", st.LinkedPersons, st.People, pct(st.Percent.PersonsLinked))},
		{"organizations linked", fmt.Sprintf("%d of %d (%s)", st.LinkedOrgs, st.Orgs, pct(st.Percent.OrgsLinked))},
		{"claims", fmt.Sprintf("%d open, %d used, %d expired, %d revoked (%s used)", st.ClaimsOpen, st.ClaimsUsed,
			st.ClaimsExpired, st.ClaimsRevoked, pct(st.Percent.ClaimsUsed))},
		{"links, last 30 days", fmt.Sprintf("%d persons, %d organizations", persons, orgs)},
	})
}

// maxAudit bounds `hubgate audit --limit`: it pages through the API.
const maxAudit = 100_000

// runAudit implements `hubgate audit`: the audit log, newest first.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "audit"
	fs, af := newOperatorFlags(name, `Usage: hubgate audit [--limit N] [--before SEQ] [--json]

Prints the audit log, newest first: who (the token, for the admin API:
admin-api:<token name>) did what to which subject. A read token is enough.
`, stderr)
	limit := fs.Int("limit", 20, fmt.Sprintf("print at most `N` events (1 to %d)", maxAudit))
	before := fs.Uint64("before", 0, "start before the event with this `SEQ` (default: the newest)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	if *limit < 1 || *limit > maxAudit {
		return usageError{fmt.Sprintf("%s: --limit %d: want 1 to %d", name, *limit, maxAudit)}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	out := admin.EventPage{Events: []admin.Event{}}
	cursor := *before
	for len(out.Events) < *limit {
		page, err := op.client.Events(ctx, cursor, min(admin.MaxLimit, *limit-len(out.Events)))
		if err != nil {
			return op.explain(err)
		}
		out.Events = append(out.Events, page.Events...)
		out.Next = page.Next
		if page.Next == 0 {
			break
		}
		cursor = page.Next
	}
	if op.json {
		return op.printJSON(out)
	}
	rows := make([][]string, 0, len(out.Events))
	for _, e := range out.Events {
		rows = append(rows, []string{strconv.FormatUint(e.Seq, 10), when(&e.Time), oneLine(e.Actor), e.Action,
			orDash(oneLine(e.Subject)), orDash(oneLine(e.Detail))})
	}
	if err := op.table([]string{"SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL"}, rows); err != nil {
		return err
	}
	if out.Next != 0 {
		fmt.Fprintf(stderr, "(older events: --before %d)\n", out.Next)
	}
	return nil
}

// oneLine keeps a table cell on one line: audit fields come from many
// hands.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// runSessions dispatches `hubgate sessions end`.
func runSessions(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const help = `Usage: hubgate sessions COMMAND [flags]

Commands:
  end      end every session of a Zaikio person, on every replica
` + adminFlagsHelp + `
Run "hubgate sessions COMMAND -h" for a command's flags.
`
	return dispatch(ctx, "sessions", help, groups()["sessions"], args, getenv, stdout, stderr)
}

// sessionsEnd implements `hubgate sessions end ZAIKIO_PERSON`.
func sessionsEnd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "sessions end"
	fs, af := newOperatorFlags(name, `Usage: hubgate sessions end ZAIKIO_PERSON

Ends every session of the Zaikio person (a UUID): this replica at once, the
others within seconds. The person signs in again to continue (and is then
checked against the hub and the links anew). Audited; needs an operator
token.
`, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{name + ": want one ZAIKIO_PERSON (the person's UUID)"}
	}
	person := strings.ToLower(pos[0])
	if !claim.ValidZaikioID(person) {
		return usageError{fmt.Sprintf("%s: %q: want the Zaikio person's UUID", name, pos[0])}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if err := op.client.EndSessions(ctx, person); err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(map[string]string{"ended": person})
	}
	fmt.Fprintf(stdout, "ended every session of Zaikio person %s\n", person)
	return nil
}
