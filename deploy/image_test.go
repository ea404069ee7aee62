package deploy

import (
	"encoding/json"
	"go/version"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	line int
	op   string // upper case
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(readFile(t, path), "\n") {
		line := strings.TrimSpace(raw)
		if cur == nil && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur != nil && strings.HasPrefix(line, "#") {
			continue // comment inside a continuation
		}
		cont := strings.HasSuffix(line, `\`)
		line = strings.TrimSuffix(line, `\`)
		if cur == nil {
			op, args, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, op: strings.ToUpper(op), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + strings.TrimSpace(line)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("%s: the last instruction ends in a line continuation", rel(t, path))
	}
	return out
}

// digestPlaceholder stands where a base image's digest could not be looked
// up; the Dockerfile must say so in a comment (and ./validate warns).
const digestPlaceholder = "PLACEHOLDER"

var (
	// fromArgs is a FROM instruction: [--platform=P] IMAGE [AS NAME].
	fromArgs = regexp.MustCompile(`^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)
	// pinnedImage is REPOSITORY:TAG@sha256:DIGEST, the digest 64 hex
	// digits or the placeholder.
	pinnedImage = regexp.MustCompile(`^([a-z0-9]+(?:[._/-][a-z0-9]+)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@sha256:([0-9a-f]{64}|` + digestPlaceholder + `)$`)
)

// baseImage is a parsed FROM.
type baseImage struct {
	line                      int
	platform, repo, tag, name string
	digest                    string // 64 hex digits, or digestPlaceholder
}

func parseFrom(t *testing.T, in instruction) baseImage {
	t.Helper()
	m := fromArgs.FindStringSubmatch(in.args)
	if m == nil {
		t.Fatalf("Dockerfile:%d: FROM %q: cannot read it", in.line, in.args)
	}
	b := baseImage{line: in.line, platform: m[1], name: m[3]}
	p := pinnedImage.FindStringSubmatch(m[2])
	if p == nil {
		t.Errorf("Dockerfile:%d: base image %q: want REPOSITORY:TAG@sha256:DIGEST (pinned by tag and digest)", in.line, m[2])
		return b
	}
	b.repo, b.tag, b.digest = p[1], p[2], p[3]
	return b
}

// dockerLabels reads a LABEL instruction's key="value" pairs.
func dockerLabels(args string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`([A-Za-z0-9._-]+)=("(?:[^"\\]|\\.)*"|\S+)`)
	for _, m := range re.FindAllStringSubmatch(args, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		out[m[1]] = v
	}
	return out
}

