package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The five targets, in the order every round drives them.
const (
	targetDirect  = "direct"
	targetBare    = "bare"
	targetHubgate = "hubgate"
	targetBearer  = "bearer"
	targetEnforce = "enforce"
)

// loadPath is the path every load request asks for.
const loadPath = "/"

// runBench does the whole benchmark: build, start, sign in, verify, warm
// up, the interleaved rounds and the RSS phase. It returns what it measured
// even when a later step fails. Every child process is stopped before it
// returns, also when ctx is canceled (Ctrl-C).
func runBench(ctx context.Context, s settings, logw io.Writer) (*Results, error) {
	b := &benchRun{s: s, logw: logw, began: time.Now(), procs: &procSet{}}
	b.res = &Results{Settings: s, Machine: machine(), Timings: map[string]float64{}}
	defer func() { b.res.Timings["total"] = round1(time.Since(b.began).Seconds()) }()

	dir, err := os.MkdirTemp("", "hubgate-bench-")
	if err != nil {
		return nil, err
	}
	b.dir = dir
	if s.Keep {
		b.logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	defer b.procs.stopAll()

	t0 := time.Now()
	if err := b.build(ctx); err != nil {
		return nil, err
	}
	b.phase("build", t0)
	t0 = time.Now()
	if err := b.pin(ctx); err != nil {
		return nil, err
	}
	if err := b.startServers(ctx); err != nil {
		return nil, err
	}
	if err := b.signIn(ctx); err != nil {
		return nil, err
	}
	b.phase("setup", t0)
	b.targets = b.newTargets()
	if err := b.mainPhase(ctx); err != nil {
		return b.res, err
	}
	if s.ConnsRSS > 0 {
		if err := b.rssPhase(ctx); err != nil {
			return b.res, err
		}
	}
	b.finalNotes()
	return b.res, nil
}

// benchRun is one runBench call's state, shared by its steps in the order
// runBench calls them. Each step fills the fields the next ones read.
type benchRun struct {
	s     settings
	res   *Results
	logw  io.Writer
	began time.Time
	dir   string
	procs *procSet // every child process, stopped when runBench returns

	hubgateBin, self string      // build: hubgate, and our own binary for the helper roles
	po               procOptions // pin: where and how wide the servers run

	// startServers; upstream stays, bare and hub are replaced by fresh
	// processes (signIn may restart hub, the RSS phase restarts both).
	upstream, bare, hub *proc
	upAddr, bareAddr    string
	maxIdle             int
	hg                  *hubgateSetup

	cookie  string    // signIn: Frank's session cookie
	bearer  string    // signIn: another app's access token (Frank for Bounty Soap)
	targets []*target // newTargets, in the order every round drives them
}

func (b *benchRun) logf(format string, a ...any) {
	fmt.Fprintf(b.logw, "bench: %6.1fs  "+format+"\n", append([]any{time.Since(b.began).Seconds()}, a...)...)
}

// phase records how long the phase that began at t0 took.
func (b *benchRun) phase(name string, t0 time.Time) {
	b.res.Timings[name] = round1(time.Since(t0).Seconds())
}

// build builds hubgate and finds our own binary for the helper roles.
func (b *benchRun) build(ctx context.Context) error {
	mod := b.s.Module
	if mod == "" {
		var err error
		if mod, err = moduleDir(ctx); err != nil {
			return err
		}
	}
	b.logf("building hubgate (%s/cmd/hubgate)%s", mod, map[bool]string{true: " with the memstats overlay", false: ""}[b.s.Overlay])
	bin, err := buildHubgate(ctx, mod, b.dir, b.s.Overlay)
	if err != nil {
		return err
	}
	b.hubgateBin = bin
	if b.self, err = os.Executable(); err != nil {
		return fmt.Errorf("own binary: %w", err)
	}
	return nil
}

// pin puts the servers on one CPU set and this process (the load
// generator) on another. New threads inherit the affinity.
func (b *benchRun) pin(ctx context.Context) error {
	s, res := b.s, b.res
	serverCPUs := ""
	if s.Pin {
		switch _, lerr := exec.LookPath("taskset"); {
		case lerr != nil:
			res.note("not pinned: taskset is missing (install util-linux); servers and load generator share all CPUs")
		case runtime.NumCPU() < 2:
			res.note("not pinned: only %d CPU", runtime.NumCPU())
		default:
			out, err := exec.CommandContext(ctx, "taskset", "-a", "-cp", s.LoadgenCPUs, strconv.Itoa(os.Getpid())).CombinedOutput()
			if err != nil {
				return fmt.Errorf("taskset -a -cp %s %d: %w: %s", s.LoadgenCPUs, os.Getpid(), err, out)
			}
			serverCPUs = s.ServerCPUs
			res.Machine.Pinned = fmt.Sprintf("servers on CPU %s, load generator on CPU %s (taskset)", s.ServerCPUs, s.LoadgenCPUs)
		}
	}
	if res.Machine.Pinned == "" {
		res.Machine.Pinned = "no"
	}
	runtime.GOMAXPROCS(s.LoadgenProcs)
	b.po = procOptions{CPUs: serverCPUs, GOMAXPROCS: s.ServerProcs}
	return nil
}

// startServers starts the upstream, the bare proxy, the dev hub and hubgate.
func (b *benchRun) startServers(ctx context.Context) error {
	s, po := b.s, b.po
	var err error
	b.upstream, b.upAddr, err = startRole(ctx, b.procs, b.dir, b.self, roleUpstream, roleUpstream, po, "-body", strconv.Itoa(s.BodySize))
	if err != nil {
		return err
	}
	b.maxIdle = max(s.Conns, s.ConnsRSS, 64)
	b.bare, b.bareAddr, err = startRole(ctx, b.procs, b.dir, b.self, roleBare, roleBare, po, "-upstream", "http://"+b.upAddr, "-max-idle", strconv.Itoa(b.maxIdle))
	if err != nil {
		return err
	}
	hg, err := newHubgateSetup(b.hubgateBin, b.dir, "http://"+b.upAddr, s.AccessLog, s.Overlay)
	if err != nil {
		return err
	}
	hg.env = s.HubgateEnv
	b.hg = hg
	// The dev hub runs in its own process (pinned with the servers): in
	// production the hub is remote, so it is not part of hubgate's memory.
	if _, _, err := startRole(ctx, b.procs, b.dir, b.self, "devhub", roleHub, po, "-listen", hg.hub,
		"-public", hg.publicURL(), "-webhook-secret", hg.webhook); err != nil {
		return err
	}
	if b.hub, err = hg.start(ctx, "hubgate", po); err != nil {
		return err
	}
	b.procs.add(b.hub)
	b.logf("upstream %s, bare proxy %s, hubgate %s (admin %s, dev hub %s)", b.upAddr, b.bareAddr, hg.public, hg.admin, hg.hub)
	switch s.AccessLog {
	case "file":
		b.res.note("hubgate runs as a user would: log level info, json access log on stderr, redirected to a file")
	case "devnull":
		b.res.note("hubgate's json access log (level info) goes to /dev/null")
	case "off":
		b.res.note("hubgate's access log is off (log.access: false)")
	}
	return nil
}

// signIn links Frank (legacy person 1, owner of 100, member of 200), signs
// him in through the dev hub and checks what the upstream is told.
func (b *benchRun) signIn(ctx context.Context) error {
	hg := b.hg
	err := hg.linkViaAdmin(ctx)
	if errors.Is(err, errNoRoute) {
		b.logf("admin API lacks the link routes (%v): writing the links into the bbolt file", err)
		b.hub.stop()
		if err = hg.linkViaStore(ctx); err != nil {
			return err
		}
		if b.hub, err = hg.start(ctx, "hubgate", b.po); err != nil {
			return err
		}
		b.procs.add(b.hub)
		b.res.note("links written with store/bolt (admin link routes missing)")
	} else if err != nil {
		return err
	}
	if b.cookie, err = hg.login(ctx); err != nil {
		return err
	}
	ids, err := hg.verifyIdentity(ctx, b.cookie)
	if err != nil {
		return err
	}
	b.res.Identity = ids
	b.logf("signed in through the dev hub as Frank; the upstream gets User=%s Orgs=%s Roles=%s", ids["X-Hubgate-User"], ids["X-Hubgate-Orgs"], ids["X-Hubgate-Roles"])
	if b.bearer, err = hg.bearerToken(ctx); err != nil {
		return err
	}
	if ids, err = hg.verifyBearer(ctx, b.bearer); err != nil {
		return err
	}
	b.res.BearerIdentity = ids
	b.logf("another app's bearer token (Frank for Bounty Soap); the upstream gets User=%s Orgs=%s Roles=%s Auth=%s", ids["X-Hubgate-User"], ids["X-Hubgate-Orgs"], ids["X-Hubgate-Roles"], ids["X-Hubgate-Auth"])
	return nil
}

// newTargets returns the five targets, in the order every round drives
// them.
func (b *benchRun) newTargets() []*target {
	hg, cookie, upstream, bare, hub := b.hg, b.cookie, b.upstream, b.bare, b.hub
	bearer := "Authorization: Bearer " + b.bearer
	mode := func(m string, cookie string, want int) func(context.Context) error {
		return func(ctx context.Context) error {
			if err := hg.setMode(ctx, m); err != nil {
				return err
			}
			return checkStatus(ctx, hg.publicURL()+loadPath, cookie, want)
		}
	}
	return []*target{
		{name: targetDirect, desc: "upstream, no proxy", addr: b.upAddr, path: loadPath, want: http.StatusOK,
			front: upstream, procs: []*proc{upstream}},
		{name: targetBare, desc: "httputil.ReverseProxy → upstream", addr: b.bareAddr, path: loadPath, want: http.StatusOK,
			front: bare, procs: []*proc{bare, upstream}},
		{name: targetHubgate, desc: "hubgate, session cookie → upstream", addr: hg.public, path: loadPath, want: http.StatusOK,
			headers: []string{"Cookie: " + cookie}, front: hub, procs: []*proc{hub, upstream},
			prepare: mode("passthrough", cookie, http.StatusOK)},
		{name: targetBearer, desc: "hubgate, bearer token (cached) → upstream", addr: hg.public, path: loadPath, want: http.StatusOK,
			headers: []string{bearer}, front: hub, procs: []*proc{hub, upstream},
			prepare: func(ctx context.Context) error {
				if err := hg.setMode(ctx, "passthrough"); err != nil {
					return err
				}
				_, err := hg.verifyBearer(ctx, b.bearer)
				return err
			}},
		{name: targetEnforce, desc: "hubgate enforce, no cookie → 302", addr: hg.public, path: loadPath, want: http.StatusFound,
			front: hub, procs: []*proc{hub, upstream},
			prepare: mode("enforce", "", http.StatusFound)},
	}
}

// mainPhase warms every target up, drives the interleaved rounds and
// summarizes them into the results.
func (b *benchRun) mainPhase(ctx context.Context) error {
	s := b.s
	t0 := time.Now()
	if s.Warmup > 0 {
		for _, t := range b.targets {
			b.logf("warm-up %-8s %d conns, %s", t.name, s.Conns, s.Warmup)
			if _, err := drive(ctx, t, s.Conns, s.Warmup, 0); err != nil {
				return err
			}
		}
	}
	b.phase("warmup", t0)
	t0 = time.Now()
	runs := map[string][]*measured{}
	for i := 1; i <= s.Rounds; i++ {
		for _, t := range b.targets {
			r, err := b.round(ctx, i, t)
			if err != nil {
				return err
			}
			runs[t.name] = append(runs[t.name], r)
			b.logf("round %d/%d %-8s %9.0f req/s  p50 %-9s p99 %-9s errors %d  other CPU %.0f%%", i, s.Rounds, t.name, r.reqPerSec(),
				fmtDur(r.hist.quantile(0.50)), fmtDur(r.hist.quantile(0.99)), r.errors+r.wrong, 100*r.otherCPU.Seconds()/r.elapsed.Seconds())
		}
	}
	b.phase("rounds", t0)
	for _, t := range b.targets {
		b.res.Targets = append(b.res.Targets, summarize(t, runs[t.name], s.LoadgenProcs))
	}
	for _, p := range []*proc{b.upstream, b.bare, b.hub} {
		b.res.Processes = append(b.res.Processes, procResult(p, "main phase"))
	}
	b.res.ratios()
	return nil
}

// round drives t for round i; in hubgate's first round it also takes the
// CPU profile that -cpuprofile asks for.
func (b *benchRun) round(ctx context.Context, i int, t *target) (*measured, error) {
	s := b.s
	var prof chan error
	if i == 1 && t.name == targetHubgate && s.CPUProfile != "" {
		prof = make(chan error, 1)
		hub := b.hub
		go func() { prof <- hub.cpuProfile(ctx, s.Duration*8/10, s.CPUProfile) }()
	}
	r, err := drive(ctx, t, s.Conns, s.Duration, 0)
	if prof != nil {
		if perr := <-prof; perr != nil {
			b.res.note("CPU profile: %v", perr)
		} else {
			b.res.note("CPU profile of hubgate's first round: %s (go tool pprof %s)", s.CPUProfile, s.CPUProfile)
		}
	}
	return r, err
}

// rssPhase drives ConnsRSS keep-alive connections at a fresh bare proxy
// (the reference) and a fresh hubgate (same store and secret, so the
// cookie stays valid).
func (b *benchRun) rssPhase(ctx context.Context) error {
	po := b.po
	t0 := time.Now()
	b.bare.stop()
	var err error
	b.bare, b.bareAddr, err = startRole(ctx, b.procs, b.dir, b.self, "bare-rss", roleBare, po, "-upstream", "http://"+b.upAddr, "-max-idle", strconv.Itoa(b.maxIdle))
	if err != nil {
		return err
	}
	tb := *b.targets[1]
	tb.addr, tb.front, tb.procs = b.bareAddr, b.bare, []*proc{b.bare, b.upstream}
	b.hub.stop()
	if b.hub, err = b.hg.start(ctx, "hubgate-rss", po); err != nil {
		return err
	}
	b.procs.add(b.hub)
	if _, err := b.hg.verifyIdentity(ctx, b.cookie); err != nil {
		return fmt.Errorf("after restarting hubgate: %w", err)
	}
	th := *b.targets[2]
	th.front, th.procs = b.hub, []*proc{b.hub, b.upstream}
	for _, t := range []*target{&tb, &th} {
		if err := b.rssRun(ctx, t); err != nil {
			return err
		}
	}
	b.phase("conns_rss", t0)
	return nil
}

// rssRun is one target's run of the RSS phase, with its memory figures.
func (b *benchRun) rssRun(ctx context.Context, t *target) error {
	s := b.s
	b.logf("RSS phase: %d conns at a fresh %s, %s, think time %s", s.ConnsRSS, t.front.name, s.RSSDuration, s.RSSThink)
	r, err := drive(ctx, t, s.ConnsRSS, s.RSSDuration, s.RSSThink)
	if err != nil {
		return fmt.Errorf("RSS phase: %w", err)
	}
	c := ConnsRSS{Target: t.name, Conns: s.ConnsRSS, ThinkMillis: float64(s.RSSThink.Microseconds()) / 1000, Seconds: round1(r.elapsed.Seconds()), ReqPerSec: round1(r.reqPerSec()),
		P50Micros: micros(r.hist.quantile(0.50)), P99Micros: micros(r.hist.quantile(0.99)),
		Requests: r.requests, Errors: r.errors + r.wrong}
	pr := procResult(t.front, fmt.Sprintf("fresh process, %d conns", s.ConnsRSS))
	c.PeakRSSMiB, c.RSSMiB = pr.PeakRSSMiB, pr.RSSMiB
	if _, _, file, err := t.front.memoryParts(); err == nil {
		c.RSSFileMiB = round1(float64(file) / mib)
	}
	c.PrerollPeakRSSMiB = round1(float64(r.prerollPeak) / mib)
	if m := r.frontStats; m != nil {
		c.HeapInuseMiB, c.StackInuseMiB = round1(float64(m.HeapInuse)/mib), round1(float64(m.StackInuse)/mib)
		c.Goroutines = m.Goroutines
	}
	b.res.ConnsRSS = append(b.res.ConnsRSS, c)
	b.res.Processes = append(b.res.Processes, pr)
	b.logf("RSS phase: %s %.0f req/s, peak RSS %.1f MiB", t.front.name, r.reqPerSec(), c.PeakRSSMiB)
	return nil
}

// finalNotes runs the goal checks and notes what disturbed the figures.
func (b *benchRun) finalNotes() {
	s, res := b.s, b.res
	res.checks()
	res.note("hubgate allocations: %s", b.hub.mallocsFrom)
	for _, t := range res.Targets {
		if t.OtherCPU > 0.1 || t.Steal > 0.05 {
			res.note("other processes used %.0f%% of a CPU (hypervisor steal %.0f%%) during the %s rounds: the machine was not quiet, figures are disturbed", 100*t.OtherCPU, 100*t.Steal, t.Name)
		}
		if t.LoadgenBusy > 0.9 {
			res.note("the load generator was busy %.0f%% of its %d core(s) during %s: that target may be limited by the generator, not the server", 100*t.LoadgenBusy, s.LoadgenProcs, t.Name)
		}
	}
	if s.AccessLog == "file" {
		if fi, err := os.Stat(filepath.Join(b.dir, "hubgate.log")); err == nil {
			res.note("hubgate's log grew to %.1f MiB during the main phase (deleted afterwards unless -keep)", float64(fi.Size())/(1<<20))
		}
	}
}

// startRole starts the bench binary in a helper role and waits for its
// "ready <addr> <stats addr>" line.
func startRole(ctx context.Context, procs *procSet, dir, self, name, role string, o procOptions, args ...string) (*proc, string, error) {
	ready := make(chan string, 1)
	o.Ready = ready
	p, err := startProc(name, filepath.Join(dir, name+".log"), self, append([]string{"-role", role}, args...), o)
	if err != nil {
		return nil, "", err
	}
	procs.add(p)
	var line string
	select {
	case line = <-ready:
	case <-p.done:
		return nil, "", p.failure("exited before it was ready")
	case <-time.After(startTimeout):
		return nil, "", p.failure(fmt.Sprintf("not ready within %s", startTimeout))
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		return nil, "", p.failure(fmt.Sprintf("said %q, want \"ready <addr> <stats addr>\"", line))
	}
	p.useMemStats("http://"+f[2]+memStatsPath, "runtime.MemStats via "+memStatsPath)
	return p, f[1], nil
}
