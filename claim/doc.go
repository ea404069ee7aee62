// Package claim holds the rules by which a legacy person or organization is
// linked, exactly once, to its Zaikio counterpart. It owns the nouns of
// that linking (Claim, Token, Link, the legacy directory's Person, Stats)
// and the audit log's Event with its actions, and it decides every rule
// about them: who may redeem a claim ([Claim.Redeem]), when a claim may be
// revoked ([Claim.Revoke]), when a link may be written ([CheckLink]). The
// stores only persist what these rules decided, in one transaction.
//
// The flow, in prose:
//
//  1. An operator (admin API, CLI, bulk import) or a legacy person proven by the
//     legacy session asks for a claim. [Service.Issue] mints a [Token]: 256 random
//     bits, URL-safe. Only its SHA-256 ([Hash]) is stored, together with what the
//     token is bound to (one legacy person, or one legacy organization and
//     optionally the legacy person allowed to claim it) and when it expires.
//     The token itself is shown once, inside the claim URL.
//  2. Opening the claim URL shows who is about to be linked ([Service.Inspect]).
//     Looking never consumes: mail scanners follow links.
//  3. A POST from hubgate's own confirmation page starts a Zaikio redirect flow.
//     When the flow returns successfully, [Service.Redeem] asks the [Store] to
//     check the claim, consume it and write the [Link] in one transaction, so a
//     failed callback never consumes the token and two concurrent callbacks can
//     never both link.
//  4. Links are unique in both directions: one Zaikio person (or organization)
//     maps to at most one legacy person (or organization) and vice versa. A
//     conflicting claim fails with [ErrConflict]; it never overwrites.
//  5. Writing a link — by a claim, by an operator, by provisioning — retires
//     the other claims of its legacy person or organization that are still
//     open ([Retire], in the same transaction, audited): they can link
//     nothing any more, and say so ([ErrRetired]) instead of looking valid
//     until the trip to Zaikio. A retired claim still redeems for exactly
//     the pair that is linked ([Claim.RedeemWith]): that changes nothing.
//
// Claims are never made, nor suggested, by matching email addresses: the token
// is the only proof.
//
// The package never speaks HTTP, never touches a database and never sends
// mail: it uses only the standard library, storage adapters implement
// [Store], and the faces (proxy, admin) show its errors.
package claim
