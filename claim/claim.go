package claim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sentinel errors. Stores and the [Service] wrap them with detail; callers
// test with errors.Is and map them to pages and statuses.
var (
	// ErrNotFound: no such claim, link or legacy person (or a malformed token).
	ErrNotFound = errors.New("claim: not found")
	// ErrExpired: the claim's expiry has passed.
	ErrExpired = errors.New("claim: expired")
	// ErrUsed: the claim was already redeemed.
	ErrUsed = errors.New("claim: already used")
	// ErrRevoked: an operator revoked the claim.
	ErrRevoked = errors.New("claim: revoked")
	// ErrRetired: the claim's legacy person or organization was linked
	// (by another claim, by an operator, by provisioning), which retired
	// its other open claims: it has nothing left to link.
	ErrRetired = errors.New("claim: retired: the account is linked")
	// ErrConflict: one end of the link is already linked to something else.
	ErrConflict = errors.New("claim: already linked to another account")
	// ErrForbidden: the redeemer is not allowed to redeem this claim (not linked
	// yet, not the named claimer, or not owner/admin of the organization).
	ErrForbidden = errors.New("claim: not allowed")
	// ErrInvalid: a request that breaks the rules of its shape (bad legacy id,
	// unknown kind, …).
	ErrInvalid = errors.New("claim: invalid")
)

// Kind says what a claim or link is about.
type Kind string

// The two kinds of things that are claimed and linked.
const (
	KindPerson Kind = "person"
	KindOrg    Kind = "org"
)

// ParseKind accepts "person" and "org" (also "organization").
func ParseKind(s string) (Kind, error) {
	switch s {
	case "person":
		return KindPerson, nil
	case "org", "organization":
		return KindOrg, nil
	}
	return "", fmt.Errorf("%w: kind %q, want person or org", ErrInvalid, s)
}

// DefaultTTL is how long a claim stays valid when nothing else is said: 14 days.
const DefaultTTL = 14 * 24 * time.Hour

// AdminRoles are the Zaikio membership roles that administer an organization;
// only their holders may claim it.
var AdminRoles = []string{"owner", "admin"}

// Claim is a stored claim: everything about a token except the token.
type Claim struct {
	ID        string // public id, grants nothing
	Hash      Hash   // SHA-256 of the token
	Kind      Kind
	LegacyID  string // the legacy person or organization being claimed
	Claimer   string // org claims: the legacy person allowed to claim; "" = any linked admin
	Email     string // where the link was (or may be) sent; informational only
	CreatedBy string // actor that minted it
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
	UsedBy    string    // Zaikio id it was redeemed for
	RevokedAt time.Time // zero unless revoked
	RetiredAt time.Time // zero unless retired: its legacy end was linked while it was open
}

// Status names the claim's state at now: "open", "used", "revoked",
// "retired" or "expired".
func (c Claim) Status(now time.Time) string {
	switch {
	case !c.UsedAt.IsZero():
		return "used"
	case !c.RevokedAt.IsZero():
		return "revoked"
	case !c.RetiredAt.IsZero():
		return "retired"
	case !now.Before(c.ExpiresAt):
		return "expired"
	}
	return "open"
}

