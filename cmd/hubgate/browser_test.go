package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestBrowserMigration walks the migration the way people do, in headless
// Chromium against the real wiring of `hubgate dev` (dev hub, demo legacy
// app, hubgate, admin listener): an operator signs in to the dashboard and
// switches to enforce through the confirmation step; then Alice opens her
// claim link, links Erika's Zaikio account through the dev hub, and lands
// in the legacy app signed in through Zaikio. Each step is saved as a
// screenshot in $HUBGATE_ARTIFACTS (default: a temporary folder).
func TestBrowserMigration(t *testing.T) {
	chrome := findChromium(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	dev := startDev(t)
	w := newWalk(t, ctx, chrome)

	// The operator signs in to the dashboard with the printed admin token.
	w.navigate("dashboard sign-in", dev.admin+"/", `#login-form #token`)
	w.shot("dashboard-login")
	w.do("sign in with the admin token",
		chromedp.SendKeys(chromedp.CSS(`#token`), dev.token),
		chromedp.SendKeys(chromedp.CSS(`#name`), "browser test"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#current-mode`)))
	w.want("linked persons before", `#persons-linked`, "0")
	w.want("persons in the directory", `#persons-total`, "3")
	w.want("mode before", `#current-mode`, "passthrough")
	w.wcag("dashboard")
	w.shot("dashboard")

	// Switching to enforce needs the confirmation step.
	w.do("open the switch to enforce",
		chromedp.Click(chromedp.CSS(`#switch-enforce`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-switch`)))
	w.want("confirmation title", `#confirm-h`, "Switch from passthrough to enforce?")
	w.wantContains("confirmation", `#consequence`, "The legacy login will be closed.")
	w.wcag("enforce confirmation")
	w.shot("confirm-enforce")
	w.do("confirm the switch",
		chromedp.Click(chromedp.CSS(`#confirm-switch`)),
		chromedp.WaitVisible(chromedp.CSS(`#switched`)))
	w.want("mode after the switch", `#current-mode`, "enforce")
	w.wantContains("audit log", `#audit-events`, "dashboard:browser test (session-")
	w.wcag("dashboard after the switch")
	w.shot("dashboard-enforced")

	// In enforce mode the legacy login is closed: GET /login sends the
	// browser to Zaikio sign-in.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(dev.public + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/_hubgate/login?rd=%2F" {
		t.Errorf("GET /login in enforce = %d, Location %q; want 302 to /_hubgate/login?rd=%%2F", resp.StatusCode, loc)
	}

	// Alice opens her claim link: a confirmation page, never a flow on GET.
	w.navigate("Alice's claim link", dev.claims["1"], `form[action^="/_hubgate/claim/"] button[type=submit]`)
	w.wantContains("claim confirmation", `main`, "Alice Adams")
	w.wcag("Alice's claim confirmation")
	w.shot("claim-confirm")
	w.do("continue to Zaikio",
		chromedp.Click(chromedp.CSS(`form[action^="/_hubgate/claim/"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name=person][value="`+devhub.ErikaID+`"]`)))
	w.wantURL("the dev hub's account chooser", dev.hub+"/oauth/authorize")
	w.wcag("dev hub account chooser")
	w.shot("hub-chooser")
	w.do("pick Erika at the dev hub",
		chromedp.Click(chromedp.CSS(`button[name=person][value="`+devhub.ErikaID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/_hubgate/claim-undo"]`)))
	w.wantURL("hubgate's success page", dev.public+"/")
	w.wantContains("success page", `main`, "Erika Mustermann")
	w.wcag("Alice's success page")
	w.shot("claim-linked")
	w.do("continue to the legacy app",
		chromedp.Click(chromedp.CSS(`main .actions a.btn[href="/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.ok`)))
	w.wantContains("legacy app", `p.ok`, "Signed in through Zaikio as legacy user 1")
	w.shot("legacy-app")

	// The legacy app's "Sign out" posts a plain form to hubgate (a GET
	// would not sign out): same origin, so accepted without hubgate's form
	// token. Signed out in enforce mode, the app's start page leads to the
	// Zaikio sign-in.
	w.do("sign out in the legacy app",
		chromedp.Click(chromedp.CSS(`#signout`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name=person]`)))
	w.wantURL("Zaikio sign-in after signing out", dev.hub+"/oauth/authorize")
	w.shot("signed-out")

	// A visitor without a session who opens the legacy login lands on the
	// Zaikio sign-in (a fresh browser context has no cookies).
	visitor := w.incognito()
	visitor.navigate("legacy login for a visitor", dev.public+"/login", `button[name=person]`)
	visitor.wantURL("Zaikio sign-in", dev.hub+"/oauth/authorize")
	visitor.shot("enforce-legacy-login")

	// The dashboard counts the new link.
	w.navigate("dashboard again", dev.admin+"/", `#current-mode`)
	w.want("linked persons after", `#persons-linked`, "1")
	w.want("mode after", `#current-mode`, "enforce")
	w.shot("dashboard-after")

	// The dashboard on a phone: one column, nothing cut off.
	w.emulate("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	w.do("the dashboard on a phone", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#current-mode`)))
	w.wcag("dashboard on a phone")
	w.shot("dashboard-phone")

	t.Logf("browser walk took %v", time.Since(began).Round(time.Millisecond))
}

// findChromium returns the Chromium to drive. Without one the test is
// skipped on a laptop, but fails under CI=true: CI installs Chromium, so a
// missing one there is a broken setup, not a reason to pass.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found (chromium, chromium-browser, google-chrome, /usr/bin/chromium); CI=true requires it: apt-get install chromium")
	}
	t.Skip("Chromium not found; install it (apt-get install chromium) to run the browser test")
	return ""
}

// devRun is a `hubgate dev` running in this process, with what it printed.
type devRun struct {
	public, admin, hub, app, token string
	claims                         map[string]string // claim link by legacy person id
	stdout                         *lockedBuffer     // what hubgate dev prints (URLs, dev mails)
}

// lockedBuffer is an io.Writer that tests read while the stack writes.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	devPublicRE = regexp.MustCompile(`hubgate \(public\)\s+(http://\S+)`)
	devAdminRE  = regexp.MustCompile(`admin dashboard \+ API\s+(http://\S+)\s+\(token: ([0-9a-f]+)\)`)
	devHubRE    = regexp.MustCompile(`(?:dev hub \(fake Zaikio\)|dev OpenID Provider)\s+(http://\S+)`)
	devAppRE    = regexp.MustCompile(`legacy app \(direct\)\s+(http://\S+)`)
	devClaimRE  = regexp.MustCompile(`\(legacy (\S+)\)\s+(http://\S+/_hubgate/claim/[A-Za-z0-9_-]+)`)
)

// startDev runs `hubgate dev` on loopback ports chosen by the kernel, in a
// fresh data folder, and waits until it printed its URLs and is ready; env
// are name, value pairs of its environment. It stops in t.Cleanup; its log
// is shown when the test failed.
func startDev(t *testing.T, env ...string) devRun {
	t.Helper()
	return startDevProvider(t, "zaikio", env...)
}

// startDevProvider is startDev with `--provider provider`: zaikio (the dev
// hub) or oidc (the dev OpenID Provider).
func startDevProvider(t *testing.T, provider string, env ...string) devRun {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	args := []string{"dev", "--provider", provider, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--hub", "127.0.0.1:0", "--app", "127.0.0.1:0"}
	vars := map[string]string{}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	go func() { done <- run(ctx, args, func(k string) string { return vars[k] }, &stdout, &stderr) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hubgate dev returned %v after shutdown", err)
			}
		case <-time.After(35 * time.Second):
			t.Errorf("hubgate dev did not stop within 35 s")
		}
		if t.Failed() {
			t.Logf("hubgate dev output:\n%s\nhubgate dev log (last 8 KiB):\n%s", stdout.String(), tail(stderr.String(), 8<<10))
		}
	})

	out := waitFor(t, "hubgate dev to print its URLs", 20*time.Second, done, func() (string, bool) {
		s := stdout.String()
		return s, strings.Contains(s, "Stop with Ctrl-C.")
	})
	d := devRun{claims: map[string]string{}, stdout: &stdout}
	for _, f := range []struct {
		re   *regexp.Regexp
		dst  []*string
		what string
	}{
		{devPublicRE, []*string{&d.public}, "public URL"},
		{devAdminRE, []*string{&d.admin, &d.token}, "admin URL and token"},
		{devHubRE, []*string{&d.hub}, "dev hub URL"},
		{devAppRE, []*string{&d.app}, "legacy app URL"},
	} {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("hubgate dev printed no %s:\n%s", f.what, out)
		}
		for i, p := range f.dst {
			*p = m[i+1]
		}
	}
	for _, m := range devClaimRE.FindAllStringSubmatch(out, -1) {
		d.claims[m[1]] = m[2]
	}
	if d.claims["1"] == "" {
		t.Fatalf("hubgate dev printed no claim link for legacy person 1 (Alice):\n%s", out)
	}
	waitFor(t, "the admin listener to be ready", 20*time.Second, done, func() (string, bool) {
		resp, err := http.Get(d.admin + "/readyz")
		if err != nil {
			return err.Error(), false
		}
		resp.Body.Close()
		return resp.Status, resp.StatusCode == http.StatusOK
	})
	return d
}

// waitFor polls cond every 20 ms until it holds and returns its value. It
// fails the test when the time is up or when `hubgate dev` ended early.
func waitFor(t *testing.T, what string, d time.Duration, done <-chan error, cond func() (string, bool)) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v, ok := cond()
		if ok {
			return v
		}
		select {
		case err := <-done:
			t.Fatalf("waiting for %s: hubgate dev ended: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %v (last: %s)", what, d, tail(v, 2<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// walk drives one browser tab through steps with explicit waits. Every step
// has its own deadline within the test's, and a failing step fails the test
// with the page's address and text.
type walk struct {
	t        *testing.T
	tab      context.Context
	shots    *shots
	viewport chromedp.Action[chromedp.Void] // set by emulate; nil: the window's
}

// shots numbers and writes the screenshots of a test.
type shots struct {
	dir string
	mu  sync.Mutex // guards n
	n   int
}

// stepTimeout bounds one step (a navigation or a click and its wait).
const stepTimeout = 20 * time.Second

func newWalk(t *testing.T, ctx context.Context, chrome string) *walk {
	t.Helper()
	dir := os.Getenv("HUBGATE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder: %v", err)
	}
	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	tab, cancelTab := chromedp.NewContext(alloc)
	// Cleanups run last-in first-out: the browser is gone before the
	// profile folder is removed and before `hubgate dev` stops.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Run starts the browser and binds it to tab: it must not
	// get a step's timeout, or the browser would end with the step.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start Chromium %s: %v", chrome, err)
	}
	return &walk{t: t, tab: tab, shots: &shots{dir: dir}}
}

// incognito is a second tab in a fresh browser context: no cookies.
func (w *walk) incognito() *walk {
	w.t.Helper()
	tab, cancel := chromedp.NewContext(w.tab, chromedp.WithNewBrowserContext())
	w.t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		w.t.Fatalf("open an incognito tab: %v", err)
	}
	return &walk{t: w.t, tab: tab, shots: w.shots}
}

// do runs one step's actions within stepTimeout.
func (w *walk) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		w.fatal(what, err)
	}
}

// navigate opens url and waits until sel is visible.
func (w *walk) navigate(what, url, sel string) {
	w.t.Helper()
	w.do(what, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text is the visible text of the first element sel matches.
func (w *walk) text(what, sel string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		w.fatal(what, err)
	}
	return strings.TrimSpace(s)
}

// want fails unless sel's text is exactly text.
func (w *walk) want(what, sel, text string) {
	w.t.Helper()
	if got := w.text(what, sel); got != text {
		w.fatal(what, fmt.Errorf("%s reads %q; want %q", sel, got, text))
	}
}

// wantContains fails unless sel's text contains text.
func (w *walk) wantContains(what, sel, text string) {
	w.t.Helper()
	if got := w.text(what, sel); !strings.Contains(got, text) {
		w.fatal(what, fmt.Errorf("%s reads %q; want it to contain %q", sel, got, text))
	}
}

// wantURL fails unless the tab's address starts with prefix.
func (w *walk) wantURL(what, prefix string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		w.fatal(what, err)
	}
	if !strings.HasPrefix(loc, prefix) {
		w.fatal(what, fmt.Errorf("the page is %s; want %s…", loc, prefix))
	}
}

// shot writes a full-page PNG of the tab as NN-name.png.
func (w *walk) shot(name string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		w.fatal("screenshot "+name, err)
	}
	w.shots.mu.Lock()
	w.shots.n++
	path := filepath.Join(w.shots.dir, fmt.Sprintf("browser-%02d-%s.png", w.shots.n, name))
	w.shots.mu.Unlock()
	if err := os.WriteFile(path, png, 0o644); err != nil {
		w.t.Fatalf("write screenshot: %v", err)
	}
	w.t.Logf("screenshot %s", path)
}

// fatal fails the test at a step, with the page's address and text (read
// with a fresh deadline: the step's may be spent) and a screenshot.
func (w *walk) fatal(what string, err error) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if png, perr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); perr == nil {
		path := filepath.Join(w.shots.dir, "browser-failed.png")
		if os.WriteFile(path, png, 0o644) == nil {
			w.t.Logf("screenshot of the failure: %s", path)
		}
	}
	w.t.Fatalf("step %q: %v\npage: %s\ntext:\n%s", what, err, loc, tail(strings.TrimSpace(body), 4<<10))
}
