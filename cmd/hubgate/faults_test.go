package main

// Fault tests against the real wiring: the hubgate binary killed with
// SIGKILL in the middle of a bulk import (the store must reopen consistent),
// slow and oversized clients on both listeners (cut off by the timeouts and
// limits of the `timeouts:` config), and the split between the public and
// the admin listener.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/store/bolt"
)

const faultAdminToken = "fault-test-admin-token-0123456789"

// faultPort returns a free loopback TCP port.
func faultPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// faultSetup is one hubgate configuration on free ports.
type faultSetup struct {
	dir, cfgPath, db string
	public, admin    string // base URLs
}

// newFaultSetup writes a config for a bolt store in a temp dir, with the
// admin API on and the given extra YAML.
func newFaultSetup(t *testing.T, upstream, extra string) *faultSetup {
	t.Helper()
	dir := t.TempDir()
	pub, adm := faultPort(t), faultPort(t)
	s := &faultSetup{dir: dir, cfgPath: filepath.Join(dir, "hubgate.yaml"), db: filepath.Join(dir, "hubgate.db"),
		public: fmt.Sprintf("http://127.0.0.1:%d", pub), admin: fmt.Sprintf("http://127.0.0.1:%d", adm)}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: "http://127.0.0.1:%d"
upstream: %q
provider: {kind: zaikio, url: "http://127.0.0.1:1", client_id: fault, client_secret: fault}
session: {secrets: ["ZmF1bHQtdGVzdC1zZWNyZXQtb2YtMzItYnl0ZXMhISEhIQ=="]}
store: "bolt://%s"
admin: {listen: "127.0.0.1:%d", token: %q, debug: true}
log: {level: warn}
shutdown: {delay: 0s}
%s`, pub, pub, upstream, s.db, adm, faultAdminToken, extra)
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// faultWaitUp polls url until it answers.
func faultWaitUp(t *testing.T, url string, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hubgate did not come up at %s:\n%s", url, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// faultLog collects a child's stderr.
type faultLog struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *faultLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *faultLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultStartBinary runs `bin serve` on s and waits until the admin listener
// answers. The process is killed at cleanup if still running.
func faultStartBinary(t *testing.T, bin string, s *faultSetup) (*exec.Cmd, *faultLog) {
	t.Helper()
	var stderr faultLog
	cmd := exec.Command(bin, "serve", "--config", s.cfgPath)
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
	faultWaitUp(t, s.admin+"/healthz", &stderr)
	return cmd, &stderr
}

// faultAdminDo sends an authenticated admin request.
func faultAdminDo(client *http.Client, method, url, contentType string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+faultAdminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// faultImportChunk is one acknowledged import request: the claim URLs it issued.
type faultImportChunk struct {
	urls map[string]string // legacy id → claim URL
}

func faultUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// TestFaultKill9DuringBulkImport imports 10,000 legacy people through the
// admin API of the real binary (four clients, chunks of 250, manual links
// written alongside), kills the process with SIGKILL half-way, and checks
// the store file: it opens, bbolt's own consistency check passes, every
// acknowledged claim and link is there (bolt syncs each commit), every claim
// has its person and its hash index, every link both of its indexes, and the
// counts agree. Then hubgate restarts on the file and the import re-runs to
// completion.
func TestFaultKill9DuringBulkImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "hubgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	s := newFaultSetup(t, up.URL, "")
	cmd, stderr := faultStartBinary(t, bin, s)

	const people, chunk, clients = 10000, 250, 4
	ndjson := func(from, to int) []byte {
		var b bytes.Buffer
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, `{"id":"p%05d","email":"p%05d@legacy.example","name":"Person %d","orgs":["o%04d"]}`+"\n", i, i, i, i/10)
		}
		return b.Bytes()
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu     sync.Mutex
		acked  []faultImportChunk
		links  = map[string]string{} // acknowledged manual links: legacy → zaikio
		killed atomic.Bool
		sent   atomic.Int32
	)
	next := make(chan int, people/chunk)
	for i := 0; i < people; i += chunk {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range next {
				sent.Add(1)
				resp, body, err := faultAdminDo(client, "POST", s.admin+"/api/v1/claims/import?skip_linked=false", "application/x-ndjson", ndjson(from, from+chunk))
				if err != nil || resp.StatusCode != http.StatusOK {
					if !killed.Load() {
						t.Errorf("import chunk %d: %v %v %s", from, err, resp, body)
					}
					return
				}
				recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
				if err != nil || len(recs) != chunk+1 {
					t.Errorf("import chunk %d: %d records, %v", from, len(recs), err)
					return
				}
				ch := faultImportChunk{urls: map[string]string{}}
				for _, r := range recs[1:] {
					if r[3] != "issued" {
						t.Errorf("import chunk %d: row %v", from, r)
					}
					ch.urls[r[0]] = r[2]
				}
				// A manual link for one person of the chunk, alongside.
				legacy, zid := fmt.Sprintf("p%05d", from), faultUUID()
				lresp, lbody, err := faultAdminDo(client, "PUT", s.admin+"/api/v1/links/persons/"+legacy, "application/json", []byte(`{"zaikio_id":"`+zid+`"}`))
				mu.Lock()
				acked = append(acked, ch)
				if err == nil && lresp.StatusCode == http.StatusCreated {
					links[legacy] = zid
				} else if !killed.Load() {
					t.Errorf("link %s: %v %v %s", legacy, err, lresp, lbody)
				}
				mu.Unlock()
			}
		}()
	}
	// Kill once about half the chunks are acknowledged, while others are
	// in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= people/chunk/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d chunks acknowledged in 60 s\n%s", n, stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
	killed.Store(true)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mu.Lock()
	t.Logf("SIGKILL after %d of %d chunks acknowledged (%d sent), %d manual links acknowledged", len(acked), people/chunk, sent.Load(), len(links))
	if int(sent.Load()) <= len(acked) {
		t.Logf("no request was in flight at the kill (timing); the check still covers a crash between commits")
	}
	ackedNow, linksNow := append([]faultImportChunk(nil), acked...), make(map[string]string, len(links))
	for k, v := range links {
		linksNow[k] = v
	}
	mu.Unlock()
	// The process is gone; wait for the OS to release the file lock.
	for i := 0; ; i++ {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			break
		}
		if i > 500 {
			t.Fatal("hubgate survived SIGKILL")
		}
		time.Sleep(10 * time.Millisecond)
	}

	faultCheckStore(t, s.db, ackedNow, linksNow, 0)

	// Restart on the same file and run the whole import again.
	cmd2, stderr2 := faultStartBinary(t, bin, s)
	resp, body, err := faultAdminDo(client, "POST", s.admin+"/api/v1/claims/import", "application/x-ndjson", ndjson(0, people))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("re-run of the import: %v %v\n%s\n%s", err, resp, body, stderr2)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(recs) != people+1 {
		t.Fatalf("re-run: %d records, %v", len(recs), err)
	}
	issued, skipped := 0, 0
	for _, r := range recs[1:] {
		switch r[3] {
		case "issued":
			issued++
		case "skipped_linked":
			skipped++
			if _, ok := linksNow[r[0]]; !ok {
				// A link written by a request that was in flight at the
				// kill may have committed without its acknowledgement.
				t.Logf("re-run skipped %s as linked (link committed just before the kill)", r[0])
			}
		default:
			t.Errorf("re-run row %v", r)
		}
	}
	if issued+skipped != people || skipped < len(linksNow) {
		t.Errorf("re-run: %d issued, %d skipped as linked; want %d in all and at least the %d acknowledged links skipped", issued, skipped, people, len(linksNow))
	}
	if err := cmd2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := faultCheckStore(t, s.db, ackedNow, linksNow, people)
	if st.People != people {
		t.Errorf("after the re-run the directory has %d people; want %d", st.People, people)
	}
}

// faultCheckStore opens the store file (waiting for the lock) and
// checks it as described at TestFaultKill9DuringBulkImport. wantPeople > 0
// also wants every person to hold an open claim or a link.
func faultCheckStore(t *testing.T, path string, acked []faultImportChunk, links map[string]string, wantPeople int) claim.Stats {
	t.Helper()
	// bbolt's page-level check first, read-only.
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("the store does not open after the crash: %v", err)
	}
	err = raw.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	raw.Close()
	if err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}
	db, err := bolt.Open(path, bolt.Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("the store does not open after the crash: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Now()
	st, err := db.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := db.Claims(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	people, err := db.People(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != st.People {
		t.Errorf("Stats counts %d people, the directory lists %d", st.People, len(people))
	}
	if n := st.ClaimsTotal(); n != len(claims) {
		t.Errorf("Stats counts %d claims, the store lists %d", n, len(claims))
	}
	open := map[string]bool{}
	for _, c := range claims {
		if _, err := db.Person(ctx, c.LegacyID); err != nil {
			t.Errorf("claim %s for %s has no person in the directory: %v", c.ID, c.LegacyID, err)
		}
		byHash, err := db.ClaimByHash(ctx, c.Hash)
		if err != nil || byHash.ID != c.ID {
			t.Errorf("claim %s: hash index gives %q, %v", c.ID, byHash.ID, err)
		}
		if c.Status(now) == "open" {
			open[c.LegacyID] = true
		}
	}
	for _, ch := range acked {
		for legacy, u := range ch.urls {
			tok, err := claim.ParseToken(u[strings.LastIndex(u, "/")+1:])
			if err != nil {
				t.Fatalf("acknowledged claim URL %q: %v", u, err)
			}
			c, err := db.ClaimByHash(ctx, tok.Hash())
			if err != nil || c.LegacyID != legacy {
				t.Errorf("acknowledged claim for %s is missing after the crash: %+v, %v", legacy, c, err)
			}
		}
	}
	stored, err := db.Links(ctx, claim.KindPerson, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != st.LinkedPersons {
		t.Errorf("Stats counts %d links, the store lists %d", st.LinkedPersons, len(stored))
	}
	linked := map[string]bool{}
	for _, l := range stored {
		linked[l.LegacyID] = true
		back, err := db.LinkByZaikio(ctx, claim.KindPerson, l.ZaikioID)
		if err != nil || back.LegacyID != l.LegacyID {
			t.Errorf("link %s → %s: reverse index gives %q, %v", l.LegacyID, l.ZaikioID, back.LegacyID, err)
		}
	}
	for legacy, zid := range links {
		l, err := db.Link(ctx, claim.KindPerson, legacy)
		if err != nil || l.ZaikioID != zid {
			t.Errorf("acknowledged link %s → %s is missing after the crash: %+v, %v", legacy, zid, l, err)
		}
	}
	if wantPeople > 0 {
		for _, p := range people {
			if !open[p.ID] && !linked[p.ID] {
				t.Errorf("person %s has neither an open claim nor a link after the re-run", p.ID)
			}
		}
	}
	return st
}

// faultServe runs the real serve wiring in-process (runServe) with s's
// config until the test ends.
func faultServe(t *testing.T, s *faultSetup) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr faultLog
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--config", s.cfgPath}, func(string) string { return "" }, io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("serve did not stop")
		}
	})
	faultWaitUp(t, s.admin+"/healthz", &stderr)
	faultWaitUp(t, s.public+"/_hubgate/healthz", &stderr)
}

// faultSlowHeaders sends a request's headers one byte every interval and reports
// how long the server let it go on before closing the connection.
func faultSlowHeaders(t *testing.T, addr string, interval time.Duration) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c)
		closed <- time.Since(start)
	}()
	req := "GET /_hubgate/healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10000)
	for i := 0; i < len(req); i++ {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			break
		}
		select {
		case took := <-closed:
			return took
		case <-time.After(interval):
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s: a client sending a header byte every %s was not cut off in 20 s", addr, interval)
		}
	}
	return <-closed
}

// TestFaultSlowClientsAndHugeHeaders, against the real serve wiring with
// short timeouts: a slowloris client (headers a byte at a time) is cut off
// after timeouts.read_header on both listeners, and fifty of them do not
// keep anyone else out; headers over 64 KiB get 431; idle keep-alive
// connections close after timeouts.idle; a trickled form body is cut off
// after timeouts.body.
func TestFaultSlowClientsAndHugeHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "upstream") }))
	t.Cleanup(up.Close)
	s := newFaultSetup(t, up.URL, "mode: offer\nlegacy: {login_paths: [/login]}\ntimeouts: {read_header: 1s, idle: 1s, body: 1s}\n")
	faultServe(t, s)
	pubAddr, admAddr := strings.TrimPrefix(s.public, "http://"), strings.TrimPrefix(s.admin, "http://")

	for name, addr := range map[string]string{"public": pubAddr, "admin": admAddr} {
		if took := faultSlowHeaders(t, addr, 100*time.Millisecond); took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("%s listener cut a slowloris client off after %s; want about read_header (1s)", name, took)
		}
	}

	// Fifty slow clients at once; a normal request still gets through.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			faultSlowHeaders(t, pubAddr, 200*time.Millisecond)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	resp, err := http.Get(s.public + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || time.Since(start) > 3*time.Second {
		t.Errorf("GET /x during a slowloris attack = %d after %s", resp.StatusCode, time.Since(start))
	}
	wg.Wait()

	// Oversized headers.
	for name, base := range map[string]string{"public": s.public, "admin": s.admin} {
		req, _ := http.NewRequest(http.MethodGet, base+"/_hubgate/healthz", nil)
		req.Header.Set("X-Huge", strings.Repeat("a", 100<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s listener: 100 KiB of headers = %d; want 431", name, resp.StatusCode)
		}
	}

	// Idle keep-alive connections are closed after timeouts.idle.
	c, err := net.Dial("tcp", pubAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /_hubgate/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	r1, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, r1.Body)
	r1.Body.Close()
	start = time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the server sent bytes on an idle connection")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("idle keep-alive connection closed after %s; want about timeouts.idle (1s)", took)
	}

	// A form body trickled a byte at a time is cut off after timeouts.body.
	c2, err := net.Dial("tcp", pubAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "POST /_hubgate/continue-legacy HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n")
	start = time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c2)
		closed <- time.Since(start)
	}()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took > 3*time.Second {
				t.Errorf("trickled body cut off after %s; want about timeouts.body (1s)", took)
			}
			return
		case <-time.After(100 * time.Millisecond):
			if _, err := c2.Write([]byte("a")); err != nil {
				return
			}
			if i > 150 {
				t.Fatal("a body trickled for 15 s was not cut off")
			}
		}
	}
}

// TestSecurityAdminOnlyOnAdminListener, on the real wiring: metrics, the
// admin API and pprof answer on the admin listener (the API and pprof only
// with the token, compared in constant time: wrong tokens of every length,
// prefixes, extensions and case changes are refused); on the public
// listener those paths belong to the upstream (here: 404) or to hubgate's
// 404, whatever token is sent.
func TestSecurityAdminOnlyOnAdminListener(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	s := newFaultSetup(t, up.URL, "")
	faultServe(t, s)
	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/metrics", "/api/v1/mode", "/api/v1/stats", "/api/v1/claims", "/debug/pprof/", "/debug/pprof/cmdline", "/readyz", "/"} {
		for _, pre := range []string{"", "/_hubgate"} {
			code, body := get(s.public+pre+p, faultAdminToken)
			if code != http.StatusNotFound {
				t.Errorf("public GET %s%s = %d; want 404", pre, p, code)
			}
			for _, tell := range []string{"# HELP", "go_goroutines", "pprof", `"mode"`, "claims_open"} {
				if strings.Contains(body, tell) {
					t.Errorf("public GET %s%s answers admin data (%q)", pre, p, tell)
				}
			}
		}
	}
	if code, body := get(s.admin+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("admin GET /metrics = %d; want 200 with Prometheus metrics", code)
	}
	for _, p := range []string{"/api/v1/mode", "/debug/pprof/cmdline"} {
		if code, _ := get(s.admin+p, faultAdminToken); code != http.StatusOK {
			t.Errorf("admin GET %s with the token = %d; want 200", p, code)
		}
	}
	var wrong []string
	for n := 0; n <= 80; n++ {
		wrong = append(wrong, strings.Repeat("x", n))
		if n < len(faultAdminToken) {
			wrong = append(wrong, faultAdminToken[:n], faultAdminToken[:n]+strings.Repeat("x", len(faultAdminToken)-n))
		}
		if n > 0 && n <= 16 {
			wrong = append(wrong, faultAdminToken+strings.Repeat("x", n))
		}
	}
	wrong = append(wrong, strings.ToUpper(faultAdminToken), "Bearer "+faultAdminToken, faultAdminToken[1:]+"0")
	for _, tok := range wrong {
		if tok == faultAdminToken {
			continue
		}
		for _, p := range []string{"/api/v1/mode", "/debug/pprof/cmdline"} {
			if code, _ := get(s.admin+p, tok); code != http.StatusUnauthorized {
				t.Errorf("admin GET %s with a wrong token of %d bytes = %d; want 401", p, len(tok), code)
			}
		}
	}
}
