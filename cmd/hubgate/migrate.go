package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/store/postgres"
)

const migrateStoreUsage = `Usage: hubgate migrate-store --from bolt:///path/to/hubgate.db --to postgres://user:pw@host/db

Copies an embedded (bolt) store into PostgreSQL, to move from one replica to
several: the directory, claims (with their hashes, states and times, so that
links already sent keep working), person and organization links, the audit
log (under the same sequence numbers), the mode, revocations, sessions,
signing keys and the legacy sign-ins of the readiness view. Stop hubgate first: it holds the bolt file's lock while it runs.

Running it again copies nothing new: records already stored identically are
skipped; records stored differently are listed and left alone. At the end the
counts on both sides are compared in a table; any difference or conflict
makes the command exit non-zero.

Sessions that have not expired are copied too, so people stay signed in
across the switch. Not copied: remembered webhook deliveries (they only
guard against a repeated delivery within minutes).

Flags:
`

// migrateMaxBatch bounds --batch: one transaction per batch.
const migrateMaxBatch = 10_000

// runMigrateStore implements `hubgate migrate-store`.
func runMigrateStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate-store", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), migrateStoreUsage)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "source store: bolt:///path/to/hubgate.db")
	// Not the flag's default: -h would print the password.
	to := fs.String("to", "", "target store: postgres://… (default $HUBGATE_MIGRATE_TO, which keeps the password out of ps)")
	batch := fs.Int("batch", 1000, "records per transaction")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to == "" {
		*to = getenv("HUBGATE_MIGRATE_TO")
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("migrate-store: unexpected argument %q (run hubgate migrate-store -h)", fs.Arg(0))}
	}
	if *from == "" || *to == "" {
		return usageError{"migrate-store: --from bolt://PATH and --to postgres://… are both required (run hubgate migrate-store -h)"}
	}
	kind, path, err := parseStore(*from)
	if err != nil || kind != "bolt" {
		return usageError{fmt.Sprintf("migrate-store: --from %s: want bolt:///path/to/hubgate.db", redactURL(*from))}
	}
	kind, dsn, err := parseStore(*to)
	if err != nil || kind != "postgres" {
		return usageError{fmt.Sprintf("migrate-store: --to %s: want postgres://user:password@host/database", redactURL(*to))}
	}
	if *batch < 1 || *batch > migrateMaxBatch {
		return usageError{fmt.Sprintf("migrate-store: --batch %d: want 1 to %d", *batch, migrateMaxBatch)}
	}
	// bolt.Open would create a missing file: a mistyped path must not
	// "migrate" an empty store.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate-store: source: %w", err)
	}

	start := time.Now()
	src, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return fmt.Errorf("migrate-store: source: %w", err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return fmt.Errorf("migrate-store: target: %w", err)
	}
	defer dst.Close()
	fmt.Fprintf(stderr, "copying %s → %s\n", path, redactURL(dsn))

	m := &storeMigration{src: src, dst: dst, batch: *batch, stderr: stderr, now: time.Now()}
	conflicts, err := m.copy(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
	}
	copied := time.Since(start)
	rows, err := m.verify(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: verify: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSOURCE\tTARGET\tOK")
	differ := 0
	for _, r := range rows {
		ok := "ok"
		if r.source != r.target {
			ok, differ = "DIFFERS", differ+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.kind, r.source, r.target, ok)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "copied in %s, verified in %s\n", copied.Round(time.Millisecond), (time.Since(start) - copied).Round(time.Millisecond))
	fmt.Fprintln(stderr, "note: remembered webhook deliveries are not copied (they guard against repeats within minutes)")

	switch {
	case differ > 0:
		return fmt.Errorf("migrate-store: %d of %d counts differ between source and target (see the table)", differ, len(rows))
	case conflicts > 0:
		return fmt.Errorf("migrate-store: %d records are stored differently in the target and were left alone (listed above)", conflicts)
	}
	return nil
}

// storeMigration copies one bolt store into one PostgreSQL store.
type storeMigration struct {
	src    *bolt.DB
	dst    *postgres.DB
	batch  int
	stderr io.Writer
	now    time.Time // sessions expiring by then are neither copied nor counted
}

// migrateConflictsShown bounds the conflicts listed per kind.
const migrateConflictsShown = 20