// Usable reports why the claim cannot be redeemed at now, or nil if it can.
func (c Claim) Usable(now time.Time) error {
	switch {
	case !c.UsedAt.IsZero():
		return fmt.Errorf("%w: claim %s was redeemed at %s", ErrUsed, c.ID, c.UsedAt.UTC().Format(time.RFC3339))
	case !c.RevokedAt.IsZero():
		return fmt.Errorf("%w: claim %s", ErrRevoked, c.ID)
	case !c.RetiredAt.IsZero():
		return fmt.Errorf("%w: claim %s was retired at %s", ErrRetired, c.ID, c.RetiredAt.UTC().Format(time.RFC3339))
	case !now.Before(c.ExpiresAt):
		return fmt.Errorf("%w: claim %s expired at %s", ErrExpired, c.ID, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// Redemption is one attempt to redeem a claim after a successful Zaikio flow.
type Redemption struct {
	Hash     Hash
	Kind     Kind     // the kind of flow that ran; must match the claim's
	ZaikioID string   // the Zaikio person (or organization) the flow returned
	Claimer  string   // org claims: the legacy person id linked to the acting Zaikio person; "" if none
	Roles    []string // org claims: the acting person's roles in the chosen Zaikio organization
	Actor    string   // for the audit log, e.g. "zaikio:<uuid>"
	// ZaikioName is the Zaikio person's or organization's display name as
	// the hub named it, for the audit log only (never for identity).
	ZaikioName string
	At         time.Time
}

// Check applies the redemption rules to c: usable at r.At, the right kind, and
// for organizations a linked claimer who is the named one (if any) and holds
// owner or admin. Stores call it inside the redeeming transaction.
func (c Claim) Check(r Redemption) error {
	if err := c.Usable(r.At); err != nil {
		return err
	}
	if r.Kind != c.Kind {
		return fmt.Errorf("%w: a %s flow cannot redeem a %s claim", ErrInvalid, r.Kind, c.Kind)
	}
	if !ValidZaikioID(r.ZaikioID) {
		return fmt.Errorf("%w: zaikio id %q", ErrInvalid, r.ZaikioID)
	}
	if c.Kind != KindOrg {
		return nil
	}
	if r.Claimer == "" {
		return fmt.Errorf("%w: the claimer has not linked their own account yet", ErrForbidden)
	}
	if c.Claimer != "" && c.Claimer != r.Claimer {
		return fmt.Errorf("%w: claim %s is for legacy person %s, not %s", ErrForbidden, c.ID, c.Claimer, r.Claimer)
	}
	if !Administers(r.Roles) {
		return fmt.Errorf("%w: roles %v include neither owner nor admin", ErrForbidden, r.Roles)
	}
	return nil
}

// Redeemed is what redeeming a claim changes, as [Claim.Redeem] decided it.
// Stores write it in the redeeming transaction.
type Redeemed struct {
	// Claim is the claim marked used: UsedAt = r.At (UTC), UsedBy = r.ZaikioID.
	Claim Claim
	// Link is the link the claim makes, to be written after CheckLink as
	// any link is; when exactly it is stored already, the claim is still
	// consumed and the stored link stands.
	Link Link
	// Event is the ActionClaimRedeem audit entry, appended after the
	// link's LinkEvent (when the link was written).
	Event Event
}

// Redeem applies the redemption rules to c as stored ([Claim.Check]) and
// returns what redeeming it for r changes. Stores call it inside the
// redeeming transaction.
func (c Claim) Redeem(r Redemption) (Redeemed, error) {
	return c.RedeemWith(r, nil)
}

// RedeemWith is Redeem for stores, which also pass the link that holds
// c's legacy end now (nil when none). A retired claim is refused
// (ErrRetired), except for exactly the Zaikio id its legacy end is linked
// to: the link it would make is there already, and consuming it changes
// nothing else (as when an operator linked the pair by hand before the
// claim was issued, or when several claims of one person are redeemed for
// the same account at once).
func (c Claim) RedeemWith(r Redemption, linked *Link) (Redeemed, error) {
	chk := c
	if linked != nil && linked.Kind == c.Kind && linked.LegacyID == c.LegacyID && linked.ZaikioID == r.ZaikioID {
		chk.RetiredAt = time.Time{}
	}
	if err := chk.Check(r); err != nil {
		return Redeemed{}, err
	}
	at := r.At.UTC()
	used := c
	used.UsedAt, used.UsedBy = at, r.ZaikioID
	return Redeemed{
		Claim: used,
		Link: Link{Kind: c.Kind, LegacyID: c.LegacyID, ZaikioID: r.ZaikioID,
			CreatedAt: at, Via: "claim:" + c.ID, By: r.Actor},
		Event: Event{Time: r.At, Actor: r.Actor, Action: ActionClaimRedeem,
			Subject: subject(c.Kind, c.LegacyID), Detail: "claim " + c.ID + " for zaikio " + r.ZaikioID + quotedName(r.ZaikioName)},
	}, nil
}

// Revoked is what revoking a claim changes, as [Claim.Revoke] decided it.
// Stores write it in one transaction, or nothing when Unchanged.
type Revoked struct {
	// Claim is the claim revoked: RevokedAt set.
	Claim Claim
	// Event is the ActionClaimRevoke audit entry.
	Event Event
	// Unchanged: the claim was revoked before. Revoking twice keeps the
	// first RevokedAt and appends nothing.
	Unchanged bool
}

// Revoke applies the revocation rule to c as stored: an operator (actor)
// may revoke a claim at `at` until it is redeemed; a redeemed claim has
// done its work and cannot be revoked (ErrUsed).
func (c Claim) Revoke(actor string, at time.Time) (Revoked, error) {
	switch {
	case !c.UsedAt.IsZero():
		return Revoked{}, fmt.Errorf("%w: claim %s was redeemed at %s and cannot be revoked", ErrUsed, c.ID, c.UsedAt.Format(time.RFC3339))
	case !c.RevokedAt.IsZero(), !c.RetiredAt.IsZero():
		// Revoked before, or retired: either way it can link nothing.
		return Revoked{Claim: c, Unchanged: true}, nil
	}
	c.RevokedAt = at
	return Revoked{Claim: c, Event: Event{Time: at, Actor: actor, Action: ActionClaimRevoke,
		Subject: subject(c.Kind, c.LegacyID), Detail: "claim " + c.ID}}, nil
}

// Administers reports whether roles include owner or admin.
func Administers(roles []string) bool {
	for _, r := range roles {
		if slices.Contains(AdminRoles, r) {
			return true
		}
	}
	return false
}

// Link maps one legacy person or organization to one Zaikio person or
// organization.
type Link struct {
	Kind      Kind
	LegacyID  string
	ZaikioID  string
	CreatedAt time.Time
	Via       string // "claim:<id>", "admin", "provision"
	By        string // actor
}

// Check reports ErrInvalid unless l has a known kind and both ends: only
// such a link may be written.
func (l Link) Check() error {
	if l.Kind != KindPerson && l.Kind != KindOrg {
		return fmt.Errorf("%w: link kind %q, want person or org", ErrInvalid, l.Kind)
	}
	if l.LegacyID == "" || l.ZaikioID == "" {
		return fmt.Errorf("%w: link %s %q ⇄ %q has an empty end", ErrInvalid, l.Kind, l.LegacyID, l.ZaikioID)
	}
	return nil
}

// CheckLink decides whether l may be written when byLegacy is the link that
// already holds l's legacy end and byZaikio the one holding its Zaikio end
// (nil when free). It returns exists=true when exactly l is already stored
// (nothing to write), and ErrConflict when either end belongs to another link:
// links are unique both ways and are never overwritten.
func CheckLink(l Link, byLegacy, byZaikio *Link) (exists bool, err error) {
	if byLegacy != nil && byLegacy.ZaikioID == l.ZaikioID {
		return true, nil
	}
	if byLegacy != nil {
		return false, fmt.Errorf("%w: legacy %s %s is linked to Zaikio %s", ErrConflict, l.Kind, l.LegacyID, byLegacy.ZaikioID)
	}
	if byZaikio != nil {
		return false, fmt.Errorf("%w: Zaikio %s %s is linked to legacy %s", ErrConflict, l.Kind, l.ZaikioID, byZaikio.LegacyID)
	}
	return false, nil
}

// Person is an entry of the imported legacy directory.
type Person struct {
	ID    string
	Email string
	Name  string
	Orgs  []string // legacy organizations this person owns
	// OrgNames are the display names of Orgs as the import gave them, by
	// org id (ids not in Orgs are ignored). Shown on pages and the
	// dashboard, never used to decide anything.
	OrgNames map[string]string
}

// FirstName and LastName split Name at its last space, for prefilling the
// hub's sign-up form. Imported names often carry stray spaces: they are
// trimmed, so " Ada Lovelace " still gives "Ada" and "Lovelace".
func (p Person) FirstName() string {
	first, _ := p.splitName()
	return first
}

// LastName: see FirstName.
func (p Person) LastName() string {
	_, last := p.splitName()
	return last
}

func (p Person) splitName() (first, last string) {
	words := strings.Fields(p.Name)
	if len(words) == 0 {
		return "", ""
	}
	return strings.Join(words[:len(words)-1], " "), words[len(words)-1]
}

// ValidLegacyID reports whether s fits [A-Za-z0-9._@-]{1,128}, the shape that
// keeps the identity headers unambiguous.
func ValidLegacyID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidZaikioID reports whether s is a UUID in canonical lower-case hex form,
// the shape of every Zaikio id. Upper case is refused so that one id has one
// spelling: links must be unique both ways.
func ValidZaikioID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Stats are counts of the directory, links and claims, for the dashboard and
// /api/v1/stats.
type Stats struct {
	People        int `json:"people"`
	Orgs          int `json:"orgs"`
	LinkedPersons int `json:"linked_persons"`
	LinkedOrgs    int `json:"linked_orgs"`
	ClaimsOpen    int `json:"claims_open"`
	// ClaimsOpenOrgs is how many of ClaimsOpen are organization claims
	// (the rest are person claims).
	ClaimsOpenOrgs int `json:"claims_open_orgs"`
	ClaimsUsed     int `json:"claims_used"`
	ClaimsExpired  int `json:"claims_expired"`
	ClaimsRevoked  int `json:"claims_revoked"`
	// ClaimsRetired counts unused claims whose legacy person or
	// organization is linked: retired when it was linked, or open claims
	// issued for it afterwards. ClaimsOpen never counts those: an open
	// claim is one that someone not yet linked can still redeem.
	ClaimsRetired int `json:"claims_retired"`
}

// ClaimsTotal is the number of claims, every state counted once.
func (s Stats) ClaimsTotal() int {
	return s.ClaimsOpen + s.ClaimsUsed + s.ClaimsExpired + s.ClaimsRevoked + s.ClaimsRetired
}
