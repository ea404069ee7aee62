package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

func TestIssueClaim(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.db.PutPeople(ctx, []claim.Person{{ID: "43", Email: "bea@example.com", Name: "Bea"}}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body string
		want claim.Claim // Hash, ID and times are checked apart
		ttl  time.Duration
	}{
		{"person", `{"kind":"person","legacy_id":"42","email":"ann@example.com","ttl":"72h"}`,
			claim.Claim{Kind: claim.KindPerson, LegacyID: "42", Email: "ann@example.com"}, 72 * time.Hour},
		{"person in days", `{"kind":"person","legacy_id":"42","ttl":"14d"}`,
			claim.Claim{Kind: claim.KindPerson, LegacyID: "42"}, 14 * 24 * time.Hour},
		{"person email from the directory", `{"kind":"person","legacy_id":"43"}`,
			claim.Claim{Kind: claim.KindPerson, LegacyID: "43", Email: "bea@example.com"}, claim.DefaultTTL},
		{"org with claimer", `{"kind":"org","legacy_id":"7","claimer":"42"}`,
			claim.Claim{Kind: claim.KindOrg, LegacyID: "7", Claimer: "42"}, claim.DefaultTTL},
		{"organization spelled out", `{"kind":"organization","legacy_id":"8"}`,
			claim.Claim{Kind: claim.KindOrg, LegacyID: "8"}, claim.DefaultTTL},
	}
	var secrets []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := e.issue(tt.body)
			tok := tokenOf(t, is.URL)
			secrets = append(secrets, tok.Reveal())
			got, err := e.db.ClaimByHash(ctx, tok.Hash())
			if err != nil {
				t.Fatalf("ClaimByHash(hash of the URL's token) = %v; want the claim", err)
			}
			want := tt.want
			want.ID, want.Hash, want.CreatedBy = is.ID, tok.Hash(), "admin-api"
			want.CreatedAt, want.ExpiresAt = t0, t0.Add(tt.ttl)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored claim mismatch (-want +got):\n%s", diff)
			}
			if !is.ExpiresAt.Equal(t0.Add(tt.ttl)) {
				t.Errorf("expires_at = %s; want %s", is.ExpiresAt, t0.Add(tt.ttl))
			}
		})
	}

	// Listings never show tokens or hashes.
	body := string(e.call("GET", "/api/v1/claims", "", http.StatusOK, nil))
	for _, tok := range secrets {
		h := claim.Token(tok).Hash()
		if strings.Contains(body, tok) || strings.Contains(body, h.String()) {
			t.Errorf("GET /api/v1/claims shows a token or its hash: %s", body)
		}
	}
	if strings.Contains(body, "hash") || strings.Contains(body, "token") || strings.Contains(body, "url") {
		t.Errorf("GET /api/v1/claims has a hash, token or url field: %s", body)
	}
	e.noSecretsLogged(secrets...)
	if got := e.events()[0]; got.Action != "claim.issue" || got.Actor != "admin-api" {
		t.Errorf("newest event = %+v; want claim.issue by admin-api", got)
	}
}

func TestIssueValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		body      string
		wantField string
	}{
		{"no kind", `{"legacy_id":"42"}`, "kind"},
		{"unknown kind", `{"kind":"team","legacy_id":"42"}`, "kind"},
		{"no legacy id", `{"kind":"person"}`, "legacy_id"},
		{"legacy id with a space", `{"kind":"person","legacy_id":"4 2"}`, "legacy_id"},
		{"legacy id too long", `{"kind":"person","legacy_id":"` + strings.Repeat("x", 129) + `"}`, "legacy_id"},
		{"claimer on a person claim", `{"kind":"person","legacy_id":"42","claimer":"43"}`, "claimer"},
		{"bad claimer", `{"kind":"org","legacy_id":"7","claimer":"a,b"}`, "claimer"},
		{"email without @", `{"kind":"person","legacy_id":"42","email":"ann"}`, "email"},
		{"email with a newline", `{"kind":"person","legacy_id":"42","email":"a@b\nBcc: x@y"}`, "email"},
		{"ttl not a duration", `{"kind":"person","legacy_id":"42","ttl":"soon"}`, "ttl"},
		{"ttl negative", `{"kind":"person","legacy_id":"42","ttl":"-1h"}`, "ttl"},
		{"ttl over a year", `{"kind":"person","legacy_id":"42","ttl":"400d"}`, "ttl"},
		{"ttl a number", `{"kind":"person","legacy_id":"42","ttl":72}`, "ttl"},
		{"unknown field", `{"kind":"person","legacy_id":"42","expires":"72h"}`, "expires"},
		{"not JSON", `kind=person`, "body"},
		{"empty", ``, "body"},
		{"two objects", `{"kind":"person","legacy_id":"42"}{}`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae apiErr
			e.call("POST", "/api/v1/claims", tt.body, http.StatusBadRequest, &ae, "Content-Type", "application/json")
			if ae.Error != "invalid" || ae.Field != tt.wantField || !strings.HasPrefix(ae.Message, tt.wantField+": ") {
				t.Errorf("POST %s = %+v; want error invalid naming %q", tt.body, ae, tt.wantField)
			}
		})
	}
	t.Run("body too large", func(t *testing.T) {
		var ae apiErr
		big := `{"kind":"person","legacy_id":"42","email":"` + strings.Repeat("a", 70<<10) + `"}`
		e.call("POST", "/api/v1/claims", big, http.StatusRequestEntityTooLarge, &ae)
		if ae.Error != "too_large" {
			t.Errorf("error = %+v; want too_large", ae)
		}
	})
	if n := len(e.events()); n != 0 {
		t.Errorf("%d audit events after refused requests; want 0", n)
	}
}

