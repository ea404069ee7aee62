package proxy

import "net/http"

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
