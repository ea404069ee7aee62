package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
