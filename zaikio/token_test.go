package zaikio_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// tokenBody wraps fields (JSON object members without braces) into a token
// response with a person bearer.
func tokenBody(fields string) string {
	base := `"access_token":"eyJ.x.y","refresh_token":"be4ae927","token_type":"bearer",` +
		`"bearer":{"id":"29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7","type":"Person"}`
	if fields == "" {
		return "{" + base + "}"
	}
	return "{" + base + "," + fields + "}"
}

// exchangeRaw runs Exchange against a token endpoint that answers status and
// body verbatim, with the client's clock at now.
func exchangeRaw(t *testing.T, now time.Time, status int, body string) (*zaikio.Token, error) {
	t.Helper()
	c := newRawClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}), func(cfg *zaikio.Config) {
		cfg.Now = func() time.Time { return now }
		cfg.Retries = -1
	})
	return c.Exchange(context.Background(), "the-code", verifier)
}

func TestTokenExpiresIn(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)
	at1930 := time.Date(2026, 11, 25, 19, 30, 0, 0, time.UTC)
	tests := []struct {
		name      string
		expiresIn string // the JSON member's value; "" leaves the member out
		want      time.Time
	}{
		{"integer seconds", `600`, now.Add(600 * time.Second)},
		{"zero", `0`, now},
		{"fractional number", `600.0`, now.Add(600 * time.Second)},
		{"half seconds", `600.5`, now.Add(600500 * time.Millisecond)},
		{"a year", `31622400`, now.Add(366 * 24 * time.Hour)},
		{"exponent", `6e2`, now.Add(600 * time.Second)},
		{"digit string", `"600"`, now.Add(600 * time.Second)},
		{"digit string with spaces", `" 3600 "`, now.Add(time.Hour)},
		{"ISO-8601 UTC", `"2026-11-25T19:30:00Z"`, at1930},
		{"ISO-8601 offset", `"2026-11-25T20:30:00+01:00"`, at1930},
		{"ISO-8601 offset without colon", `"2026-11-25T14:30:00-0500"`, at1930},
		{"ISO-8601 fractional seconds", `"2026-11-25T19:30:00.250Z"`, at1930.Add(250 * time.Millisecond)},
		{"ISO-8601 fractional seconds and offset", `"2026-11-25T20:30:00.000123+01:00"`, at1930.Add(123 * time.Microsecond)},
		{"ISO-8601 without zone is UTC", `"2026-11-25T19:30:00"`, at1930},
		{"Rails to_s", `"2026-11-25 19:30:00 UTC"`, at1930},
		{"ISO duration seconds", `"PT600S"`, now.Add(600 * time.Second)},
		{"ISO duration minutes", `"PT10M"`, now.Add(10 * time.Minute)},
		{"ISO duration mixed", `"PT1H30M15.5S"`, now.Add(time.Hour + 30*time.Minute + 15500*time.Millisecond)},
		{"null", `null`, time.Time{}},
		{"missing", ``, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tokenBody("")
			if tc.expiresIn != "" {
				body = tokenBody(`"expires_in":` + tc.expiresIn)
			}
			tok, err := exchangeRaw(t, now, http.StatusOK, body)
			if err != nil {
				t.Fatalf("Exchange(expires_in %s) = %v; want success", tc.expiresIn, err)
			}
			if !tok.Expiry.Equal(tc.want) {
				t.Errorf("Exchange(expires_in %s): Expiry = %v; want %v", tc.expiresIn, tok.Expiry, tc.want)
			}
		})
	}
}

