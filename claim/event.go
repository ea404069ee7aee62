package claim

import (
	"strings"
	"time"
)

// Event is one entry of the audit log. It lives here because this
// package's rules produce most entries (links, claims) inside the stores'
// transactions, and claim may import only the standard library; the
// entries of the other domains (mode, directory, sessions) use the same
// type and the actions below.
type Event struct {
	Seq     uint64 // assigned by the store, increasing
	Time    time.Time
	Actor   string // who: "admin-api", "cli", "dashboard", "zaikio:<uuid>", "system"
	Action  string // what: one of the Action constants
	Subject string // on what: "person:42", "org:7", "mode", "directory", "zaikio:<uuid>"
	Detail  string // free text without secrets
}

// The actions of the audit log. They are stored with every entry and shown
// by the admin API and the dashboard, so their text never changes.
const (
	ActionLinkCreate    = "link.create"    // a link was written (LinkEvent)
	ActionLinkDelete    = "link.delete"    // a link was removed (UnlinkEvent)
	ActionClaimIssue    = "claim.issue"    // claims were minted (Service.Issue, IssueMany)
	ActionClaimRedeem   = "claim.redeem"   // a claim was consumed (Claim.Redeem)
	ActionClaimRevoke   = "claim.revoke"   // an operator revoked a claim (Claim.Revoke)
	ActionClaimRetire   = "claim.retire"   // linking retired the other open claims of a person or organization (Retire)
	ActionClaimsMail    = "claims.mail"    // an import mailed claim links
	ActionPeopleImport  = "people.import"  // the legacy directory was imported
	ActionModeSet       = "mode.set"       // the migration mode was switched
	ActionSessionRevoke = "session.revoke" // an operator revoked a person's sessions
	ActionMailWithheld  = "mail.withheld"  // a claim link was not mailed: its address is shared (MailWithheldEvent)
)

// subject names a legacy person or organization in the audit log:
// "person:42", "org:7".
func subject(kind Kind, legacyID string) string { return string(kind) + ":" + legacyID }

// LinkEvent is the audit entry for writing l.
func LinkEvent(l Link) Event {
	return Event{Time: l.CreatedAt, Actor: l.By, Action: ActionLinkCreate,
		Subject: subject(l.Kind, l.LegacyID), Detail: "zaikio " + l.ZaikioID + " via " + l.Via}
}

// UnlinkEvent is the audit entry for deleting l.
func UnlinkEvent(l Link, actor string, at time.Time) Event {
	return Event{Time: at, Actor: actor, Action: ActionLinkDelete,
		Subject: subject(l.Kind, l.LegacyID), Detail: "was zaikio " + l.ZaikioID}
}

// MailWithheldEvent is the audit entry for a claim link that was not mailed
// because its address belongs to more than one legacy person (holders, by
// id): whichever of them the link named, the others would receive it. The
// entry names the holders, never the address or a token. via says which
// sender withheld it ("send me my link", "import").
func MailWithheldEvent(holders []string, via, actor string, at time.Time) Event {
	return Event{Time: at, Actor: actor, Action: ActionMailWithheld, Subject: "directory",
		Detail: "claim link not mailed (" + via + "): the address belongs to legacy persons " + strings.Join(holders, ", ")}
}
