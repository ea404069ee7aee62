package admin

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter rate-limits by key (a client address) with a token bucket per key.
// The table is bounded: when full it starts over, which only ever errs
// towards allowing.
type limiter struct {
	mu    sync.Mutex // guards m
	m     map[string]*rate.Limiter
	every time.Duration
	burst int
}

// limiterMax bounds the keys a limiter remembers.
const limiterMax = 10000

func newLimiter(every time.Duration, burst int) *limiter {
	return &limiter{m: make(map[string]*rate.Limiter), every: every, burst: burst}
}

// attempt is one reserved try.
type attempt struct {
	r  *rate.Reservation
	at time.Time
}

// allowed reports whether the try may go ahead now.
func (a attempt) allowed() bool { return a.r.OK() && a.r.DelayFrom(a.at) == 0 }

// refund gives the try back: it did not count (it succeeded, or it was not
// allowed). CancelAt at the reservation's own time restores the token;
// a later time would not, the reservation having "acted" already.
func (a attempt) refund() { a.r.CancelAt(a.at) }

// reserve takes one try for key at once, so that parallel tries cannot
// outrun the limit; the caller refunds the tries that do not count.
func (l *limiter) reserve(key string) attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= limiterMax {
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.m[key] = lim
	}
	now := time.Now()
	return attempt{r: lim.ReserveN(now, 1), at: now}
}