// migratePhase copies one kind of record.
type migratePhase struct {
	name  string
	total int // records expected, for the progress line; 0: counted as the phase goes
	run   func(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error)
}

// copy runs the phases in order and returns how many conflicts they met.
func (m *storeMigration) copy(ctx context.Context) (conflicts int, err error) {
	phases, err := m.phases(ctx)
	if err != nil {
		return 0, err
	}
	for _, ph := range phases {
		p := &migrateProgress{w: m.stderr, name: ph.name, total: ph.total}
		p.show()
		res, err := ph.run(ctx, p)
		if err != nil {
			fmt.Fprintln(m.stderr)
			return conflicts, fmt.Errorf("copy %s: %w", ph.name, err)
		}
		m.report(ph.name, p, res)
		conflicts += len(res.Conflicts)
	}
	return conflicts, nil
}

// phases lists what copy copies, in order, with the source's counts for
// the progress lines.
func (m *storeMigration) phases(ctx context.Context) ([]migratePhase, error) {
	st, err := m.src.Stats(ctx, time.Now())
	if err != nil {
		return nil, fmt.Errorf("source stats: %w", err)
	}
	newest, err := m.src.Events(ctx, 0, 1)
	if err != nil {
		return nil, fmt.Errorf("source events: %w", err)
	}
	eventTotal := 0
	if len(newest) == 1 {
		eventTotal = int(newest[0].Seq) // bolt's Seqs are 1, 2, 3, … (an estimate, for progress only)
	}
	return []migratePhase{
		{"people", st.People, m.copyPeople},
		{"claims", st.ClaimsTotal(), m.copyClaims},
		{"person links", st.LinkedPersons, m.copyLinks(claim.KindPerson)},
		{"org links", st.LinkedOrgs, m.copyLinks(claim.KindOrg)},
		{"events", eventTotal, m.copyEvents},
		{"mode", 1, m.copyMode},
		{"revocations", 0, m.copyRevocations},
		{"sessions", 0, m.copySessions},
		{"signing keys", 0, m.copySigningKeys},
		{"legacy sign-ins", 0, m.copySignIns},
	}, nil
}

// report ends a phase's progress line with its result and lists its first
// conflicts.
func (m *storeMigration) report(name string, p *migrateProgress, res postgres.ImportResult) {
	fmt.Fprintf(m.stderr, "\r%s %d/%d: %d added, %d already there, %d conflicts\n",
		name, p.done, max(p.total, p.done), res.Added, res.Same, len(res.Conflicts))
	for i, c := range res.Conflicts {
		if i == migrateConflictsShown {
			fmt.Fprintf(m.stderr, "  … and %d more %s conflicts\n", len(res.Conflicts)-i, name)
			break
		}
		fmt.Fprintf(m.stderr, "  conflict: %s\n", c)
	}
}

func (m *storeMigration) copyPeople(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	return copyPages(ctx, p, func(last *claim.Person) ([]claim.Person, error) {
		return m.src.People(ctx, keyAfter(last, func(p claim.Person) string { return p.ID }), m.batch)
	}, m.dst.ImportPeople)
}

func (m *storeMigration) copyClaims(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	return copyPages(ctx, p, func(last *claim.Claim) ([]claim.Claim, error) {
		return m.src.Claims(ctx, keyAfter(last, func(c claim.Claim) string { return c.ID }), m.batch)
	}, m.dst.ImportClaims)
}

func (m *storeMigration) copyLinks(kind claim.Kind) func(context.Context, *migrateProgress) (postgres.ImportResult, error) {
	return func(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
		return copyPages(ctx, p, func(last *claim.Link) ([]claim.Link, error) {
			return m.src.Links(ctx, kind, keyAfter(last, func(l claim.Link) string { return l.LegacyID }), m.batch)
		}, m.dst.ImportLinks)
	}
}

// copyEvents copies the audit log, newest first, under the same sequence
// numbers.
func (m *storeMigration) copyEvents(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	return copyPages(ctx, p, func(last *claim.Event) ([]claim.Event, error) {
		var before uint64
		if last != nil {
			before = last.Seq
		}
		return m.src.Events(ctx, before, m.batch)
	}, m.dst.ImportEvents)
}

