package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/proxy"
)

// bodyUpstream answers /len with the length of the body it read, and /slow
// likewise after 1.5 s (longer than the tests' BodyTimeout).
func bodyUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big": // 32 MiB
			chunk := bytes.Repeat([]byte("b"), 1<<20)
			w.Header().Set("Content-Length", strconv.Itoa(32<<20))
			for range 32 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case "/stream": // two parts 1 s apart, longer than BodyTimeout
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: a\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
			io.WriteString(w, "data: b\n\n")
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(1500 * time.Millisecond)
		}
		fmt.Fprintf(w, "len=%d te=%v cl=%d", n, r.TransferEncoding, r.ContentLength)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// trickle opens a connection, sends head, then body a byte every 100 ms
// until the server answers or hangs up; it returns the status (0: none)
// and how long the server let it go on.
func trickle(t *testing.T, addr, head string, body []byte, fast int) (int, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(body[:fast]); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := fast; ; i++ {
		select {
		case code := <-answered:
			return code, time.Since(start)
		case <-tick.C:
			if i < len(body) {
				_, _ = c.Write(body[i : i+1])
			}
			if time.Since(start) > 10*time.Second {
				t.Fatal("the server let a trickled body go on for 10 s")
			}
		}
	}
}

// TestForwardedBodyGuards: bodies forwarded to the upstream cannot be used
// to hold upstream slots (slowloris on the body), while normal bodies —
// small, chunked, large, and ones whose upstream answers slowly — pass.
func TestForwardedBodyGuards(t *testing.T) {
	up := bodyUpstream(t)
	e := newEnv(t, func(c *proxy.Config) {
		c.Upstream = up.URL
		c.BodyTimeout = 500 * time.Millisecond
		c.UpstreamMaxConns = 1
	})
	addr := e.addr()
	post := func(path, body string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("normal bodies pass", func(t *testing.T) {
		big := strings.Repeat("x", 3<<20)
		if code, got := post("/len", big); code != 200 || !strings.HasPrefix(got, "len="+strconv.Itoa(len(big))+" ") {
			t.Errorf("3 MiB upload = %d %q", code, got)
		}
		if code, got := post("/len", "a=1&b=2"); code != 200 || got != "len=7 te=[] cl=7" {
			t.Errorf("small form = %d %q; want len=7 with Content-Length", code, got)
		}
		// A chunked body that fits the pre-read reaches the upstream whole,
		// with a length.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/len", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "len=6 te=[] cl=6" {
			t.Errorf("small chunked body = %d %q; want len=6 with Content-Length", resp.StatusCode, b)
		}
		// The upstream may take longer than BodyTimeout to answer once
		// the body is in.
		if code, got := post("/slow", strings.Repeat("y", 100<<10)); code != 200 || !strings.HasPrefix(got, "len=102400") {
			t.Errorf("upload to a slow upstream = %d %q; want 200 after 1.5 s", code, got)
		}
	})

	t.Run("a small trickled body takes no slot and is cut", func(t *testing.T) {
		body := bytes.Repeat([]byte("z"), 1000)
		head := fmt.Sprintf("POST /len HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, len(body))
		done := make(chan struct{})
		var code int
		var took time.Duration
		go func() { defer close(done); code, took = trickle(t, addr, head, body, 1) }()
		time.Sleep(200 * time.Millisecond)
		// The only upstream slot is free: another client is served at once.
		start := time.Now()
		if code, got := post("/len", "ok"); code != 200 || time.Since(start) > 400*time.Millisecond {
			t.Errorf("request beside a trickling client = %d %q after %s; want 200 at once", code, got, time.Since(start))
		}
		<-done
		if code != http.StatusRequestTimeout || took > 2*time.Second {
			t.Errorf("trickled body answered %d after %s; want 408 after about BodyTimeout (500 ms)", code, took)
		}
	})

	t.Run("a large body that slows to a trickle is cut", func(t *testing.T) {
		body := bytes.Repeat([]byte("w"), 200<<10)
		head := fmt.Sprintf("POST /len HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, len(body))
		code, took := trickle(t, addr, head, body, 40<<10) // 40 KiB at once, then a byte every 100 ms
		// allowed: 500 ms + 40 KiB ÷ 16 KiB/s = 3 s
		if took < 2*time.Second || took > 5*time.Second || code == http.StatusOK {
			t.Errorf("large body slowing to a trickle: %d after %s; want cut (no 200) after about 3 s", code, took)
		}
		if code, got := post("/len", "after"); code != 200 {
			t.Errorf("request after the cut trickle = %d %q; want the slot free again", code, got)
		}
	})
}

// TestForwardedResponseGuards: a client that stops reading its response is
// cut after BodyTimeout and frees its upstream slot; a response that streams
// slowly on purpose is not cut.
func TestForwardedResponseGuards(t *testing.T) {
	up := bodyUpstream(t)
	e := newEnv(t, func(c *proxy.Config) {
		c.Upstream = up.URL
		c.BodyTimeout = 500 * time.Millisecond
		c.UpstreamMaxConns = 1
	})
	addr := e.addr()

	// A client asks for 32 MiB and reads nothing.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	time.Sleep(300 * time.Millisecond) // it holds the only slot now
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(e.srv.URL+"/len", "text/plain", strings.NewReader("next"))
	if err != nil {
		t.Fatalf("request behind a client that reads nothing: %v (the slot was never freed)", err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 200 || took > 3*time.Second {
		t.Errorf("request behind a client that reads nothing = %d after %s; want 200 once BodyTimeout cut it (~0.5 s)", resp.StatusCode, took)
	}

	// A slow stream (a part, 1 s of silence, a part) arrives whole.
	resp, err = http.Get(e.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "data: a\n\ndata: b\n\n" {
		t.Errorf("slow stream = %d %q; want both parts", resp.StatusCode, b)
	}

	// A normal large download is not cut, and the connection keeps
	// working for its next request (no deadline left behind).
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	resp, err = client.Get(e.srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 32<<20 {
		t.Errorf("32 MiB download: %d bytes, %v", n, err)
	}
	time.Sleep(700 * time.Millisecond) // longer than BodyTimeout, on the same keep-alive connection
	resp, err = client.Post(e.srv.URL+"/len", "text/plain", strings.NewReader("again"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "len=5") {
		t.Errorf("next request on the kept-alive connection = %d %q", resp.StatusCode, b)
	}
}
