package proxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/zaikio"
)

// purpose says why a redirect flow runs.
type purpose string

const (
	purposeLogin       purpose = "login"
	purposeClaimPerson purpose = "claim-person"
	purposeClaimOrg    purpose = "claim-org"
)

// flowTTL bounds a redirect flow: state and verifier die after it.
const flowTTL = 10 * time.Minute

// flow is the content of the short-lived, encrypted flow cookie that binds a
// redirect flow to the browser that started it (RFC 6749 §10.12): the state,
// the PKCE verifier (RFC 7636), the purpose and the return path.
type flow struct {
	State    string  `json:"s"`
	Verifier string  `json:"v"`
	Purpose  purpose `json:"p"`
	Return   string  `json:"r,omitempty"`
	// Claim is the hex SHA-256 of the claim token a claim flow redeems; the
	// token itself never enters the flow.
	Claim string `json:"c,omitempty"`
	// Person is the Zaikio person that started an org-claim flow.
	Person string `json:"pe,omitempty"`
	// Name is the legacy person's name as whoami gave it, for the page
	// after a claim the directory cannot name (shown, never stored).
	Name    string `json:"n,omitempty"`
	Created int64  `json:"t"`
}

// newState returns 256 random bits, URL-safe.
func newState() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("proxy: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// flowCookieName names the flow cookie after a hash of its state, so that two
// flows in two tabs do not overwrite each other.
func (s *Server) flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return s.cookiePrefix + "hubgate_flow_" + hex.EncodeToString(sum[:6])
}

// startFlow stores f in a flow cookie and sends the browser to the hub. It
// spends one of the client's flow starts (given back when the flow's
// callback succeeds); a claim flow that gets here gives back the
// failed-claims token its handler spent: the claim start succeeded.
func (s *Server) startFlow(w http.ResponseWriter, r *http.Request, f flow, scopes []string, o zaikio.AuthOptions) error {
	key := s.clientKey(r)
	if !s.flowLimit.Allow(key) {
		return tooMany(w, "flow starts", key)
	}
	if f.Purpose != purposeLogin {
		s.claimLimit.Give(key)
	}
	f.State = newState()
	f.Verifier = zaikio.NewVerifier()
	f.Created = s.now().Unix()
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	name := s.flowCookieName(f.State)
	val, err := s.flowCodec.Encode(name, raw)
	if err != nil {
		return fmt.Errorf("encode flow cookie: %w", err)
	}
	if o.Lang == "" {
		o.Lang = langOf(r)
	}
	// Before the cookie: a provider that cannot be reached (discovery)
	// leaves no flow behind, and the start is given back.
	target, err := s.hub.AuthCodeURL(r.Context(), f.State, f.Verifier, scopes, o)
	if err != nil {
		s.flowLimit.Give(key)
		return err
	}
	s.expireOldFlows(w, r)
	http.SetCookie(w, s.cookie(name, val, flowTTL))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
	s.log.Info().Str("event", "flow.start").Str("purpose", string(f.Purpose)).Str("request_id", requestID(r)).Send()
	return nil
}

// maxFlows bounds the flow cookies one browser holds. Each is about 400
// bytes and lives flowTTL, so a person who clicks "sign in" again and again
// (or a page that sends the browser to our login many times) would otherwise
// grow the Cookie header past what the servers in front of us accept (nginx:
// 8 KiB), and the browser would be locked out until the flows expire.
const maxFlows = 4

// expireOldFlows deletes the oldest flow cookies of r so that, with the one
// being started, at most maxFlows remain. Browsers send the cookies of one
// path oldest first (RFC 6265 §5.4), so the flows kept are the newest tabs'.
func (s *Server) expireOldFlows(w http.ResponseWriter, r *http.Request) {
	prefix := s.cookiePrefix + "hubgate_flow_"
	var names []string
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.HasPrefix(name, prefix) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	for i := 0; i < len(names)-(maxFlows-1); i++ {
		http.SetCookie(w, s.cookie(names[i], "", -1))
	}
}

var (
	errNoFlow     = errors.New("proxy: no flow cookie for this state")
	errFlowReused = errors.New("proxy: state already used")
)

// takeFlow finds, checks and consumes the flow for the callback's state: the
// cookie must exist in this browser, decode under our secrets, carry exactly
// this state (constant-time compare), be younger than flowTTL, and the state
// must not have been used before (checked in the store, so it holds across
// replicas). The cookie is cleared whatever the outcome.
func (s *Server) takeFlow(ctx context.Context, w http.ResponseWriter, r *http.Request, state string) (flow, error) {
	if state == "" || len(state) > 128 {
		return flow{}, errNoFlow
	}
	name := s.flowCookieName(state)
	val := cookieValue(r, name)
	if val == "" {
		return flow{}, errNoFlow
	}
	http.SetCookie(w, s.cookie(name, "", -1))
	raw, err := s.flowCodec.Decode(name, val)
	if err != nil {
		return flow{}, fmt.Errorf("%w: %w", errNoFlow, err)
	}
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil {
		return flow{}, fmt.Errorf("%w: %w", errNoFlow, err)
	}
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return flow{}, fmt.Errorf("%w: state mismatch", errNoFlow)
	}
	if age := s.now().Sub(time.Unix(f.Created, 0)); age > flowTTL || age < -time.Minute {
		return flow{}, fmt.Errorf("%w: flow is %s old", errNoFlow, age.Round(time.Second))
	}
	sum := sha256.Sum256([]byte(state))
	first, err := s.store.FirstDelivery(ctx, "state:"+hex.EncodeToString(sum[:]), s.now().Add(flowTTL+time.Minute))
	if err != nil {
		return flow{}, fmt.Errorf("record state: %w", err)
	}
	if !first {
		return flow{}, errFlowReused
	}
	return f, nil
}