func TestParseTTL(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"72h", 72 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"366d", claim.MaxTTL, false},
		{"367d", 0, true},
		{"0h", 0, true},
		{"-5m", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"", 0, true},
		{"forever", 0, true},
	}
	for _, tt := range tests {
		got, err := admin.ParseTTL(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTTL(%q) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestListClaims(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, e.issue(fmt.Sprintf(`{"kind":"person","legacy_id":"p%d","email":"p%d@example.com"}`, i, i)).ID)
	}
	var got []admin.Claim
	after := ""
	for range 10 {
		var page admin.ClaimPage
		e.call("GET", "/api/v1/claims?limit=3&after="+after, "", http.StatusOK, &page)
		got = append(got, page.Claims...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(got) != len(ids) {
		t.Fatalf("paged through %d claims; want %d", len(got), len(ids))
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Errorf("claims not in id order: %s after %s", got[i].ID, got[i-1].ID)
		}
	}
	want := admin.Claim{ID: ids[2], Kind: "person", LegacyID: "p2", Email: "p2@example.com", Status: "open",
		CreatedAt: t0, ExpiresAt: t0.Add(claim.DefaultTTL), CreatedBy: "admin-api"}
	var one admin.Claim
	e.call("GET", "/api/v1/claims/"+ids[2], "", http.StatusOK, &one)
	if diff := cmp.Diff(want, one); diff != "" {
		t.Errorf("GET /api/v1/claims/%s mismatch (-want +got):\n%s", ids[2], diff)
	}
	var ae apiErr
	e.call("GET", "/api/v1/claims/nope", "", http.StatusNotFound, &ae)
	if ae.Error != "not_found" {
		t.Errorf("GET unknown claim = %+v; want not_found", ae)
	}
	e.call("GET", "/api/v1/claims?limit=zero", "", http.StatusBadRequest, &ae)
	if ae.Field != "limit" {
		t.Errorf("GET ?limit=zero = %+v; want invalid limit", ae)
	}
}

func TestRevokeClaim(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	open := e.issue(`{"kind":"person","legacy_id":"p1"}`)
	used := e.issue(`{"kind":"person","legacy_id":"p2"}`)
	_, _, err := e.db.RedeemClaim(ctx, claim.Redemption{Hash: tokenOf(t, used.URL).Hash(), Kind: claim.KindPerson,
		ZaikioID: "00000000-0000-4000-8000-000000000002", Actor: "zaikio:x", At: t0.Add(time.Minute)})
	if err != nil {
		t.Fatalf("RedeemClaim = %v", err)
	}
	tests := []struct {
		name     string
		id       string
		want     int
		wantCode string
	}{
		{"open", open.ID, http.StatusNoContent, ""},
		{"again", open.ID, http.StatusNoContent, ""},
		{"used", used.ID, http.StatusConflict, "used"},
		{"unknown", "0123456789abcdef", http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae apiErr
			var out any
			if tt.wantCode != "" {
				out = &ae
			}
			e.call("DELETE", "/api/v1/claims/"+tt.id, "", tt.want, out, "X-Hubgate-Actor", "cli:ann@ops")
			if ae.Error != tt.wantCode {
				t.Errorf("DELETE %s error = %q; want %q", tt.name, ae.Error, tt.wantCode)
			}
		})
	}
	var c admin.Claim
	e.call("GET", "/api/v1/claims/"+open.ID, "", http.StatusOK, &c)
	if c.Status != "revoked" || c.RevokedAt == nil || !c.RevokedAt.Equal(t0) {
		t.Errorf("revoked claim = %+v; want status revoked at %s", c, t0)
	}
	var revokes []claim.Event
	for _, ev := range e.events() {
		if ev.Action == "claim.revoke" {
			revokes = append(revokes, ev)
		}
	}
	if len(revokes) != 1 || revokes[0].Actor != "admin-api:cli:ann@ops" || revokes[0].Subject != "person:p1" {
		t.Errorf("claim.revoke events = %+v; want one for person:p1 by admin-api:cli:ann@ops", revokes)
	}
}
