package admin

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hubgate/hubgate/claim"
)

// Format is the encoding of a legacy directory import.
type Format string

// Import formats.
const (
	// CSV: one person per record, columns id,email,name,orgs. A header row
	// is optional; when the first record has a column named "id" it is the
	// header, and columns may come in any order (unknown ones are ignored).
	// orgs are separated by ";", "," or spaces. With a header, a column
	// org_names names the organizations for pages and the dashboard, as
	// "id=name" pairs separated by ";" ("7=Acme Print; 9=Brown
	// Packaging").
	CSV Format = "csv"
	// NDJSON: one JSON object per line: {"id":"42","email":…,"name":…,
	// "orgs":["7"],"org_names":{"7":"Acme Print"}}; ids may be JSON
	// numbers, unknown fields are ignored.
	// An optional "line" names the row's line in the caller's own file, for
	// messages (the CLI sends CSV files as NDJSON chunks and keeps their line
	// numbers that way).
	NDJSON Format = "ndjson"
)

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	if f == NDJSON {
		return "application/x-ndjson"
	}
	return "text/csv; charset=utf-8"
}

// Row is one row of an import: a legacy person, or why the row is not one.
type Row struct {
	// Line is where the row starts (1-based), or the NDJSON "line" field.
	Line int
	// Person is the row as read. For a bad row it is what could be read:
	// ID may be empty.
	Person claim.Person
	// Err says why the row is refused; nil for a good row. It wraps
	// claim.ErrInvalid and its message starts "line N: ".
	Err error
}

// Limits on import rows.
const (
	maxLine = 1 << 20 // bytes in one NDJSON line
	maxName = 256     // bytes in a name
	maxOrgs = 1000    // organizations one person owns
)

// ReadRows reads every row of an import. Blank lines are skipped. A bad row
// does not stop the others: it is returned with Err set (a repeated id is
// bad from its second occurrence on). The error is for input that cannot be
// read at all: I/O errors (an *http.MaxBytesError included) and NDJSON lines
// longer than 1 MiB.
func ReadRows(r io.Reader, f Format) ([]Row, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// Spreadsheets like to start UTF-8 files with a byte order mark.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	var rows []Row
	var err error
	switch f {
	case CSV:
		rows, err = readCSV(br)
	case NDJSON:
		rows, err = readNDJSON(br)
	default:
		return nil, fmt.Errorf("%w: import format %q, want csv or ndjson", claim.ErrInvalid, f)
	}
	if err != nil {
		return nil, err
	}
	first := make(map[string]int, len(rows))
	for i := range rows {
		row := &rows[i]
		if row.Err != nil {
			continue
		}
		if line, seen := first[row.Person.ID]; seen {
			row.Err = &rowError{row.Line, fmt.Sprintf("id %s repeats line %d", row.Person.ID, line)}
			continue
		}
		first[row.Person.ID] = row.Line
	}
	return rows, nil
}

// columns of the CSV format, in their order when there is no header.
var columns = []string{"id", "email", "name", "orgs"}

// headerColumns are the columns a header may name.
var headerColumns = append(columns[:len(columns):len(columns)], "org_names")

func readCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	index := map[string]int{"id": 0, "email": 1, "name": 2, "orgs": 3}
	width := len(columns) // fields a record may have
	var rows []Row
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			rows = append(rows, Row{Line: perr.StartLine, Err: &rowError{perr.StartLine, "malformed CSV: " + perr.Err.Error()}})
			continue
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first && isHeader(rec) {
			index, width = map[string]int{}, len(rec)
			for i, name := range rec {
				name = strings.ToLower(strings.TrimSpace(name))
				if _, dup := index[name]; !dup && slices.Contains(headerColumns, name) {
					index[name] = i
				}
			}
			continue
		}
		field := func(name string) string {
			if i, ok := index[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		p := claim.Person{ID: field("id"), Email: field("email"), Name: field("name"),
			Orgs: splitOrgs(field("orgs"))}
		names, namesErr := splitOrgNames(field("org_names"))
		p.OrgNames = names
		row := Row{Line: line, Person: p}
		switch {
		case len(rec) > width:
			row.Err = &rowError{line, fmt.Sprintf("%d fields, want at most %d (%s)", len(rec), width, strings.Join(columns, ","))}
		case namesErr != "":
			row.Err = &rowError{line, "org_names: " + namesErr}
		default:
			row.Err = checkPerson(line, p)
		}
		rows = append(rows, row)
	}
}

// isHeader: the first record is a header when one of its fields is "id".
func isHeader(rec []string) bool {
	for _, f := range rec {
		if strings.EqualFold(strings.TrimSpace(f), "id") {
			return true
		}
	}
	return false
}

