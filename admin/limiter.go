package admin

import (
	"time"

	"golang.org/x/time/rate"
)

// limiterMax bounds the keys the login limiter remembers.
const limiterMax = 10000

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

// reserve takes one try from lim at once, so that parallel tries cannot
// outrun the limit; the caller refunds the tries that do not count.
func reserve(lim *rate.Limiter) attempt {
	now := time.Now()
	return attempt{r: lim.ReserveN(now, 1), at: now}
}
