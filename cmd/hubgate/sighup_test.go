package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubgate/hubgate/zaikio/devhub"
)

const sighupAdminToken = "sighup-test-admin-token-0123456789"

// sighupConfig is the config file of TestSIGHUPReloadsRolesAndPaths: the
// built-in dev hub, a bolt store, enforce mode, revalidation every second,
// and the given public paths and owner role mapping.
func sighupConfig(port, hubPort, adminPort int, upstream, db string, publicPaths []string, ownerRoles string) string {
	q := make([]string, len(publicPaths))
	for i, p := range publicPaths {
		q[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: "http://127.0.0.1:%d"
upstream: %q
mode: enforce
provider: {kind: dev, url: "http://127.0.0.1:%d"}
session: {secrets: ["c2lnaHVwLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGVzISEhIQ=="], revalidate: 1s}
store: "bolt://%s"
admin: {listen: "127.0.0.1:%d", token: %q}
legacy:
  login_paths: ["/login"]
  public_paths: [%s]
roles:
  owner: [%s]
  admin: [admin]
  member: [user]
log: {level: info}
`, port, port, upstream, hubPort, db, adminPort, sighupAdminToken, strings.Join(q, ", "), ownerRoles)
}

// sighupLogEvents returns the JSON log lines whose "event" is name.
func sighupLogEvents(log, name string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

// sighupUntil polls cond every 20 ms until it holds or d passes; it reports
// whether it held.
func sighupUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReloadsRolesAndPaths runs the real binary in enforce mode with a
// signed-in person (Frank, owner of the linked legacy org 100), rewrites
// its config file and sends SIGHUP: a path added to legacy.public_paths is
// served without a session at once, the new role mapping (owner →
// superadmin) reaches the upstream at the session's next revalidation, and
// the log says policy.reloaded with the new counts. A broken file on the
// next SIGHUP is logged as reload.failed and the running policy stays; a
// path taken out of public_paths needs a session again.
func TestSIGHUPReloadsRolesAndPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hubgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The legacy app echoes the identity headers it got.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := map[string]string{"path": r.URL.Path}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Hubgate-") {
				out[k] = strings.Join(v, ",")
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(up.Close)
	port, hubPort, adminPort := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	db := filepath.Join(dir, "hubgate.db")
	cfgPath := filepath.Join(dir, "hubgate.yaml")
	writeCfg := func(data string) {
		t.Helper()
		// Write then rename, as config management does: the reload never
		// reads a half-written file.
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(sighupConfig(port, hubPort, adminPort, up.URL, db, []string{"/assets/"}, "admin"))

	var stderr syncBuffer
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	hubBase := fmt.Sprintf("http://127.0.0.1:%d", hubPort)
	adminBase := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	for _, u := range []string{base + "/_hubgate/healthz", adminBase + "/healthz", hubBase + "/api/v1/jwt_public_keys"} {
		if !sighupUntil(15*time.Second, func() bool {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}) {
			t.Fatalf("hubgate did not answer %s:\n%s", u, stderr.String())
		}
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	anon := &http.Client{Timeout: 5 * time.Second, CheckRedirect: noRedirect}

	// Link Frank as legacy person 1 and Bounty Soap (he is its owner) as
	// legacy org 100, through the admin API.
	for _, l := range []struct{ kind, legacy, zaikio string }{
		{"persons", "1", devhub.FrankID}, {"orgs", "100", devhub.BountySoapID},
	} {
		body, _ := json.Marshal(map[string]string{"zaikio_id": l.zaikio})
		req, _ := http.NewRequest(http.MethodPut, adminBase+"/api/v1/links/"+l.kind+"/"+l.legacy, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sighupAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT /api/v1/links/%s/%s = %d: %s", l.kind, l.legacy, resp.StatusCode, msg)
		}
	}

	// Sign Frank in as a browser does: hubgate → the dev hub's chooser →
	// Frank's form → hubgate's callback.
	jar, _ := cookiejar.New(nil)
	frank := &http.Client{Jar: jar, Timeout: 5 * time.Second, CheckRedirect: noRedirect}
	step := func(c *http.Client, method, u string, form url.Values, want int) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d; want %d\n%.500s", method, u, resp.StatusCode, want, b)
		}
		return resp, string(b)
	}
	resp, _ := step(frank, http.MethodGet, base+"/_hubgate/login?rd=/", nil, http.StatusFound)
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, hubBase+"/oauth/authorize?") {
		t.Fatalf("sign-in goes to %q; want the dev hub's authorize page", authorize)
	}
	_, page := step(frank, http.MethodGet, authorize, nil, http.StatusOK)
	choice := url.Values{}
	for _, f := range strings.Split(page, "<form ")[1:] {
		if !strings.Contains(f, `name="person" value="`+devhub.FrankID+`"`) {
			continue
		}
		for _, h := range hiddenRE.FindAllStringSubmatch(f, -1) {
			choice.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
	}
	if choice.Get("state") == "" {
		t.Fatalf("the dev hub's page has no form for Frank:\n%s", page)
	}
	choice.Set("person", devhub.FrankID)
	resp, _ = step(frank, http.MethodPost, hubBase+"/oauth/authorize", choice, http.StatusFound)
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, base+"/_hubgate/callback?") {
		t.Fatalf("the dev hub sends us to %q; want hubgate's callback", callback)
	}
	step(frank, http.MethodGet, callback, nil, http.StatusFound)

	// upstreamSees requests path with c and returns the identity headers the
	// upstream got, or nil when hubgate did not forward the request.
	upstreamSees := func(c *http.Client, path string) (int, map[string]string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			return resp.StatusCode, nil
		}
		var h map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h["path"] != path {
			return resp.StatusCode, nil
		}
		return resp.StatusCode, h
	}
	refused := func(path string) bool {
		t.Helper()
		st, h := upstreamSees(anon, path)
		return h == nil && (st == http.StatusFound || st == http.StatusUnauthorized)
	}

	// Before: enforce, /reports/ needs a session, Frank's owner role maps to admin.
	if _, h := upstreamSees(frank, "/x"); h == nil || h["X-Hubgate-User"] != "1" || h["X-Hubgate-Roles"] != "100:admin" {
		t.Fatalf("signed in before the reload: upstream got %v; want user 1, roles 100:admin", h)
	}
	if !refused("/reports/q1") {
		t.Fatal("before the reload /reports/q1 reached the upstream without a session; want 302 or 401")
	}
	if !refused("/x") {
		t.Fatal("enforce: /x reached the upstream without a session")
	}
	if n := len(sighupLogEvents(stderr.String(), "policy.reloaded")); n != 0 {
		t.Fatalf("%d policy.reloaded lines before any SIGHUP", n)
	}

	// Reload: /reports/ becomes public, owner maps to superadmin.
	writeCfg(sighupConfig(port, hubPort, adminPort, up.URL, db, []string{"/assets/", "/reports/"}, "superadmin"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var anonHeaders map[string]string
	if !sighupUntil(3*time.Second, func() bool {
		_, anonHeaders = upstreamSees(anon, "/reports/q1")
		return anonHeaders != nil
	}) {
		t.Fatalf("/reports/q1 not served without a session within 3 s of SIGHUP:\n%s", stderr.String())
	}
	if anonHeaders["X-Hubgate-User"] != "" || anonHeaders["X-Hubgate-Mode"] != "enforce" {
		t.Errorf("public /reports/q1 without a session: upstream got %v; want no user and mode enforce", anonHeaders)
	}
	if !refused("/x") {
		t.Error("after the reload /x reaches the upstream without a session; only /reports/ became public")
	}
	if !refused("/reportsX") {
		t.Error("after the reload /reportsX reaches the upstream without a session; the rule is the prefix /reports/")
	}
	var ev map[string]any
	if !sighupUntil(2*time.Second, func() bool {
		evs := sighupLogEvents(stderr.String(), "policy.reloaded")
		if len(evs) > 0 {
			ev = evs[0]
		}
		return len(evs) == 1
	}) {
		t.Fatalf("the log has no single policy.reloaded line:\n%s", stderr.String())
	}
	if ev["public_paths"] != 2.0 || ev["login_paths"] != 1.0 || ev["roles"] != 3.0 {
		t.Errorf("policy.reloaded = %v; want public_paths 2, login_paths 1, roles 3", ev)
	}
	// The new mapping reaches the signed-in session at its next
	// revalidation (session.revalidate: 1s), never a mix of both.
	start := time.Now()
	var roles string
	if !sighupUntil(3*time.Second, func() bool {
		_, h := upstreamSees(frank, "/x")
		if h == nil {
			t.Fatalf("the signed-in session was refused after the reload")
		}
		roles = h["X-Hubgate-Roles"]
		if roles != "100:admin" && roles != "100:superadmin" {
			t.Fatalf("after the reload X-Hubgate-Roles = %q; want 100:admin until the revalidation, then 100:superadmin", roles)
		}
		return roles == "100:superadmin"
	}) {
		t.Fatalf("X-Hubgate-Roles still %q 3 s after SIGHUP with revalidate 1s; want 100:superadmin", roles)
	}
	t.Logf("new role mapping upstream %s after the public path", time.Since(start).Round(time.Millisecond))

	// A broken file: logged, and the running policy stays.
	writeCfg(sighupConfig(port, hubPort, adminPort, up.URL, db, []string{"/assets/"}, "admin") + "no_such_key: true\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !sighupUntil(3*time.Second, func() bool { return len(sighupLogEvents(stderr.String(), "reload.failed")) == 1 }) {
		t.Fatalf("no reload.failed line within 3 s of SIGHUP with a broken file:\n%s", stderr.String())
	}
	if f := sighupLogEvents(stderr.String(), "reload.failed")[0]; !strings.Contains(fmt.Sprint(f["error"]), "no_such_key") {
		t.Errorf("reload.failed = %v; want the error to name the bad key no_such_key", f)
	}
	if n := len(sighupLogEvents(stderr.String(), "policy.reloaded")); n != 1 {
		t.Errorf("%d policy.reloaded lines after the broken reload; want still 1", n)
	}
	if _, h := upstreamSees(anon, "/reports/q2"); h == nil {
		t.Error("after a failed reload /reports/q2 is no longer public; want the running policy kept")
	}
	if !refused("/x") {
		t.Error("after a failed reload /x reaches the upstream without a session")
	}
	if _, h := upstreamSees(frank, "/x"); h == nil || h["X-Hubgate-Roles"] != "100:superadmin" {
		t.Errorf("after a failed reload the signed-in session gets %v; want roles 100:superadmin kept", h)
	}
	// Alive: the process did not exit.
	select {
	case <-exited:
		t.Fatalf("hubgate exited after SIGHUP:\n%s", stderr.String())
	default:
	}

	// A good file again, without /reports/: it needs a session again.
	writeCfg(sighupConfig(port, hubPort, adminPort, up.URL, db, []string{"/assets/"}, "admin"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !sighupUntil(3*time.Second, func() bool { return refused("/reports/q3") }) {
		t.Fatal("/reports/q3 still served without a session 3 s after it left public_paths")
	}
	if _, h := upstreamSees(anon, "/assets/app.css"); h == nil {
		t.Error("/assets/app.css needs a session after the last reload; want it public")
	}
}
