package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Results is everything a run measured; -json and -out write it as is.
type Results struct {
	Machine  Machine           `json:"machine"`
	Settings settings          `json:"settings"`
	Identity map[string]string `json:"identity_headers"` // what the upstream got through hubgate
	// BearerIdentity is what the upstream got through hubgate with the
	// bearer target's token.
	BearerIdentity map[string]string  `json:"bearer_identity_headers"`
	Targets        []TargetResult     `json:"targets"`
	Ratios         Ratios             `json:"ratios"`
	ConnsRSS       []ConnsRSS         `json:"conns_rss,omitempty"`
	Processes      []ProcResult       `json:"processes"`
	Checks         []Check            `json:"checks"`
	Notes          []string           `json:"notes"`
	Timings        map[string]float64 `json:"timings_s"`
}

// Machine is where the run happened.
type Machine struct {
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Pinned string `json:"pinned"`
}

// TargetResult is one target over all rounds. Rates and latencies are the
// median of the rounds; per-request figures are totals over all rounds
// divided by all requests.
type TargetResult struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Process     string  `json:"process"` // the server that answers the load generator
	ReqPerSec   float64 `json:"req_per_sec"`
	P50Micros   float64 `json:"p50_us"`
	P99Micros   float64 `json:"p99_us"`
	// AllocsPerReq is heap allocations per request in Process; null when
	// the process exposes no allocation count.
	AllocsPerReq *float64 `json:"allocs_per_req"`
	// UpstreamAllocsPerReq is the same for the upstream behind a proxy.
	UpstreamAllocsPerReq *float64 `json:"upstream_allocs_per_req,omitempty"`
	// ServerCPUMicrosPerReq is the CPU time of every server process on the
	// request's way (proxy and upstream) per request.
	ServerCPUMicrosPerReq float64 `json:"server_cpu_us_per_req"`
	// LoadgenBusy is the fraction of the load generator's cores it used.
	LoadgenBusy float64 `json:"loadgen_busy"`
	// OtherCPU is the CPU (in cores) that other processes on the machine
	// used during the rounds; Steal what the hypervisor took. A quiet
	// machine shows ~0; more means disturbed figures.
	OtherCPU   float64       `json:"other_cpu"`
	Steal      float64       `json:"steal_cpu"`
	PeakRSSMiB float64       `json:"peak_rss_mib"` // Process's VmHWM after the main phase
	Requests   uint64        `json:"requests"`
	Errors     uint64        `json:"errors"` // transport errors and unexpected statuses
	FirstError string        `json:"first_error,omitempty"`
	Rounds     []RoundResult `json:"rounds"`
}

