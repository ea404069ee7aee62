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

// The four targets, in the order every round drives them.
const (
	targetDirect  = "direct"
	targetBare    = "bare"
	targetHubgate = "hubgate"
	targetEnforce = "enforce"
)

// loadPath is the path every load request asks for.
const loadPath = "/"

// runBench does the whole benchmark: build, start, sign in, verify, warm
// up, the interleaved rounds and the RSS phase. It returns what it measured
// even when a later step fails. Every child process is stopped before it
// returns, also when ctx is canceled (Ctrl-C).
func runBench(ctx context.Context, s settings, logw io.Writer) (*Results, error) {
	began := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, "bench: %6.1fs  "+format+"\n", append([]any{time.Since(began).Seconds()}, a...)...)
	}
	res := &Results{Settings: s, Machine: machine(), Timings: map[string]float64{}}
	phase := func(name string, t0 time.Time) { res.Timings[name] = round1(time.Since(t0).Seconds()) }
	defer func() { res.Timings["total"] = round1(time.Since(began).Seconds()) }()

	dir, err := os.MkdirTemp("", "hubgate-bench-")
	if err != nil {
		return nil, err
	}
	if s.Keep {
		logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	procs := &procSet{}
	defer procs.stopAll()

	// 1. Build hubgate; find our own binary for the helper roles.
	t0 := time.Now()
	mod := s.Module
	if mod == "" {
		if mod, err = moduleDir(ctx); err != nil {
			return nil, err
		}
	}
	logf("building hubgate (%s/cmd/hubgate)%s", mod, map[bool]string{true: " with the memstats overlay", false: ""}[s.Overlay])
	hubgateBin, err := buildHubgate(ctx, mod, dir, s.Overlay)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("own binary: %w", err)
	}
	phase("build", t0)

	// 2. Pinning: servers on one CPU set, this process (the load
	// generator) on another. New threads inherit the affinity.
	t0 = time.Now()
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
				return nil, fmt.Errorf("taskset -a -cp %s %d: %w: %s", s.LoadgenCPUs, os.Getpid(), err, out)
			}
			serverCPUs = s.ServerCPUs
			res.Machine.Pinned = fmt.Sprintf("servers on CPU %s, load generator on CPU %s (taskset)", s.ServerCPUs, s.LoadgenCPUs)
		}
	}
	if res.Machine.Pinned == "" {
		res.Machine.Pinned = "no"
	}
	runtime.GOMAXPROCS(s.LoadgenProcs)
	po := procOptions{CPUs: serverCPUs, GOMAXPROCS: s.ServerProcs}

	// 3. The servers.
	upstream, upAddr, err := startRole(ctx, procs, dir, self, roleUpstream, roleUpstream, po, "-body", strconv.Itoa(s.BodySize))
	if err != nil {
		return nil, err
	}
	maxIdle := max(s.Conns, s.ConnsRSS, 64)
	bare, bareAddr, err := startRole(ctx, procs, dir, self, roleBare, roleBare, po, "-upstream", "http://"+upAddr, "-max-idle", strconv.Itoa(maxIdle))
	if err != nil {
		return nil, err
	}
	hg, err := newHubgateSetup(hubgateBin, dir, "http://"+upAddr, s.AccessLog, s.Overlay)
	if err != nil {
		return nil, err
	}
	hg.env = s.HubgateEnv
	// The dev hub runs in its own process (pinned with the servers): in
	// production the hub is remote, so it is not part of hubgate's memory.
	if _, _, err := startRole(ctx, procs, dir, self, "devhub", roleHub, po, "-listen", hg.hub,
		"-public", hg.publicURL(), "-webhook-secret", hg.webhook); err != nil {
		return nil, err
	}
	hub, err := hg.start(ctx, "hubgate", po)
	if err != nil {
		return nil, err
	}
	procs.add(hub)
	logf("upstream %s, bare proxy %s, hubgate %s (admin %s, dev hub %s)", upAddr, bareAddr, hg.public, hg.admin, hg.hub)
	switch s.AccessLog {
	case "file":
		res.note("hubgate runs as a user would: log level info, json access log on stderr, redirected to a file")
	case "devnull":
		res.note("hubgate's json access log (level info) goes to /dev/null")
	case "off":
		res.note("hubgate's access log is off (log.access: false)")
	}

	// 4. Frank: linked legacy person 1, owner of 100, member of 200.
	err = hg.linkViaAdmin(ctx)
	if errors.Is(err, errNoRoute) {
		logf("admin API lacks the link routes (%v): writing the links into the bbolt file", err)
		hub.stop()
		if err = hg.linkViaStore(ctx); err != nil {
			return nil, err
		}
		if hub, err = hg.start(ctx, "hubgate", po); err != nil {
			return nil, err
		}
		procs.add(hub)
		res.note("links written with store/bolt (admin link routes missing)")
	} else if err != nil {
		return nil, err
	}
	cookie, err := hg.login(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := hg.verifyIdentity(ctx, cookie)
	if err != nil {
		return nil, err
	}
	res.Identity = ids
	logf("signed in through the dev hub as Frank; the upstream gets User=%s Orgs=%s Roles=%s", ids["X-Hubgate-User"], ids["X-Hubgate-Orgs"], ids["X-Hubgate-Roles"])
	phase("setup", t0)

	// 5. The targets.
	mode := func(m string, cookie string, want int) func(context.Context) error {
		return func(ctx context.Context) error {
			if err := hg.setMode(ctx, m); err != nil {
				return err
			}
			return checkStatus(ctx, hg.publicURL()+loadPath, cookie, want)
		}
	}
	targets := []*target{
		{name: targetDirect, desc: "upstream, no proxy", addr: upAddr, path: loadPath, want: http.StatusOK,
			front: upstream, procs: []*proc{upstream}},
		{name: targetBare, desc: "httputil.ReverseProxy → upstream", addr: bareAddr, path: loadPath, want: http.StatusOK,
			front: bare, procs: []*proc{bare, upstream}},
		{name: targetHubgate, desc: "hubgate, session cookie → upstream", addr: hg.public, path: loadPath, want: http.StatusOK,
			headers: []string{"Cookie: " + cookie}, front: hub, procs: []*proc{hub, upstream},
			prepare: mode("passthrough", cookie, http.StatusOK)},
		{name: targetEnforce, desc: "hubgate enforce, no cookie → 302", addr: hg.public, path: loadPath, want: http.StatusFound,
			front: hub, procs: []*proc{hub, upstream},
			prepare: mode("enforce", "", http.StatusFound)},
	}
	runs := map[string][]*measured{}

	// 6. Warm-up, then the interleaved rounds.
	t0 = time.Now()
	if s.Warmup > 0 {
		for _, t := range targets {
			logf("warm-up %-8s %d conns, %s", t.name, s.Conns, s.Warmup)
			if _, err := drive(ctx, t, s.Conns, s.Warmup, 0); err != nil {
				return res, err
			}
		}
	}
	phase("warmup", t0)
	t0 = time.Now()
	for i := 1; i <= s.Rounds; i++ {
		for _, t := range targets {
			var prof chan error
			if i == 1 && t.name == targetHubgate && s.CPUProfile != "" {
				prof = make(chan error, 1)
				go func() { prof <- hub.cpuProfile(ctx, s.Duration*8/10, s.CPUProfile) }()
			}
			r, err := drive(ctx, t, s.Conns, s.Duration, 0)
			if prof != nil {
				if perr := <-prof; perr != nil {
					res.note("CPU profile: %v", perr)
				} else {
					res.note("CPU profile of hubgate's first round: %s (go tool pprof %s)", s.CPUProfile, s.CPUProfile)
				}
			}
			if err != nil {
				return res, err
			}
			runs[t.name] = append(runs[t.name], r)
			logf("round %d/%d %-8s %9.0f req/s  p50 %-9s p99 %-9s errors %d  other CPU %.0f%%", i, s.Rounds, t.name, r.reqPerSec(),
				fmtDur(r.hist.quantile(0.50)), fmtDur(r.hist.quantile(0.99)), r.errors+r.wrong, 100*r.otherCPU.Seconds()/r.elapsed.Seconds())
		}
	}
	phase("rounds", t0)
	for _, t := range targets {
		res.Targets = append(res.Targets, summarize(t, runs[t.name], s.LoadgenProcs))
	}
	for _, p := range []*proc{upstream, bare, hub} {
		res.Processes = append(res.Processes, procResult(p, "main phase"))
	}
	res.ratios()

	// 7. The RSS phase: ConnsRSS keep-alive connections at a fresh bare
	// proxy (the reference) and a fresh hubgate (same store and secret, so
	// the cookie stays valid).
	if s.ConnsRSS > 0 {
		t0 = time.Now()
		bare.stop()
		bare, bareAddr, err = startRole(ctx, procs, dir, self, "bare-rss", roleBare, po, "-upstream", "http://"+upAddr, "-max-idle", strconv.Itoa(maxIdle))
		if err != nil {
			return res, err
		}
		tb := *targets[1]
		tb.addr, tb.front, tb.procs = bareAddr, bare, []*proc{bare, upstream}
		hub.stop()
		if hub, err = hg.start(ctx, "hubgate-rss", po); err != nil {
			return res, err
		}
		procs.add(hub)
		if _, err := hg.verifyIdentity(ctx, cookie); err != nil {
			return res, fmt.Errorf("after restarting hubgate: %w", err)
		}
		th := *targets[2]
		th.front, th.procs = hub, []*proc{hub, upstream}
		for _, t := range []*target{&tb, &th} {
			logf("RSS phase: %d conns at a fresh %s, %s, think time %s", s.ConnsRSS, t.front.name, s.RSSDuration, s.RSSThink)
			r, err := drive(ctx, t, s.ConnsRSS, s.RSSDuration, s.RSSThink)
			if err != nil {
				return res, fmt.Errorf("RSS phase: %w", err)
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
			res.ConnsRSS = append(res.ConnsRSS, c)
			res.Processes = append(res.Processes, pr)
			logf("RSS phase: %s %.0f req/s, peak RSS %.1f MiB", t.front.name, r.reqPerSec(), c.PeakRSSMiB)
		}
		phase("conns_rss", t0)
	}
	res.checks()
	res.note("hubgate allocations: %s", hub.mallocsFrom)
	for _, t := range res.Targets {
		if t.OtherCPU > 0.1 || t.Steal > 0.05 {
			res.note("other processes used %.0f%% of a CPU (hypervisor steal %.0f%%) during the %s rounds: the machine was not quiet, figures are disturbed", 100*t.OtherCPU, 100*t.Steal, t.Name)
		}
		if t.LoadgenBusy > 0.9 {
			res.note("the load generator was busy %.0f%% of its %d core(s) during %s: that target may be limited by the generator, not the server", 100*t.LoadgenBusy, s.LoadgenProcs, t.Name)
		}
	}
	if s.AccessLog == "file" {
		if fi, err := os.Stat(filepath.Join(dir, "hubgate.log")); err == nil {
			res.note("hubgate's log grew to %.1f MiB during the main phase (deleted afterwards unless -keep)", float64(fi.Size())/(1<<20))
		}
	}
	return res, nil
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
