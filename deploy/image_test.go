package deploy

import (
	"encoding/json"
	"go/version"
	"path/filepath"
	"regexp"
	"slices"
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

// The image matches what the other deployment files assume: user 65532,
// ports 4180/4181, /var/lib/hubgate, ENTRYPOINT /hubgate with the serve
// CMD, a static binary on distroless, and the Go version of go.mod.
// (Building it needs a Docker engine: ./validate lints it instead.)
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "deploy", "Dockerfile")
	ins := parseDockerfile(t, path)
	known := []string{"FROM", "ARG", "WORKDIR", "COPY", "RUN", "USER", "VOLUME", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT", "CMD", "ENV", "LABEL"}
	var froms []instruction
	args := map[string]string{}
	var final []instruction // instructions of the last stage
	for _, in := range ins {
		if !slices.Contains(known, in.op) {
			t.Errorf("Dockerfile:%d: instruction %s unknown here", in.line, in.op)
		}
		if in.op == "FROM" {
			froms = append(froms, in)
			final = nil
			continue
		}
		if in.op == "ARG" {
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		}
		final = append(final, in)
	}
	if len(froms) != 2 {
		t.Fatalf("Dockerfile: %d stages, want 2 (build, runtime)", len(froms))
	}
	if !strings.Contains(froms[0].args, "golang:${GO_VERSION}") || !strings.HasSuffix(froms[0].args, " AS build") {
		t.Errorf("Dockerfile:%d: builder %q: want golang:${GO_VERSION} AS build", froms[0].line, froms[0].args)
	}
	// The builder is the release toolchain that CI tests and scans with
	// (.ci/run's GOTOOLCHAIN, .ci/govulncheck's default), pinned to a patch
	// release, and no older than go.mod.
	cirun := readFile(t, filepath.Join(root, ".ci", "run"))
	tc := regexp.MustCompile(`(?m)^export GOTOOLCHAIN=go(\d+\.\d+\.\d+)$`).FindStringSubmatch(cirun)
	if tc == nil || args["GO_VERSION"] != tc[1] {
		t.Errorf("ARG GO_VERSION=%s; .ci/run exports GOTOOLCHAIN %v", args["GO_VERSION"], tc)
	}
	if vc := readFile(t, filepath.Join(root, ".ci", "govulncheck")); !strings.Contains(vc, `GOTOOLCHAIN="${GOTOOLCHAIN:-go`+args["GO_VERSION"]+`}"`) {
		t.Errorf(".ci/govulncheck does not default GOTOOLCHAIN to go%s, the release toolchain", args["GO_VERSION"])
	}
	gomod := readFile(t, filepath.Join(root, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	if m == nil || version.Compare("go"+args["GO_VERSION"], "go"+m[1]) < 0 {
		t.Errorf("ARG GO_VERSION=%s is older than go.mod's go %v", args["GO_VERSION"], m)
	}
	if froms[1].args != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime stage FROM %q: want gcr.io/distroless/static-debian12:nonroot", froms[1].args)
	}

	var build string
	for _, in := range ins {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	for _, want := range []string{"--mount=type=cache,target=/go/pkg/mod", "CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/hubgate"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step lacks %s: %q", want, build)
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
	if e := get("EXPOSE"); len(e) != 1 || e[0] != "4180 4181" {
		t.Errorf("EXPOSE %q: want 4180 4181", e)
	}
	if v := get("VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/var/lib/hubgate") {
		t.Errorf("VOLUME %q: want /var/lib/hubgate", v)
	}
	execForm := func(op string, want []string) {
		t.Helper()
		v := get(op)
		var got []string
		if len(v) != 1 || json.Unmarshal([]byte(v[0]), &got) != nil || !slices.Equal(got, want) {
			t.Errorf("%s %q: want exec form %q", op, v, want)
		}
	}
	execForm("ENTRYPOINT", []string{"/hubgate"})
	execForm("CMD", []string{"serve", "--config", "/etc/hubgate/hubgate.yaml"})
}
