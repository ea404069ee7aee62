package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long a child may take to come up.
const startTimeout = 10 * time.Second

// clockTick is the unit of utime and stime in /proc/PID/stat. Linux has used
// USER_HZ = 100 on every architecture for decades.
const clockTick = 10 * time.Millisecond

// proc is one server process the bench started: its own process group, so
// that it and anything it spawns can be stopped together, and killed by the
// kernel should the bench die first.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done

	// mallocs reads the process's cumulative heap allocation count
	// (runtime.MemStats.Mallocs). Nil when the process exposes none.
	mallocs func(ctx context.Context) (uint64, error)
	// mallocsFrom says where mallocs reads from, or why there is none.
	mallocsFrom string
	// memStatsURL is the process's /__bench/memstats endpoint; "" when it
	// has none. client reads it.
	memStatsURL string
	client      *http.Client
}

// procOptions say how to start a child.
type procOptions struct {
	// CPUs pins the process with taskset -c (e.g. "0"). Empty: not pinned.
	CPUs string
	// GOMAXPROCS is set in the child's environment. Zero: inherited.
	GOMAXPROCS int
	// Env adds KEY=value entries to the environment.
	Env []string
	// Ready, when set, receives the first line the child writes to stdout
	// (all output still goes to the log).
	Ready chan<- string
}

// startProc starts bin with args; stdout and stderr go to logPath.
func startProc(name, logPath, bin string, args []string, o procOptions) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	argv := append([]string{bin}, args...)
	if o.CPUs != "" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			logf.Close()
			return nil, fmt.Errorf("start %s: pinning to CPU %s: %w", name, o.CPUs, err)
		}
		argv = append([]string{ts, "-c", o.CPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv(os.Environ(), o.GOMAXPROCS, o.Env)
	cmd.Stderr = logf
	cmd.Stdout = logf
	if o.Ready != nil {
		cmd.Stdout = &firstLine{w: logf, ch: o.Ready}
	}
	// Own process group: a Ctrl-C in the terminal reaches the bench, which
	// stops the children in order; Pdeathsig kills them if the bench dies
	// without doing so.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// firstLine passes writes through to w and sends the first line to ch.
type firstLine struct {
	w    io.Writer
	ch   chan<- string
	buf  []byte
	sent bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.sent = true
			f.ch <- string(f.buf[:i])
			f.buf = nil
		}
	}
	return f.w.Write(p)
}

// childEnv is env with GOMAXPROCS replaced (when n > 0) and extra added.
func childEnv(env []string, n int, extra []string) []string {
	out := make([]string, 0, len(env)+1+len(extra))
	for _, kv := range env {
		if n > 0 && strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		out = append(out, kv)
	}
	if n > 0 {
		out = append(out, "GOMAXPROCS="+strconv.Itoa(n))
	}
	return append(out, extra...)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to 5 s, then SIGKILLs it.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// logTail returns the last n lines of the process's log, for error messages.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// failure describes a child that did not come up.
func (p *proc) failure(what string) error {
	msg := fmt.Sprintf("%s: %s", p.name, what)
	if p.exited() {
		msg += fmt.Sprintf(" (it exited: %v)", p.waitErr)
	}
	if t := p.logTail(15); t != "" {
		msg += "\n--- last lines of " + p.logPath + " ---\n" + t
	}
	return errors.New(msg)
}

// memory reads VmHWM (peak resident set) and VmRSS from /proc/PID/status.
func (p *proc) memory() (peak, rss int64, err error) {
	peak, rss, _, err = p.memoryParts()
	return peak, rss, err
}

// memoryParts is memory and RssFile (file pages of the resident set).
func (p *proc) memoryParts() (peak, rss, file int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: memory: %w", p.name, err)
	}
	kb := func(key string) int64 {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return -1
		}
		f := strings.Fields(string(b[i+len(key):]))
		if len(f) == 0 {
			return -1
		}
		v, _ := strconv.ParseInt(f[0], 10, 64)
		return v << 10
	}
	peak, rss, file = kb("VmHWM:"), kb("VmRSS:"), kb("RssFile:")
	if peak < 0 || rss < 0 {
		return 0, 0, 0, fmt.Errorf("%s: memory: no VmHWM/VmRSS in /proc/%d/status", p.name, p.pid())
	}
	return peak, rss, max(file, 0), nil
}

