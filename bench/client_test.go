package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantKeep   bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\na\r\n0123456789\r\n0\r\nT: v\r\n\r\n", 200, true},
		{"redirect without body", "HTTP/1.1 302 Found\r\nLocation: /x\r\ncontent-length: 0\r\n\r\n", 302, true},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false},
		{"http/1.0 until EOF", "HTTP/1.0 200 OK\r\n\r\nbody", 200, false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, true},
	}
	const next = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if tt.wantKeep {
				raw += next // the next response must start where this one ended
			}
			br := bufio.NewReader(strings.NewReader(raw))
			status, keep, err := readResponse(br)
			if err != nil || status != tt.wantStatus || keep != tt.wantKeep {
				t.Fatalf("readResponse() = %d, %v, %v; want %d, %v, nil", status, keep, err, tt.wantStatus, tt.wantKeep)
			}
			if tt.wantKeep {
				if status, _, err := readResponse(br); err != nil || status != 201 {
					t.Errorf("next readResponse() = %d, %v; want 201, nil", status, err)
				}
			}
		})
	}
	for _, bad := range []string{"HTTP/1.1 2x0 OK\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readResponse(%q) = nil error; want one", bad)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(q.q)
		if diff := float64(got-q.want) / float64(q.want); diff < -0.01 || diff > 0.01 {
			t.Errorf("quantile(%v) = %v; want %v ± 1%%", q.q, got, q.want)
		}
	}
	for _, ns := range []uint64{0, 1, 127, 128, 255, 256, 1000, 1 << 20, 123456789, 1 << 39} {
		mid := bucketMid(bucketOf(ns))
		if d := float64(mid) - float64(ns); d < -float64(ns)/128-1 || d > float64(ns)/128+1 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d; want within 1/128", ns, mid)
		}
	}
	var empty histogram
	if got := empty.quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v; want 0", got)
	}
}

// TestRecordAllocs checks that the measuring loop's own work allocates
// nothing.
func TestRecordAllocs(t *testing.T) {
	var h histogram
	br := bufio.NewReader(strings.NewReader(""))
	resp := strings.Repeat("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody", 200)
	sr := strings.NewReader(resp)
	if n := testing.AllocsPerRun(100, func() {
		t0 := time.Now()
		h.record(time.Since(t0))
		sr.Reset(resp)
		br.Reset(sr)
		if _, _, err := readResponse(br); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("allocations per request = %v; want 0", n)
	}
}
