package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseBuildHasNoDevTools: the release build (-tags nodev, as
// deploy/Dockerfile builds it) links no dev hub, dev OpenID Provider or
// demo app, refuses `hubgate dev` with a usage error (exit 2) and
// provider.kind dev with a config error naming the key, and serves the
// rest as the plain build does.
func TestReleaseBuildHasNoDevTools(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "nodev", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps -tags nodev: %v\n%s", err, out)
	}
	for _, pkg := range []string{"github.com/hubgate/hubgate/zaikio/devhub", "github.com/hubgate/hubgate/oidc/devop",
		"github.com/hubgate/hubgate/demoapp", "github.com/zitadel/oidc/v3/pkg/op"} {
		if strings.Contains(string(out)+"\n", pkg+"\n") {
			t.Errorf("the release build links %s", pkg)
		}
	}
	bin := filepath.Join(t.TempDir(), "hubgate")
	if out, err := exec.Command("go", "build", "-tags", "nodev", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodev: %v\n%s", err, out)
	}
	run := func(args ...string) (int, string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := run("dev"); code != 2 || !strings.Contains(out, "built without the dev tools") {
		t.Errorf("hubgate dev on the release build: exit %d, %q; want 2 and why", code, out)
	}
	dev := cfgMinimal().set("provider", map[string]any{"kind": "dev"}).set("public_url", "http://127.0.0.1:1").
		set("listen", "127.0.0.1:0").set("store", filepath.Join(t.TempDir(), "hubgate.db"))
	if code, out := run("serve", "--config", cfgFile(t, dev)); code == 0 || !strings.Contains(out, "provider.kind") || !strings.Contains(out, "built without the dev tools") {
		t.Errorf("serve with provider.kind dev on the release build: exit %d, %q; want a config error naming provider.kind", code, out)
	}
	if code, out := run("config", "check", "--config", cfgFile(t, dev)); code == 0 || !strings.Contains(out, "provider.kind") || !strings.Contains(out, "built without the dev tools") {
		t.Errorf("config check with provider.kind dev on the release build: exit %d, %q; want the same refusal as serve", code, out)
	}
	if code, out := run("config", "check", "--config", cfgFile(t, cfgMinimal())); code != 0 {
		t.Errorf("config check of a Zaikio config on the release build: exit %d, %q; want 0", code, out)
	}
}