// The image matches what the other deployment files assume: user 65532,
// ports 4180/4181/9090, /var/lib/hubgate, ENTRYPOINT /hubgate with the
// serve CMD, a static binary on distroless, the release Go toolchain, base
// images pinned by tag and digest, OCI labels and a HEALTHCHECK that needs
// no shell. (Building it needs a Docker engine: ./validate lints it.)
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "deploy", "Dockerfile")
	text := readFile(t, path)
	ins := parseDockerfile(t, path)
	known := []string{"FROM", "ARG", "WORKDIR", "COPY", "RUN", "USER", "VOLUME", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT", "CMD", "ENV", "LABEL", "HEALTHCHECK"}
	var froms []baseImage
	var final []instruction // instructions of the last stage
	for _, in := range ins {
		if !slices.Contains(known, in.op) {
			t.Errorf("Dockerfile:%d: instruction %s unknown here", in.line, in.op)
		}
		if in.op == "FROM" {
			froms = append(froms, parseFrom(t, in))
			final = nil
			continue
		}
		final = append(final, in)
	}
	if len(froms) != 2 {
		t.Fatalf("Dockerfile: %d stages, want 2 (build, runtime)", len(froms))
	}

	// Pins: every digest is a real one (a placeholder would make docker
	// build fail with "invalid reference format").
	for _, b := range froms {
		if b.digest == digestPlaceholder {
			t.Errorf("Dockerfile:%d: %s:%s has a digest placeholder: docker build would fail (deploy/README.md, Base image digests)", b.line, b.repo, b.tag)
		}
	}

	// The builder is the release toolchain that CI tests and scans with
	// (.ci/run's GOTOOLCHAIN, .ci/govulncheck's default), pinned to a patch
	// release, and no older than go.mod; it runs on the build platform and
	// cross-compiles.
	build := froms[0]
	if build.repo != "golang" || build.name != "build" || build.platform != "$BUILDPLATFORM" {
		t.Errorf("Dockerfile:%d: builder %s:%s AS %s (platform %q): want --platform=$BUILDPLATFORM golang:VERSION@sha256:… AS build", build.line, build.repo, build.tag, build.name, build.platform)
	}
	// The toolchain that builds is the image's go unless the build stage
	// sets GOTOOLCHAIN (then the go command fetches that release, verified
	// against the checksum database).
	release := build.tag
	if tcs := regexp.MustCompile(`(?m)^ENV GOTOOLCHAIN=go(\d+\.\d+\.\d+)$`).FindStringSubmatch(text); tcs != nil {
		release = tcs[1]
		if version.Compare("go"+release, "go"+build.tag) < 0 {
			t.Errorf("Dockerfile: GOTOOLCHAIN go%s is older than the image's go %s: it would not switch", release, build.tag)
		}
	}
	cirun := readFile(t, filepath.Join(root, ".ci", "run"))
	tc := regexp.MustCompile(`(?m)^export GOTOOLCHAIN=go(\d+\.\d+\.\d+)$`).FindStringSubmatch(cirun)
	if tc == nil || release != tc[1] {
		t.Errorf("builder toolchain go%s; .ci/run exports GOTOOLCHAIN %v", release, tc)
	}
	if vc := readFile(t, filepath.Join(root, ".ci", "govulncheck")); !strings.Contains(vc, `GOTOOLCHAIN="${GOTOOLCHAIN:-go`+release+`}"`) {
		t.Errorf(".ci/govulncheck does not default GOTOOLCHAIN to go%s, the release toolchain", release)
	}
	gomod := readFile(t, filepath.Join(root, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	if m == nil || version.Compare("go"+release, "go"+m[1]) < 0 {
		t.Errorf("builder toolchain go%s is older than go.mod's go %v", release, m)
	}
	if rt := froms[1]; rt.repo != "gcr.io/distroless/static-debian12" || rt.tag != "nonroot" || rt.platform != "" {
		t.Errorf("runtime stage FROM %s:%s (platform %q): want gcr.io/distroless/static-debian12:nonroot@sha256:… for the target platform", rt.repo, rt.tag, rt.platform)
	}

	var buildStep string
	buildArgs := map[string]bool{} // ARGs of the build stage declared before its go build
	for _, in := range ins {
		if in.op == "FROM" && buildStep != "" {
			break
		}
		if in.op == "ARG" && buildStep == "" {
			k, _, _ := strings.Cut(in.args, "=")
			buildArgs[k] = true
		}
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			buildStep = in.args
		}
	}
	// The linker stamps the image's VERSION and REVISION into the binary,
	// so that `hubgate version` and hubgate_build_info agree with the labels.
	for _, want := range []string{"--mount=type=cache,target=/go/pkg/mod", "CGO_ENABLED=0", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "-tags nodev", "-trimpath",
		`-ldflags "-s -w `, "-X main.buildVersion=${VERSION}", "-X main.buildCommit=${REVISION}", "./cmd/hubgate"} {
		if !strings.Contains(buildStep, want) {
			t.Errorf("go build step lacks %s: %q", want, buildStep)
		}
	}
	for _, a := range []string{"VERSION", "REVISION"} {
		if !buildArgs[a] {
			t.Errorf("Dockerfile: the build stage uses ${%s} in go build without declaring ARG %s before it (it would be empty)", a, a)
		}
	}

	get := func(op string) []string {
		var out []string
		for _, in := range final {
			if in.op == op {
				out = append(out, in.args)
			}
		}
		return out
	}
	if u := get("USER"); len(u) != 1 || (u[0] != "65532" && u[0] != "65532:65532") {
		t.Errorf("USER %q: want 65532 (numeric, so runAsNonRoot can verify it)", u)
	}
	if e := get("EXPOSE"); len(e) != 1 || e[0] != "4180 4181 9090" {
		t.Errorf("EXPOSE %q: want 4180 4181 9090 (public, admin, metrics)", e)
	}
	if v := get("VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/var/lib/hubgate") {
		t.Errorf("VOLUME %q: want /var/lib/hubgate", v)
	}
	if s := get("STOPSIGNAL"); len(s) != 1 || s[0] != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q: want SIGTERM", s)
	}
	execForm := func(what, args string, want []string) {
		t.Helper()
		var got []string
		if json.Unmarshal([]byte(args), &got) != nil || !slices.Equal(got, want) {
			t.Errorf("%s %q: want exec form %q", what, args, want)
		}
	}
	one := func(op string) string {
		t.Helper()
		v := get(op)
		if len(v) != 1 {
			t.Errorf("%s: %d in the runtime stage, want 1", op, len(v))
			return ""
		}
		return v[0]
	}
	execForm("ENTRYPOINT", one("ENTRYPOINT"), []string{"/hubgate"})
	execForm("CMD", one("CMD"), []string{"serve", "--config", "/etc/hubgate/hubgate.yaml"})

	// HEALTHCHECK: exec form (no shell in distroless), the binary's own
	// check, with a start period for the store to open.
	hc := one("HEALTHCHECK")
	opts, cmd, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Errorf("HEALTHCHECK %q: want [OPTIONS] CMD [\"/hubgate\", \"healthcheck\"]", hc)
	}
	execForm("HEALTHCHECK CMD", strings.TrimSpace(cmd), []string{"/hubgate", "healthcheck"})
	for _, o := range []string{"--interval=", "--timeout=", "--start-period=", "--retries="} {
		if !strings.Contains(opts, o) {
			t.Errorf("HEALTHCHECK options %q: set %s explicitly", opts, o)
		}
	}

	// OCI labels, version and revision from build arguments declared in
	// the runtime stage (an ARG before the first FROM is not visible there).
	labels := map[string]string{}
	argsBefore := map[string]bool{}
	for _, in := range final {
		switch in.op {
		case "ARG":
			k, _, _ := strings.Cut(in.args, "=")
			argsBefore[k] = true
		case "LABEL":
			for k, v := range dockerLabels(in.args) {
				labels[k] = v
			}
			for _, a := range []string{"VERSION", "REVISION"} {
				if strings.Contains(in.args, "${"+a+"}") && !argsBefore[a] {
					t.Errorf("Dockerfile:%d: LABEL uses ${%s} before ARG %s in this stage (it would be empty)", in.line, a, a)
				}
			}
		}
	}
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindStringSubmatch(gomod)
	want := map[string]string{
		"org.opencontainers.image.title":    "hubgate",
		"org.opencontainers.image.source":   "https://" + module[1],
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.revision": "${REVISION}",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("LABEL %s = %q; want %q", k, labels[k], v)
		}
	}
	for _, k := range []string{"org.opencontainers.image.description", "org.opencontainers.image.licenses"} {
		if labels[k] == "" {
			t.Errorf("LABEL %s missing", k)
		}
	}
	if b := labels["org.opencontainers.image.base.name"]; b != froms[1].repo+":"+froms[1].tag {
		t.Errorf("LABEL org.opencontainers.image.base.name = %q; want the runtime base %s:%s", b, froms[1].repo, froms[1].tag)
	}

	// `docker stop -t N` in the comments gives the shutdown sequence room.
	delay, timeout := shutdownDefaults()
	for _, m := range regexp.MustCompile(`docker stop -t (\d+)`).FindAllStringSubmatch(text, -1) {
		if n, _ := strconv.Atoi(m[1]); n < int((delay+timeout).Seconds())+5 {
			t.Errorf("Dockerfile: docker stop -t %s: want ≥ shutdown.delay + shutdown.timeout + 5 s", m[1])
		}
	}
}