// RoundResult is one round of one target.
type RoundResult struct {
	Seconds   float64 `json:"seconds"`
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	ReqPerSec float64 `json:"req_per_sec"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
}

// Ratios compare hubgate with the bare proxy.
type Ratios struct {
	HubgateReqPerSec float64 `json:"hubgate_vs_bare_req_per_sec"`
	HubgateP99       float64 `json:"hubgate_vs_bare_p99"`
	EnforceReqPerSec float64 `json:"enforce_vs_bare_req_per_sec"`
	BearerReqPerSec  float64 `json:"bearer_vs_bare_req_per_sec"`
	BearerP99        float64 `json:"bearer_vs_bare_p99"`
}

// ConnsRSS is the phase with many connections at a fresh process: the bare
// proxy for reference, then hubgate.
type ConnsRSS struct {
	Target      string  `json:"target"`
	Conns       int     `json:"conns"`
	ThinkMillis float64 `json:"think_ms"` // pause after each answer; 0: closed loop
	Seconds     float64 `json:"seconds"`
	ReqPerSec   float64 `json:"req_per_sec"`
	P50Micros   float64 `json:"p50_us"`
	P99Micros   float64 `json:"p99_us"`
	Requests    uint64  `json:"requests"`
	Errors      uint64  `json:"errors"`
	// PeakRSSMiB is VmHWM after the closed-loop load on every connection
	// (ConnsRSS requests in flight at once); PrerollPeakRSSMiB is VmHWM
	// once every connection was open and had made one request.
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	PrerollPeakRSSMiB float64 `json:"preroll_peak_rss_mib"`
	RSSMiB            float64 `json:"rss_mib"`
	// RSSFileMiB is the part of RSSMiB (right after the load) that is file
	// pages — mostly the executable's code and read-only data, shared and
	// reclaimable — as /proc/PID/status RssFile says; the rest is anonymous.
	RSSFileMiB float64 `json:"rss_file_mib"`
	// From the process's memstats endpoint right after the load, the
	// connections still open, when it has one (hubgate only with -overlay).
	HeapInuseMiB  float64 `json:"heap_inuse_mib,omitempty"`
	StackInuseMiB float64 `json:"stack_inuse_mib,omitempty"`
	Goroutines    int     `json:"goroutines,omitempty"`
}

// ProcResult is a server process's memory.
type ProcResult struct {
	Name        string  `json:"name"`
	When        string  `json:"when"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"` // VmHWM
	RSSMiB      float64 `json:"rss_mib"`      // VmRSS
	MallocsFrom string  `json:"mallocs_from"`
}

// Check is one target of -check.
type Check struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// The targets -check holds hubgate to.
const (
	minReqPerSecRatio = 0.90
	maxP99Ratio       = 1.15
	minEnforceRatio   = 0.80
	maxRSSMiB         = 60.0
	mib               = 1 << 20
)

func (r *Results) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

func (r *Results) target(name string) *TargetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func (r *Results) connsRSS(name string) *ConnsRSS {
	for i := range r.ConnsRSS {
		if r.ConnsRSS[i].Target == name {
			return &r.ConnsRSS[i]
		}
	}
	return nil
}

func (r *Results) ratios() {
	b, h, e, br := r.target(targetBare), r.target(targetHubgate), r.target(targetEnforce), r.target(targetBearer)
	if b == nil || h == nil || e == nil || br == nil || b.ReqPerSec == 0 || b.P99Micros == 0 {
		return
	}
	r.Ratios = Ratios{
		HubgateReqPerSec: round3(h.ReqPerSec / b.ReqPerSec),
		HubgateP99:       round3(h.P99Micros / b.P99Micros),
		EnforceReqPerSec: round3(e.ReqPerSec / b.ReqPerSec),
		BearerReqPerSec:  round3(br.ReqPerSec / b.ReqPerSec),
		BearerP99:        round3(br.P99Micros / b.P99Micros),
	}
}

func (r *Results) checks() {
	if r.target(targetBare) == nil {
		return
	}
	add := func(name string, ok bool, format string, a ...any) {
		r.Checks = append(r.Checks, Check{Name: name, OK: ok, Got: fmt.Sprintf(format, a...)})
	}
	x := r.Ratios
	add(fmt.Sprintf("hubgate req/s ≥ %.2f× bare", minReqPerSecRatio), x.HubgateReqPerSec >= minReqPerSecRatio, "%.3f×", x.HubgateReqPerSec)
	add(fmt.Sprintf("hubgate p99 ≤ %.2f× bare", maxP99Ratio), x.HubgateP99 <= maxP99Ratio, "%.3f×", x.HubgateP99)
	add(fmt.Sprintf("enforce (no cookie) req/s ≥ %.2f× bare", minEnforceRatio), x.EnforceReqPerSec >= minEnforceRatio, "%.3f×", x.EnforceReqPerSec)
	add(fmt.Sprintf("bearer (cached token) req/s ≥ %.2f× bare", minReqPerSecRatio), x.BearerReqPerSec >= minReqPerSecRatio, "%.3f×", x.BearerReqPerSec)
	if c := r.connsRSS(targetHubgate); c != nil {
		add(fmt.Sprintf("hubgate peak RSS at %d conns ≤ %.0f MiB", c.Conns, maxRSSMiB), c.PeakRSSMiB <= maxRSSMiB, "%.1f MiB", c.PeakRSSMiB)
	}
	var errs []string
	for _, t := range r.Targets {
		if t.Errors > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d (%s)", t.Name, t.Errors, t.FirstError))
		}
	}
	for _, c := range r.ConnsRSS {
		if c.Errors > 0 {
			errs = append(errs, fmt.Sprintf("RSS phase %s: %d", c.Target, c.Errors))
		}
	}
	if len(errs) == 0 {
		add("every answer as expected (200, or 302 for enforce)", true, "0 errors")
	} else {
		add("every answer as expected (200, or 302 for enforce)", false, "%s", strings.Join(errs, "; "))
	}
}

