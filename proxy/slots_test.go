package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubgate/hubgate/proxy"
)

// TestUpstreamSlotsBoundConcurrencyButNotUpgrades: with one slot, two slow
// requests go to the upstream one after the other, while a WebSocket-style
// upgrade held open takes no slot at all.
func TestUpstreamSlotsBoundConcurrencyButNotUpgrades(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "websocket" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				<-release
				conn.Close()
			}
			return
		}
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		inFlight.Add(-1)
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = up.URL; c.UpstreamMaxConns = 1 })

	// An upgrade held open by the upstream.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("upgrade answered %q, %v; want 101", status, err)
	}

	done := make(chan int, 2)
	start := time.Now()
	for i := 0; i < 2; i++ {
		go func() {
			resp, err := http.Get(e.srv.URL + "/slow")
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case st := <-done:
			if st != http.StatusOK {
				t.Fatalf("slow request = %d; want 200 (the open upgrade must not hold the slot)", st)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("requests blocked: the open upgrade holds the only slot")
		}
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("upstream saw %d requests at once; want 1 (one slot)", p)
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("two 100 ms requests through one slot took %s; want ≥ 200 ms", d)
	}
}

// peakCounter counts requests in flight and remembers the most at once.
type peakCounter struct{ in, peak atomic.Int64 }

func (p *peakCounter) enter() {
	n := p.in.Add(1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			return
		}
	}
}

func (p *peakCounter) leave() { p.in.Add(-1) }

// statusLine sends raw on a new connection and returns the connection and
// the status code of the answer's first line (0: none within 5 s).
func statusLine(t *testing.T, addr, raw string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil, 0
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Error(err)
		return c, 0
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return c, 0
	}
	var code int
	_, _ = fmt.Sscanf(line, "HTTP/1.1 %d", &code)
	return c, code
}

// TestUpstreamSlotsHoldUpgradesUntilAccepted: with two upstream slots,
// requests that merely claim an upgrade ("Connection: Upgrade" with any
// Upgrade value) and WebSocket handshakes that the upstream does not accept
// take a slot like any request; an accepted WebSocket (101) takes one only
// until the 101, so that many can stay open at once. Before, any request
// with "Connection: Upgrade" and an Upgrade header skipped the slots: ten of
// them reached the upstream at once.
func TestUpstreamSlotsHoldUpgradesUntilAccepted(t *testing.T) {
	var fake, refused, pending peakCounter
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fake", "/ws-refused":
			c := map[string]*peakCounter{"/fake": &fake, "/ws-refused": &refused}[r.URL.Path]
			c.enter()
			time.Sleep(150 * time.Millisecond)
			c.leave()
			fmt.Fprint(w, "no upgrade here")
		case "/ws":
			pending.enter()
			time.Sleep(100 * time.Millisecond)
			pending.leave()
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				<-release
				conn.Close()
			}
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = up.URL; c.UpstreamMaxConns = 2 })
	addr := e.addr()
	const handshake = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	burst := func(n int, raw string, want int) []net.Conn {
		t.Helper()
		var wg sync.WaitGroup
		conns := make([]net.Conn, n)
		codes := make([]int, n)
		for i := range n {
			wg.Go(func() { conns[i], codes[i] = statusLine(t, addr, raw) })
		}
		wg.Wait()
		for i, c := range codes {
			if c != want {
				t.Errorf("request %d of %q… = %d; want %d", i, raw[:20], c, want)
			}
		}
		return conns
	}
	closeAll := func(conns []net.Conn) {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}

	closeAll(burst(10, "GET /fake HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", 200))
	closeAll(burst(6, "POST /fake HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a2V5\r\nContent-Length: 0\r\n\r\n", 200))
	if p := fake.peak.Load(); p > 2 {
		t.Errorf("%d fake upgrades reached the upstream at once; want at most 2 (the slots)", p)
	}
	closeAll(burst(10, "GET /ws-refused HTTP/1.1\r\nHost: x\r\n"+handshake+"\r\n", 200))
	if p := refused.peak.Load(); p > 2 {
		t.Errorf("%d WebSocket handshakes that the upstream answered 200 were there at once; want at most 2", p)
	}
	open := burst(6, "GET /ws HTTP/1.1\r\nHost: x\r\n"+handshake+"\r\n", 101)
	defer closeAll(open)
	if p := pending.peak.Load(); p > 2 {
		t.Errorf("%d WebSocket handshakes waited for the upstream at once; want at most 2", p)
	}
	// Six WebSockets are open on two slots: the slots are free again.
	if _, code := statusLine(t, addr, "GET /fake HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); code != 200 {
		t.Errorf("a request beside six open WebSockets = %d; want 200 (accepted WebSockets hold no slot)", code)
	}
}

// TestFakeUpgradeBodyGuarded: a request that claims an upgrade gets the
// body guard of every forwarded request: a body trickled by a client that
// says "Connection: Upgrade" is cut after BodyTimeout (before, it was
// forwarded unguarded and held its connection as long as the client
// pleased).
func TestFakeUpgradeBodyGuarded(t *testing.T) {
	up := bodyUpstream(t)
	e := newEnv(t, func(c *proxy.Config) {
		c.Upstream = up.URL
		c.BodyTimeout = 500 * time.Millisecond
		c.UpstreamMaxConns = 1
	})
	body := bytes.Repeat([]byte("z"), 1000)
	head := fmt.Sprintf("POST /len HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: x\r\nContent-Length: %d\r\n\r\n", e.addr(), len(body))
	code, took := trickle(t, e.addr(), head, body, 1)
	if code != http.StatusRequestTimeout || took > 2*time.Second {
		t.Errorf("trickled body with Connection: Upgrade answered %d after %s; want 408 after about BodyTimeout (500 ms)", code, took)
	}
}
