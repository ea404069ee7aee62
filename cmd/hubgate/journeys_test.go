package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// TestConfigLegacyNameAndLogout: legacy.name (the app's name for people,
// apart from provider.app_name, the token audience) and
// legacy.logout_path load, and bad values are refused with their key.
func TestConfigLegacyNameAndLogout(t *testing.T) {
	good := cfgMinimal().set("legacy.name", "Acme Portal").set("legacy.logout_path", "/users/sign_out").set("provider.app_name", "acme_app")
	cfg, err := loadConfig(cfgFile(t, good), cfgEnv())
	if err != nil {
		t.Fatalf("loadConfig = %v; want nil", err)
	}
	if cfg.Legacy.Name != "Acme Portal" || cfg.Legacy.LogoutPath != "/users/sign_out" || appName(cfg) != "acme_app" {
		t.Errorf("legacy.name %q, legacy.logout_path %q, audience %q; want Acme Portal, /users/sign_out, acme_app",
			cfg.Legacy.Name, cfg.Legacy.LogoutPath, appName(cfg))
	}
	for _, tc := range []struct{ key, value string }{
		{"legacy.logout_path", "users/sign_out"},
		{"legacy.logout_path", "//evil.example/logout"},
		{"legacy.logout_path", "/_hubgate/logout"},
		{"legacy.name", "Acme\nPortal"},
	} {
		_, err := loadConfig(cfgFile(t, cfgMinimal().set(tc.key, tc.value)), cfgEnv())
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %q = %v; want an error naming the key", tc.key, tc.value, err)
		}
	}
}

// TestClaimsIssueForce: `hubgate claims issue` refuses a legacy id the
// directory does not hold, saying how to force it; --force issues it.
func TestClaimsIssueForce(t *testing.T) {
	e := newOpEnv(t)
	if err := e.db.PutPeople(t.Context(), []claim.Person{{ID: "42", Email: "ann@example.com"}}, claim.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run("claims", "issue", "--kind", "person", "--legacy-id", "42"); err != nil {
		t.Errorf("claims issue for a person in the directory = %v; want nil", err)
	}
	_, _, err := e.run("claims", "issue", "--kind", "person", "--legacy-id", "99")
	if err == nil || !strings.Contains(err.Error(), "not in the directory") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("claims issue for an unknown id = %v; want a refusal that names --force", err)
	}
	out, _, err := e.run("claims", "issue", "--force", "--json", "--kind", "person", "--legacy-id", "99")
	var is admin.Issued
	if err != nil || json.Unmarshal([]byte(out), &is) != nil || is.URL == "" {
		t.Errorf("claims issue --force = %v, %q; want the link", err, out)
	}
}

// TestDevDoesNotPileUpLinks: every start of `hubgate dev` on the same data
// folder prints fresh claim links and revokes the ones it printed before
// (audited), so that "open" counts one link per person not linked yet.
func TestDevDoesNotPileUpLinks(t *testing.T) {
	data := t.TempDir()
	var stats admin.Stats
	var events admin.EventPage
	var printed []string
	for range 3 {
		stats, events, printed = devStartStop(t, data)
	}
	if stats.ClaimsOpen != 3 || stats.ClaimsRevoked != 6 {
		t.Errorf("after three starts: %d open, %d revoked; want 3 open (one per demo person), 6 revoked", stats.ClaimsOpen, stats.ClaimsRevoked)
	}
	revokes := 0
	for _, ev := range events.Events {
		if ev.Action == claim.ActionClaimRevoke && ev.Actor == "dev" {
			revokes++
		}
	}
	if revokes != 6 {
		t.Errorf("audit: %d claim.revoke events by dev; want 6", revokes)
	}
	if len(printed) != 3 {
		t.Errorf("the last start printed %d claim links; want 3", len(printed))
	}
}

// devStartStop runs `hubgate dev` in data until it is ready, reads the
// stats and the audit log through its admin API, and stops it.
func devStartStop(t *testing.T, data string) (admin.Stats, admin.EventPage, []string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	args := []string{"dev", "--data", data, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--hub", "127.0.0.1:0", "--app", "127.0.0.1:0"}
	go func() { done <- run(ctx, args, func(string) string { return "" }, &stdout, &stderr) }()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hubgate dev returned %v after shutdown", err)
			}
		case <-time.After(35 * time.Second):
			t.Errorf("hubgate dev did not stop within 35 s")
		}
	}()
	out := waitFor(t, "hubgate dev to print its URLs", 20*time.Second, done, func() (string, bool) {
		s := stdout.String()
		return s, strings.Contains(s, "Stop with Ctrl-C.")
	})
	m := devAdminRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no admin URL in:\n%s", out)
	}
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, m[1]+path, nil)
		req.Header.Set("Authorization", "Bearer "+m[2])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b.Bytes(), v) != nil {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b.String())
		}
	}
	waitFor(t, "the admin listener", 20*time.Second, done, func() (string, bool) {
		resp, err := http.Get(m[1] + "/readyz")
		if err != nil {
			return err.Error(), false
		}
		resp.Body.Close()
		return resp.Status, resp.StatusCode == http.StatusOK
	})
	var st admin.Stats
	var evs admin.EventPage
	get("/api/v1/stats", &st)
	get("/api/v1/audit?limit=1000", &evs)
	var links []string
	for _, l := range devClaimRE.FindAllStringSubmatch(out, -1) {
		links = append(links, l[2])
	}
	return st, evs, links
}
