package admin_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

func TestClient(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := &admin.Client{BaseURL: e.srv.URL, Token: token, Actor: "cli:ann@ops", HTTPClient: e.srv.Client()}

	is, err := c.Issue(ctx, admin.IssueRequest{Kind: "person", LegacyID: "41", TTL: "1d", Force: true}) // not 42: linked below, which retires its claims
	if err != nil {
		t.Fatalf("Issue = %v; want nil", err)
	}
	got, err := c.Claim(ctx, is.ID)
	if err != nil || got.CreatedBy != "admin-api:cli:ann@ops" || got.Status != "open" {
		t.Errorf("Claim(%s) = %+v, %v; want open, created by admin-api:cli:ann@ops", is.ID, got, err)
	}

	rows, err := admin.ReadRows(strings.NewReader("id,email\n1,a@example.com\n2,b@example.com\n"), admin.CSV)
	if err != nil {
		t.Fatal(err)
	}
	rows[1].Line = 77 // as if from a later chunk of a bigger file
	rows[1].Person.Email = "not an address"
	res, err := c.ImportRows(ctx, rows, admin.ImportOptions{TTL: "2h"})
	if err != nil {
		t.Fatalf("ImportRows = %v; want nil", err)
	}
	if len(res) != 2 || res[0].Status != admin.StatusIssued || !strings.HasPrefix(res[1].Status, "error: line 77: email") {
		t.Errorf("ImportRows = %+v; want issued, then an error on line 77", res)
	}

	if _, _, err := c.SetLink(ctx, claim.KindPerson, "42", zid(1)); err != nil {
		t.Fatalf("SetLink = %v", err)
	}
	_, created, err := c.SetLink(ctx, claim.KindPerson, "42", zid(1))
	if err != nil || created {
		t.Errorf("SetLink(same link) = created %v, %v; want false, nil", created, err)
	}
	_, _, err = c.SetLink(ctx, claim.KindPerson, "43", zid(1))
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !errors.Is(err, claim.ErrConflict) {
		t.Errorf("SetLink(taken) = %v; want *admin.Error 409 that is claim.ErrConflict", err)
	}
	if _, err := c.Unlink(ctx, claim.KindOrg, "nope"); !errors.Is(err, claim.ErrNotFound) {
		t.Errorf("Unlink(unknown) = %v; want claim.ErrNotFound", err)
	}
	if err := c.EndSessions(ctx, zid(1)); err != nil {
		t.Errorf("EndSessions = %v", err)
	}
	if st, err := c.Stats(ctx); err != nil || st.ClaimsOpen != 2 || len(st.LinksByDay) != 30 {
		t.Errorf("Stats = %+v, %v; want 2 open claims and 30 days", st, err)
	}
	if p, err := c.Events(ctx, 0, 2); err != nil || len(p.Events) != 2 || p.Next == 0 {
		t.Errorf("Events(0, 2) = %+v, %v; want 2 events and a next page", p, err)
	}

	bad := *c
	bad.Token = "wrong-token-0123456789"
	_, err = bad.Mode(ctx)
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "unauthorized" {
		t.Fatalf("Mode with a wrong token = %v; want *admin.Error 401", err)
	}
	if want := "admin API at " + e.srv.URL + ": 401 unauthorized: invalid bearer token"; err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
}
