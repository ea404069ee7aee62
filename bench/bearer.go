package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// The bearer target: another Zaikio app calling the legacy app through
// hubgate with an access token it got by client credentials at the dev
// hub — Frank acting for Bounty Soap Inc. (on behalf), so that the upstream
// gets a legacy user, an organization and a role. hubgate verifies the
// token once (RS256, claims, revocation list) and then finds it in its
// cache by value, as it does for every later request with it: the steady
// state of an API client.

// benchScope is the scope the token grants: the dev hub's seeded grant of
// another_app ("<app>.api.rw"), which is hubgate's default bearer.scope.
const benchScope = benchClientID + "." + devhub.DevScope + ".rw"

// bearerToken gets another_app a token at the dev hub by client
// credentials, as a Zaikio app would.
func (s *hubgateSetup) bearerToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"},
		"scope": {"Per/" + devhub.FrankID + ">Org/" + devhub.BountySoapID + "." + benchScope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.hub+"/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(devhub.OtherAppClientID, devhub.OtherAppSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("bearer token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("bearer token: client credentials at the dev hub: status %d: %.300s", resp.StatusCode, b)
	}
	return tok.AccessToken, nil
}

// verifyBearer asks the upstream, through hubgate with the token, which
// identity headers it received: the token's, by the links.
func (s *hubgateSetup) verifyBearer(ctx context.Context, tok string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.publicURL()+echoPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verify bearer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("verify bearer: GET %s through hubgate with the token: status %d: %s", echoPath, resp.StatusCode, b)
	}
	var e echoed
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return nil, fmt.Errorf("verify bearer: the upstream's echo: %w", err)
	}
	h := e.Headers
	want := map[string]string{"X-Hubgate-Auth": "bearer", "X-Hubgate-User": legacyUser, "X-Hubgate-Zaikio-Person": devhub.FrankID,
		"X-Hubgate-Orgs": legacyOrgOwn, "X-Hubgate-Roles": legacyOrgOwn + ":api"}
	var bad []string
	for k, v := range want {
		if h[k] != v {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", k, h[k], v))
		}
	}
	if len(bad) > 0 {
		return h, fmt.Errorf("verify bearer: the upstream did not get the token's identity through hubgate:\n  %s", strings.Join(bad, "\n  "))
	}
	return h, nil
}
