package devop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// session is a provider session: one sign-in of a user, named by the sid
// claim of its ID tokens, with the clients that took part in it.
type session struct {
	sid, user string
	clients   []string
	started   time.Time
}

// Delivery is one back-channel logout request the provider sent.
type Delivery struct {
	Client    string
	URI       string
	Subject   string
	SessionID string
	Token     string // the logout_token sent
	Status    int    // the answer's HTTP status; 0 when none came
	Err       string // why the request failed, if it did
	At        time.Time
}

// BackchannelEvent is the events member that makes a JWT a logout token
// (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenTTL bounds a logout token's exp (Back-Channel Logout §2.4
// recommends at most two minutes).
const logoutTokenTTL = 2 * time.Minute

// Logout ends every session of user, as an administrator's "sign out
// everywhere" would: their refresh and access tokens stop working, and
// each client of those sessions with a BackchannelLogoutURI is sent a
// logout_token. It returns the deliveries' failures.
func (p *Provider) Logout(ctx context.Context, user string) error {
	return p.st.terminate(ctx, user, "")
}

// Deliveries returns the back-channel logout requests sent so far, oldest
// first.
func (p *Provider) Deliveries() []Delivery {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return slices.Clone(p.st.sent)
}

// notice is one logout token to send.
type notice struct{ client, uri, user, sid string }

// terminate ends the sessions of user (all of them, or only sid; with
// user "" the session sid whoever it belongs to), deletes their tokens and
// sends the back-channel logouts outside the lock.
func (s *storage) terminate(ctx context.Context, user, sid string) error {
	if user == "" && sid == "" {
		return nil // an end_session that names nobody ends nothing
	}
	var out []notice
	s.mu.Lock()
	for id, ss := range s.sessions {
		if (sid != "" && id != sid) || (user != "" && ss.user != user) {
			continue
		}
		delete(s.sessions, id)
		for tok, t := range s.refresh {
			if t.sid == id {
				delete(s.refresh, tok)
			}
		}
		for tid, t := range s.access {
			if t.sid == id {
				delete(s.access, tid)
			}
		}
		for _, c := range ss.clients {
			if uri := s.clients[c].BackchannelLogoutURI; uri != "" {
				out = append(out, notice{client: c, uri: uri, user: ss.user, sid: id})
			}
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, n := range out {
		d := s.deliver(ctx, n)
		s.mu.Lock()
		s.sent = append(s.sent, d)
		s.mu.Unlock()
		if d.Err != "" {
			errs = append(errs, fmt.Errorf("devop: back-channel logout to %s: %s", n.client, d.Err))
		}
	}
	return errors.Join(errs...)
}

// deliver POSTs one logout token (Back-Channel Logout §2.5): a form with
// logout_token; the relying party answers 200 (or 204).
func (s *storage) deliver(ctx context.Context, n notice) Delivery {
	d := Delivery{Client: n.client, URI: n.uri, Subject: n.user, SessionID: n.sid, At: time.Now()}
	now := time.Now()
	tok, err := s.key.sign(map[string]any{
		"iss": s.cfg.Issuer, "aud": n.client, "iat": now.Unix(), "exp": now.Add(logoutTokenTTL).Unix(),
		"jti": randomID(), "sub": n.user, "sid": n.sid,
		"events": map[string]any{BackchannelEvent: map[string]any{}},
	}, "logout+jwt")
	if err != nil {
		d.Err = err.Error()
		return d
	}
	d.Token = tok
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.uri,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		d.Err = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		d.Err = err.Error()
		return d
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	d.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		d.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return d
}