// The image exposes exactly the ports the Kubernetes container declares.
func TestDockerfilePortsMatchKubernetes(t *testing.T) {
	var exposed []string
	for _, in := range parseDockerfile(t, filepath.Join(repoRoot(t), "deploy", "Dockerfile")) {
		if in.op == "EXPOSE" {
			exposed = append(exposed, strings.Fields(in.args)...)
		}
	}
	slices.Sort(exposed)
	for _, name := range []string{"bolt", "postgres"} {
		var ports []string
		for _, p := range loadVariant(t, name).hubgateContainer(t).Ports {
			ports = append(ports, strconv.Itoa(p.ContainerPort))
		}
		slices.Sort(ports)
		if !slices.Equal(ports, exposed) {
			t.Errorf("%s: container ports %v; the image exposes %v", name, ports, exposed)
		}
	}
}

// .dockerignore keeps secrets, VCS data and local output out of the build
// context, and nothing the build needs: no file git tracks is excluded.
func TestDockerignore(t *testing.T) {
	root := repoRoot(t)
	ig := parseDockerignore(t, readFile(t, filepath.Join(root, ".dockerignore")))
	mustExclude := []string{
		".git", ".git/config", ".git/objects/ab/cdef",
		"hubgate-dev/hubgate.db", "hubgate-dev/session_secrets", "hubgate-dev/admin_token",
		"artifacts/screenshot.png", "bench/results/2026-01-01.json", "data/hubgate.db",
		"hubgate.db", "store/bolt/x.db", "proxy/proxy.test", "cpu.prof", "bench/mem.pprof", "cover.out",
		"hubgate",
		"secrets/session_secrets", "session_secrets", "client_secret", "webhook_secret", "admin_token", "store_url",
		"deploy/kubernetes/bolt/session_secrets", ".env", "hubgate.env", "tls.key", "cert.pem",
		".idea/workspace.xml", ".vscode/settings.json", "proxy/.server.go.swp", "proxy/server.go~", ".DS_Store",
	}
	for _, p := range mustExclude {
		if !ig.excluded(p) {
			t.Errorf(".dockerignore does not exclude %s", p)
		}
	}
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	if !slices.Contains(files, "go.mod") {
		t.Fatalf("git ls-files lists no go.mod: %d files", len(files))
	}
	for _, f := range files {
		if ig.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which git tracks (the build may need it)", f)
		}
	}
}

// dockerignore is a parsed .dockerignore: Docker's rules (patterns anchored
// at the context root, * and ? within one path element, ** across any
// number, a leading ! re-includes, the last matching line wins, and a
// pattern that matches a directory excludes everything under it).
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(t *testing.T, text string) dockerignore {
	t.Helper()
	var out dockerignore
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			case c == '[' || c == '\\':
				t.Fatalf(".dockerignore:%d: %q: character classes and escapes are not supported by this test's matcher", n+1, line)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		out = append(out, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), neg})
	}
	return out
}

// excluded reports whether Docker leaves path (slash-separated, relative to
// the context root) out of the build context.
func (d dockerignore) excluded(path string) bool {
	// The path and each of its parent directories, shortest first.
	var candidates []string
	parts := strings.Split(path, "/")
	for i := range parts {
		candidates = append(candidates, strings.Join(parts[:i+1], "/"))
	}
	out := false
	for _, p := range d {
		if slices.ContainsFunc(candidates, p.re.MatchString) {
			out = !p.negate
		}
	}
	return out
}
