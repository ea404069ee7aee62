package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubgate/hubgate/admin"
)

// claimsImportUsage is the help of `hubgate claims import`.
const claimsImportUsage = `Usage: hubgate claims import FILE|- [flags]

Imports legacy people into hubgate's directory and mints a claim link for
each one who is not linked yet. FILE is CSV (columns id,email,name,orgs; a
header row is optional and may order the columns as it likes; orgs are
separated by ";" or spaces) or NDJSON ({"id":"42","email":…,"name":…,
"orgs":["7"]} per line). "-" reads standard input.

Rows go to the admin API in batches, with progress on stderr (one line
redrawn on a terminal, else a line every few seconds). The result is
CSV with columns id,email,url,status (status: issued, skipped_linked or
"error: line N: …"), or a JSON array with --json. It holds the claim links,
which are shown only this once: keep it safe (--out writes it with mode 0600).
Bad rows do not stop the others; the command exits 1 when any row failed.

With --send, hubgate also mails each new link to its person (the server
needs claims.smtp), in English or, with --lang de, in German. The result
gains a mail column: sent, skipped_no_email, skipped_shared_email (the
address belongs to several people in the directory: no mail, so that
nobody gets another person's link), not_sent (no link issued) or
"failed: <reason>"; the command exits 1 when any mail failed. A failed
mail's link still works: send it another way, or import that row again.
`

// claimsImport implements `hubgate claims import`: read and check the
// rows, send them in batches, write each result as it is known, summarise.
func claimsImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const name = "claims import"
	opt, af, err := parseImportFlags(name, args, stderr)
	if err != nil {
		return err
	}
	op, err := af.connect(name, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if opt.send {
		// The server answers a chunk once its mails are out.
		op.client.Timeout = max(op.client.Timeout, sendTimeout)
	}

	rows, err := readImport(opt.file, admin.Format(opt.format))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The output is opened only now, so that an unreadable input never
	// truncates an earlier result.
	out := stdout
	if opt.outPath != "" {
		f, err := os.OpenFile(opt.outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer f.Close()
		out = f
	}
	rw := newResultWriter(out, op.json, opt.send)

	start := time.Now()
	imp := importer{op: op, rows: rows, w: rw, prog: newProgress(stderr), opt: admin.ImportOptions{TTL: opt.ttl, IncludeLinked: opt.noSkip, Send: opt.send, Lang: opt.lang}}
	sendErr := imp.run(ctx, opt.batch)
	if err := rw.close(); err != nil {
		return fmt.Errorf("%s: write result: %w", name, err)
	}
	return imp.summarise(name, opt.outPath, time.Since(start), sendErr)
}

// importOptions are the flags and argument of `hubgate claims import`.
type importOptions struct {
	file    string // FILE, or "-" for standard input
	format  string // csv, ndjson or "" (guess)
	ttl     string // "" for the server's claims.ttl
	outPath string // "" for stdout
	noSkip  bool   // mint links for linked people too
	batch   int    // rows per request
	send    bool   // mail each new link
	lang    string // language of the mails
}

// parseImportFlags reads and checks the command line; mistakes are
// usageErrors, found before anything is read or sent.
func parseImportFlags(name string, args []string, stderr io.Writer) (importOptions, *adminFlags, error) {
	var opt importOptions
	fs, af := newOperatorFlags(name, claimsImportUsage, stderr)
	fs.StringVar(&opt.format, "format", "", "input `format`, csv or ndjson (default: by the file's extension, else by its first byte)")
	fs.StringVar(&opt.ttl, "ttl", "", "how long the links work, e.g. 72h or 14d (default: the server's claims.ttl)")
	fs.StringVar(&opt.outPath, "out", "", "write the result to `FILE` (created with mode 0600) instead of stdout")
	fs.BoolVar(&opt.noSkip, "no-skip-linked", false, "mint links for people who are already linked too")
	fs.IntVar(&opt.batch, "batch", 500, "rows per request (`N`, 1 to 10000; default 100 with --send)")
	fs.BoolVar(&opt.send, "send", false, "mail each new claim link to its person (the server needs claims.smtp)")
	fs.StringVar(&opt.lang, "lang", "en", "`language` of the mails with --send: en or de")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return opt, nil, err
	}
	batchSet, langSet := false, false
	fs.Visit(func(f *flag.Flag) {
		batchSet = batchSet || f.Name == "batch"
		langSet = langSet || f.Name == "lang"
	})
	if opt.send && !batchSet {
		// Mailing takes longer than minting: smaller requests keep the
		// progress line moving and each request well within its timeout.
		opt.batch = 100
	}
	if opt.lang != "en" && opt.lang != "de" {
		return opt, nil, usageError{fmt.Sprintf("%s: --lang %q: want en or de", name, opt.lang)}
	}
	if langSet && !opt.send {
		return opt, nil, usageError{name + ": --lang applies only with --send"}
	}
	if len(pos) != 1 {
		return opt, nil, usageError{name + ": want one FILE (or - for standard input)"}
	}
	opt.file = pos[0]
	if opt.ttl != "" {
		if _, err := admin.ParseTTL(opt.ttl); err != nil {
			return opt, nil, usageError{fmt.Sprintf("%s: --ttl %v", name, err)}
		}
	}
	if opt.batch < 1 || opt.batch > 10_000 {
		return opt, nil, usageError{fmt.Sprintf("%s: --batch %d: want 1 to 10000", name, opt.batch)}
	}
	switch opt.format {
	case "", string(admin.CSV), string(admin.NDJSON):
	default:
		return opt, nil, usageError{fmt.Sprintf("%s: --format %q: want csv or ndjson", name, opt.format)}
	}
	return opt, af, nil
}

