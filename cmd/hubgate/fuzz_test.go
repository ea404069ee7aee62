package main

// Fuzz target for the config loader, and the bounds it relies on. Seed
// corpus: testdata/fuzz/FuzzLoadConfig/.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/store/bolt"
)

const fuzzConfigBase = `public_url: "https://app.example.com"
upstream: "http://127.0.0.1:3000"
provider: {kind: zaikio, url: "https://hub.example.com", client_id: "c", client_secret: "s"}
session: {secrets: ["c2h1dGRvd24tdGVzdC1zZWNyZXQtb2YtMzItYnl0ZXMhIQ=="]}
`

// FuzzLoadConfig: any file either fails with a config error or yields a
// config that the wiring accepts as it stands: what `hubgate config check`
// passes must start (newInstance), never fail later with an error that
// names no key. Nothing panics; files the config names are bounded.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		fuzzConfigBase,
		fuzzConfigBase + "mode: enforce\nlegacy: {public_paths: [/assets/], login_paths: [/login]}\ntrusted_proxies: [10.0.0.0/8, ::1]\n",
		fuzzConfigBase + "admin: {token: 0123456789abcdef0123}\nroles: {owner: [admin], \"*\": [user]}\nclaims: {ttl: 14d}\n",
		fuzzConfigBase + "timeouts: {read_header: 1s, idle: 2m, body: 5s}\nassertion: {enabled: true, ttl: 30s}\n",
		fuzzConfigBase + "unlinked: provision\nlegacy: {provision_url: /api/provision}\n",
		strings.Replace(fuzzConfigBase, "https://app.example.com", "https://app.example.com/?x=1", 1) + "admin: {token: 0123456789abcdef0123}\n",
		"provider: {kind: dev}\npublic_url: http://127.0.0.1:4180\nupstream: http://127.0.0.1:3000\nsession: {secrets: [\"" + strings.Repeat("A", 44) + "\"]}\n",
		strings.Replace(fuzzConfigBase, "https://hub.example.com", "ZXMps://hub.example.com", 1), // CI find: scheme unchecked
		"a: &a [*a, *a]\n", "{", "session: {ttl: 1m, revalidate: 2m}\n", "timeouts: {read_header: -1s}\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "fuzz.db"), bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	noenv := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, file string) {
		if strings.Contains(file, "_file") || len(file) > 64<<10 {
			return // *_file keys read other files; TestConfigFilesBounded covers them
		}
		path := filepath.Join(t.TempDir(), "hubgate.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path, noenv)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("loadConfig error %q does not start with \"config: \"", err)
			}
			return
		}
		if cfg.Timeouts.ReadHeader < 0 || cfg.Timeouts.Idle < 0 || cfg.Timeouts.Body < 0 {
			t.Fatalf("accepted timeouts %+v", cfg.Timeouts)
		}
		hc, err := newHubClient(cfg)
		if err != nil {
			t.Fatalf("config accepted, hub client refused: %v", err)
		}
		in, err := newInstance(cfg, db, hc, zerolog.Nop())
		if err != nil {
			t.Fatalf("config accepted by loadConfig, refused by newInstance: %v\n%s", err, file)
		}
		_ = in
	})
}

// TestConfigFilesBounded: a config or secret file that is a device or
// absurdly large fails with a message naming the key, at once.
func TestConfigFilesBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hubgate.yaml")
	if err := os.WriteFile(path, []byte(fuzzConfigBase+"admin: {token_file: /dev/zero}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := loadConfig(path, func(string) string { return "" })
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin.token_file") {
			t.Errorf("loadConfig with token_file /dev/zero = %v; want an error naming admin.token_file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("loadConfig with token_file /dev/zero did not return")
	}
	if _, err := loadConfig("/dev/zero", func(string) string { return "" }); err == nil {
		t.Error("loadConfig(/dev/zero) = nil; want an error")
	}
}
