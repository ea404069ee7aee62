package deploy

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every example configuration passes `hubgate config check` with exactly the
// command its header documents (run from the repository root).
func TestExampleConfigs(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the documented commands are bash")
	}
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "deploy", "config", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs (%v)", err)
	}
	// The OpenID Connect providers' examples (provider.kind oidc).
	oidcFiles, err := filepath.Glob(filepath.Join(root, "deploy", "config", "oidc", "*.yaml"))
	if err != nil || len(oidcFiles) < 5 {
		t.Fatalf("want the five OpenID Connect examples in deploy/config/oidc, found %d (%v)", len(oidcFiles), err)
	}
	files = append(files, oidcFiles...)
	for _, f := range files {
		r := rel(t, f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			cmds := commentCommands(readFile(t, f))
			if len(cmds) != 1 {
				t.Fatalf("%s: %d documented commands (lines starting with \"# $ \"), want 1", r, len(cmds))
			}
			if !strings.Contains(cmds[0], "config check --config "+r) {
				t.Fatalf("%s: the documented command does not check this file: %s", r, cmds[0])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bash, "-c", cmds[0])
			cmd.Dir = root
			cmd.Env = withoutHubgateEnv(os.Environ())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s\n%s: %v", cmds[0], out, err)
			}
			if !strings.Contains(string(out), r+": ok") {
				t.Errorf("config check said:\n%s", out)
			}
		})
	}
}

// withoutHubgateEnv drops the developer's HUBGATE_* variables so that the
// documented commands alone decide.
func withoutHubgateEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "HUBGATE_") {
			out = append(out, e)
		}
	}
	return out
}

// The Kubernetes configuration passes `hubgate config check` in the pod's
// circumstances: the Deployment's environment, secrets as files at the
// paths the config names, with well-formed values; and the placeholders of
// secret.example.yaml make hubgate refuse to start.
func TestKubernetesConfig(t *testing.T) {
	for _, name := range []string{"bolt", "postgres"} {
		t.Run(name, func(t *testing.T) {
			v := loadVariant(t, name)
			c := v.hubgateContainer(t)
			sec := v.secret(t)
			good := map[string]string{
				"session_secrets": strings.TrimSpace(mustRun(t, nil, "keys", "new")) + "\n" + strings.TrimSpace(mustRun(t, nil, "keys", "new")),
				"client_secret":   "a-client-secret",
				"webhook_secret":  "a-webhook-secret",
				"admin_token":     "an-admin-token-of-some-length",
				"store_url":       sec.StringData["store_url"], // the placeholder URL is well-formed
			}
			for k := range sec.StringData {
				if _, ok := good[k]; !ok {
					t.Fatalf("secret.example.yaml key %q: the test has no well-formed value for it", k)
				}
			}
			wantStore := map[string]string{"bolt": "store bolt", "postgres": "store postgres"}[name]

			out, err := v.configCheck(t, c, good)
			if err != nil {
				t.Fatalf("config check with well-formed secrets: %v\n%s", err, out)
			}
			if !strings.Contains(out, ": ok") || !strings.Contains(out, wantStore) {
				t.Errorf("config check said %q; want ok and %q", out, wantStore)
			}

			out, err = v.configCheck(t, c, sec.StringData)
			if err == nil {
				t.Fatalf("config check passed with the placeholders of secret.example.yaml:\n%s", out)
			}
			if !strings.Contains(out, "session.secrets") {
				t.Errorf("config check with placeholders said %q; want it to name session.secrets", out)
			}
		})
	}
}

// configCheck writes secrets as files, points the config's secret
// directory there, and runs `hubgate config check` with the container's
// environment (secretKeyRef values taken from secrets).
func (v *variant) configCheck(t *testing.T, c *container, secrets map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	secDir := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for k, val := range secrets {
		if err := os.WriteFile(filepath.Join(secDir, k), []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mount := ""
	for _, m := range c.VolumeMounts {
		for _, vol := range v.deployment(t).Spec.Template.Spec.Volumes {
			if vol.Name == m.Name && vol.Secret != nil {
				mount = m.MountPath
			}
		}
	}
	cfg := strings.ReplaceAll(readFile(t, v.configFile), mount+"/", secDir+"/")
	cfgPath := filepath.Join(dir, "hubgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = secrets[e.ValueFrom.SecretKeyRef.Key]
		default:
			t.Fatalf("env %s: the test cannot resolve this valueFrom", e.Name)
		}
	}
	return runHubgate(t, env, "config", "check", "--config", cfgPath)
}

func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, err := runHubgate(t, env, args...)
	if err != nil {
		t.Fatalf("hubgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// knownEnv lists the environment variables hubgate reads: HUBGATE_<PATH>
// for every key of the Config struct in cmd/hubgate/config.go (read from
// the source, so it cannot drift), and the other HUBGATE_* names the
// command's source mentions (HUBGATE_CONFIG, HUBGATE_ADMIN_URL, …).
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "cmd", "hubgate")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	var walk func(prefix string, st *ast.StructType)
	walk = func(prefix string, st *ast.StructType) {
		for _, f := range st.Fields.List {
			if f.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(f.Tag.Value)
			name := strings.Split(reflect.StructTag(tag).Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			env := prefix + "_" + strings.ToUpper(name)
			if inner, ok := f.Type.(*ast.StructType); ok {
				walk(env, inner)
				continue
			}
			known[env] = true
		}
	}
	lit := regexp.MustCompile(`^"(HUBGATE_[A-Z0-9_]+)"$`)
	for _, p := range pkgs {
		for _, file := range p.Files {
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.TypeSpec:
					if st, ok := n.Type.(*ast.StructType); ok && n.Name.Name == "Config" {
						walk("HUBGATE", st)
					}
				case *ast.BasicLit:
					if m := lit.FindStringSubmatch(n.Value); m != nil {
						known[m[1]] = true
					}
				}
				return true
			})
		}
	}
	for _, want := range []string{"HUBGATE_STORE", "HUBGATE_ADMIN_LISTEN", "HUBGATE_SESSION_SECRETS_FILE"} {
		if !known[want] {
			t.Fatalf("knownEnv: %s not derived from cmd/hubgate (has the Config struct changed shape?)", want)
		}
	}
	return known
}