// summarise prints the counts on stderr and returns the error the command
// exits with: the one that stopped the import, else failed rows or mails.
func (im *importer) summarise(name, outPath string, took time.Duration, sendErr error) error {
	n, total := im.counts(), len(im.rows)
	took = took.Round(time.Millisecond)
	stderr := im.op.stderr
	if im.opt.Send {
		im.prog.done(fmt.Sprintf("imported %d rows in %s: %d issued, %d sent, %d skipped (already linked), %d skipped (no email), %d withheld (address shared by several people), %d failed, %d errors",
			total, took, n.issued, n.sent, n.skipped, n.noEmail, n.shared, n.mailFailed, n.errors))
	} else {
		im.prog.done(fmt.Sprintf("imported %d rows in %s: %d issued, %d skipped (already linked), %d errors",
			total, took, n.issued, n.skipped, n.errors))
	}
	if outPath != "" && n.issued > 0 {
		fmt.Fprintf(stderr, "claim links written to %s: each link is a key, share it only with its person\n", outPath)
	}
	if sendErr != nil {
		return im.op.explain(fmt.Errorf("stopped after %d of %d rows: %w", im.done, total, sendErr))
	}
	var problems []string
	if n.errors > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d rows failed; the status column says why", n.errors, total))
	}
	if n.mailFailed > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d mails failed; the mail column says why (their links still work)", n.mailFailed, n.sent+n.mailFailed))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
	return nil
}

// sendTimeout bounds one import request with --send: minting and mailing
// its chunk.
const sendTimeout = 10 * time.Minute

// readImport reads and checks every row of the input; the checks are the
// server's (admin.ReadRows), so bad rows are reported before anything is
// sent, with their line numbers.
func readImport(path string, format admin.Format) ([]admin.Row, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if format == "" {
		format = detectFormat(path, data)
	}
	rows, err := admin.ReadRows(bytes.NewReader(data), format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// detectFormat guesses the format from the file's extension, else from its
// first non-blank byte ("{" is NDJSON).
func detectFormat(path string, data []byte) admin.Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		return admin.CSV
	case ".ndjson", ".jsonl", ".json":
		return admin.NDJSON
	}
	if b := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\ufeff")), " \t\r\n"); len(b) > 0 && b[0] == '{' {
		return admin.NDJSON
	}
	return admin.CSV
}

// importer sends the good rows in batches and writes every row's result in
// input order as soon as it is known: if the import stops (Ctrl-C, the
// server goes away), the links minted so far are already written out.
type importer struct {
	op      *operator
	rows    []admin.Row
	w       *resultWriter
	prog    *progressLine // the progress on stderr
	opt     admin.ImportOptions
	results []admin.ImportResult
	written int // rows written out
	done    int // rows with a known result, a prefix of rows
}

func (im *importer) run(ctx context.Context, batch int) error {
	im.results = make([]admin.ImportResult, len(im.rows))
	var good []int
	for i, r := range im.rows {
		im.results[i] = admin.ImportResult{ID: r.Person.ID, Email: r.Person.Email}
		if r.Err != nil {
			im.results[i].Status = "error: " + r.Err.Error()
			if im.opt.Send {
				im.results[i].Mail = admin.MailNotSent
			}
			continue
		}
		good = append(good, i)
	}
	im.progress()
	var sendErr error
	for start := 0; start < len(good); start += batch {
		idx := good[start:min(start+batch, len(good))]
		chunk := make([]admin.Row, len(idx))
		for k, i := range idx {
			chunk[k] = im.rows[i]
		}
		res, err := im.op.client.ImportRows(ctx, chunk, im.opt)
		if err != nil {
			sendErr = err
			break
		}
		for k, i := range idx {
			im.results[i] = res[k]
		}
		im.done = idx[len(idx)-1] + 1
		if err := im.flush(im.done); err != nil {
			return err
		}
		if err := im.w.sync(); err != nil {
			return err
		}
		im.progress()
	}
	if sendErr != nil {
		for i := im.done; i < len(im.rows); i++ {
			if im.rows[i].Err == nil {
				im.results[i].Status = "error: not sent (the import stopped early)"
				if im.opt.Send {
					im.results[i].Mail = admin.MailNotSent
				}
			}
		}
	} else {
		im.done = len(im.rows)
	}
	if err := im.flush(len(im.rows)); err != nil {
		return err
	}
	return sendErr
}

