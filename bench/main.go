// Command bench is hubgate's load benchmark: a closed-loop load on loopback
// at an upstream directly, at a bare httputil.ReverseProxy in front of it,
// at hubgate with a real session cookie, at hubgate with another app's
// bearer token, and at hubgate in enforce mode without a cookie, every
// server in its own process. See README.md. It owns the
// load, the measurements and the report; it never changes how hubgate
// serves (it runs the real binary's code paths) and is not run by go test
// beyond its own unit tests.
//
//	go run ./bench            the full run (5 interleaved rounds of 10 s)
//	go run ./bench -short     under 30 s
//	go run ./bench -check     exit 1 when hubgate misses a target
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if isRole(os.Args[1:]) {
		err = runRole(ctx, os.Args[1:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	stop()
	var missed targetsMissed
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	case errors.As(err, &missed): // the report says which
		os.Exit(1)
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "bench: interrupted; every child process was stopped")
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// settings are the bench's flags.
type settings struct {
	Duration     time.Duration `json:"duration"`
	Warmup       time.Duration `json:"warmup"`
	Rounds       int           `json:"rounds"`
	Conns        int           `json:"conns"`
	ConnsRSS     int           `json:"conns_rss"`
	RSSDuration  time.Duration `json:"rss_duration"`
	RSSThink     time.Duration `json:"rss_think"`
	Pin          bool          `json:"pin"`
	ServerCPUs   string        `json:"server_cpus"`
	LoadgenCPUs  string        `json:"loadgen_cpus"`
	ServerProcs  int           `json:"server_gomaxprocs"`
	LoadgenProcs int           `json:"loadgen_gomaxprocs"`
	AccessLog    string        `json:"access_log"`
	Overlay      bool          `json:"overlay"`
	BodySize     int           `json:"body_bytes"`
	Short        bool          `json:"short"`
	Check        bool          `json:"-"`
	JSON         bool          `json:"-"`
	Out          string        `json:"-"`
	Module       string        `json:"-"`
	Keep         bool          `json:"-"`
	HubgateEnv   []string      `json:"hubgate_env,omitempty"`
	CPUProfile   string        `json:"-"`
}

// targetsMissed is the error of a -check run that missed a target; the
// report already says which.
type targetsMissed struct{ n int }

func (e targetsMissed) Error() string { return fmt.Sprintf("%d target(s) missed", e.n) }

// usageError is a mistake in the flags (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run is main without the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s, err := parseSettings(args, stderr)
	if err != nil {
		return usageError{err}
	}
	res, err := runBench(ctx, s, stderr)
	if res != nil {
		if s.Out != "" {
			b, _ := json.MarshalIndent(res, "", "  ")
			if werr := os.WriteFile(s.Out, append(b, '\n'), 0o644); werr != nil && err == nil {
				err = fmt.Errorf("write %s: %w", s.Out, werr)
			}
		}
		if s.JSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
		} else {
			res.print(stdout)
		}
	}
	if err != nil {
		return err
	}
	if s.Check {
		if n := res.missed(); n > 0 {
			return targetsMissed{n}
		}
	}
	return nil
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: go run ./bench [flags]\n\nhubgate's closed-loop load benchmark (see bench/README.md).\n\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&s.Duration, "duration", 10*time.Second, "length of one round of one target")
	fs.DurationVar(&s.Warmup, "warmup", 2*time.Second, "warm-up per target before the rounds")
	fs.IntVar(&s.Rounds, "rounds", 5, "rounds; targets interleave within each (A B C D A B C D …)")
	fs.IntVar(&s.Conns, "conns", 50, "concurrent keep-alive connections (one closed-loop worker each)")
	fs.IntVar(&s.ConnsRSS, "conns-rss", 1000, "connections of the RSS phase at hubgate (0: skip the phase)")
	fs.DurationVar(&s.RSSDuration, "rss-duration", 5*time.Second, "length of the RSS phase")
	fs.DurationVar(&s.RSSThink, "rss-think", 0, "pause after each answer in the RSS phase (0: closed loop, every connection busy at once)")
	fs.BoolVar(&s.Pin, "pin", true, "pin servers and load generator to CPUs with taskset")
	fs.StringVar(&s.ServerCPUs, "server-cpus", "0", "CPU list for every server process (taskset -c)")
	fs.StringVar(&s.LoadgenCPUs, "loadgen-cpus", "1", "CPU list for the load generator (this process)")
	fs.IntVar(&s.ServerProcs, "server-procs", 1, "GOMAXPROCS of each server process")
	fs.IntVar(&s.LoadgenProcs, "loadgen-procs", 1, "GOMAXPROCS of the load generator")
	fs.StringVar(&s.AccessLog, "access-log", "file", "hubgate's json access log: file (stderr to a file), devnull, or off (log.access: false)")
	fs.BoolVar(&s.Overlay, "overlay", false, "build hubgate with a /__bench/memstats endpoint (go build -overlay; the repository is untouched) to measure its allocations")
	fs.IntVar(&s.BodySize, "body", 1024, "upstream response body bytes")
	fs.BoolVar(&s.Short, "short", false, "a quick run (under 30 s): 2 rounds of 2 s, 0.5 s warm-up, 1.5 s RSS phase; explicit flags win")
	fs.BoolVar(&s.Check, "check", false, "exit 1 when hubgate misses a target")
	fs.BoolVar(&s.JSON, "json", false, "print the results as JSON instead of a table")
	fs.StringVar(&s.Out, "out", "", "also write the results as JSON to this file")
	fs.StringVar(&s.Module, "module", "", "hubgate's module root (default: from go env GOMOD)")
	fs.BoolVar(&s.Keep, "keep", false, "keep the temporary folder (config, logs, store)")
	fs.StringVar(&s.CPUProfile, "cpuprofile", "", "write a CPU profile of hubgate during its first round to this file (needs -overlay)")
	fs.Func("hubgate-env", "KEY=value added to hubgate's environment only, e.g. GOGC=50 (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("%q: want KEY=value", v)
		}
		s.HubgateEnv = append(s.HubgateEnv, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.Short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, d *time.Duration, v time.Duration) {
			if !set[name] {
				*d = v
			}
		}
		def("duration", &s.Duration, 2*time.Second)
		def("warmup", &s.Warmup, 500*time.Millisecond)
		def("rss-duration", &s.RSSDuration, 1500*time.Millisecond)
		if !set["rounds"] {
			s.Rounds = 2
		}
	}
	switch {
	case s.Duration <= 0 || s.Warmup < 0 || s.RSSDuration <= 0 || s.RSSThink < 0:
		return s, errors.New("-duration and -rss-duration must be > 0, -warmup and -rss-think ≥ 0")
	case s.Rounds < 1 || s.Conns < 1 || s.ConnsRSS < 0:
		return s, errors.New("-rounds and -conns must be ≥ 1, -conns-rss ≥ 0")
	case s.ServerProcs < 1 || s.LoadgenProcs < 1:
		return s, errors.New("-server-procs and -loadgen-procs must be ≥ 1")
	case s.BodySize < 1:
		return s, errors.New("-body must be ≥ 1")
	}
	switch s.AccessLog {
	case "file", "devnull", "off":
	default:
		return s, fmt.Errorf("-access-log %q: want file, devnull or off", s.AccessLog)
	}
	return s, nil
}
