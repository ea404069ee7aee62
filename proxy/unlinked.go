package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/zaikio"
)

// applyUnlinked applies the unlinked policy after a sign-in. It returns the
// person to sign in, or nil when it has answered the request itself (a
// redirect to the "no account" page, noAccountPage).
func (s *Server) applyUnlinked(ctx context.Context, w http.ResponseWriter, r *http.Request, p *zaikio.Person, tok *zaikio.Token) (*zaikio.Person, error) {
	_, err := s.store.LinkByZaikio(ctx, claim.KindPerson, p.ID)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, claim.ErrNotFound) {
		return nil, err
	}
	s.metrics.unlinked.WithLabelValues(string(s.cfg.Unlinked)).Inc()
	switch s.cfg.Unlinked {
	case UnlinkedPass:
		return p, nil
	case UnlinkedProvision:
		if err := s.provision(ctx, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	// deny: no session. Tell the person how to link their account.
	s.revokeQuietly(tok.AccessToken)
	s.log.Info().Str("event", "login.unlinked").Str("person", p.ID).Str("request_id", requestID(r)).Send()
	s.showDone(w, r, done{Page: pageNoAccount, ZaikioID: p.ID, ZaikioName: p.DisplayName(), ZaikioEmail: p.Email})
	return nil, nil
}

// provision asks the legacy app to create an account for p: POST
// ProvisionURL with {"zaikio_person","email","first_name","name","full_name",
// "locale"}; the answer (200 or 201) is {"id": "<legacy id>"}. The link is
// then written like any other (unique both ways, audited).
func (s *Server) provision(ctx context.Context, p *zaikio.Person) error {
	body, _ := json.Marshal(map[string]string{
		"zaikio_person": p.ID, "email": p.Email, "first_name": p.FirstName, "name": p.Name,
		"full_name": p.DisplayName(), "locale": p.Locale,
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := s.cfg.ProvisionURL
	if strings.HasPrefix(u, "/") {
		u = s.upstream.ResolveReference(mustURL(u)).String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderPerson, p.ID)
	resp, err := s.proxy.Transport.RoundTrip(req)
	if err != nil {
		return &pageError{status: http.StatusBadGateway, key: "provision_failed", err: fmt.Errorf("provision: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return &pageError{status: http.StatusBadGateway, key: "provision_failed", err: fmt.Errorf("provision answered %d", resp.StatusCode)}
	}
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil {
		return &pageError{status: http.StatusBadGateway, key: "provision_failed", err: fmt.Errorf("provision: decode: %w", err)}
	}
	legacyID := strings.Trim(string(v.ID), `"`)
	if !claim.ValidLegacyID(legacyID) {
		return &pageError{status: http.StatusBadGateway, key: "provision_failed", err: fmt.Errorf("provision: id %s does not fit [A-Za-z0-9._@-]{1,128}", v.ID)}
	}
	l := claim.Link{Kind: claim.KindPerson, LegacyID: legacyID, ZaikioID: p.ID, CreatedAt: s.now().UTC(), Via: "provision", By: "provision"}
	if err := s.store.PutLink(ctx, l); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	s.log.Info().Str("event", "provisioned").Str("person", p.ID).Str("user", legacyID).Send()
	return nil
}

// mustURL parses a URL that config validation has already checked.
func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic("proxy: " + err.Error())
	}
	return u
}
