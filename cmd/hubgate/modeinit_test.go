package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/store/bolt"
)

// TestServeStoresInitialMode: the first start writes the configured mode to
// the store with an audit entry; a later start whose config names another
// mode keeps the stored one, says so in the log, and writes nothing.
func TestServeStoresInitialMode(t *testing.T) {
	dir := t.TempDir()
	adminPort := freeTCPPort(t)
	adminCfg := fmt.Sprintf("admin: {listen: \"127.0.0.1:%d\", token: %q}\n", adminPort, modeTestToken)
	first := serveInProcess(t, "mode: offer\n"+adminCfg, cfgEnv(), dir)
	if got := modeAt(t, adminPort); got != "offer" {
		t.Errorf("first start: X-Hubgate-Mode = %q; want offer", got)
	}
	first.stop()
	if !strings.Contains(first.stderr.String(), `"event":"mode.init","mode":"offer"`) {
		t.Errorf("first start's log lacks mode.init offer:\n%s", first.stderr.String())
	}

	second := serveInProcess(t, "mode: enforce\n"+adminCfg, cfgEnv(), dir)
	if got := modeAt(t, adminPort); got != "offer" {
		t.Errorf("second start with mode: enforce in the config: X-Hubgate-Mode = %q; want the stored offer", got)
	}
	second.stop()
	if !strings.Contains(second.stderr.String(), `"event":"mode.config_ignored","stored":"offer","config":"enforce"`) {
		t.Errorf("second start's log does not say the config mode is ignored:\n%s", second.stderr.String())
	}

	db, err := bolt.Open(filepath.Join(dir, "hubgate.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m, err := db.Mode(context.Background()); err != nil || m != "offer" {
		t.Errorf("stored mode = %q, %v; want offer", m, err)
	}
	evs, err := db.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for _, ev := range evs {
		if ev.Action == "mode.set" {
			sets = append(sets, ev.Actor+": "+ev.Detail)
		}
	}
	if len(sets) != 1 || sets[0] != "config: (none) → offer (initial, from the config)" {
		t.Errorf("mode.set audit entries = %q; want one, by config, (none) → offer", sets)
	}
}

const modeTestToken = "mode-test-token-0123456789"

// modeAt asks a running hubgate's admin API for the mode in force.
func modeAt(t *testing.T, adminPort int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/v1/mode", adminPort), nil)
	req.Header.Set("Authorization", "Bearer "+modeTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/mode = %d, %v", resp.StatusCode, err)
	}
	return m.Mode
}
