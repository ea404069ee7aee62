package main

import (
	"math/bits"
	"time"
)

// The histogram is HDR-style: exact below 128 ns, then every power of two is
// split into 128 linear sub-buckets, so any recorded latency is off by less
// than 1/128 (0.8 %). Values past 2^40 ns (18 min) land in the last bucket.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxBits    = 40
	numBuckets = (maxBits - subBits + 1) * subCount
)

// histogram counts latencies. Recording allocates nothing; each load worker
// owns one, and the round merges them afterwards, so there is no sharing on
// the measured path.
type histogram struct {
	counts [numBuckets]uint32
	total  uint64
}

// bucketOf maps nanoseconds to a bucket index.
func bucketOf(ns uint64) int {
	if ns < subCount {
		return int(ns)
	}
	l := bits.Len64(ns) // ≥ subBits+1
	if l > maxBits {
		return numBuckets - 1
	}
	shift := l - subBits - 1
	return (shift+1)*subCount + int((ns>>shift)&(subCount-1))
}

// bucketMid is the middle of bucket i in nanoseconds.
func bucketMid(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	g, m := i/subCount, i%subCount
	shift := g - 1
	lower := uint64(subCount+m) << shift
	return lower + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the latency below which a fraction q of the recorded
// values lie (the value of the bucket holding rank ⌈q·total⌉); 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return time.Duration(bucketMid(numBuckets - 1))
}
