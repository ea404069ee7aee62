package proxy

import "net/http"

// takeSlot waits for an upstream slot when UpstreamMaxConns bounds them,
// and reports false when the client went away meanwhile. A slot free at
// once costs one channel send; only a request that has to wait is counted
// in hubgate_upstream_slots_waiting. Call releaseSlot when the request is
// done with the upstream.
func (s *Server) takeSlot(r *http.Request) bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	s.metrics.waiting.Add(1)
	defer s.metrics.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
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
