package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// target is one thing the load is driven at.
type target struct {
	name, desc string
	addr, path string
	headers    []string // extra request header lines, e.g. "Cookie: …"
	want       int      // the status every answer must have
	front      *proc    // the process that answers the load generator
	procs      []*proc  // every server process on the request's way
	// prepare runs before each run of this target (e.g. switches hubgate's
	// mode and checks one request). Nil: nothing.
	prepare func(context.Context) error
}

// measured is what one fixed-duration closed-loop run measured.
type measured struct {
	requests, errors, wrong uint64
	elapsed                 time.Duration
	hist                    *histogram
	loadgenCPU              time.Duration
	mallocs                 map[*proc]uint64 // per process with a mallocs reader
	cpu                     map[*proc]time.Duration
	firstErr                error
	// prerollPeak is the front process's VmHWM once every connection has
	// made its first request (before the timed loop); 0 when unreadable.
	prerollPeak int64
	// otherCPU is CPU time that neither the servers on the way nor the
	// load generator used while the clock ran (other processes on the
	// machine); steal is what the hypervisor took. Both -1 when unknown.
	otherCPU, steal time.Duration
	// frontStats is the front process's memstats right after the load,
	// connections still open; nil when it has no endpoint.
	frontStats *memStats
}

func (r *measured) reqPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// worker drives one keep-alive connection in a closed loop: send, read the
// whole answer, record, repeat.
type worker struct {
	c                *rawConn
	h                histogram
	n, errs, wrong   uint64
	firstErr, preErr error
}

// drive runs the closed-loop load at t with conns connections for dur.
// Every run opens fresh connections and makes one untimed request on each
// before the clock and the servers' counters start, so the measured window
// holds only steady-state keep-alive requests.
//
// think is a pause after every answer (zero: none, a closed loop at full
// speed).
func drive(ctx context.Context, t *target, conns int, dur, think time.Duration) (*measured, error) {
	if t.prepare != nil {
		if err := t.prepare(ctx); err != nil {
			return nil, fmt.Errorf("%s: prepare: %w", t.name, err)
		}
	}
	lr, err := dialLoad(t, conns)
	if err != nil {
		return nil, err
	}
	defer lr.closeAll()
	lr.launch(think)
	if err := lr.preroll(ctx); err != nil {
		return nil, lr.abort(err)
	}

	r := &measured{hist: new(histogram), mallocs: map[*proc]uint64{}, cpu: map[*proc]time.Duration{}}
	if peak, _, err := t.front.memory(); err == nil {
		r.prerollPeak = peak
	}
	c, err := startClock(ctx, t.procs)
	if err != nil {
		return nil, lr.abort(err)
	}
	lr.end = c.begin.Add(dur)
	close(lr.start)

	if err := lr.wait(ctx, dur); err != nil {
		return nil, err
	}
	if err := c.stop(ctx, t, r); err != nil {
		return nil, err
	}
	lr.collect(r)
	return r, nil
}

// loadRun is one drive call's connections and the goroutines that drive
// them: each makes its untimed first request, waits for start, then loops
// until end.
type loadRun struct {
	t           *target
	ws          []*worker
	ready, done sync.WaitGroup
	start       chan struct{}
	end         time.Time // written before start is closed
	stop        atomic.Bool
	allReady    chan struct{} // closed once every first request is answered
}

// dialLoad opens t's conns connections.
func dialLoad(t *target, conns int) (*loadRun, error) {
	lr := &loadRun{t: t, ws: make([]*worker, conns), start: make(chan struct{}), allReady: make(chan struct{})}
	for i := range lr.ws {
		lr.ws[i] = &worker{c: newRawConn(t.addr, t.path, t.headers...)}
		if err := lr.ws[i].c.dial(5 * time.Second); err != nil {
			lr.closeAll()
			return nil, fmt.Errorf("%s: connection %d of %d: %w", t.name, i+1, conns, err)
		}
	}
	return lr, nil
}

// closeAll aborts every connection; safe while the workers run.
func (lr *loadRun) closeAll() {
	for _, w := range lr.ws {
		if w != nil {
			w.c.abort()
		}
	}
}

// launch starts one goroutine per connection.
func (lr *loadRun) launch(think time.Duration) {
	want := lr.t.want
	lr.ready.Add(len(lr.ws))
	lr.done.Add(len(lr.ws))
	for _, w := range lr.ws {
		go func() {
			defer lr.done.Done()
			st, err := w.c.do()
			switch {
			case err != nil:
				w.preErr = err
			case st != want:
				w.preErr = fmt.Errorf("status %d, want %d", st, want)
			}
			lr.ready.Done()
			<-lr.start
			if w.preErr == nil {
				w.loop(lr.end, want, think, &lr.stop)
			}
		}()
	}
	go func() { lr.ready.Wait(); close(lr.allReady) }()
}

