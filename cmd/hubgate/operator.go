package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubgate/hubgate/admin"
)

// The operator commands (claims, links, mode, stats, audit, sessions) talk
// to the admin API of a running hubgate (DESIGN §4 "CLI"): --admin-url and
// --admin-token (or their environment variables) say where and how, --json
// asks for machine output instead of tables.

// defaultAdminURL is where `hubgate serve` listens for the admin API unless
// configured otherwise (admin.listen).
const defaultAdminURL = "http://127.0.0.1:4181"

const adminFlagsHelp = `
Every operator command takes:
  --admin-url URL      admin API (env HUBGATE_ADMIN_URL, default ` + defaultAdminURL + `)
  --admin-token TOKEN  admin bearer token (env HUBGATE_ADMIN_TOKEN; required):
                       admin.token or one of admin.tokens; a read token
                       may only run commands that change nothing
  --json               print JSON instead of tables
`

// runClaims dispatches `hubgate claims issue|import|list|revoke`.
func runClaims(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const help = `Usage: hubgate claims COMMAND [flags]

Claim links let legacy people (and organizations) link their Zaikio account.

Commands:
  issue    mint one claim link and print it
  import   import legacy people from CSV or NDJSON and mint a claim link each
  list     list claims (never their links: those are shown once, when minted)
  revoke   revoke unused claims
` + adminFlagsHelp + `
Run "hubgate claims COMMAND -h" for a command's flags.
`
	return dispatch(ctx, "claims", help, groups()["claims"], args, getenv, stdout, stderr)
}

// runLinks dispatches `hubgate links list|unlink|set`.
func runLinks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const help = `Usage: hubgate links COMMAND [flags]

Links map legacy persons and organizations to Zaikio ones, one to one.

Commands:
  list     list links
  unlink   remove a link (the legacy person or organization can claim again)
  set      link by hand (never overwrites: both ends must be free)
` + adminFlagsHelp + `
Run "hubgate links COMMAND -h" for a command's flags.
`
	return dispatch(ctx, "links", help, groups()["links"], args, getenv, stdout, stderr)
}

// dispatch runs the subcommand args[0] of the command name, or prints its
// help.
func dispatch(ctx context.Context, name, help string, cmds map[string]command, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return usageError{name + ": missing command"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, help)
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, help)
		return usageError{fmt.Sprintf("%s: unknown command %q", name, args[0])}
	}
	return cmd(ctx, args[1:], getenv, stdout, stderr)
}

// adminFlags are the flags every operator command takes.
type adminFlags struct {
	url, token string
	json       bool
}

// newOperatorFlags makes the flag set of an operator command with the admin
// flags and a usage text. The token's default stays empty so that -h never
// prints a token taken from the environment.
func newOperatorFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *adminFlags) {
	fs := newFlags(name, stderr)
	f := new(adminFlags)
	fs.StringVar(&f.url, "admin-url", "", "admin API `URL` (env HUBGATE_ADMIN_URL, default "+defaultAdminURL+")")
	fs.StringVar(&f.token, "admin-token", "", "admin bearer `token` (env HUBGATE_ADMIN_TOKEN)")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs, f
}

// parseArgs parses flags that may come before, between or after positional
// arguments ("hubgate claims revoke ID --json") and returns the positional
// ones. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// operator is a parsed operator command's connection to the admin API and
// its output.
type operator struct {
	name   string // "claims issue", for messages
	client *admin.Client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

// connect checks the admin flags (falling back to the environment) and
// returns the operator. A missing token or a malformed URL is a usage error.
func (f *adminFlags) connect(name string, getenv func(string) string, stdout, stderr io.Writer) (*operator, error) {
	// A mistyped variable (HUBGATE_ADMIN_UR) would silently leave the
	// default in force: say so, without failing (the server's own
	// variables may be set in the same shell, and they are known).
	p := newProblems("")
	checkEnvNames(getenv, p)
	for _, e := range p.errs {
		fmt.Fprintf(stderr, "hubgate: warning: %s: %s\n", e.Key, e.Msg)
	}
	base := f.url
	if base == "" {
		base = getenv("HUBGATE_ADMIN_URL")
	}
	if base == "" {
		base = defaultAdminURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Sprintf("%s: --admin-url %q: want http://host:port or https://host", name, base)}
	}
	tok := f.token
	if tok == "" {
		tok = getenv("HUBGATE_ADMIN_TOKEN")
	}
	if tok == "" {
		return nil, usageError{name + ": no admin token: pass --admin-token or set HUBGATE_ADMIN_TOKEN (the admin.token of the config; `hubgate dev` prints it)"}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(stderr, "hubgate: warning: the admin token goes to %s over plain HTTP\n", u.Host)
	}
	return &operator{
		name:   name,
		client: &admin.Client{BaseURL: strings.TrimRight(base, "/"), Token: tok, Actor: cliActor(getenv)},
		json:   f.json,
		stdout: stdout,
		stderr: stderr,
	}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cliActor names the operator in the audit log: "cli:<user>@<host>".
func cliActor(getenv func(string) string) string {
	user := getenv("USER")
	if user == "" {
		user = getenv("LOGNAME")
	}
	if user == "" {
		user = getenv("USERNAME")
	}
	if user == "" {
		user = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return "cli:" + user + "@" + host
}

// explain turns an admin API failure into the command's error: a rejected
// argument is a usage error, a rejected token or an unreachable API gets a
// hint on what to check.
func (o *operator) explain(err error) error {
	if err == nil {
		return nil
	}
	var ae *admin.Error
	var op *net.OpError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w: check --admin-token (or HUBGATE_ADMIN_TOKEN)", o.name, err)
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden && strings.Contains(ae.Message, "read-only"):
		return fmt.Errorf("%s: %w: use an operator token (admin.token, or one of admin.tokens with role operator)", o.name, err)
	case errors.As(err, &ae) && ae.Code == "invalid":
		// The server names the field at fault; do not say "mode: mode: …".
		if strings.HasPrefix(ae.Message, o.name+": ") {
			return usageError{ae.Message}
		}
		return usageError{o.name + ": " + ae.Message}
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("%s: %w: is hubgate serve running there? check --admin-url (or HUBGATE_ADMIN_URL)", o.name, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: the admin API did not answer in time", o.name, err)
	}
	return fmt.Errorf("%s: %w", o.name, err)
}

// printJSON writes v as indented JSON.
func (o *operator) printJSON(v any) error {
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned.
func (o *operator) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// when formats a time for tables: UTC to the minute, "-" when it has not
// happened.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// orDash shows an empty table cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// noArgs refuses positional arguments a command does not take.
func noArgs(name string, pos []string) error {
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", name, pos[0])}
	}
	return nil
}