func (m *storeMigration) copyMode(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	mode, err := m.src.Mode(ctx)
	if err != nil {
		return postgres.ImportResult{}, err
	}
	defer p.advance(1)
	return m.dst.ImportMode(ctx, mode)
}

func (m *storeMigration) copyRevocations(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	rvs, err := m.src.Revocations(ctx, time.Time{})
	if err != nil {
		return postgres.ImportResult{}, err
	}
	p.total = len(rvs)
	defer p.advance(len(rvs))
	return m.dst.ImportRevocations(ctx, rvs)
}

// copySessions copies the live sessions only (an expired record would be
// removed at once), so that people stay signed in across the move.
func (m *storeMigration) copySessions(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	var res postgres.ImportResult
	after := ""
	for {
		page, err := m.src.Sessions(ctx, after, m.batch)
		if err != nil || len(page) == 0 {
			return res, err
		}
		after = page[len(page)-1].ID
		live := page[:0]
		for _, rec := range page {
			if rec.ExpiresAt.After(m.now) {
				live = append(live, rec)
			}
		}
		p.total += len(live)
		if len(live) > 0 {
			r, err := m.dst.ImportSessions(ctx, live)
			if err != nil {
				return res, err
			}
			res.Add(r)
		}
		p.advance(len(live))
	}
}

// copySignIns copies the last legacy sign-in of every legacy person (the
// readiness view's data) and the earliest one recorded. A sign-in the
// target holds as recent or more recent is already there.
func (m *storeMigration) copySignIns(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	var res postgres.ImportResult
	src, err := m.src.LegacySignIns(ctx, time.Time{})
	if err != nil {
		return res, err
	}
	dst, err := m.dst.LegacySignIns(ctx, time.Time{})
	if err != nil {
		return res, err
	}
	first, err := m.src.FirstLegacySignIn(ctx)
	if err != nil {
		return res, err
	}
	p.total = len(src)
	ids := slices.Sorted(maps.Keys(src))
	for _, id := range ids {
		// PostgreSQL keeps microseconds.
		if at, ok := dst[id]; ok && !at.Before(src[id].Truncate(time.Microsecond)) {
			res.Same++
		} else if err := m.dst.RecordLegacySignIn(ctx, id, src[id]); err != nil {
			return res, err
		} else {
			res.Added++
		}
		p.advance(1)
	}
	if len(ids) > 0 {
		// The store keeps the earliest time it was told as the first: told
		// for any id, it leaves that id's latest as it is.
		return res, m.dst.RecordLegacySignIn(ctx, ids[0], first)
	}
	return res, nil
}

func (m *storeMigration) copySigningKeys(ctx context.Context, p *migrateProgress) (postgres.ImportResult, error) {
	keys, err := m.src.SigningKeys(ctx)
	if err != nil {
		return postgres.ImportResult{}, err
	}
	p.total = len(keys)
	defer p.advance(len(keys))
	return m.dst.ImportSigningKeys(ctx, keys)
}

// keyAfter is the paging cursor after last ("" at the start).
func keyAfter[T any](last *T, key func(T) string) string {
	if last == nil {
		return ""
	}
	return key(*last)
}

// copyPages copies one kind page by page: list returns the page after last
// (nil: the first page), put imports it.
func copyPages[T any](ctx context.Context, p *migrateProgress, list func(last *T) ([]T, error),
	put func(context.Context, []T) (postgres.ImportResult, error)) (postgres.ImportResult, error) {
	var res postgres.ImportResult
	var last *T
	for {
		page, err := list(last)
		if err != nil || len(page) == 0 {
			return res, err
		}
		r, err := put(ctx, page)
		if err != nil {
			return res, err
		}
		res.Add(r)
		p.advance(len(page))
		last = &page[len(page)-1]
	}
}

// migrateProgress is one phase's progress line on stderr.
type migrateProgress struct {
	w           io.Writer
	name        string
	total, done int
}

func (p *migrateProgress) advance(n int) {
	p.done += n
	p.show()
}

func (p *migrateProgress) show() {
	fmt.Fprintf(p.w, "\r%s %d/%d", p.name, p.done, max(p.total, p.done))
}

// migrateCount is one row of the verification table.
type migrateCount struct {
	kind           string
	source, target string
}

