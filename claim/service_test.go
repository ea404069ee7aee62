package claim_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/claim"
)

// memStore is an in-memory claim.Store that follows the interface's
// contract, so that the Service can be tested without a database. It keeps
// everything it was handed, for tests that check what reached storage.
type memStore struct {
	// mu guards everything below.
	mu       sync.Mutex
	claims   map[claim.Hash]claim.Claim
	links    []claim.Link
	events   []claim.Event
	received []any // every argument of every call, in order
	fail     error // when set, every write fails with it
}

var _ claim.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{claims: map[claim.Hash]claim.Claim{}} }

func (s *memStore) CreateClaims(ctx context.Context, claims []claim.Claim, ev claim.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, claims, ev)
	if s.fail != nil {
		return s.fail
	}
	ids := map[string]bool{}
	for _, c := range s.claims {
		ids[c.ID] = true
	}
	for _, c := range claims {
		if _, dup := s.claims[c.Hash]; dup || ids[c.ID] {
			return fmt.Errorf("memstore: duplicate claim %s", c.ID)
		}
		ids[c.ID] = true
	}
	for _, c := range claims {
		s.claims[c.Hash] = c
	}
	s.events = append(s.events, ev)
	return nil
}

func (s *memStore) ClaimByHash(ctx context.Context, h claim.Hash) (claim.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, h)
	c, ok := s.claims[h]
	if !ok {
		return claim.Claim{}, fmt.Errorf("memstore: %w", claim.ErrNotFound)
	}
	return c, nil
}

func (s *memStore) RedeemClaim(ctx context.Context, r claim.Redemption) (claim.Claim, claim.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
	if s.fail != nil {
		return claim.Claim{}, claim.Link{}, s.fail
	}
	c, ok := s.claims[r.Hash]
	if !ok {
		return claim.Claim{}, claim.Link{}, claim.ErrNotFound
	}
	if err := c.Check(r); err != nil {
		return c, claim.Link{}, err
	}
	l := claim.Link{Kind: c.Kind, LegacyID: c.LegacyID, ZaikioID: r.ZaikioID, CreatedAt: r.At, Via: "claim:" + c.ID, By: r.Actor}
	var byLegacy, byZaikio *claim.Link
	for i := range s.links {
		if s.links[i].Kind != l.Kind {
			continue
		}
		if s.links[i].LegacyID == l.LegacyID {
			byLegacy = &s.links[i]
		}
		if s.links[i].ZaikioID == l.ZaikioID {
			byZaikio = &s.links[i]
		}
	}
	exists, err := claim.CheckLink(l, byLegacy, byZaikio)
	if err != nil {
		return c, claim.Link{}, err
	}
	if exists {
		l = *byLegacy
	} else {
		s.links = append(s.links, l)
		s.events = append(s.events, claim.LinkEvent(l))
	}
	c.UsedAt, c.UsedBy = r.At, r.ZaikioID
	s.claims[r.Hash] = c
	s.events = append(s.events, claim.Event{Time: r.At, Actor: r.Actor, Action: "claim.redeem",
		Subject: string(c.Kind) + ":" + c.LegacyID, Detail: "claim " + c.ID})
	return c, l, nil
}

func (s *memStore) snapshot() (claims int, events []claim.Event, received []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.claims), append([]claim.Event(nil), s.events...), append([]any(nil), s.received...)
}

// clock is a settable clock for Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T) (*claim.Service, *memStore, *clock) {
	t.Helper()
	st, c := newMemStore(), &clock{t: t0}
	return &claim.Service{Store: st, Now: c.Now}, st, c
}

