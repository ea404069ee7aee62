package main

// `hubgate version` and `hubgate healthcheck`: what an image and its
// orchestrator ask a binary. version reads the build information the Go
// toolchain embeds (runtime/debug); healthcheck is the probe of a Docker
// HEALTHCHECK in a distroless image, which has no curl.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// Build information the linker may set when the build has none of its own
// (a Docker build without .git has no VCS stamp):
//
//	go build -ldflags "-X main.buildVersion=v1.4.0 -X main.buildCommit=$(git rev-parse HEAD) -X main.buildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// They are constants of the build, never changed at run time.
var (
	buildVersion string
	buildCommit  string
	buildTime    string
)

// buildInfo is what `hubgate version` prints.
type buildInfo struct {
	Version    string   `json:"version"`
	Commit     string   `json:"commit,omitempty"`
	Modified   bool     `json:"modified,omitempty"`    // built from a working tree with changes
	CommitTime string   `json:"commit_time,omitempty"` // the commit's time (VCS stamp)
	BuildTime  string   `json:"build_time,omitempty"`  // set by the linker (buildTime)
	Go         string   `json:"go"`
	Platform   string   `json:"platform"`
	Modules    []module `json:"modules"`
}

// module is a dependency compiled in.
type module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Replace string `json:"replace,omitempty"`
}

// readBuildInfo gathers the build information: the module's, the VCS
// stamp, and the linker's values where the stamp has none.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Modules: []module{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Version, b.Go = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			m := module{Path: d.Path, Version: d.Version}
			if d.Replace != nil {
				m.Replace = d.Replace.Path + " " + d.Replace.Version
			}
			b.Modules = append(b.Modules, m)
		}
	}
	if buildVersion != "" {
		b.Version = buildVersion
	}
	if buildCommit != "" && b.Commit == "" {
		b.Commit = buildCommit
	}
	b.BuildTime = buildTime
	return b
}

// version is the one-line version: module version, short commit, Go.
func version() string {
	b := readBuildInfo()
	v := b.Version
	if len(b.Commit) >= 12 {
		v += " " + b.Commit[:12]
	}
	return v + " " + b.Go
}

// runVersion implements `hubgate version [-json]`.
func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hubgate version [-json]

Prints the version, commit, build time, Go version and platform, and the
version of every module compiled in.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("version: unexpected argument %q", fs.Arg(0))}
	}
	b := readBuildInfo()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	fmt.Fprintln(stdout, "hubgate", b.Version)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	commit := orDash(b.Commit)
	if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(tw, "  commit\t%s\n  commit time\t%s\n  build time\t%s\n  go\t%s %s\n", commit, orDash(b.CommitTime), orDash(b.BuildTime), b.Go, b.Platform)
	fmt.Fprintln(tw, "  modules:")
	for _, m := range b.Modules {
		v := m.Version
		if m.Replace != "" {
			v += " => " + m.Replace
		}
		fmt.Fprintf(tw, "    %s\t%s\n", m.Path, v)
	}
	return tw.Flush()
}

// healthTimeout bounds a healthcheck when --timeout is not given: well
// inside Docker's default HEALTHCHECK timeout of 30 s.
const healthTimeout = 3 * time.Second

// runHealthcheck implements `hubgate healthcheck`: GET the public
// listener's /_hubgate/healthz; exit 0 on 200 without output, 1 otherwise
// (Docker reserves 2, so a bad flag fails with 1 too).
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	target, timeout, err := healthFlags(args, getenv, stderr)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return errors.New(ue.msg)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", target, resp.Status)
	}
	return nil
}

// healthFlags reads the flags of healthcheck: the URL to probe (--url, or
// the listen address of the configuration) and the timeout.
func healthFlags(args []string, getenv func(string) string, stderr io.Writer) (string, time.Duration, error) {
	fs := newFlags("healthcheck", stderr)
	target := fs.String("url", "", "the `URL` to probe (default: http://<listen>/_hubgate/healthz of the configuration)")
	path := fs.String("config", getenv("HUBGATE_CONFIG"), "configuration `file` whose listen is probed; env HUBGATE_CONFIG")
	timeout := fs.Duration("timeout", healthTimeout, "give up after this `duration`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hubgate healthcheck [--url URL | --config FILE] [--timeout 3s]

Probes a running hubgate: GET /_hubgate/healthz on its public listener.
Exits 0 on 200 (printing nothing), 1 otherwise. For a Docker HEALTHCHECK
in an image without curl:

  HEALTHCHECK CMD ["/hubgate", "healthcheck"]

Without --url the listener is listen of the configuration (--config, else
HUBGATE_LISTEN, else :4180), asked on loopback.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return "", 0, err
	}
	if fs.NArg() > 0 {
		return "", 0, usageError{fmt.Sprintf("healthcheck: unexpected argument %q", fs.Arg(0))}
	}
	if *timeout <= 0 {
		return "", 0, usageError{"healthcheck: --timeout: want a positive duration"}
	}
	if *target != "" {
		if !strings.HasPrefix(*target, "http://") && !strings.HasPrefix(*target, "https://") {
			return "", 0, usageError{fmt.Sprintf("healthcheck: --url %q: want http://host:port/…", *target)}
		}
		return *target, *timeout, nil
	}
	listen := getenv("HUBGATE_LISTEN")
	if *path != "" {
		c, err := loadConfig(*path, getenv)
		if err != nil {
			return "", 0, err
		}
		listen = c.Listen
	}
	if listen == "" {
		listen = ":4180"
	}
	u, err := healthURL(listen)
	return u, *timeout, err
}

// healthURL is the health check URL of the public listener listen: an
// address for all interfaces is asked on loopback.
func healthURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("healthcheck: listen %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/_hubgate/healthz", nil
}