// missed counts the failed checks.
func (r *Results) missed() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}

func summarize(t *target, runs []*measured, loadgenProcs int) TargetResult {
	tr := TargetResult{Name: t.name, Description: t.desc, Process: t.front.name}
	var rps, p50, p99 []float64
	var cpu, lg, elapsed, other, steal time.Duration
	front, up := uint64(0), uint64(0)
	frontOK, upOK := true, len(t.procs) > 1
	for _, r := range runs {
		rr := RoundResult{Seconds: round1(r.elapsed.Seconds()), Requests: r.requests, Errors: r.errors + r.wrong,
			ReqPerSec: round1(r.reqPerSec()), P50Micros: micros(r.hist.quantile(0.50)), P99Micros: micros(r.hist.quantile(0.99))}
		tr.Rounds = append(tr.Rounds, rr)
		rps, p50, p99 = append(rps, rr.ReqPerSec), append(p50, rr.P50Micros), append(p99, rr.P99Micros)
		tr.Requests += r.requests
		tr.Errors += r.errors + r.wrong
		if tr.FirstError == "" && r.firstErr != nil {
			tr.FirstError = r.firstErr.Error()
		}
		for _, d := range r.cpu {
			cpu += d
		}
		lg += r.loadgenCPU
		elapsed += r.elapsed
		other += r.otherCPU
		steal += r.steal
		m, ok := r.mallocs[t.front]
		front, frontOK = front+m, frontOK && ok
		if len(t.procs) > 1 {
			m, ok := r.mallocs[t.procs[1]]
			up, upOK = up+m, upOK && ok
		}
	}
	tr.ReqPerSec, tr.P50Micros, tr.P99Micros = median(rps), median(p50), median(p99)
	if tr.Requests > 0 {
		if frontOK {
			v := round1(float64(front) / float64(tr.Requests))
			tr.AllocsPerReq = &v
		}
		if upOK {
			v := round1(float64(up) / float64(tr.Requests))
			tr.UpstreamAllocsPerReq = &v
		}
		tr.ServerCPUMicrosPerReq = round1(float64(cpu.Microseconds()) / float64(tr.Requests))
	}
	if elapsed > 0 {
		tr.LoadgenBusy = round3(lg.Seconds() / (elapsed.Seconds() * float64(loadgenProcs)))
		tr.OtherCPU, tr.Steal = round3(other.Seconds()/elapsed.Seconds()), round3(steal.Seconds()/elapsed.Seconds())
	}
	if peak, _, err := t.front.memory(); err == nil {
		tr.PeakRSSMiB = round1(float64(peak) / mib)
	}
	return tr
}

func procResult(p *proc, when string) ProcResult {
	pr := ProcResult{Name: p.name, When: when, MallocsFrom: p.mallocsFrom}
	if peak, rss, err := p.memory(); err == nil {
		pr.PeakRSSMiB, pr.RSSMiB = round1(float64(peak)/mib), round1(float64(rss)/mib)
	}
	return pr
}

