package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root (the parent of this package's directory).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the hubgate binary that the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// hubgateBinary builds ../cmd/hubgate once per test run and returns its
// path: the tests use the real config loader and server, not a copy.
func hubgateBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		buildDir, buildErr = os.MkdirTemp("", "hubgate-deploy-test-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "hubgate")
		cmd := exec.Command(goTool, "build", "-o", buildBin, "./cmd/hubgate")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/hubgate: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// runHubgate runs the built binary with exactly env (plus PATH and HOME)
// and returns its combined output and error.
func runHubgate(t testing.TB, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(hubgateBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = baseEnv(env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// baseEnv is a minimal environment: no HUBGATE_* from the developer's shell
// leaks into a test.
func baseEnv(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// yamlDocs splits a file into its YAML documents, as nodes (empty documents
// left out). A syntax error or a duplicate key fails the test.
func yamlDocs(t testing.TB, path string) []*yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", rel(t, path), err)
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue
		}
		docs = append(docs, &n)
	}
	return docs
}

// decodeStrict decodes a YAML node into v, failing on any field v does not
// declare: the types in kube_types_test.go are a schema of the subset of
// Kubernetes these manifests use, so a typo ("readinesProbe") fails here.
func decodeStrict(n *yaml.Node, v any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	return dec.Decode(v)
}

// rel names path relative to the repository root, for messages.
func rel(t testing.TB, path string) string {
	r, err := filepath.Rel(repoRoot(t), path)
	if err != nil {
		return path
	}
	return r
}

// readFile returns a file's text.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commentCommands returns the commands documented in a file's comments as
// lines starting with "# $ ".
func commentCommands(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if c, ok := strings.CutPrefix(l, "# $ "); ok {
			out = append(out, strings.TrimSpace(c))
		}
	}
	return out
}