// flush writes the results of rows [written, upto).
func (im *importer) flush(upto int) error {
	for ; im.written < upto; im.written++ {
		if err := im.w.write(im.rows[im.written].Line, im.results[im.written]); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) progress() {
	total := len(im.rows)
	pct := 100
	if total > 0 {
		pct = im.done * 100 / total
	}
	if im.opt.Send {
		n := im.countsUpTo(im.done)
		im.prog.show(fmt.Sprintf("importing… %d/%d (%d%%), mailed %d, %d failed", im.done, total, pct, n.sent, n.mailFailed))
		return
	}
	im.prog.show(fmt.Sprintf("importing… %d/%d (%d%%)", im.done, total, pct))
}

type importCounts struct{ issued, skipped, errors, sent, noEmail, shared, mailFailed int }

func (im *importer) counts() importCounts { return im.countsUpTo(len(im.results)) }

// countsUpTo counts the results of the first n rows.
func (im *importer) countsUpTo(n int) importCounts {
	var c importCounts
	for _, r := range im.results[:n] {
		switch r.Status {
		case admin.StatusIssued:
			c.issued++
		case admin.StatusSkippedLinked:
			c.skipped++
		default:
			c.errors++
		}
		switch {
		case r.Mail == admin.MailSent:
			c.sent++
		case r.Mail == admin.MailSkippedNoEmail:
			c.noEmail++
		case r.Mail == admin.MailSkippedSharedEmail:
			c.shared++
		case strings.HasPrefix(r.Mail, admin.MailFailedPrefix):
			c.mailFailed++
		}
	}
	return c
}

// resultWriter writes import results as CSV (id,email,url,status, and mail
// with --send: the admin API's answer) or as a JSON array.
type resultWriter struct {
	buf  *bufio.Writer
	csv  *csv.Writer // nil for JSON
	json io.Writer   // buf, for JSON
	mail bool        // write the mail column
	n    int         // results written
}

// importJSON is one result in --json output.
type importJSON struct {
	Line   int    `json:"line"`
	ID     string `json:"id"`
	Email  string `json:"email"`
	URL    string `json:"url,omitempty"`
	Status string `json:"status"`
	Mail   string `json:"mail,omitempty"`
}

func newResultWriter(w io.Writer, asJSON, withMail bool) *resultWriter {
	buf := bufio.NewWriter(w)
	if asJSON {
		return &resultWriter{buf: buf, json: buf, mail: withMail}
	}
	rw := &resultWriter{buf: buf, csv: csv.NewWriter(buf), mail: withMail}
	header := admin.ImportHeader
	if withMail {
		header = append(header[:len(header):len(header)], admin.MailColumn)
	}
	_ = rw.csv.Write(header)
	return rw
}

// sync pushes what was written to the file, so that an interrupted import
// leaves every link minted so far on disk.
func (rw *resultWriter) sync() error {
	if rw.csv != nil {
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return err
		}
	}
	return rw.buf.Flush()
}

func (rw *resultWriter) write(line int, r admin.ImportResult) error {
	if rw.csv != nil {
		rec := []string{r.ID, r.Email, r.URL, r.Status}
		if rw.mail {
			rec = append(rec, r.Mail)
		}
		return rw.csv.Write(rec)
	}
	b, err := json.Marshal(importJSON{Line: line, ID: r.ID, Email: r.Email, URL: r.URL, Status: r.Status, Mail: r.Mail})
	if err != nil {
		return err
	}
	sep := ",\n  "
	if rw.n == 0 {
		sep = "[\n  "
	}
	rw.n++
	_, err = io.WriteString(rw.json, sep+string(b))
	return err
}

func (rw *resultWriter) close() error {
	if rw.json != nil {
		end := "\n]\n"
		if rw.n == 0 {
			end = "[]\n"
		}
		if _, err := io.WriteString(rw.json, end); err != nil {
			return err
		}
	}
	return rw.sync()
}
