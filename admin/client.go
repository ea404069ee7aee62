package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hubgate/hubgate/claim"
)

// DefaultClientTimeout bounds one request of a Client whose Timeout is zero.
const DefaultClientTimeout = 60 * time.Second

// Client is a typed client of the admin API (the CLI's). Its zero value is
// not usable: BaseURL and Token must be set.
type Client struct {
	// BaseURL is the admin listener, e.g. "http://127.0.0.1:4181".
	BaseURL string
	// Token is the admin bearer token.
	Token string
	// Actor is sent as X-Hubgate-Actor for the audit log. Empty: none.
	Actor string
	// HTTPClient sends the requests. Nil: http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds each request, body included. Zero means
	// DefaultClientTimeout.
	Timeout time.Duration
}

// Error is an answer of the admin API other than success.
type Error struct {
	BaseURL string
	Status  int    // HTTP status
	Code    string // the API's error code: "invalid", "not_found", "conflict", "unauthorized", …
	Message string
	Field   string // for "invalid": the field at fault
}

func (e *Error) Error() string {
	return fmt.Sprintf("admin API at %s: %d %s: %s", e.BaseURL, e.Status, strings.ToLower(http.StatusText(e.Status)), e.Message)
}

// Is lets errors.Is(err, claim.ErrNotFound) and friends work on API errors,
// by their code.
func (e *Error) Is(target error) bool {
	switch target {
	case claim.ErrNotFound:
		return e.Code == "not_found"
	case claim.ErrConflict:
		return e.Code == "conflict"
	case claim.ErrUsed:
		return e.Code == "used"
	case claim.ErrInvalid:
		return e.Code == "invalid"
	}
	return false
}

// do sends one request and decodes a JSON answer into out (nil: none). A
// status other than 2xx becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string, out any) error {
	_, err := c.send(ctx, method, path, query, body, contentType, func(resp *http.Response) error {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("admin API at %s: %s %s: decode answer: %w", c.BaseURL, method, path, err)
		}
		return nil
	})
	return err
}

// send makes the request and hands a successful answer to read.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string, read func(*http.Response) error) (int, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultClientTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, fmt.Errorf("admin API at %s: %w", c.BaseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Actor != "" {
		req.Header.Set(ActorHeader, c.Actor)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in our prefix already
		}
		return 0, fmt.Errorf("admin API at %s: %s %s: %w", c.BaseURL, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, c.apiError(resp)
	}
	return resp.StatusCode, read(resp)
}

// apiError reads an error answer: the API's JSON, or the start of whatever a
// proxy in between said.
func (c *Client) apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{BaseURL: c.BaseURL, Status: resp.StatusCode}
	var body errorBody
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Code, e.Message, e.Field = body.Error, body.Message, body.Field
		return e
	}
	text := strings.TrimSpace(string(b))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" {
		text = "(no message)"
	}
	e.Message = text
	return e
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// Issue mints one claim. The answer's URL holds the token: show it once.
func (c *Client) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	var out Issued
	body, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/api/v1/claims", nil, body, "application/json", &out)
	return out, err
}

// ImportOptions tune an import.
type ImportOptions struct {
	// TTL of the claims, as ParseTTL reads it. Empty: the server's.
	TTL string
	// IncludeLinked issues claims to people who are already linked too
	// (skip_linked=false). False: they are skipped.
	IncludeLinked bool
	// Send mails each issued link to its person (send=true); the results
	// then carry the Mail column. The server must have claims.smtp.
	Send bool
	// Lang is the language of the mails, "en" or "de". Empty: the server's
	// default (en). Only with Send.
	Lang string
}

