package deploy

import (
	"bufio"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file: section → key → values, in order. Commented
// assignments ("#Key=value") are kept apart in commented.
type unit struct {
	keys      map[string]map[string][]string
	commented map[string][]string
}

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	u := unit{keys: map[string]map[string][]string{}, commented: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u.keys[section] = map[string][]string{}
		case strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			if k, v, ok := strings.Cut(strings.TrimLeft(line, "#;"), "="); ok && regexp.MustCompile(`^[A-Z][A-Za-z]+$`).MatchString(k) {
				u.commented[k] = append(u.commented[k], v)
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: cannot read %q (no line continuations here, please)", rel(t, path), n, line)
			}
			u.keys[section][k] = append(u.keys[section][k], v)
		}
	}
	return u
}

// one returns the single value of key in section.
func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	vs := u.keys[section][key]
	if len(vs) != 1 {
		t.Errorf("[%s] %s: %d values %q, want one", section, key, len(vs), vs)
		return ""
	}
	return vs[0]
}

// The unit keeps the operational contract (start, stop within the drain
// time, reload, state directory) and its hardening. systemd-analyze verify
// runs in ./validate where systemd is installed.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "systemd", "hubgate.service")
	u := parseUnit(t, path)
	svc := "Service"
	if got := u.one(t, svc, "ExecStart"); got != "/usr/local/bin/hubgate serve --config /etc/hubgate/hubgate.yaml" {
		t.Errorf("ExecStart = %q", got)
	}
	if got := u.one(t, svc, "ExecReload"); got != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload = %q; want /bin/kill -HUP $MAINPID", got)
	}
	if got := u.one(t, svc, "KillSignal"); got != "SIGTERM" {
		t.Errorf("KillSignal = %q; want SIGTERM (hubgate drains on it)", got)
	}
	// The config the unit is installed with sets no shutdown: the defaults.
	delay, timeout := loadHubgateConfig(t, filepath.Join(repoRoot(t), "deploy", "config", "zaikio-production.yaml")).shutdown(t)
	stop, err := time.ParseDuration(strings.TrimSuffix(u.one(t, svc, "TimeoutStopSec"), "s") + "s")
	if err != nil || stop < delay+timeout+5*time.Second {
		t.Errorf("TimeoutStopSec %q: want ≥ shutdown.delay %v + shutdown.timeout %v + 5 s (%v)", u.one(t, svc, "TimeoutStopSec"), delay, timeout, err)
	}

	want := map[string]string{
		"Type":                    "exec",
		"Restart":                 "on-failure",
		"RestartForceExitStatus":  "SIGHUP",
		"DynamicUser":             "yes",
		"StateDirectory":          "hubgate",
		"WorkingDirectory":        "/var/lib/hubgate",
		"EnvironmentFile":         "-/etc/hubgate/hubgate.env",
		"UMask":                   "0077",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"RestrictRealtime":        "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		if got := u.one(t, svc, k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	if sf := u.keys[svc]["SystemCallFilter"]; len(sf) == 0 || sf[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q; want @system-service first", sf)
	}

	// Secrets: every credential is pointed at by a *_FILE variable and the
	// other way round, for the active and for the commented-out pairs.
	checkPairs := func(what string, creds, envs []string) {
		t.Helper()
		names := map[string]bool{}
		for _, c := range creds {
			name, src, ok := strings.Cut(c, ":")
			if !ok || !strings.HasPrefix(src, "/etc/hubgate/secrets/") {
				t.Errorf("%s LoadCredential=%s: want NAME:/etc/hubgate/secrets/FILE", what, c)
			}
			names[name] = true
		}
		pointed := map[string]bool{}
		for _, e := range envs {
			k, val, _ := strings.Cut(e, "=")
			if cred, ok := strings.CutPrefix(val, "%d/"); ok {
				if !strings.HasSuffix(k, "_FILE") {
					t.Errorf("%s Environment=%s: a credential path belongs in a *_FILE variable", what, e)
				}
				if !names[cred] {
					t.Errorf("%s Environment=%s: no LoadCredential=%s:…", what, e, cred)
				}
				pointed[cred] = true
			}
		}
		for n := range names {
			if !pointed[n] {
				t.Errorf("%s LoadCredential %s: no HUBGATE_*_FILE=%%d/%s points at it", what, n, n)
			}
		}
	}
	checkPairs("active", u.keys[svc]["LoadCredential"], u.keys[svc]["Environment"])
	checkPairs("commented", u.commented["LoadCredential"], u.commented["Environment"])
	for _, need := range []string{"HUBGATE_SESSION_SECRETS_FILE", "HUBGATE_PROVIDER_CLIENT_SECRET_FILE", "HUBGATE_ADMIN_TOKEN_FILE"} {
		found := false
		for _, e := range u.keys[svc]["Environment"] {
			found = found || strings.HasPrefix(e, need+"=")
		}
		if !found {
			t.Errorf("Environment=%s=%%d/… missing", need)
		}
	}
	if u.one(t, "Install", "WantedBy") != "multi-user.target" {
		t.Errorf("WantedBy: want multi-user.target")
	}
}

// hubgate.env.example is an EnvironmentFile: KEY=value lines only, and no
// secrets (it is not protected like the credentials).
func TestSystemdEnvExample(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "systemd", "hubgate.env.example")
	assign := regexp.MustCompile(`^#?([A-Z][A-Z0-9_]*)=(.*)$`)
	n := 0
	for i, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		m := assign.FindStringSubmatch(line)
		if m == nil {
			if line != "" && !strings.HasPrefix(line, "#") {
				t.Errorf("%s:%d: not KEY=value: %q", rel(t, path), i+1, line)
			}
			continue
		}
		n++
		if strings.ContainsAny(m[2], `"'$`) {
			t.Errorf("%s:%d: %s: EnvironmentFile values take no quotes or $", rel(t, path), i+1, m[1])
		}
		for _, secretish := range []string{"SECRET", "TOKEN", "HUBGATE_STORE", "SMTP"} {
			if strings.Contains(m[1], secretish) && !strings.HasSuffix(m[1], "_ID") {
				t.Errorf("%s:%d: %s belongs in a credential, not the environment file", rel(t, path), i+1, m[1])
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no example assignments", rel(t, path))
	}
}
