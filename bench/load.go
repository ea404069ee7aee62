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
	ws := make([]*worker, conns)
	closeAll := func() { // also from this goroutine while workers run
		for _, w := range ws {
			if w != nil {
				w.c.abort()
			}
		}
	}
	for i := range ws {
		ws[i] = &worker{c: newRawConn(t.addr, t.path, t.headers...)}
		if err := ws[i].c.dial(5 * time.Second); err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: connection %d of %d: %w", t.name, i+1, conns, err)
		}
	}
	defer closeAll()

	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		end         time.Time // written before start is closed
		stop        atomic.Bool
	)
	ready.Add(conns)
	done.Add(conns)
	for _, w := range ws {
		go func() {
			defer done.Done()
			st, err := w.c.do()
			switch {
			case err != nil:
				w.preErr = err
			case st != t.want:
				w.preErr = fmt.Errorf("status %d, want %d", st, t.want)
			}
			ready.Done()
			<-start
			if w.preErr == nil {
				w.loop(end, t.want, think, &stop)
			}
		}()
	}
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	abort := func(err error) (*measured, error) {
		stop.Store(true)
		closeAll()
		<-allReady
		close(start)
		done.Wait()
		return nil, err
	}
	select {
	case <-allReady:
	case <-ctx.Done():
		return abort(ctx.Err())
	case <-time.After(startTimeout):
		return abort(fmt.Errorf("%s: first requests unanswered after %s", t.name, startTimeout))
	}
	for i, w := range ws {
		if w.preErr != nil {
			return abort(fmt.Errorf("%s: first request on connection %d: %w", t.name, i+1, w.preErr))
		}
	}

	r := &measured{hist: new(histogram), mallocs: map[*proc]uint64{}, cpu: map[*proc]time.Duration{}}
	if peak, _, err := t.front.memory(); err == nil {
		r.prerollPeak = peak
	}
	before, err := marks(ctx, t.procs)
	if err != nil {
		return abort(err)
	}
	cpu0 := selfCPU()
	machine0, machineErr := readCPUStat()
	begin := time.Now()
	end = begin.Add(dur)
	close(start)

	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		stop.Store(true)
		closeAll()
		<-finished
		return nil, ctx.Err()
	case <-time.After(dur + 15*time.Second):
		stop.Store(true)
		closeAll()
		<-finished
		return nil, fmt.Errorf("%s: requests still unanswered 15 s after the run ended", t.name)
	}
	r.elapsed = time.Since(begin)
	r.loadgenCPU = selfCPU() - cpu0
	machine1, err := readCPUStat()
	if machineErr != nil || err != nil {
		r.otherCPU, r.steal = -1, -1
	}
	after, err := marks(ctx, t.procs)
	if err != nil {
		return nil, err
	}
	if m, err := t.front.readMemStats(ctx); err == nil {
		r.frontStats = &m
	}
	ours := r.loadgenCPU
	for _, p := range t.procs {
		b, a := before[p], after[p]
		r.cpu[p] = a.cpu - b.cpu
		ours += r.cpu[p]
		if b.hasMallocs && a.hasMallocs {
			r.mallocs[p] = a.mallocs - b.mallocs
		}
	}
	if r.otherCPU == 0 {
		r.otherCPU = max(machine1.busy-machine0.busy-ours, 0)
		r.steal = machine1.steal - machine0.steal
	}
	for _, w := range ws {
		r.hist.merge(&w.h)
		r.requests += w.n
		r.errors += w.errs
		r.wrong += w.wrong
		if r.firstErr == nil && w.firstErr != nil {
			r.firstErr = w.firstErr
		}
	}
	return r, nil
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