// ImportRows sends good rows (as NDJSON, keeping their line numbers) and
// returns one result per row, in order.
func (c *Client) ImportRows(ctx context.Context, rows []Row, opt ImportOptions) ([]ImportResult, error) {
	var buf bytes.Buffer
	if err := writeNDJSON(&buf, rows); err != nil {
		return nil, err
	}
	q := url.Values{}
	if opt.TTL != "" {
		q.Set("ttl", opt.TTL)
	}
	if opt.IncludeLinked {
		q.Set("skip_linked", "false")
	}
	if opt.Send {
		q.Set("send", "true")
		if opt.Lang != "" {
			q.Set("lang", opt.Lang)
		}
	}
	var out []ImportResult
	const path = "/api/v1/claims/import"
	_, err := c.send(ctx, http.MethodPost, path, q, &buf, NDJSON.ContentType(), func(resp *http.Response) error {
		var err error
		out, err = readImportResults(resp.Body)
		if err != nil {
			return fmt.Errorf("admin API at %s: POST %s: %w", c.BaseURL, path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) != len(rows) {
		return out, fmt.Errorf("admin API at %s: POST %s: %d results for %d rows", c.BaseURL, path, len(out), len(rows))
	}
	return out, nil
}

// readImportResults reads the CSV answer of an import: columns
// id,email,url,status, and mail when the import sent mails.
func readImportResults(r io.Reader) ([]ImportResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every record as wide as the header
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read CSV answer: %w", err)
	}
	base := strings.Join(ImportHeader, ",")
	var header string
	if len(recs) > 0 {
		header = strings.Join(recs[0], ",")
	}
	withMail := header == base+","+MailColumn
	if header != base && !withMail {
		return nil, fmt.Errorf("read CSV answer: header %q, want %s[,%s]", header, base, MailColumn)
	}
	out := make([]ImportResult, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		res := ImportResult{ID: rec[0], Email: rec[1], URL: rec[2], Status: rec[3]}
		if withMail {
			res.Mail = rec[4]
		}
		out = append(out, res)
	}
	return out, nil
}

func page(after string, limit int) url.Values {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Claims lists claims by id after `after`, at most limit (0: the server's
// default).
func (c *Client) Claims(ctx context.Context, after string, limit int) (ClaimPage, error) {
	var out ClaimPage
	err := c.do(ctx, http.MethodGet, "/api/v1/claims", page(after, limit), nil, "", &out)
	return out, err
}

// Claim shows one claim.
func (c *Client) Claim(ctx context.Context, id string) (Claim, error) {
	var out Claim
	err := c.do(ctx, http.MethodGet, "/api/v1/claims/"+url.PathEscape(id), nil, nil, "", &out)
	return out, err
}

// Revoke revokes an unused claim.
func (c *Client) Revoke(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/claims/"+url.PathEscape(id), nil, nil, "", nil)
}

func linksPath(kind claim.Kind) string {
	if kind == claim.KindOrg {
		return "/api/v1/links/orgs"
	}
	return "/api/v1/links/persons"
}

// Links lists links of kind by legacy id after `after`, at most limit (0:
// the server's default).
func (c *Client) Links(ctx context.Context, kind claim.Kind, after string, limit int) (LinkPage, error) {
	var out LinkPage
	err := c.do(ctx, http.MethodGet, linksPath(kind), page(after, limit), nil, "", &out)
	return out, err
}

// Link shows the link holding a legacy id.
func (c *Client) Link(ctx context.Context, kind claim.Kind, legacyID string) (Link, error) {
	var out Link
	err := c.do(ctx, http.MethodGet, linksPath(kind)+"/"+url.PathEscape(legacyID), nil, nil, "", &out)
	return out, err
}

// SetLink links legacyID to zaikioID by hand. created is false when exactly
// this link existed already.
func (c *Client) SetLink(ctx context.Context, kind claim.Kind, legacyID, zaikioID string) (l Link, created bool, err error) {
	body, err := jsonBody(LinkRequest{ZaikioID: zaikioID})
	if err != nil {
		return l, false, err
	}
	status, err := c.send(ctx, http.MethodPut, linksPath(kind)+"/"+url.PathEscape(legacyID), nil, body, "application/json",
		func(resp *http.Response) error { return json.NewDecoder(resp.Body).Decode(&l) })
	return l, status == http.StatusCreated, err
}

// Unlink removes the link holding a legacy id and returns it.
func (c *Client) Unlink(ctx context.Context, kind claim.Kind, legacyID string) (Link, error) {
	var out Link
	err := c.do(ctx, http.MethodDelete, linksPath(kind)+"/"+url.PathEscape(legacyID), nil, nil, "", &out)
	return out, err
}

// Mode returns the mode in force and the default.
func (c *Client) Mode(ctx context.Context) (Mode, error) {
	var out Mode
	err := c.do(ctx, http.MethodGet, "/api/v1/mode", nil, nil, "", &out)
	return out, err
}

// SetMode switches the mode.
func (c *Client) SetMode(ctx context.Context, mode string) (Mode, error) {
	var out Mode
	body, err := jsonBody(Mode{Mode: mode})
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPut, "/api/v1/mode", nil, body, "application/json", &out)
	return out, err
}

// Stats returns the migration's counts.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	err := c.do(ctx, http.MethodGet, "/api/v1/stats", nil, nil, "", &out)
	return out, err
}

// Events lists audit events newest first with Seq < before (0: from the
// newest), at most limit (0: the server's default).
func (c *Client) Events(ctx context.Context, before uint64, limit int) (EventPage, error) {
	var out EventPage
	q := page("", limit)
	if before > 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/audit", q, nil, "", &out)
	return out, err
}

// EndSessions ends every session of a Zaikio person.
func (c *Client) EndSessions(ctx context.Context, zaikioPerson string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(zaikioPerson), nil, nil, "", nil)
}

// Readiness returns who signed in the old way in the last days days (0: the
// server's default, 30) and is not linked: the people enforce would lock
// out.
func (c *Client) Readiness(ctx context.Context, days int) (Readiness, error) {
	var out Readiness
	var q url.Values
	if days > 0 {
		q = url.Values{"days": {strconv.Itoa(days)}}
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/readiness", q, nil, "", &out)
	return out, err
}

// MailReadiness mails the people of the readiness list (req.LegacyIDs of
// it, or all) a new claim link each.
func (c *Client) MailReadiness(ctx context.Context, req ReadinessMailRequest) (ReadinessMailed, error) {
	var out ReadinessMailed
	body, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/api/v1/readiness/mail", nil, body, "application/json", &out)
	return out, err
}
