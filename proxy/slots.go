package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
)

// forward sends a request that passed the gate to the upstream. Every
// request is held to the same bounds, whatever it claims to be: its body is
// guarded against slow clients (guardBody), it waits for one of the
// upstream_max_conns slots, and its response is guarded against clients
// that stop reading (forwardGuarded). The one exception is a WebSocket once
// it is established: it may live for hours, so it gives its slot back when
// the upstream switches protocols (101). Until then a handshake is a request
// like any other, and a request that merely says "Connection: Upgrade"
// (with any Upgrade value, or without the handshake's headers) is not a
// handshake at all.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if !s.guardBody(w, r) {
		return
	}
	// Wait for an upstream slot before the reverse proxy clones the
	// request: a waiting request then holds a shallow stack and no copy.
	if !s.takeSlot(w, r) {
		return
	}
	if s.slots != nil && isWebSocket(r) {
		hold := &heldSlot{slots: s.slots}
		defer hold.release()
		r = r.WithContext(context.WithValue(r.Context(), heldSlotKey{}, hold))
	} else {
		defer s.releaseSlot()
	}
	s.forwardGuarded(w, r)
}

// heldSlot is the upstream slot of a WebSocket handshake, given back once:
// at the 101, or when the request ends without one.
type heldSlot struct {
	slots chan struct{}
	done  atomic.Bool // the slot was given back
}

type heldSlotKey struct{}

func (h *heldSlot) release() {
	if h.done.CompareAndSwap(false, true) {
		<-h.slots
	}
}

// switched is the reverse proxy's ModifyResponse: when the upstream accepts
// a WebSocket (101 Switching Protocols), the handshake's slot is given back
// before the connection is handed over to the long-lived copy.
func (s *Server) switched(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols && res.Request != nil {
		if h, ok := res.Request.Context().Value(heldSlotKey{}).(*heldSlot); ok {
			h.release()
		}
	}
	return nil
}

// isWebSocket reports whether r is a WebSocket opening handshake (RFC 6455
// §4.1): a GET without a body that asks to upgrade to "websocket" and
// carries Sec-WebSocket-Key and Sec-WebSocket-Version.
func isWebSocket(r *http.Request) bool {
	h := r.Header
	if r.Method != http.MethodGet || r.ContentLength != 0 || len(r.TransferEncoding) > 0 ||
		len(h["Upgrade"]) != 1 || !strings.EqualFold(strings.TrimSpace(h["Upgrade"][0]), "websocket") ||
		len(h["Sec-Websocket-Key"]) != 1 || h["Sec-Websocket-Key"][0] == "" || len(h["Sec-Websocket-Version"]) != 1 {
		return false
	}
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// takeSlot waits for an upstream slot when UpstreamMaxConns bounds them,
// and reports false when the client went away meanwhile; when it reports
// true, w's request is on its way to the upstream (forwarding). A slot
// free at once costs one channel send; only a request that has to wait is
// counted in hubgate_upstream_slots_waiting. Call releaseSlot when the
// request is done with the upstream.
func (s *Server) takeSlot(w http.ResponseWriter, r *http.Request) bool {
	// A body was read in part before (guardBody): the client's time.
	hasBody := r.Body != nil && r.Body != http.NoBody
	if s.slots == nil {
		forwarding(w, hasBody)
		return true
	}
	select {
	case s.slots <- struct{}{}:
		forwarding(w, hasBody)
		return true
	default:
	}
	s.metrics.waiting.Add(1)
	defer s.metrics.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		forwarding(w, true)
		return true
	case <-r.Context().Done():
		return false
	}
}

// releaseSlot gives back the slot takeSlot took.
func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}
