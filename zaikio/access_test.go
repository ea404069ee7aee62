package zaikio_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestAccessTokenHasScope follows zaikio-jwt_auth's TokenData#scope?: the app and the
// scope name must be equal, r is satisfied by r or rw, w by w or rw.
func TestAccessTokenHasScope(t *testing.T) {
	t.Parallel()
	e := newBearerEnv(t, nil)
	tok, err := e.v.Verify(context.Background(), e.mint(t, devhub.TokenSpec{Scope: []string{
		appName + ".orders.r", appName + ".stock.w", appName + ".both.r", appName + ".both.w", appName + ".all.rw",
		"other_app.orders.rw", appName + ".short", appName + ".x.y.r", appName + ".bad.x", "zaikio.organization.r",
	}}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		required string
		want     bool
	}{
		{"orders.r", true},
		{appName + ".orders.r", true},
		{"orders.w", false},
		{"orders.rw", false},
		{"stock.w", true},
		{"stock.r", false},
		{"all.r", true},
		{"all.w", true},
		{"all.rw", true},
		{"both.rw", true}, // r and w granted separately
		{"other_app.orders.w", true},
		{"other_app.stock.w", false},
		{"zaikio.organization.r", true},
		{"organization.r", false}, // another app's scope, not ours
		{"ORDERS.r", false},
		{"order.r", false},
		{"short.r", false},
		{"x.y.r", false},
		{appName + ".x.y.r", false},
		{"bad.r", false},
		{"orders", false},
		{"orders.", false},
		{".r", false},
		{"orders.x", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := tok.HasScope(tc.required); got != tc.want {
			t.Errorf("HasScope(%q) = %v; want %v", tc.required, got, tc.want)
		}
	}
	if got := zaikio.MethodPermission("GET"); got != "r" {
		t.Errorf("MethodPermission(GET) = %q; want r", got)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if got := zaikio.MethodPermission(m); got != "w" {
			t.Errorf("MethodPermission(%s) = %q; want w", m, got)
		}
	}
}

func TestParseSubject(t *testing.T) {
	t.Parallel()
	p, o := devhub.FrankID, devhub.BountySoapID
	tests := []struct {
		sub  string
		want zaikio.Subject
		ok   bool
	}{
		{"Person/" + p, zaikio.Subject{Kind: zaikio.SubjectPerson, Person: p}, true},
		{"Organization/" + o, zaikio.Subject{Kind: zaikio.SubjectOrganization, Organization: o}, true},
		{"Person/" + p + ">Organization/" + o, zaikio.Subject{Kind: zaikio.SubjectOnBehalf, Person: p, Organization: o}, true},
		{"Person/" + strings.ToUpper(p), zaikio.Subject{Kind: zaikio.SubjectPerson, Person: p}, true},
		{"", zaikio.Subject{}, false},
		{"Person/", zaikio.Subject{}, false},
		{"Person/123", zaikio.Subject{}, false},
		{"person/" + p, zaikio.Subject{}, false},
		{"Per/" + p, zaikio.Subject{}, false},
		{"Robot/" + p, zaikio.Subject{}, false},
		{"Organization/" + o + ">Person/" + p, zaikio.Subject{}, false},
		{"Person/" + p + ">Person/" + p, zaikio.Subject{}, false},
		{"Person/" + p + ">Organization/" + o + ">Organization/" + o, zaikio.Subject{}, false},
		{">Organization/" + o, zaikio.Subject{}, false},
		{"Person/" + p + " ", zaikio.Subject{}, false},
		{"Person/" + p + "/x", zaikio.Subject{}, false},
		{"Person/" + strings.Replace(p, "-", "_", 1), zaikio.Subject{}, false},
	}
	for _, tc := range tests {
		got, err := zaikio.ParseSubject(tc.sub)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSubject(%q) = %+v, %v; want %+v, ok %v", tc.sub, got, err, tc.want, tc.ok)
		}
		if tc.ok && (!strings.EqualFold(got.String(), tc.sub) || got.String() != tc.want.String()) {
			t.Errorf("ParseSubject(%q).String() = %q", tc.sub, got.String())
		}
	}
	if got := (zaikio.Subject{}).String(); got != "" {
		t.Errorf("Subject{}.String() = %q; want empty", got)
	}
	if got := zaikio.SubjectOnBehalf.String(); got != "on_behalf" {
		t.Errorf("SubjectOnBehalf.String() = %q", got)
	}
}

// FuzzParseSubject: whatever it accepts names a kind and lower-case UUIDs,
// and reads back the same from its String form.
func FuzzParseSubject(f *testing.F) {
	p, o := devhub.FrankID, devhub.BountySoapID
	for _, s := range []string{"Person/" + p, "Organization/" + o, "Person/" + p + ">Organization/" + o,
		"Person/" + strings.ToUpper(p), "Organization/" + o + ">Person/" + p, ">", "/", "Person/>Organization/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sub string) {
		s, err := zaikio.ParseSubject(sub)
		if err != nil {
			if s != (zaikio.Subject{}) {
				t.Fatalf("ParseSubject(%q) failed but returned %+v", sub, s)
			}
			return
		}
		if !strings.EqualFold(s.String(), sub) {
			t.Fatalf("ParseSubject(%q).String() = %q; want it equal but for letter case", sub, s.String())
		}
		again, err := zaikio.ParseSubject(s.String())
		if err != nil || again != s {
			t.Fatalf("ParseSubject(String()) = %+v, %v; want %+v", again, err, s)
		}
		switch s.Kind {
		case zaikio.SubjectPerson:
			if s.Person == "" || s.Organization != "" {
				t.Fatalf("person subject %+v", s)
			}
		case zaikio.SubjectOrganization:
			if s.Person != "" || s.Organization == "" {
				t.Fatalf("organization subject %+v", s)
			}
		case zaikio.SubjectOnBehalf:
			if s.Person == "" || s.Organization == "" {
				t.Fatalf("on-behalf subject %+v", s)
			}
		default:
			t.Fatalf("kind %v", s.Kind)
		}
		for _, id := range []string{s.Person, s.Organization} {
			if id != strings.ToLower(id) || strings.ContainsAny(id, "/> ") {
				t.Fatalf("id %q of %q is not a lower-case UUID", id, sub)
			}
		}
	})
}

func TestTokenFromHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc.def.ghi", "abc.def.ghi", true},
		{"BEARER  abc-_~+/x==", "abc-_~+/x==", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer ==", "", false},
		{"Basic dXNlcjpwdw==", "", false},
		{"Bearerabc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc\tdef", "", false},
		{"Bearer a=b", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := zaikio.TokenFromHeader(tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("TokenFromHeader(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBearerErrorChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err       *zaikio.BearerError
		realm     string
		want      string
		oauth     string
		sentinel  error
		wantError string
	}{
		{&zaikio.BearerError{Code: zaikio.BearerExpired, Err: errors.New("expired at noon")}, "hubgate",
			`Bearer realm="hubgate", error="invalid_token", error_description="expired"`, "invalid_token", zaikio.ErrInvalidToken,
			"zaikio: bearer token refused: expired: expired at noon"},
		{&zaikio.BearerError{Code: zaikio.BearerMissingScope, Scope: "orders.w"}, `a "quoted"\realm`,
			`Bearer realm="a \"quoted\"\\realm", error="insufficient_scope", error_description="missing_scope", scope="orders.w"`,
			"insufficient_scope", zaikio.ErrScope, "zaikio: bearer token refused: missing_scope orders.w"},
		{&zaikio.BearerError{Code: zaikio.BearerUnavailable}, "x\r\ny",
			`Bearer realm="xy", error_description="unavailable"`, "", zaikio.ErrUnavailable,
			"zaikio: bearer token refused: unavailable"},
	}
	for _, tc := range tests {
		if got := tc.err.Challenge(tc.realm); got != tc.want {
			t.Errorf("Challenge(%q) = %s; want %s", tc.realm, got, tc.want)
		}
		if got := tc.err.Code.OAuthError(); got != tc.oauth {
			t.Errorf("%s.OAuthError() = %q; want %q", tc.err.Code, got, tc.oauth)
		}
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("errors.Is(%v, %v) = false", tc.err, tc.sentinel)
		}
		if got := tc.err.Error(); got != tc.wantError {
			t.Errorf("Error() = %q; want %q", got, tc.wantError)
		}
	}
	if got := zaikio.BearerCodeOf(errors.New("other")); got != "" {
		t.Errorf("BearerCodeOf(other error) = %q; want empty", got)
	}
}