// Every HUBGATE_* name in the deployment files is one hubgate reads: a typo
// (HUBGATE_SESSION_SECRET_FILE) would be silently ignored at run time.
func TestEnvNames(t *testing.T) {
	known := knownEnv(t)
	// The operations contract's keys are hubgate's names too, before
	// cmd/hubgate implements them (opscontract_test.go).
	for _, k := range opsConfigKeys {
		known[envFor(k)] = true
	}
	re := regexp.MustCompile(`HUBGATE_[A-Z0-9_]*[A-Z0-9]`)
	root := filepath.Join(repoRoot(t), "deploy")
	var used []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		for _, name := range re.FindAllString(readFile(t, path), -1) {
			if !known[name] {
				t.Errorf("%s: %s is not an environment variable hubgate reads", rel(t, path), name)
			}
			used = append(used, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(used)
	if len(used) == 0 {
		t.Fatal("no HUBGATE_* names found in deploy/")
	}
}

// hubgate, started the way the manifests start it, answers the probe paths
// the Deployment names on the ports it names (with the Host header a kubelet
// sends: the pod IP), and SIGTERM ends it cleanly within the drain time.
func TestServeAnswersProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hubgate")
	}
	v := loadVariant(t, "bolt")
	c := v.hubgateContainer(t)
	bin := hubgateBinary(t)
	dir := t.TempDir()
	pub, adm, hub := freePort(t), freePort(t), freePort(t)
	// The dev configuration (dev hub, no outside network), moved to free
	// ports and a temporary store.
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(repoRoot(t), "deploy", "config", "dev.yaml"))
	cmd.Dir = dir
	cmd.Env = baseEnv(map[string]string{
		"HUBGATE_LISTEN":       fmt.Sprintf("127.0.0.1:%d", pub),
		"HUBGATE_PUBLIC_URL":   fmt.Sprintf("http://127.0.0.1:%d", pub),
		"HUBGATE_ADMIN_LISTEN": fmt.Sprintf("127.0.0.1:%d", adm),
		"HUBGATE_PROVIDER_URL": fmt.Sprintf("http://127.0.0.1:%d", hub),
		"HUBGATE_STORE":        "bolt://" + filepath.Join(dir, "hubgate.db"),
		"HUBGATE_LOG_FORMAT":   "json",
	})
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})

	portFor := func(ref intOrString) int {
		switch ref.String() {
		case "public", "4180":
			return pub
		case "admin", "4181":
			return adm
		}
		t.Fatalf("probe port %v", ref)
		return 0
	}
	client := &http.Client{Timeout: 7 * time.Second}
	probeOK := func(name string, p *probe) {
		t.Helper()
		url := fmt.Sprintf("http://127.0.0.1:%d%s", portFor(p.HTTPGet.Port), p.HTTPGet.Path)
		deadline := time.Now().Add(20 * time.Second)
		for {
			req, _ := http.NewRequest("GET", url, nil)
			req.Host = "10.1.2.3:4180" // the kubelet probes the pod IP
			req.Header.Set("User-Agent", "kube-probe/1.31")
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 200 && resp.StatusCode < 400 {
					return
				}
			}
			select {
			case err := <-done:
				t.Fatalf("hubgate exited (%v):\n%s", err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s GET %s: %v (status %v)\n%s", name, url, err, statusOf(resp), logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	probeOK("startupProbe", c.StartupProbe)
	probeOK("livenessProbe", c.LivenessProbe)
	probeOK("readinessProbe", c.ReadinessProbe)

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM hubgate exited with %v; want 0\n%s", err, logs.String())
		}
	case <-time.After(35 * time.Second):
		t.Fatalf("hubgate still running %v after SIGTERM", time.Since(start))
	}
	if g := v.deployment(t).Spec.Template.Spec.TerminationGracePeriodSeconds; time.Since(start) > time.Duration(*g)*time.Second {
		t.Errorf("shutdown took %v, longer than terminationGracePeriodSeconds", time.Since(start))
	}
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return "none"
	}
	return resp.StatusCode
}
