package main

import (
	"context"
	"fmt"
	"io"
)

// runMode shows the mode, or switches it: `hubgate mode [MODE]`.
func runMode(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "mode"
	fs, af := newOperatorFlags(name, `Usage: hubgate mode [passthrough|offer|enforce]

Without an argument, prints the mode in force. With one, switches every
replica to it within seconds (this one at once); the change is audited.

  passthrough  legacy login as before; Zaikio sign-in and claiming available
  offer        a "Sign in with Zaikio" page in front of the legacy login
  enforce      legacy login closed; a Zaikio session is required

A switch to enforce first shows on stderr what the dashboard's confirmation
shows: what the switch means, how many persons are not linked, and how many
people signed in the old way in the last 30 days without linking their
account (they are locked out until they use their link; hubgate readiness
lists them and mails them their links). On a terminal it then asks; --yes
skips the question. Without a terminal (scripts, CI) it shows the same and
switches without asking.
`, stderr)
	yes := fs.Bool("yes", false, "switch to enforce without asking (on a terminal)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{fmt.Sprintf("mode: unexpected argument %q", pos[1])}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	cur, err := op.client.Mode(ctx)
	if err != nil {
		return op.explain(err)
	}
	if len(pos) == 0 {
		if op.json {
			return op.printJSON(cur)
		}
		fmt.Fprintf(stdout, "mode: %s (default %s)\n", cur.Mode, cur.Default)
		return nil
	}
	if pos[0] == "enforce" && cur.Mode != "enforce" {
		if err := op.confirmEnforce(ctx, cur.Mode, *yes); err != nil {
			return err
		}
	}
	m, err := op.client.SetMode(ctx, pos[0])
	if err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(m)
	}
	if cur.Mode == m.Mode {
		fmt.Fprintf(stdout, "mode: %s (unchanged)\n", m.Mode)
	} else {
		fmt.Fprintf(stdout, "mode: %s (was %s)\n", m.Mode, cur.Mode)
	}
	return nil
}
