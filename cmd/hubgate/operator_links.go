package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// kindFlag reads --kind; empty is allowed only where the command says so.
func kindFlag(name, v string, optional bool) (claim.Kind, error) {
	if v == "" && optional {
		return "", nil
	}
	k, err := claim.ParseKind(v)
	if err != nil {
		if v == "" {
			return "", usageError{name + ": --kind person or --kind org is required"}
		}
		return "", usageError{fmt.Sprintf("%s: --kind %q: want person or org", name, v)}
	}
	return k, nil
}

func linksList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "links list"
	fs, af := newOperatorFlags(name, `Usage: hubgate links list [--kind person|org] [--limit N]

Lists links (legacy id ⇄ Zaikio id), persons first, each in legacy id order.
`, stderr)
	kindArg := fs.String("kind", "", "only `person` or org links (default: both)")
	limit := fs.Int("limit", 0, "list at most `N` links of each kind (default: all)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(name, pos); err != nil {
		return err
	}
	kind, err := kindFlag(name, *kindArg, true)
	if err != nil {
		return err
	}
	if *limit < 0 {
		return usageError{fmt.Sprintf("%s: --limit %d: want 0 (all) or more", name, *limit)}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	kinds := []claim.Kind{claim.KindPerson, claim.KindOrg}
	if kind != "" {
		kinds = []claim.Kind{kind}
	}
	links := []admin.Link{}
	for _, k := range kinds {
		after, n := "", 0
		for *limit == 0 || n < *limit {
			size := admin.MaxLimit
			if *limit > 0 {
				size = min(size, *limit-n)
			}
			page, err := op.client.Links(ctx, k, after, size)
			if err != nil {
				return op.explain(err)
			}
			links = append(links, page.Links...)
			n += len(page.Links)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	if op.json {
		return op.printJSON(map[string][]admin.Link{"links": links})
	}
	rows := make([][]string, 0, len(links))
	for _, l := range links {
		rows = append(rows, []string{l.Kind, l.LegacyID, l.ZaikioID, when(&l.CreatedAt), orDash(l.Via), orDash(l.By)})
	}
	return op.table([]string{"KIND", "LEGACY ID", "ZAIKIO ID", "CREATED", "VIA", "BY"}, rows)
}

func linksUnlink(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "links unlink"
	fs, af := newOperatorFlags(name, `Usage: hubgate links unlink --kind person|org LEGACY_ID

Removes the link of a legacy person or organization. Their Zaikio account
no longer stands for them (a person's sessions re-check at once); they can
claim again with a new claim link. Audited.
`, stderr)
	kindArg := fs.String("kind", "", "`person` or org (required)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	kind, err := kindFlag(name, *kindArg, false)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{name + ": want one LEGACY_ID"}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	l, err := op.client.Unlink(ctx, kind, pos[0])
	if err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(l)
	}
	fmt.Fprintf(stdout, "unlinked %s %s (was Zaikio %s, linked %s via %s)\n", l.Kind, l.LegacyID, l.ZaikioID, when(&l.CreatedAt), orDash(l.Via))
	return nil
}

func linksSet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "links set"
	fs, af := newOperatorFlags(name, `Usage: hubgate links set --kind person|org LEGACY_ID ZAIKIO_ID

Links a legacy person or organization to a Zaikio one by hand. Links are
unique both ways and never overwritten: if either end is linked to something
else this fails (unlink first). Audited.
`, stderr)
	kindArg := fs.String("kind", "", "`person` or org (required)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	kind, err := kindFlag(name, *kindArg, false)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{name + ": want LEGACY_ID and ZAIKIO_ID"}
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	l, created, err := op.client.SetLink(ctx, kind, pos[0], pos[1])
	if err != nil {
		return op.explain(err)
	}
	if op.json {
		return op.printJSON(struct {
			admin.Link
			Created bool `json:"created"`
		}{l, created})
	}
	if created {
		fmt.Fprintf(stdout, "linked %s %s ⇄ Zaikio %s\n", l.Kind, l.LegacyID, l.ZaikioID)
	} else {
		fmt.Fprintf(stdout, "already linked: %s %s ⇄ Zaikio %s (since %s, via %s)\n", l.Kind, l.LegacyID, l.ZaikioID, when(&l.CreatedAt), orDash(l.Via))
	}
	return nil
}
