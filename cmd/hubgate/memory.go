package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The memory governor keeps hubgate's memory close to what it really uses
// when it holds many connections, without ever starving the collector.
//
// Go's collector lets the heap grow by GOGC (100 %) of the live heap between
// collections. With a thousand busy keep-alive connections the live heap is
// mostly per-connection buffers, so that growth is pure headroom: 15–20 MiB
// that do nothing. A fixed GOMEMLIMIT takes it away but turns into a GC storm
// (and a throughput collapse) once the live heap nears the limit — a bigger
// installation would need an operator to notice and raise it.
//
// So after every collection the governor sets the runtime's soft limit to
//
//	max(floor, non-heap memory + live heap × (1 + headroom))
//
// and, unless GOGC is set in the environment, turns GOGC's own trigger off:
// the limit alone decides when to collect. Below the floor the heap may grow
// to the floor before a collection — with a small live heap that is several
// times fewer collections than GOGC=100 (about 10 % less CPU per request in
// the bench); above it the heap grows at most by headroom of what is live —
// GOGC=50 with the default — however large the live heap becomes, so it
// never starves the collector the way a fixed limit near the live heap does.
// It is off when GOMEMLIMIT is set (the operator chose a fixed limit) or
// memory.floor is 0.

// memoryMetrics are the runtime/metrics the governor reads.
var memoryMetrics = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

type memoryGovernor struct {
	floor    uint64
	headroom uint64 // percent of the live heap
	mu       sync.Mutex
	samples  []metrics.Sample
	limit    atomic.Int64 // the limit last set
	updates  atomic.Uint64
	stopped  atomic.Bool
	previous int64 // the limit before the governor started
	gogcOff  bool  // the governor turned GOGC off
	prevGOGC int   // GOGC before that
}

// gcSentinel is allocated per cycle; its cleanup runs after the collection
// that found it unreachable. It is larger than the tiny-allocator size so
// that it is an object of its own.
type gcSentinel struct {
	_ [4]*byte
}

// startMemoryGovernor starts a governor for the process; with gogcOff it
// also turns GOGC's trigger off (the caller checks GOGC is not set). Only
// one runs at a time (the runtime limit is process-wide); a second start
// while one runs returns nil.
func startMemoryGovernor(floor uint64, headroom int, gogcOff bool) *memoryGovernor {
	if floor == 0 || headroom <= 0 {
		return nil
	}
	g := &memoryGovernor{floor: floor, headroom: uint64(headroom)}
	if !activeGovernor.CompareAndSwap(nil, g) {
		return nil
	}
	for _, name := range memoryMetrics {
		g.samples = append(g.samples, metrics.Sample{Name: name})
	}
	g.previous = debug.SetMemoryLimit(-1)
	// A limit from the start, not only after the first collection: with
	// GOGC off that limit is what starts the first one.
	g.update()
	if gogcOff {
		g.gogcOff, g.prevGOGC = true, debug.SetGCPercent(-1)
	}
	g.arm()
	return g
}

var activeGovernor atomic.Pointer[memoryGovernor]

func (g *memoryGovernor) arm() {
	runtime.AddCleanup(new(gcSentinel), func(g *memoryGovernor) {
		if g.stopped.Load() {
			return
		}
		g.update()
		g.arm()
	}, g)
}

// update computes and sets the limit from the state after the last
// collection.
func (g *memoryGovernor) update() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped.Load() {
		return
	}
	metrics.Read(g.samples)
	v := func(i int) uint64 {
		if g.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return g.samples[i].Value.Uint64()
	}
	live, total := v(0), v(1)
	heap := v(2) + v(3) + v(4) + v(5)
	nonHeap := uint64(0)
	if total > heap {
		nonHeap = total - heap // stacks, runtime metadata, buffers
	}
	limit := max(g.floor, nonHeap+live+live*g.headroom/100)
	if limit > math.MaxInt64 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(int64(limit))
	g.limit.Store(int64(limit))
	g.updates.Add(1)
}

// stop removes the governor's limit (restoring the one before it).
func (g *memoryGovernor) stop() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped.Swap(true) {
		return
	}
	if g.gogcOff {
		debug.SetGCPercent(g.prevGOGC)
	}
	debug.SetMemoryLimit(g.previous)
	activeGovernor.CompareAndSwap(g, nil)
}

// parseSize reads a byte size: a number with an optional unit B, KiB, MiB,
// GiB (or KB, MB, GB, also meaning powers of 1024 here, as GOMEMLIMIT does
// not accept them); "0" or "off" is 0.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "off" || t == "0" {
		return 0, nil
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil || i == 0 {
		return 0, fmt.Errorf("size %q: want e.g. 32MiB, 512KiB or off", s)
	}
	var mult uint64
	switch strings.TrimSpace(t[i:]) {
	case "", "B":
		mult = 1
	case "KiB", "KB", "K":
		mult = 1 << 10
	case "MiB", "MB", "M":
		mult = 1 << 20
	case "GiB", "GB", "G":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: want e.g. 32MiB, 512KiB or off", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}
