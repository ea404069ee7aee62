package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ttyBuffer stands in for a terminal a person reads: it implements
// terminal, and the person's answers are answers.
type ttyBuffer struct {
	lockedBuffer
	answers io.Reader
}

func (b *ttyBuffer) Answers() io.Reader { return b.answers }

// runTTY runs hubgate with stderr on a stand-in terminal whose person
// answers answers.
func (e *opEnv) runTTY(answers string, args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	var out lockedBuffer
	tty := &ttyBuffer{answers: strings.NewReader(answers)}
	err = run(e.t.Context(), args, e.env(), &out, tty)
	return out.String(), tty.String(), err
}

// mustRunTTY is mustRun with stderr on a stand-in terminal.
func (e *opEnv) mustRunTTY(args ...string) (stdout, stderr string) {
	e.t.Helper()
	stdout, stderr, err := e.runTTY("", args...)
	if err != nil {
		e.t.Fatalf("hubgate %s = %v; want nil\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr
}

// TestImportProgressWithoutTerminal: when stderr is not a terminal (a log
// file, a CI job) the import's progress is whole lines without "\r": the
// first at once, then at most one every few seconds, then the summary.
func TestImportProgressWithoutTerminal(t *testing.T) {
	e := newOpEnv(t)
	in := writeCSV(t, 2000, nil)
	out := filepath.Join(t.TempDir(), "links.csv")
	start := time.Now()
	_, stderr := e.mustRun("claims", "import", in, "--out", out, "--batch", "100")
	took := time.Since(start)
	if strings.Contains(stderr, "\r") {
		t.Errorf("stderr (not a terminal) holds \\r: %q", stderr)
	}
	if !strings.HasPrefix(stderr, "importing… 0/2000 (0%)\n") || !strings.Contains(stderr, "\nimported 2000 rows in ") {
		t.Errorf("stderr = %q; want a first progress line, then the summary line", stderr)
	}
	if n, most := strings.Count(stderr, "importing…"), 1+int(took/progressEvery); n > most {
		t.Errorf("%d progress lines for 20 requests in %v; want at most %d (one every %v):\n%s", n, took, most, progressEvery, stderr)
	}
}

// TestProgressLine: on a terminal every state redraws the line; elsewhere a
// state is written as a line only when progressEvery has passed since the
// last one.
func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var plain lockedBuffer
	p := newProgress(&plain)
	p.now = func() time.Time { return now }
	for _, step := range []time.Duration{0, time.Second, 3 * time.Second, 2 * time.Second, time.Second} {
		now = now.Add(step)
		p.show("at " + now.Format("15:04:05"))
	}
	p.done("finished")
	if got, want := plain.String(), "at 00:00:00\nat 00:00:06\nfinished\n"; got != want {
		t.Errorf("progress without a terminal = %q; want %q", got, want)
	}
	tty := &ttyBuffer{}
	p = newProgress(tty)
	p.show("a")
	p.show("b")
	p.done("c")
	if got, want := tty.String(), "\ra\rb\rc\n"; got != want {
		t.Errorf("progress on a terminal = %q; want %q", got, want)
	}
}

// TestTermOf: files that are not terminals and plain writers are not
// terminals; the stand-in is, with its answers.
func TestTermOf(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"file": f, "buffer": &lockedBuffer{}} {
		if tty, answers := termOf(w); tty || answers != nil {
			t.Errorf("termOf(%s) = %v, %v; want false, nil", name, tty, answers)
		}
	}
	if tty, answers := termOf(&ttyBuffer{answers: strings.NewReader("y")}); !tty || answers == nil {
		t.Errorf("termOf(stand-in terminal) = %v, %v; want true and its answers", tty, answers)
	}
}

// logSink is a writer whose text the test reads.
type logSink interface {
	io.Writer
	String() string
}

// devLog runs `hubgate dev` with stderr and the environment env until it
// logged something, and returns its log.
func devLog(t *testing.T, stderr logSink, env map[string]string) string {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stdout lockedBuffer
	done := make(chan error, 1)
	args := []string{"dev", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--hub", "127.0.0.1:0", "--app", "127.0.0.1:0"}
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &stdout, stderr) }()
	waitFor(t, "hubgate dev to log", 20*time.Second, done, func() (string, bool) {
		return stderr.String(), strings.Contains(stdout.String(), "Stop with Ctrl-C.") && strings.Count(stderr.String(), "\n") >= 2
	})
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hubgate dev = %v", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("hubgate dev did not stop")
	}
	return stderr.String()
}

// TestDevLogColours: `hubgate dev` logs in the console format; it colours
// its lines only for a person at a terminal, and not when NO_COLOR is set
// (no-color.org): a log file or a pipe never gets escape codes.
func TestDevLogColours(t *testing.T) {
	if log := devLog(t, &lockedBuffer{}, nil); strings.Contains(log, "\x1b[") {
		t.Errorf("dev log to a non-terminal holds ANSI escape codes:\n%q", tail(log, 2<<10))
	}
	if log := devLog(t, &ttyBuffer{}, nil); !strings.Contains(log, "\x1b[") {
		t.Errorf("dev log to a terminal has no colours:\n%q", tail(log, 2<<10))
	}
	if log := devLog(t, &ttyBuffer{}, map[string]string{"NO_COLOR": "1"}); strings.Contains(log, "\x1b[") {
		t.Errorf("dev log with NO_COLOR holds ANSI escape codes:\n%q", tail(log, 2<<10))
	}
}