var claimID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestPrepare(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name       string
		serviceTTL time.Duration
		req        claim.Request
		wantTTL    time.Duration // when the request is valid
		wantErr    string        // "" means valid
	}{
		{"person, default ttl", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: "ada@example.com", CreatedBy: "cli"}, 14 * 24 * time.Hour, ""},
		{"service ttl", 48 * time.Hour, claim.Request{Kind: claim.KindPerson, LegacyID: "42"}, 48 * time.Hour, ""},
		{"request ttl beats service ttl", 48 * time.Hour, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: time.Hour}, time.Hour, ""},
		{"org with claimer", 0, claim.Request{Kind: claim.KindOrg, LegacyID: "org-7", Claimer: "42"}, claim.DefaultTTL, ""},
		{"org without claimer", 0, claim.Request{Kind: claim.KindOrg, LegacyID: "org-7"}, claim.DefaultTTL, ""},
		{"ttl of one nanosecond", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: time.Nanosecond}, time.Nanosecond, ""},
		{"ttl at the maximum", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: claim.MaxTTL}, claim.MaxTTL, ""},
		{"no email", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42"}, claim.DefaultTTL, ""},
		{"email of 254 bytes", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: strings.Repeat("a", 242) + "@example.com"}, claim.DefaultTTL, ""},

		{"no kind", 0, claim.Request{LegacyID: "42"}, 0, "kind"},
		{"unknown kind", 0, claim.Request{Kind: "people", LegacyID: "42"}, 0, "kind"},
		{"no legacy id", 0, claim.Request{Kind: claim.KindPerson}, 0, "legacy id"},
		{"legacy id with comma", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "4,2"}, 0, "legacy id"},
		{"legacy id too long", 0, claim.Request{Kind: claim.KindPerson, LegacyID: strings.Repeat("x", 129)}, 0, "legacy id"},
		{"claimer on a person claim", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Claimer: "43"}, 0, "claimer is only for org"},
		{"bad claimer", 0, claim.Request{Kind: claim.KindOrg, LegacyID: "org-7", Claimer: "4 2"}, 0, "claimer"},
		{"email with CR LF", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: "ada@example.com\r\nBcc: eve@example.com"}, 0, "email"},
		{"email with LF", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: "ada@example.com\nx"}, 0, "email"},
		{"email with angle brackets", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: "Ada <ada@example.com>"}, 0, "email"},
		{"email too long", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: strings.Repeat("a", 243) + "@example.com"}, 0, "email"},
		{"negative ttl", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: -time.Hour}, 0, "ttl"},
		{"ttl beyond the maximum", 0, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: claim.MaxTTL + time.Second}, 0, "ttl"},
		{"negative service ttl", -time.Hour, claim.Request{Kind: claim.KindPerson, LegacyID: "42"}, 0, "ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newMemStore()
			now := t0.In(cet)
			s := &claim.Service{Store: st, TTL: tc.serviceTTL, Now: func() time.Time { return now }}
			is, err := s.Prepare(tc.req)
			if tc.wantErr != "" {
				if !errors.Is(err, claim.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Prepare(%+v) = %v; want ErrInvalid about %q", tc.req, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%+v) = %v; want success", tc.req, err)
			}
			want := claim.Claim{
				ID: is.Claim.ID, Hash: is.Token.Hash(), Kind: tc.req.Kind, LegacyID: tc.req.LegacyID, Claimer: tc.req.Claimer,
				Email: tc.req.Email, CreatedBy: tc.req.CreatedBy, CreatedAt: t0, ExpiresAt: t0.Add(tc.wantTTL),
			}
			if diff := cmp.Diff(want, is.Claim); diff != "" {
				t.Errorf("Prepare(%+v) claim (-want +got):\n%s", tc.req, diff)
			}
			if is.Claim.CreatedAt.Location() != time.UTC {
				t.Errorf("Prepare: CreatedAt in %v; want UTC", is.Claim.CreatedAt.Location())
			}
			if !claimID.MatchString(is.Claim.ID) {
				t.Errorf("Prepare: ID = %q; want 16 hex digits", is.Claim.ID)
			}
			if _, err := claim.ParseToken(is.Token.Reveal()); err != nil {
				t.Errorf("Prepare: token does not parse: %v", err)
			}
			if n, _, received := st.snapshot(); n != 0 || len(received) != 0 {
				t.Errorf("Prepare touched the store: %d claims, %d calls", n, len(received))
			}
		})
	}
}

// noSecret fails when anything the store received holds one of toks: in
// any string, at any depth (a Token's own printing hides it, so the walk
// reads the values rather than printing them).
func noSecret(t *testing.T, received []any, toks ...claim.Token) {
	t.Helper()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			for _, tok := range toks {
				if strings.Contains(v.String(), tok.Reveal()) {
					t.Errorf("the store received the token itself at %s", path)
				}
			}
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(path+"[key]", k)
				walk(path+"[value]", v.MapIndex(k))
			}
		}
	}
	walk("received", reflect.ValueOf(received))
}

func TestIssue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, _ := newService(t)
	is, err := s.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "42", Email: "ada@example.com", CreatedBy: "admin-api"})
	if err != nil {
		t.Fatalf("Issue = %v", err)
	}
	n, events, received := st.snapshot()
	if n != 1 {
		t.Errorf("stored claims = %d; want 1", n)
	}
	want := []claim.Event{{Time: t0, Actor: "admin-api", Action: "claim.issue", Subject: "person:42", Detail: "claim " + is.Claim.ID}}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	noSecret(t, received, is.Token)
	stored, err := st.ClaimByHash(ctx, is.Token.Hash())
	if err != nil || stored.Hash != is.Token.Hash() {
		t.Errorf("stored claim by the token's hash = %+v, %v; want the issued claim", stored, err)
	}
}