// cpu reads the process's user+system CPU time from /proc/PID/stat.
func (p *proc) cpu() (time.Duration, error) {
	return procCPU(p.pid())
}

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// cpuStat is the whole machine's CPU time from the first line of /proc/stat.
type cpuStat struct {
	busy  time.Duration // user + nice + system, on every CPU
	steal time.Duration // taken by the hypervisor
}

func readCPUStat() (cpuStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}, errors.New("/proc/stat: no cpu line")
	}
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return cpuStat{}, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	// user nice system idle iowait irq softirq steal
	return cpuStat{busy: time.Duration(v[0]+v[1]+v[2]) * clockTick, steal: time.Duration(v[7]) * clockTick}, nil
}

// selfCPU is the bench's own user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStats is what the /__bench/memstats endpoints answer.
type memStats struct {
	Mallocs    uint64 `json:"mallocs"`
	Frees      uint64 `json:"frees"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	NumGC      uint32 `json:"num_gc"`
	Goroutines int    `json:"goroutines"`
}

// readMemStats fetches the whole /__bench/memstats answer.
func (p *proc) readMemStats(ctx context.Context) (memStats, error) {
	var m memStats
	if p.memStatsURL == "" {
		return m, fmt.Errorf("%s: no memstats endpoint", p.name)
	}
	err := getJSON(ctx, p.client, p.memStatsURL, "", &m)
	return m, err
}

// useMemStats makes the process's allocations count come from its
// /__bench/memstats endpoint at url.
func (p *proc) useMemStats(url, from string) {
	p.memStatsURL, p.client, p.mallocsFrom = url, newDebugClient(), from
	p.mallocs = func(ctx context.Context) (uint64, error) {
		m, err := p.readMemStats(ctx)
		return m.Mallocs, err
	}
}

// newDebugClient reads debug and admin endpoints; it never shares
// connections with the load.
func newDebugClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}

// promMallocsReader reads go_memstats_mallocs_total from a Prometheus text
// endpoint (the Go collector of client_golang).
func promMallocsReader(c *http.Client, url, token string) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		b, status, err := get(ctx, c, url, token)
		if err != nil {
			return 0, err
		}
		if status != http.StatusOK {
			return 0, fmt.Errorf("GET %s: status %d", url, status)
		}
		v, ok := promValue(b, "go_memstats_mallocs_total")
		if !ok {
			return 0, fmt.Errorf("GET %s: no go_memstats_mallocs_total", url)
		}
		return v, nil
	}
}

// promValue finds an unlabelled sample in Prometheus text format.
func promValue(b []byte, name string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, false
		}
		return uint64(f), true
	}
	return 0, false
}

// get fetches url (with a bearer token when given) and returns the body.
func get(ctx context.Context, c *http.Client, url, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return b, resp.StatusCode, err
}

func getJSON(ctx context.Context, c *http.Client, url, token string, v any) error {
	b, status, err := get(ctx, c, url, token)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// waitFor polls ok every 20 ms until it reports true, the process exits or
// startTimeout passes.
func waitFor(ctx context.Context, p *proc, what string, ok func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		if ok(ctx) {
			return nil
		}
		select {
		case <-p.done:
			return p.failure(what + ": process exited before it was ready")
		case <-ctx.Done():
			return p.failure(fmt.Sprintf("%s: not ready within %s", what, startTimeout))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// procSet is every process the bench started; stopAll ends them.
type procSet struct {
	mu    sync.Mutex // guards procs
	procs []*proc
}

func (s *procSet) add(p *proc) {
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
}

// stopAll stops the processes, last started first.
func (s *procSet) stopAll() {
	s.mu.Lock()
	ps := s.procs
	s.procs = nil
	s.mu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].stop()
	}
}

// cpuProfile fetches a CPU profile of d from the process's pprof endpoint
// (the -overlay build serves /debug/pprof/ beside /__bench/memstats) into
// file.
func (p *proc) cpuProfile(ctx context.Context, d time.Duration, file string) error {
	if p.memStatsURL == "" {
		return fmt.Errorf("%s: no pprof endpoint (run with -overlay)", p.name)
	}
	u := strings.Replace(p.memStatsURL, memStatsPath, "/debug/pprof/profile", 1) + fmt.Sprintf("?seconds=%d", max(1, int(d/time.Second)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: d + 10*time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s answered %d", p.name, u, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