func TestTokenExpiresInBad(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)
	for _, tc := range []struct{ name, expiresIn string }{
		{"word", `"soon"`},
		{"empty string", `""`},
		{"date only", `"2026-11-25"`},
		{"duration without time part", `"PT"`},
		{"duration without unit", `"PT600"`},
		{"negative duration", `"PT-5S"`},
		{"day duration", `"P1D"`},
		{"boolean", `true`},
		{"object", `{"seconds":600}`},
		{"array", `[600]`},
		{"negative seconds", `-600`},
		{"negative digit string", `"-600"`},
		{"overflowing seconds", `99999999999999999999`},
		{"overflowing digit string", `"9223372036854775807"`},
		{"more than a year", `31622401`},
		{"overflowing duration", `"PT9999999999H"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := exchangeRaw(t, now, http.StatusOK, tokenBody(`"expires_in":`+tc.expiresIn))
			if err == nil || !strings.Contains(err.Error(), "expires_in") {
				t.Errorf("Exchange(expires_in %s) = %+v, %v; want an error naming expires_in", tc.expiresIn, tok, err)
			}
			if errors.Is(err, zaikio.ErrInvalidGrant) || errors.Is(err, zaikio.ErrUnavailable) {
				t.Errorf("Exchange(expires_in %s) = %v; want neither ErrInvalidGrant nor ErrUnavailable", tc.expiresIn, err)
			}
		})
	}
}

func TestTokenDecode(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)
	person := zaikio.Bearer{ID: "29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7", Type: "Person"}
	tests := []struct {
		name string
		body string
		want *zaikio.Token
	}{
		{"recorded person response", `{"access_token":"eyJ.x.y","refresh_token":"be4ae927","token_type":"bearer",
			"scope":"zaikio.person.r","audiences":["my_app"],"expires_in":600,
			"bearer":{"id":"29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7","type":"Person"}}`,
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer",
				Scope: []string{"zaikio.person.r"}, Audiences: []string{"my_app"}, Expiry: now.Add(10 * time.Minute), Bearer: person}},
		{"comma-separated scope", tokenBody(`"scope":"zaikio.person.r,zaikio.organization.r"`),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer",
				Scope: []string{"zaikio.person.r", "zaikio.organization.r"}, Bearer: person}},
		{"space-separated scope", tokenBody(`"scope":"zaikio.person.r zaikio.organization.r"`),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer",
				Scope: []string{"zaikio.person.r", "zaikio.organization.r"}, Bearer: person}},
		{"comma and space", tokenBody(`"scope":"zaikio.person.r, zaikio.organization.r,"`),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer",
				Scope: []string{"zaikio.person.r", "zaikio.organization.r"}, Bearer: person}},
		{"empty scope", tokenBody(`"scope":""`),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer", Bearer: person}},
		{"token type in capitals", strings.Replace(tokenBody(""), `"bearer","bearer"`, `"Bearer","bearer"`, 1),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "Bearer", Bearer: person}},
		{"on behalf", `{"access_token":"eyJ.x.y","token_type":"bearer","scope":"zaikio.organization.r",
			"bearer":{"id":"b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01","type":"Organization"},
			"bearer_on_behalf_of":{"id":"29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7","type":"Person","roles":["owner","admin"]}}`,
			&zaikio.Token{AccessToken: "eyJ.x.y", TokenType: "bearer", Scope: []string{"zaikio.organization.r"},
				Bearer:     zaikio.Bearer{ID: "b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01", Type: "Organization"},
				OnBehalfOf: &zaikio.Bearer{ID: "29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7", Type: "Person", Roles: []string{"owner", "admin"}}}},
		{"unknown fields ignored", tokenBody(`"created_at":1764098400,"id_token":null,"extra":{"nested":[1,2]},"bearer_name":"x"`),
			&zaikio.Token{AccessToken: "eyJ.x.y", RefreshToken: "be4ae927", TokenType: "bearer", Bearer: person}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := exchangeRaw(t, now, http.StatusOK, tc.body)
			if err != nil {
				t.Fatalf("Exchange(%s) = %v; want success", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, tok, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Exchange(%s) token (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestTokenDecodeErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
		is      error // a sentinel the error must match; nil: none
	}{
		{"token_type mac", 200, strings.Replace(tokenBody(""), `"token_type":"bearer"`, `"token_type":"mac"`, 1), `token_type "mac"`, nil},
		{"no access_token", 200, strings.Replace(tokenBody(""), `"access_token":"eyJ.x.y"`, `"access_token":""`, 1), "no access_token", nil},
		{"no bearer", 200, `{"access_token":"eyJ.x.y","token_type":"bearer"}`, "bearer", nil},
		{"bearer of another type", 200, strings.Replace(tokenBody(""), `"Person"`, `"Robot"`, 1), "bearer", nil},
		{"html", 200, `<html>maintenance</html>`, "decode token response", nil},
		{"truncated json", 200, `{"access_token":"eyJ`, "decode token response", nil},
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}`, "invalid_grant", zaikio.ErrInvalidGrant},
		{"invalid_client", 401, `{"error":"invalid_client"}`, "invalid_client", nil},
		{"errors array", 403, `{"errors":["unpermitted_scope"]}`, "unpermitted_scope", nil},
		{"bad gateway page", 502, `<html>bad gateway</html>`, "HTTP 502", zaikio.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := exchangeRaw(t, now, tc.status, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Exchange(%s) = %+v, %v; want an error with %q", tc.name, tok, err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Exchange(%s) = %v; want errors.Is %v", tc.name, err, tc.is)
			}
			if tc.is != zaikio.ErrInvalidGrant && errors.Is(err, zaikio.ErrInvalidGrant) {
				t.Errorf("Exchange(%s) = %v; want it not to be ErrInvalidGrant", tc.name, err)
			}
		})
	}
}

// TestTokenRequest checks what the client sends to the token endpoint:
// HTTP Basic client authentication with form-encoded id and secret
// (RFC 6749 §2.3.1) and the grant in a form body.
func TestTokenRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, auth, contentType, accept string
		form                                    url.Values
	}
	var mu sync.Mutex
	var got []seen
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request body: %v", err)
		}
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.PostForm})
		mu.Unlock()
		io.WriteString(w, tokenBody(`"expires_in":600`))
	})
	const id, secret = "app id:1", "p@ss:w/rd+&= %"
	c := newRawClient(t, h, func(cfg *zaikio.Config) { cfg.ClientID, cfg.ClientSecret = id, secret })
	ctx := context.Background()
	if _, err := c.Exchange(ctx, "the-code", verifier); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if _, err := c.Refresh(ctx, "the-refresh-token"); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	want := []seen{
		{"POST", "/oauth/access_token", basic, "application/x-www-form-urlencoded", "application/json",
			url.Values{"grant_type": {"authorization_code"}, "code": {"the-code"}, "code_verifier": {verifier}}},
		{"POST", "/oauth/access_token", basic, "application/x-www-form-urlencoded", "application/json",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"the-refresh-token"}}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("token requests (-want +got):\n%s", diff)
	}
	// Basic is sent instead of, not beside, credentials in the body: the hub
	// refuses both at once.
	for _, s := range got {
		if s.form.Has("client_secret") || s.form.Has("client_id") {
			t.Errorf("token request form = %v; want no client credentials in the body", s.form)
		}
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, form := range []struct {
		name string
		set  devhub.ExpiresIn
	}{{"expires_in seconds", devhub.ExpiresInSeconds}, {"expires_in ISO-8601", devhub.ExpiresInISO8601}} {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			e := newHubEnv(t, nil)
			e.hub.SetExpiresIn(form.set)
			before := time.Now().Truncate(time.Second)
			tok := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
			after := time.Now()
			if tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Errorf("Exchange: access %q, refresh %q; want both", tok.AccessToken, tok.RefreshToken)
			}
			want := zaikio.Token{TokenType: "bearer", Scope: []string{"zaikio.person.r"}, Audiences: []string{appName},
				Bearer: zaikio.Bearer{ID: devhub.FrankID, Type: "Person"}}
			got := *tok
			got.AccessToken, got.RefreshToken, got.Expiry = "", "", time.Time{}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Exchange token (-want +got):\n%s", diff)
			}
			if lo, hi := before.Add(devhub.DefaultAccessTTL-time.Second), after.Add(devhub.DefaultAccessTTL+time.Second); tok.Expiry.Before(lo) || tok.Expiry.After(hi) {
				t.Errorf("Exchange: Expiry = %v; want between %v and %v", tok.Expiry, lo, hi)
			}
			if _, err := e.client.Verify(ctx, tok); err != nil {
				t.Errorf("Verify(exchanged token) = %v", err)
			}
		})
	}
}

func TestExchangeRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHubEnv(t, nil)
	t.Run("wrong verifier", func(t *testing.T) {
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		_, err := e.client.Exchange(ctx, code, zaikio.NewVerifier())
		if !errors.Is(err, zaikio.ErrInvalidGrant) {
			t.Errorf("Exchange(code, wrong verifier) = %v; want ErrInvalidGrant", err)
		}
	})
	t.Run("code used twice", func(t *testing.T) {
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		if _, err := e.client.Exchange(ctx, code, verifier); err != nil {
			t.Fatalf("first Exchange = %v", err)
		}
		if _, err := e.client.Exchange(ctx, code, verifier); !errors.Is(err, zaikio.ErrInvalidGrant) {
			t.Errorf("second Exchange(same code) = %v; want ErrInvalidGrant", err)
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		if _, err := e.client.Exchange(ctx, "no-such-code", verifier); !errors.Is(err, zaikio.ErrInvalidGrant) {
			t.Errorf("Exchange(unknown code) = %v; want ErrInvalidGrant", err)
		}
	})
	t.Run("empty code", func(t *testing.T) {
		before := e.hub.Requests(devhub.EndpointToken)
		_, err := e.client.Exchange(ctx, "", verifier)
		if err == nil || errors.Is(err, zaikio.ErrUnavailable) {
			t.Errorf("Exchange(\"\") = %v; want an invalid_request error", err)
		}
		if got := e.hub.Requests(devhub.EndpointToken); got != before {
			t.Errorf("Exchange(\"\") sent %d requests; want none", got-before)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		bad, err := zaikio.New(zaikio.Config{URL: e.srv.URL, ClientID: clientID, ClientSecret: "nope", RedirectURL: redirectURL})
		if err != nil {
			t.Fatal(err)
		}
		code := e.code(t, devhub.FrankID, "", zaikio.PersonScope)
		_, err = bad.Exchange(ctx, code, verifier)
		var ze *zaikio.Error
		if !errors.As(err, &ze) || ze.Code != "invalid_client" || errors.Is(err, zaikio.ErrInvalidGrant) {
			t.Errorf("Exchange(wrong secret) = %v; want invalid_client", err)
		}
	})
	t.Run("verifier is fresh each time", func(t *testing.T) {
		a, b := zaikio.NewVerifier(), zaikio.NewVerifier()
		if a == b || len(a) < 43 {
			t.Errorf("NewVerifier() = %q, %q; want two different verifiers of ≥ 43 characters", a, b)
		}
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHubEnv(t, nil)
	first := e.login(t, devhub.FrankID, "", zaikio.PersonScope)
	second, err := e.client.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh(fresh refresh token) = %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Errorf("Refresh: new refresh token %q; want a fresh one (rotation)", second.RefreshToken)
	}
	if second.AccessToken == first.AccessToken {
		t.Errorf("Refresh: access token unchanged; want a new one")
	}
	if diff := cmp.Diff(first.Bearer, second.Bearer); diff != "" {
		t.Errorf("Refresh: bearer (-before +after):\n%s", diff)
	}
	if _, err := e.client.Verify(ctx, second); err != nil {
		t.Errorf("Verify(refreshed token) = %v", err)
	}
	if _, err := e.client.Refresh(ctx, first.RefreshToken); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("Refresh(used refresh token) = %v; want ErrInvalidGrant", err)
	}
	third, err := e.client.Refresh(ctx, second.RefreshToken)
	if err != nil || third.RefreshToken == second.RefreshToken {
		t.Errorf("Refresh(rotated refresh token) = %v; want a fresh token", err)
	}
	e.hub.ExpireRefreshTokens(devhub.FrankID)
	if _, err := e.client.Refresh(ctx, third.RefreshToken); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("Refresh(expired refresh token) = %v; want ErrInvalidGrant", err)
	}
	if _, err := e.client.Refresh(ctx, ""); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("Refresh(\"\") = %v; want ErrInvalidGrant", err)
	}
}
