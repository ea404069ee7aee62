// Command hubgate is an authenticating reverse proxy that moves a legacy web
// application's people and organizations onto Zaikio single sign-on.
//
//	hubgate serve --config FILE       run the proxy (and the admin listener)
//	hubgate dev                       dev hub + demo legacy app + hubgate on loopback
//	hubgate config check --config F   validate a configuration
//	hubgate keys new                  print a fresh session secret
//	hubgate claims issue|import|list|revoke
//	hubgate links list|unlink
//	hubgate mode [passthrough|offer|enforce]
//	hubgate migrate-store --from bolt://… --to postgres://…
//	hubgate version
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
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
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

// usageError is a mistake in how hubgate was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `hubgate — carry a legacy app's users over to Zaikio sign-in

Usage:
  hubgate serve --config FILE        run the proxy and the admin listener
  hubgate dev [--data DIR]           dev hub + demo legacy app + hubgate on loopback
  hubgate config check --config FILE validate a configuration and exit
  hubgate keys new                   print a fresh session secret (base64, 32 bytes)
  hubgate claims issue|import|list|revoke …   manage claim links (admin API)
  hubgate links list|unlink …        manage links (admin API)
  hubgate mode [passthrough|offer|enforce]    show or switch the mode (admin API)
  hubgate migrate-store --from bolt://… --to postgres://…   copy a store, verify counts
  hubgate version                    print the version

Operator commands talk to the admin API: --admin-url (HUBGATE_ADMIN_URL,
default http://127.0.0.1:4181) and --admin-token (HUBGATE_ADMIN_TOKEN).
Run "hubgate COMMAND -h" for a command's flags.
`

// run is main without the process: arguments, environment and output are
// passed in, so that tests drive the whole binary in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "dev":
		return runDev(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return usageError{"usage: hubgate config check --config FILE"}
		}
		return runConfigCheck(args[2:], getenv, stdout, stderr)
	case "keys":
		if len(args) < 2 || args[1] != "new" {
			return usageError{"usage: hubgate keys new"}
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b[:]))
		return nil
	case "claims":
		return runClaims(ctx, args[1:], getenv, stdout, stderr)
	case "links":
		return runLinks(ctx, args[1:], getenv, stdout, stderr)
	case "mode":
		return runMode(ctx, args[1:], getenv, stdout, stderr)
	case "migrate-store":
		return runMigrateStore(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "hubgate", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// version reports the module version and VCS revision baked into the binary.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hubgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{}
		}
		return usageError{err.Error()}
	}
	return nil
}

func runConfigCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("config check", stderr)
	path := fs.String("config", getenv("HUBGATE_CONFIG"), "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"config check: --config FILE is required"}
	}
	c, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	kind, _, _ := parseStore(c.Store)
	fmt.Fprintf(stdout, "%s: ok (public %s → upstream %s, provider %s, store %s, mode %s)\n", *path, c.PublicURL, c.Upstream, c.Provider.Kind, kind, c.Mode)
	return nil
}