// verify counts what both stores hold, the same way on both sides.
func (m *storeMigration) verify(ctx context.Context) ([]migrateCount, error) {
	now := time.Now()
	var rows []migrateCount
	add := func(kind string, source, target int) {
		rows = append(rows, migrateCount{kind, strconv.Itoa(source), strconv.Itoa(target)})
	}
	ss, err := m.src.Stats(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("source stats: %w", err)
	}
	ts, err := m.dst.Stats(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("target stats: %w", err)
	}
	add("people", ss.People, ts.People)
	add("orgs (in the directory)", ss.Orgs, ts.Orgs)
	add("claims", ss.ClaimsTotal(), ts.ClaimsTotal())
	add("  open", ss.ClaimsOpen, ts.ClaimsOpen)
	add("  used", ss.ClaimsUsed, ts.ClaimsUsed)
	add("  expired", ss.ClaimsExpired, ts.ClaimsExpired)
	add("  revoked", ss.ClaimsRevoked, ts.ClaimsRevoked)
	add("  retired", ss.ClaimsRetired, ts.ClaimsRetired)
	add("person links", ss.LinkedPersons, ts.LinkedPersons)
	add("org links", ss.LinkedOrgs, ts.LinkedOrgs)

	se, err := countEvents(ctx, m.src, m.batch)
	if err != nil {
		return nil, fmt.Errorf("source events: %w", err)
	}
	te, err := countEvents(ctx, m.dst, m.batch)
	if err != nil {
		return nil, fmt.Errorf("target events: %w", err)
	}
	add("events", se, te)

	sm, err := m.src.Mode(ctx)
	if err != nil {
		return nil, fmt.Errorf("source mode: %w", err)
	}
	tm, err := m.dst.Mode(ctx)
	if err != nil {
		return nil, fmt.Errorf("target mode: %w", err)
	}
	rows = append(rows, migrateCount{"mode", modeCell(sm), modeCell(tm)})

	sr, err := m.src.Revocations(ctx, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("source revocations: %w", err)
	}
	tr, err := m.dst.Revocations(ctx, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("target revocations: %w", err)
	}
	add("revocations", len(sr), len(tr))

	ss2, err := countLiveSessions(ctx, m.src, m.now, m.batch)
	if err != nil {
		return nil, fmt.Errorf("source sessions: %w", err)
	}
	ts2, err := countLiveSessions(ctx, m.dst, m.now, m.batch)
	if err != nil {
		return nil, fmt.Errorf("target sessions: %w", err)
	}
	add("sessions (unexpired)", ss2, ts2)

	sk, err := m.src.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("source signing keys: %w", err)
	}
	tk, err := m.dst.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("target signing keys: %w", err)
	}
	add("signing keys", len(sk), len(tk))

	si, err := m.src.LegacySignIns(ctx, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("source legacy sign-ins: %w", err)
	}
	ti, err := m.dst.LegacySignIns(ctx, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("target legacy sign-ins: %w", err)
	}
	add("legacy sign-ins", len(si), len(ti))
	return rows, nil
}

// sessionLister pages through a store's session records, by ID.
type sessionLister interface {
	Sessions(ctx context.Context, after string, limit int) ([]session.Record, error)
}

// countLiveSessions counts the session records that expire after now.
func countLiveSessions(ctx context.Context, s sessionLister, now time.Time, batch int) (int, error) {
	n, after := 0, ""
	for {
		page, err := s.Sessions(ctx, after, batch)
		if err != nil || len(page) == 0 {
			return n, err
		}
		for _, rec := range page {
			if rec.ExpiresAt.After(now) {
				n++
			}
		}
		after = page[len(page)-1].ID
	}
}

// eventLister pages through a store's audit log, newest first.
type eventLister interface {
	Events(ctx context.Context, before uint64, limit int) ([]claim.Event, error)
}

// countEvents pages through a store's whole audit log.
func countEvents(ctx context.Context, s eventLister, batch int) (int, error) {
	n := 0
	var before uint64
	for {
		evs, err := s.Events(ctx, before, batch)
		if err != nil {
			return n, err
		}
		if len(evs) == 0 {
			return n, nil
		}
		n += len(evs)
		before = evs[len(evs)-1].Seq
		if before <= 1 {
			return n, nil
		}
	}
}

// modeCell shows a mode in the table ("-" when none was ever set).
func modeCell(mode migration.Mode) string {
	if mode == "" {
		return "-"
	}
	return string(mode)
}