func TestIssueStoreFails(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	boom := errors.New("disk full")
	st.fail = boom
	is, err := s.Issue(context.Background(), claim.Request{Kind: claim.KindPerson, LegacyID: "42"})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "issue claim: ") {
		t.Errorf("Issue with a failing store = %v; want %q wrapped as issue claim", err, boom)
	}
	if is.Token != "" {
		t.Errorf("Issue with a failing store returned a token; want none")
	}
	_, err = s.Issue(context.Background(), claim.Request{Kind: "bogus", LegacyID: "42"})
	if !errors.Is(err, claim.ErrInvalid) {
		t.Errorf("Issue(bad request) = %v; want ErrInvalid", err)
	}
}

func TestIssueMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, _ := newService(t)
	reqs := []claim.Request{
		{Kind: claim.KindPerson, LegacyID: "42", CreatedBy: "ignored"},
		{Kind: claim.KindPerson, LegacyID: "43"},
		{Kind: claim.KindOrg, LegacyID: "org-7", Claimer: "42"},
	}
	out, err := s.IssueMany(ctx, reqs, "import")
	if err != nil {
		t.Fatalf("IssueMany = %v", err)
	}
	if len(out) != 3 {
		t.Fatalf("IssueMany returned %d claims; want 3", len(out))
	}
	var toks []claim.Token
	for i, is := range out {
		if is.Claim.LegacyID != reqs[i].LegacyID || is.Claim.CreatedBy != "import" {
			t.Errorf("IssueMany[%d] = legacy %q by %q; want %q by import", i, is.Claim.LegacyID, is.Claim.CreatedBy, reqs[i].LegacyID)
		}
		toks = append(toks, is.Token)
	}
	n, events, received := st.snapshot()
	if n != 3 {
		t.Errorf("stored claims = %d; want 3", n)
	}
	want := []claim.Event{{Time: t0, Actor: "import", Action: "claim.issue", Subject: "batch", Detail: "3 claims"}}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	noSecret(t, received, toks...)
}

func TestIssueManyAllOrNothing(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	_, err := s.IssueMany(context.Background(), []claim.Request{
		{Kind: claim.KindPerson, LegacyID: "42"},
		{Kind: claim.KindPerson, LegacyID: "bad id"},
	}, "import")
	if !errors.Is(err, claim.ErrInvalid) || !strings.Contains(err.Error(), "request 2") {
		t.Errorf("IssueMany(one bad request) = %v; want ErrInvalid naming request 2", err)
	}
	if n, _, received := st.snapshot(); n != 0 || len(received) != 0 {
		t.Errorf("IssueMany(one bad request) stored %d claims in %d calls; want nothing", n, len(received))
	}
	out, err := s.IssueMany(context.Background(), nil, "import")
	if err != nil || len(out) != 0 {
		t.Errorf("IssueMany(nil) = %v, %v; want nothing and no error", out, err)
	}
	if _, _, received := st.snapshot(); len(received) != 0 {
		t.Errorf("IssueMany(nil) called the store %d times; want 0", len(received))
	}
}

func TestInspectAndRedeem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, clk := newService(t)
	is, err := s.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Inspect(ctx, is.Token)
	if err != nil || c.ID != is.Claim.ID {
		t.Fatalf("Inspect(fresh token) = %+v, %v; want the claim", c, err)
	}
	if _, err := s.Inspect(ctx, is.Token); err != nil {
		t.Errorf("Inspect twice = %v; want looking never to consume", err)
	}
	other, _ := claim.NewToken()
	if _, err := s.Inspect(ctx, other); !errors.Is(err, claim.ErrNotFound) {
		t.Errorf("Inspect(unknown token) = %v; want ErrNotFound", err)
	}

	clk.Add(10 * time.Minute)
	c, l, err := s.Redeem(ctx, claim.Redemption{Hash: is.Token.Hash(), Kind: claim.KindPerson, ZaikioID: frank,
		Actor: "zaikio:" + frank, At: t0.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatalf("Redeem = %v", err)
	}
	at := t0.Add(10 * time.Minute)
	wantLink := claim.Link{Kind: claim.KindPerson, LegacyID: "42", ZaikioID: frank, CreatedAt: at, Via: "claim:" + is.Claim.ID, By: "zaikio:" + frank}
	if diff := cmp.Diff(wantLink, l); diff != "" {
		t.Errorf("Redeem link (-want +got):\n%s", diff)
	}
	if !c.UsedAt.Equal(at) || c.UsedBy != frank {
		t.Errorf("Redeem claim used at %v by %q; want %v (the service's clock, not the caller's) by %s", c.UsedAt, c.UsedBy, at, frank)
	}
	c, err = s.Inspect(ctx, is.Token)
	if !errors.Is(err, claim.ErrUsed) || c.ID != is.Claim.ID {
		t.Errorf("Inspect(redeemed token) = %+v, %v; want the claim and ErrUsed", c, err)
	}
	_, _, err = s.Redeem(ctx, claim.Redemption{Hash: is.Token.Hash(), Kind: claim.KindPerson, ZaikioID: frank})
	if !errors.Is(err, claim.ErrUsed) || !strings.HasPrefix(err.Error(), "redeem claim: ") {
		t.Errorf("Redeem twice = %v; want ErrUsed wrapped as redeem claim", err)
	}
	_, _, received := st.snapshot()
	noSecret(t, received, is.Token)
}

func TestInspectExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, clk := newService(t)
	is, err := s.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "42", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	c, err := s.Inspect(ctx, is.Token)
	if !errors.Is(err, claim.ErrExpired) || c.ID != is.Claim.ID {
		t.Errorf("Inspect at expiry = %+v, %v; want the claim and ErrExpired", c, err)
	}
	if _, _, err := s.Redeem(ctx, claim.Redemption{Hash: is.Token.Hash(), Kind: claim.KindPerson, ZaikioID: frank}); !errors.Is(err, claim.ErrExpired) {
		t.Errorf("Redeem at expiry = %v; want ErrExpired", err)
	}
}

// TestRedeemConflict: a claim whose link would collide is refused and not
// consumed.
func TestRedeemConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newService(t)
	first, _ := s.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "42"})
	second, _ := s.Issue(ctx, claim.Request{Kind: claim.KindPerson, LegacyID: "43"})
	if _, _, err := s.Redeem(ctx, claim.Redemption{Hash: first.Token.Hash(), Kind: claim.KindPerson, ZaikioID: frank}); err != nil {
		t.Fatalf("Redeem(first) = %v", err)
	}
	_, _, err := s.Redeem(ctx, claim.Redemption{Hash: second.Token.Hash(), Kind: claim.KindPerson, ZaikioID: frank})
	if !errors.Is(err, claim.ErrConflict) {
		t.Errorf("Redeem(second claim, same Zaikio person) = %v; want ErrConflict", err)
	}
	if _, err := s.Inspect(ctx, second.Token); err != nil {
		t.Errorf("Inspect(refused claim) = %v; want it still open", err)
	}
	if _, _, err := s.Redeem(ctx, claim.Redemption{Hash: second.Token.Hash(), Kind: claim.KindPerson, ZaikioID: erika}); err != nil {
		t.Errorf("Redeem(refused claim, another Zaikio person) = %v; want success", err)
	}
}

func TestRedeemOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newService(t)
	is, _ := s.Issue(ctx, claim.Request{Kind: claim.KindOrg, LegacyID: "org-7", Claimer: "42"})
	h := is.Token.Hash()
	tests := []struct {
		name string
		r    claim.Redemption
		want error
	}{
		{"not linked yet", claim.Redemption{Hash: h, Kind: claim.KindOrg, ZaikioID: bounty, Roles: []string{"owner"}}, claim.ErrForbidden},
		{"another claimer", claim.Redemption{Hash: h, Kind: claim.KindOrg, ZaikioID: bounty, Claimer: "43", Roles: []string{"owner"}}, claim.ErrForbidden},
		{"member only", claim.Redemption{Hash: h, Kind: claim.KindOrg, ZaikioID: bounty, Claimer: "42", Roles: []string{"member"}}, claim.ErrForbidden},
		{"person flow", claim.Redemption{Hash: h, Kind: claim.KindPerson, ZaikioID: bounty, Claimer: "42", Roles: []string{"owner"}}, claim.ErrInvalid},
		{"named owner", claim.Redemption{Hash: h, Kind: claim.KindOrg, ZaikioID: bounty, Claimer: "42", Roles: []string{"owner"}}, nil},
		{"then used", claim.Redemption{Hash: h, Kind: claim.KindOrg, ZaikioID: bounty, Claimer: "42", Roles: []string{"owner"}}, claim.ErrUsed},
	}
	for _, tc := range tests {
		// Sequential: each step sees the previous one's effect.
		_, _, err := s.Redeem(ctx, tc.r)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Redeem(%+v) = %v; want %v", tc.name, tc.r, err, tc.want)
		}
	}
}

func TestServiceClockDefault(t *testing.T) {
	t.Parallel()
	s := &claim.Service{Store: newMemStore()}
	before := time.Now()
	is, err := s.Prepare(claim.Request{Kind: claim.KindPerson, LegacyID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if is.Claim.CreatedAt.Before(before.Add(-time.Second)) || is.Claim.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("Prepare with a nil clock: CreatedAt = %v; want about now", is.Claim.CreatedAt)
	}
}
