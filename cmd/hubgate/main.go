// Command hubgate is an authenticating reverse proxy that moves a legacy web
// application's people and organizations onto Zaikio single sign-on.
//
//	hubgate serve --config FILE       run the proxy (and the admin listener)
//	hubgate dev                       dev hub + demo legacy app + hubgate on loopback
//	hubgate config check|print --config F
//	hubgate keys new                  print a fresh session secret
//	hubgate healthcheck [--url URL]   probe a running hubgate (Docker HEALTHCHECK)
//	hubgate version [-json]
//	hubgate migrate-store --from bolt://… --to postgres://…
//	hubgate claims issue|import|list|revoke
//	hubgate links list|set|unlink
//	hubgate mode [passthrough|offer|enforce]
//	hubgate readiness [--days N] [--mail]
//	hubgate stats · hubgate audit · hubgate sessions end PERSON
//
// This package owns the edge of the process: the command line (flags and
// subcommands), the configuration (the YAML file, HUBGATE_<PATH> variables
// and *_file secrets, checked and turned into each package's Config), and
// the wiring (opening the store, building the hub client, proxy and admin
// API, listeners, signals, reload and shutdown). Operator subcommands are
// clients of the admin API. It holds no business logic: claims and links,
// sessions, roles, modes and storage rules live in their packages, and
// nothing here decides a request.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], processEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) || ue.msg != "" {
			fmt.Fprintln(os.Stderr, "hubgate:", err)
		}
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// processEnv is the process's environment as run sees it: os.Getenv, and
// for envNamesKey the names of the HUBGATE_* variables that are set.
func processEnv(key string) string {
	if key != envNamesKey {
		return os.Getenv(key)
	}
	var names []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "HUBGATE_") {
			names = append(names, name)
		}
	}
	return strings.Join(names, "\n")
}

// usageError is a mistake in how hubgate was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// helpRequested is -h or --help: run prints the help on stdout and
// succeeds.
type helpRequested struct{ text string }

func (h helpRequested) Error() string { return "help requested" }

const usage = `hubgate — carry a legacy app's users over to Zaikio sign-in

Usage:
  hubgate serve --config FILE          run the proxy and the admin listener
  hubgate dev [--data DIR]             dev hub + demo legacy app + hubgate on loopback
  hubgate config check --config FILE   validate a configuration: every error, then warnings
  hubgate config print --config FILE   print the effective configuration, secrets masked
  hubgate keys new                     print a fresh session secret (base64, 32 bytes)
  hubgate healthcheck [--url URL]      exit 0 when hubgate's health check answers 200 (Docker)
  hubgate version [-json]              print the version and the build information
  hubgate migrate-store --from bolt://… --to postgres://…   copy a store, verify counts

Operator commands (through the admin API):
  hubgate claims issue|import|list|revoke …   manage claim links
  hubgate links list|set|unlink …             manage links
  hubgate mode [passthrough|offer|enforce]    show or switch the mode
  hubgate readiness [--days N] [--mail]       who enforce would lock out; mail them their links
  hubgate stats                               the migration's counts, as on the dashboard
  hubgate audit [--limit N]                   the audit log, newest first
  hubgate sessions end ZAIKIO_PERSON          end a person's sessions on every replica

Operator commands talk to the admin API: --admin-url (HUBGATE_ADMIN_URL,
default http://127.0.0.1:4181) and --admin-token (HUBGATE_ADMIN_TOKEN).
Run "hubgate COMMAND -h" for a command's flags.
`

// command is one command or subcommand.
type command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// commands are the top-level commands; config, keys, claims, links and
// sessions have subcommands (groups).
func commands() map[string]command {
	return map[string]command{
		"serve": runServe, "dev": runDev, "config": runConfig, "keys": runKeys,
		"healthcheck": runHealthcheck, "version": runVersion, "migrate-store": runMigrateStore,
		"claims": runClaims, "links": runLinks, "mode": runMode, "readiness": runReadiness,
		"stats": runStats, "audit": runAudit, "sessions": runSessions,
	}
}

// groups are the subcommands of the commands that have them.
func groups() map[string]map[string]command {
	return map[string]map[string]command{
		"config":   {"check": configCheck, "print": configPrint},
		"keys":     {"new": keysNew},
		"claims":   {"issue": claimsIssue, "import": claimsImport, "list": claimsList, "revoke": claimsRevoke},
		"links":    {"list": linksList, "unlink": linksUnlink, "set": linksSet},
		"sessions": {"end": sessionsEnd},
	}
}

// run is main without the process: arguments, environment and output are
// passed in, so that tests drive the whole binary in-process. -h and --help
// print the help on stdout and return nil, on every command.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-v":
		name = "version"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	err := cmd(ctx, args[1:], getenv, stdout, stderr)
	var help helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text)
		return nil
	}
	return err
}

// runConfig dispatches `hubgate config check|print`.
func runConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const help = `Usage: hubgate config COMMAND --config FILE

Commands:
  check    validate a configuration: every error at once (exit 1), then
           warnings; the environment and *_file secrets count as at start
  print    print the effective configuration (file + environment +
           defaults) as YAML, every secret masked

--config defaults to $HUBGATE_CONFIG. The README lists every key.
`
	return dispatch(ctx, "config", help, groups()["config"], args, getenv, stdout, stderr)
}

// runKeys dispatches `hubgate keys new`.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const help = `Usage: hubgate keys new

Commands:
  new      print a fresh session secret: 32 random bytes, base64
`
	return dispatch(ctx, "keys", help, groups()["keys"], args, getenv, stdout, stderr)
}

// keysNew prints a fresh session secret.
func keysNew(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("keys new", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hubgate keys new

Prints a fresh session secret (32 random bytes, base64) for session.secrets.
Put it first to sign with it; keep the old ones after it while their
cookies live.
`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("keys new: unexpected argument %q", fs.Arg(0))}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b[:]))
	return nil
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hubgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses and turns flag errors into usage errors, and -h into
// helpRequested (the help then goes to stdout, not stderr).
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		return helpRequested{buf.String()}
	}
	_, _ = out.Write(buf.Bytes())
	if err != nil {
		return usageError{err.Error()}
	}
	return nil
}
