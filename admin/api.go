package admin

import (
	"time"

	"github.com/hubgate/hubgate/claim"
)

// The JSON shapes of the admin API, shared by the handlers and [Client].
// Times are RFC 3339 in UTC; a time that has not happened is null.

// IssueRequest is the body of POST /api/v1/claims.
type IssueRequest struct {
	Kind     string `json:"kind"`              // "person" or "org"
	LegacyID string `json:"legacy_id"`         // the legacy person or organization
	Email    string `json:"email,omitempty"`   // person claims: where the link goes; "" = the directory's
	Claimer  string `json:"claimer,omitempty"` // org claims: the only legacy person who may claim; "" = any linked admin
	TTL      string `json:"ttl,omitempty"`     // a Go duration or whole days ("14d"); "" = the configured TTL
	// Force issues a claim for a legacy id the directory does not hold
	// (a person not imported yet, an organization no imported person
	// owns); without it such a request is refused (422 unknown_legacy_id).
	Force bool `json:"force,omitempty"`
}

// Issued answers POST /api/v1/claims. URL holds the claim's token and exists
// only in this answer.
type Issued struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Claim is a stored claim as the API shows it: never its hash or token.
type Claim struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	LegacyID  string     `json:"legacy_id"`
	Claimer   string     `json:"claimer"`
	Email     string     `json:"email"`
	Status    string     `json:"status"` // open, used, revoked, retired (its legacy end is linked) or expired
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at"`
	UsedBy    string     `json:"used_by"`
	RevokedAt *time.Time `json:"revoked_at"`
	RetiredAt *time.Time `json:"retired_at"`
	CreatedBy string     `json:"created_by"`
}

// ClaimPage answers GET /api/v1/claims. Next is the `after` of the next page,
// "" when this is the last.
type ClaimPage struct {
	Claims []Claim `json:"claims"`
	Next   string  `json:"next"`
}

// Link is a stored link.
type Link struct {
	Kind      string    `json:"kind"`
	LegacyID  string    `json:"legacy_id"`
	ZaikioID  string    `json:"zaikio_id"`
	CreatedAt time.Time `json:"created_at"`
	Via       string    `json:"via"` // "claim:<id>", "admin", "provision"
	By        string    `json:"by"`
}

// LinkPage answers GET /api/v1/links/persons and /orgs.
type LinkPage struct {
	Links []Link `json:"links"`
	Next  string `json:"next"`
}

// LinkRequest is the body of PUT /api/v1/links/{persons|orgs}/{legacy_id}.
type LinkRequest struct {
	ZaikioID string `json:"zaikio_id"`
}

// Mode answers GET and PUT /api/v1/mode; PUT takes {"mode": …}.
type Mode struct {
	Mode    string `json:"mode"`
	Default string `json:"default,omitempty"`
}

// Stats answers GET /api/v1/stats: the counts, how far the migration has
// come in percent, and the links written on each of the last 30 days.
type Stats struct {
	claim.Stats
	Percent    Percent    `json:"percent"`
	LinksByDay []DayLinks `json:"links_by_day"`
}

// Percent are shares in percent, one decimal: linked persons of the
// directory's people, linked organizations of its organizations, and used
// claims of all claims. Zero when the whole is zero.
type Percent struct {
	PersonsLinked float64 `json:"persons_linked"`
	OrgsLinked    float64 `json:"orgs_linked"`
	ClaimsUsed    float64 `json:"claims_used"`
}

// DayLinks counts the links created on one UTC day.
type DayLinks struct {
	Date    string `json:"date"` // 2006-01-02
	Persons int    `json:"persons"`
	Orgs    int    `json:"orgs"`
}

// Event is an audit log entry.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Detail  string    `json:"detail"`
}

// EventPage answers GET /api/v1/audit, newest first. Next is the `before` of
// the next (older) page, 0 when this is the last.
type EventPage struct {
	Events []Event `json:"events"`
	Next   uint64  `json:"next"`
}

// ImportResult is one row of the CSV that answers POST /api/v1/claims/import
// (columns id,email,url,status, and mail with send=true). Status is
// "issued", "skipped_linked" or "error: <reason>"; URL is set only when
// issued. Mail is empty without send=true, else one of MailSent,
// MailSkippedNoEmail, MailSkippedSharedEmail, MailNotSent or
// MailFailedPrefix + reason.
type ImportResult struct {
	ID     string
	Email  string
	URL    string
	Status string
	Mail   string
}

// Import statuses.
const (
	StatusIssued        = "issued"
	StatusSkippedLinked = "skipped_linked"
	statusErrorPrefix   = "error: "
)

// ImportHeader is the header row of the import answer; with send=true
// MailColumn follows.
var ImportHeader = []string{"id", "email", "url", "status"}

func claimJSON(c claim.Claim, now time.Time) Claim {
	return Claim{
		ID: c.ID, Kind: string(c.Kind), LegacyID: c.LegacyID, Claimer: c.Claimer, Email: c.Email,
		Status: c.Status(now), CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
		UsedAt: optTime(c.UsedAt), UsedBy: c.UsedBy, RevokedAt: optTime(c.RevokedAt), RetiredAt: optTime(c.RetiredAt),
		CreatedBy: c.CreatedBy,
	}
}

func linkJSON(l claim.Link) Link {
	return Link{Kind: string(l.Kind), LegacyID: l.LegacyID, ZaikioID: l.ZaikioID,
		CreatedAt: l.CreatedAt.UTC(), Via: l.Via, By: l.By}
}

func eventJSON(e claim.Event) Event {
	return Event{Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