func machine() Machine {
	m := Machine{CPU: "unknown", CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "linux " + strings.TrimSpace(string(b))
	}
	return m
}

// print writes the human-readable report.
func (r *Results) print(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "\nhubgate load benchmark — %s, %d CPUs, %s, %s\n", r.Machine.CPU, r.Machine.CPUs, r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintf(w, "%d conns closed-loop, %d interleaved rounds × %s, warm-up %s; GOMAXPROCS servers %d, load generator %d; pinned: %s\n\n",
		s.Conns, s.Rounds, s.Duration, s.Warmup, s.ServerProcs, s.LoadgenProcs, r.Machine.Pinned)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\twhat\treq/s\tp50\tp99\tallocs/req\tupstream allocs/req\tserver CPU/req\tpeak RSS\terrors\tloadgen busy\tother CPU\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.1f µs\t%.1f MiB\t%d\t%.0f%%\t%.0f%%\t\n", t.Name, t.Description, t.ReqPerSec,
			fmtMicros(t.P50Micros), fmtMicros(t.P99Micros), fmtOpt(t.AllocsPerReq), fmtOpt(t.UpstreamAllocsPerReq),
			t.ServerCPUMicrosPerReq, t.PeakRSSMiB, t.Errors, 100*t.LoadgenBusy, 100*t.OtherCPU)
	}
	tw.Flush()
	x := r.Ratios
	fmt.Fprintf(w, "\nhubgate / bare: req/s %.3f×, p99 %.3f×    bearer / bare: req/s %.3f×, p99 %.3f×    enforce (no cookie) / bare: req/s %.3f×\n",
		x.HubgateReqPerSec, x.HubgateP99, x.BearerReqPerSec, x.BearerP99, x.EnforceReqPerSec)
	for _, c := range r.ConnsRSS {
		fmt.Fprintf(w, "%d conns at a fresh %-8s %6.0f req/s, p50 %s, p99 %s, errors %d; peak RSS %.1f MiB (%.1f MiB after the first request on every conn)",
			c.Conns, c.Target+":", c.ReqPerSec, fmtMicros(c.P50Micros), fmtMicros(c.P99Micros), c.Errors, c.PeakRSSMiB, c.PrerollPeakRSSMiB)
		fmt.Fprintf(w, " (after the load: RSS %.1f MiB, of it file pages %.1f MiB", c.RSSMiB, c.RSSFileMiB)
		if c.Goroutines > 0 {
			fmt.Fprintf(w, "; heap in use %.1f MiB, stacks %.1f MiB, %d goroutines", c.HeapInuseMiB, c.StackInuseMiB, c.Goroutines)
		}
		fmt.Fprint(w, ")")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\npeak RSS per process (VmHWM):")
	for _, p := range r.Processes {
		fmt.Fprintf(w, "  %-12s %6.1f MiB  (%s)\n", p.Name, p.PeakRSSMiB, p.When)
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\ntargets:")
		for _, c := range r.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "MISS"
			}
			fmt.Fprintf(w, "  %s  %-46s %s\n", mark, c.Name, c.Got)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	keys := make([]string, 0, len(r.Timings))
	for k := range r.Timings {
		keys = append(keys, k)
	}
	order := []string{"build", "setup", "warmup", "rounds", "conns_rss", "total"}
	slices.SortFunc(keys, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1fs", k, r.Timings[k]))
	}
	fmt.Fprintf(w, "\ntimings: %s\n", strings.Join(parts, ", "))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func micros(d time.Duration) float64 { return round1(float64(d) / float64(time.Microsecond)) }
func round1(v float64) float64       { return math.Round(v*10) / 10 }
func round3(v float64) float64       { return math.Round(v*1000) / 1000 }

func fmtMicros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func fmtDur(d time.Duration) string { return fmtMicros(float64(d) / float64(time.Microsecond)) }

func fmtOpt(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *v)
}