// splitOrgs splits a list of organization ids at ";", "," and spaces,
// dropping repeats.
func splitOrgs(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
	var out []string
	for _, o := range f {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// splitOrgNames reads the org_names column: "id=name" pairs separated by
// ";". It returns why the text is not that, or "".
func splitOrgNames(s string) (map[string]string, string) {
	var out map[string]string
	for _, pair := range strings.Split(s, ";") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		id, name, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Sprintf("%q: want id=name pairs separated by ;", pair)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.TrimSpace(id)] = strings.TrimSpace(name)
	}
	return out, ""
}

// legacyID is an id in NDJSON: a string or a JSON integer (legacy exports
// often number their rows).
type legacyID string

func (id *legacyID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = legacyID(s)
		return nil
	}
	if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
		return fmt.Errorf("want a string or a whole number, got %s", b)
	}
	*id = legacyID(b)
	return nil
}

// ndjsonRow is one NDJSON line.
type ndjsonRow struct {
	ID       legacyID          `json:"id"`
	Email    string            `json:"email,omitempty"`
	Name     string            `json:"name,omitempty"`
	Orgs     []legacyID        `json:"orgs,omitempty"`
	OrgNames map[string]string `json:"org_names,omitempty"`
	Line     int               `json:"line,omitempty"`
}

func readNDJSON(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var rows []Row
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var v ndjsonRow
		if err := json.Unmarshal(b, &v); err != nil {
			rows = append(rows, Row{Line: line, Err: &rowError{line, jsonProblem(err)}})
			continue
		}
		at := line
		if v.Line > 0 {
			at = v.Line
		}
		p := claim.Person{ID: strings.TrimSpace(string(v.ID)), Email: strings.TrimSpace(v.Email), Name: strings.TrimSpace(v.Name)}
		for _, o := range v.Orgs {
			if o := strings.TrimSpace(string(o)); !slices.Contains(p.Orgs, o) {
				p.Orgs = append(p.Orgs, o)
			}
		}
		for id, name := range v.OrgNames {
			if p.OrgNames == nil {
				p.OrgNames = map[string]string{}
			}
			p.OrgNames[strings.TrimSpace(id)] = strings.TrimSpace(name)
		}
		rows = append(rows, Row{Line: at, Person: p, Err: checkPerson(at, p)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes", claim.ErrInvalid, line+1, maxLine)
		}
		return nil, err
	}
	return rows, nil
}

// jsonProblem describes why a line is not a person object, without echoing
// the line.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("not valid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %s: want a JSON %s, got %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &typ):
		return "want a JSON object, got " + typ.Value
	}
	return "not a person object: " + err.Error()
}

// checkPerson applies the directory's rules to one row: an id that fits the
// identity headers, an address that can be mailed, a name that can go into a
// header, organization ids like legacy ids.
func checkPerson(line int, p claim.Person) error {
	if p.ID == "" {
		return &rowError{line, "id: missing"}
	}
	if !claim.ValidLegacyID(p.ID) {
		return &rowError{line, fmt.Sprintf("id %q: want 1 to 128 of A-Z a-z 0-9 . _ @ -", p.ID)}
	}
	if err := validEmail(p.Email); err != nil {
		return &rowError{line, "email " + err.Error()}
	}
	if len(p.Name) > maxName || !utf8.ValidString(p.Name) || strings.ContainsFunc(p.Name, unicode.IsControl) {
		return &rowError{line, fmt.Sprintf("name: want at most %d bytes of UTF-8 text without control characters", maxName)}
	}
	if len(p.Orgs) > maxOrgs {
		return &rowError{line, fmt.Sprintf("orgs: %d, want at most %d", len(p.Orgs), maxOrgs)}
	}
	for _, o := range p.Orgs {
		if !claim.ValidLegacyID(o) {
			return &rowError{line, fmt.Sprintf("orgs: %q: want 1 to 128 of A-Z a-z 0-9 . _ @ -", o)}
		}
	}
	for id, name := range p.OrgNames {
		if !slices.Contains(p.Orgs, id) {
			return &rowError{line, fmt.Sprintf("org_names: %q is not one of orgs", id)}
		}
		if len(name) > maxName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
			return &rowError{line, fmt.Sprintf("org_names: %s: want at most %d bytes of UTF-8 text without control characters", id, maxName)}
		}
	}
	return nil
}

// writeNDJSON encodes good rows as NDJSON, keeping their line numbers, for
// [Client.ImportRows].
func writeNDJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		p := r.Person
		v := ndjsonRow{ID: legacyID(p.ID), Email: p.Email, Name: p.Name, OrgNames: p.OrgNames, Line: r.Line}
		for _, o := range p.Orgs {
			v.Orgs = append(v.Orgs, legacyID(o))
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