// preroll waits until every connection's first request is answered and
// checks those answers.
func (lr *loadRun) preroll(ctx context.Context) error {
	select {
	case <-lr.allReady:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(startTimeout):
		return fmt.Errorf("%s: first requests unanswered after %s", lr.t.name, startTimeout)
	}
	for i, w := range lr.ws {
		if w.preErr != nil {
			return fmt.Errorf("%s: first request on connection %d: %w", lr.t.name, i+1, w.preErr)
		}
	}
	return nil
}

// abort ends a run whose clock has not started: it closes the
// connections, lets the workers past start and waits for them. It returns
// err.
func (lr *loadRun) abort(err error) error {
	lr.stop.Store(true)
	lr.closeAll()
	<-lr.allReady
	close(lr.start)
	lr.done.Wait()
	return err
}

// wait waits for the workers of a started run: they stop at end, or
// earlier when ctx is canceled or the servers stop answering.
func (lr *loadRun) wait(ctx context.Context, dur time.Duration) error {
	finished := make(chan struct{})
	go func() { lr.done.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		lr.stop.Store(true)
		lr.closeAll()
		<-finished
		return ctx.Err()
	case <-time.After(dur + 15*time.Second):
		lr.stop.Store(true)
		lr.closeAll()
		<-finished
		return fmt.Errorf("%s: requests still unanswered 15 s after the run ended", lr.t.name)
	}
}

// collect adds every worker's counts to r.
func (lr *loadRun) collect(r *measured) {
	for _, w := range lr.ws {
		r.hist.merge(&w.h)
		r.requests += w.n
		r.errors += w.errs
		r.wrong += w.wrong
		if r.firstErr == nil && w.firstErr != nil {
			r.firstErr = w.firstErr
		}
	}
}

// clock is the counters at the start of a run's measured window.
type clock struct {
	before     map[*proc]mark
	cpu0       time.Duration // our own CPU time
	machine0   cpuStat
	machineErr error
	begin      time.Time
}

// startClock reads the counters; the window begins when it returns.
func startClock(ctx context.Context, ps []*proc) (*clock, error) {
	before, err := marks(ctx, ps)
	if err != nil {
		return nil, err
	}
	c := &clock{before: before, cpu0: selfCPU()}
	c.machine0, c.machineErr = readCPUStat()
	c.begin = time.Now()
	return c, nil
}

// stop ends the window: it fills r's elapsed time and the CPU, allocation
// and memory figures of t's processes, of ours and of the rest of the
// machine.
func (c *clock) stop(ctx context.Context, t *target, r *measured) error {
	r.elapsed = time.Since(c.begin)
	r.loadgenCPU = selfCPU() - c.cpu0
	machine1, err := readCPUStat()
	if c.machineErr != nil || err != nil {
		r.otherCPU, r.steal = -1, -1
	}
	after, err := marks(ctx, t.procs)
	if err != nil {
		return err
	}
	if m, err := t.front.readMemStats(ctx); err == nil {
		r.frontStats = &m
	}
	ours := r.loadgenCPU
	for _, p := range t.procs {
		b, a := c.before[p], after[p]
		r.cpu[p] = a.cpu - b.cpu
		ours += r.cpu[p]
		if b.hasMallocs && a.hasMallocs {
			r.mallocs[p] = a.mallocs - b.mallocs
		}
	}
	if r.otherCPU == 0 {
		r.otherCPU = max(machine1.busy-c.machine0.busy-ours, 0)
		r.steal = machine1.steal - c.machine0.steal
	}
	return nil
}

// loop sends requests until end. It allocates nothing.
func (w *worker) loop(end time.Time, want int, think time.Duration, stop *atomic.Bool) {
	failures := 0
	for !stop.Load() {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		st, err := w.c.do()
		if err != nil {
			w.errs++
			if w.firstErr == nil {
				w.firstErr = err
			}
			if failures++; failures > 3 { // the server is gone: do not spin
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		failures = 0
		w.h.record(time.Since(t0))
		w.n++
		if st != want {
			w.wrong++
			if w.firstErr == nil {
				w.firstErr = fmt.Errorf("status %d, want %d", st, want)
			}
		}
		if think > 0 {
			time.Sleep(think)
		}
	}
}

// mark is a server process's counters at one moment.
type mark struct {
	mallocs    uint64
	hasMallocs bool
	cpu        time.Duration
}

func marks(ctx context.Context, ps []*proc) (map[*proc]mark, error) {
	out := make(map[*proc]mark, len(ps))
	for _, p := range ps {
		var m mark
		var err error
		if p.exited() {
			return nil, p.failure("exited during the load")
		}
		if m.cpu, err = p.cpu(); err != nil {
			return nil, fmt.Errorf("%s: cpu: %w", p.name, err)
		}
		if p.mallocs != nil {
			if m.mallocs, err = p.mallocs(ctx); err != nil {
				return nil, fmt.Errorf("%s: mallocs: %w", p.name, err)
			}
			m.hasMallocs = true
		}
		out[p] = m
	}
	return out, nil
}
