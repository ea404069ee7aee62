package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCLIModeSwitchAppliesAndIsAudited runs `hubgate dev`, switches the mode
// with `hubgate mode enforce` as an operator would, and checks that the
// running server enforces it on the next request and that the audit log
// names the CLI as the actor.
func TestCLIModeSwitchAppliesAndIsAudited(t *testing.T) {
	d := startDev(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(d.public + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("/reports"); r.StatusCode != http.StatusOK {
		t.Fatalf("before the switch GET /reports = %d; want 200 (passthrough)", r.StatusCode)
	}
	env := map[string]string{"HUBGATE_ADMIN_URL": d.admin, "HUBGATE_ADMIN_TOKEN": d.token}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"mode", "enforce"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("hubgate mode enforce = %v\n%s", err, errOut.String())
	}
	if r := get("/reports"); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/_hubgate/login") {
		t.Errorf("next request after the switch = %d %q; want 302 to sign-in", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get("/login"); r.StatusCode != http.StatusFound {
		t.Errorf("legacy GET /login in enforce = %d; want 302 to Zaikio sign-in", r.StatusCode)
	}
	out.Reset()
	if err := run(context.Background(), []string{"mode", "--json"}, func(k string) string { return env[k] }, &out, &errOut); err != nil || !strings.Contains(out.String(), "enforce") {
		t.Errorf("hubgate mode = %v %q; want enforce", err, out.String())
	}
	req, _ := http.NewRequest(http.MethodGet, d.admin+"/api/v1/audit?limit=20", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var audit struct {
		Events []struct {
			Actor, Action, Subject, Detail string
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&audit); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range audit.Events {
		if ev.Action == "mode.set" && strings.Contains(ev.Actor, "cli") && strings.Contains(ev.Detail, "enforce") {
			found = true
		}
	}
	if !found {
		t.Errorf("audit log has no mode.set by the CLI naming enforce: %+v", audit.Events)
	}
}
