package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

func claimsIssue(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "claims issue"
	fs, af := newOperatorFlags(name, `Usage: hubgate claims issue --kind person|org --legacy-id ID [flags]

Mints one claim link and prints it with its id and expiry. The link is shown
only now: hand it to the person it is for (it is their key to link). An id
the imported directory does not hold is refused unless --force; an id that
is linked already is refused (its link could link nothing).

Examples:
  hubgate claims issue --kind person --legacy-id 42 --email ann@example.com --ttl 72h
  hubgate claims issue --kind org --legacy-id 7 --claimer 42
`, stderr)
	kind := fs.String("kind", "", "what is claimed: `person` or org (required)")
	legacyID := fs.String("legacy-id", "", "the legacy person or organization `ID` (required)")
	email := fs.String("email", "", "person claims: where the link goes (default: the imported directory's)")
	claimer := fs.String("claimer", "", "org claims: the legacy person `ID` who alone may claim (default: any linked owner or admin)")
	ttl := fs.String("ttl", "", "how long the link works, e.g. 72h or 14d (default: the server's claims.ttl)")
	force := fs.Bool("force", false, "issue the link even though the directory does not hold --legacy-id")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	if _, err := claim.ParseKind(*kind); err != nil {
		return usageError{fmt.Sprintf("%s: --kind %q: want person or org", name, *kind)}
	}
	if *legacyID == "" {
		return usageError{name + ": --legacy-id is required"}
	}
	if *ttl != "" {
		if _, err := admin.ParseTTL(*ttl); err != nil {
			return usageError{fmt.Sprintf("%s: --ttl %v", name, err)}
		}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	is, err := op.client.Issue(ctx, admin.IssueRequest{Kind: *kind, LegacyID: *legacyID, Email: *email, Claimer: *claimer, TTL: *ttl, Force: *force})
	if err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(is)
	}
	return op.table([]string{"ID", "EXPIRES", "URL"}, [][]string{{is.ID, when(&is.ExpiresAt), is.URL}})
}

func claimsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "claims list"
	fs, af := newOperatorFlags(name, `Usage: hubgate claims list [--all | --limit N] [--after ID]

Lists claims in id order with their status (open, used, revoked, expired).
Claim links are never shown again after they were minted.
`, stderr)
	all := fs.Bool("all", false, "list every claim (page through all of them)")
	limit := fs.Int("limit", admin.DefaultLimit, fmt.Sprintf("list at most `N` claims (at most %d)", admin.MaxLimit))
	after := fs.String("after", "", "start after the claim with this `ID`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	if *limit < 1 || *limit > admin.MaxLimit {
		return usageError{fmt.Sprintf("%s: --limit %d: want 1 to %d", name, *limit, admin.MaxLimit)}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	var out admin.ClaimPage
	cursor := *after
	for {
		n := *limit
		if *all {
			n = admin.MaxLimit
		}
		page, err := op.client.Claims(ctx, cursor, n)
		if err != nil {
			return op.explain(err)
		}
		out.Claims = append(out.Claims, page.Claims...)
		out.Next = page.Next
		if !*all || page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if out.Claims == nil {
		out.Claims = []admin.Claim{}
	}
	if op.json {
		return op.printJSON(out)
	}
	rows := make([][]string, 0, len(out.Claims))
	for _, c := range out.Claims {
		rows = append(rows, []string{c.ID, c.Kind, c.LegacyID, orDash(c.Email), orDash(c.Claimer), c.Status,
			when(&c.ExpiresAt), orDash(c.UsedBy)})
	}
	if err := op.table([]string{"ID", "KIND", "LEGACY ID", "EMAIL", "CLAIMER", "STATUS", "EXPIRES", "USED BY"}, rows); err != nil {
		return err
	}
	if out.Next != "" {
		fmt.Fprintf(stderr, "(more claims: --all lists every one, --after %s the next page)\n", out.Next)
	}
	return nil
}

func claimsRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "claims revoke"
	fs, af := newOperatorFlags(name, `Usage: hubgate claims revoke ID...

Revokes unused claims: their links stop working. A used claim cannot be
revoked (unlink instead: hubgate links unlink). Revoking twice is harmless.
`, stderr)
	ids, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageError{name + ": want the ID of at least one claim (hubgate claims list shows them)"}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	revoked := []string{}
	for _, id := range ids {
		if err := op.client.Revoke(ctx, id); err != nil {
			if op.json && len(revoked) > 0 {
				_ = op.printJSON(map[string][]string{"revoked": revoked})
			}
			return op.explain(err)
		}
		revoked = append(revoked, id)
		if !op.json {
			fmt.Fprintf(stdout, "revoked claim %s\n", id)
		}
	}
	if op.json {
		return op.printJSON(map[string][]string{"revoked": revoked})
	}
	return nil
}
