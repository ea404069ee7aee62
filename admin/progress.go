package admin

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
)

// Progress is a Prometheus collector of the migration's progress, the
// numbers of the dashboard: hubgate_linked_persons,
// hubgate_linked_organizations, hubgate_directory_persons and
// hubgate_claims_open. It reads them from Counts.Stats at most once per
// MaxAge, however often and from however many scrapers it is collected:
// counting the directory and the claims is a table scan, which a scrape
// every few seconds must not turn into a load on the store.
type Progress struct {
	counts Counts
	maxAge time.Duration
	now    func() time.Time
	log    zerolog.Logger

	mu      sync.Mutex // guards the fields below; a scrape that finds them stale reads the store while holding it
	stats   claim.Stats
	have    bool      // stats were read at least once
	checked time.Time // when the store was last asked (successfully or not)
}

// DefaultProgressAge is how long Progress keeps the numbers it read when
// NewProgress is given no age.
const DefaultProgressAge = 30 * time.Second

var (
	descLinkedPersons = prometheus.NewDesc("hubgate_linked_persons",
		"Legacy persons linked to a Zaikio person (the store's count, at most DefaultProgressAge old).", nil, nil)
	descLinkedOrgs = prometheus.NewDesc("hubgate_linked_organizations",
		"Legacy organizations linked to a Zaikio organization.", nil, nil)
	descDirectory = prometheus.NewDesc("hubgate_directory_persons",
		"Legacy persons known from the directory import.", nil, nil)
	descClaimsOpen = prometheus.NewDesc("hubgate_claims_open",
		`Claim links someone not yet linked can still redeem (neither used, revoked, expired nor retired), by kind (person, org).`, []string{"kind"}, nil)
)

// NewProgress returns a collector reading counts at most once per maxAge
// (zero: DefaultProgressAge). now is the clock (nil: time.Now); store
// errors are logged to logger, and the numbers last read stay.
func NewProgress(counts Counts, maxAge time.Duration, now func() time.Time, logger zerolog.Logger) *Progress {
	if maxAge <= 0 {
		maxAge = DefaultProgressAge
	}
	if now == nil {
		now = time.Now
	}
	return &Progress{counts: counts, maxAge: maxAge, now: now, log: logger}
}

// Describe implements prometheus.Collector.
func (p *Progress) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLinkedPersons, descLinkedOrgs, descDirectory, descClaimsOpen} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Until the store has answered
// once, it reports nothing (a missing series, not a false zero).
func (p *Progress) Collect(ch chan<- prometheus.Metric) {
	st, ok := p.read()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(descLinkedPersons, st.LinkedPersons)
	gauge(descLinkedOrgs, st.LinkedOrgs)
	gauge(descDirectory, st.People)
	gauge(descClaimsOpen, st.ClaimsOpen-st.ClaimsOpenOrgs, "person")
	gauge(descClaimsOpen, st.ClaimsOpenOrgs, "org")
}

// read returns the numbers, asking the store when they are older than
// maxAge.
func (p *Progress) read() (claim.Stats, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.checked.IsZero() || now.Sub(p.checked) >= p.maxAge {
		p.checked = now
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := p.counts.Stats(ctx, now)
		cancel()
		if err != nil {
			p.log.Warn().Err(err).Str("event", "metrics.progress").Msg("could not count the migration's progress; the metrics keep the last numbers")
		} else {
			p.stats, p.have = st, true
		}
	}
	return p.stats, p.have
}
