package admin_test

// Fuzz target for the legacy-directory import (CSV and NDJSON). Seed corpus:
// testdata/fuzz/FuzzReadRows/.

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/admin"
	"github.com/hubgate/hubgate/claim"
)

// FuzzReadRows: any body reads into rows without panicking, with memory
// bounded by the input: no more rows than lines, every row either refused
// with a reason or a person whose id is a valid legacy id (unique across
// the good rows), whose orgs are valid ids, and whose fields hold no NUL.
func FuzzReadRows(f *testing.F) {
	for _, s := range []string{
		"id,email,name,orgs\n42,ann@example.com,Ann,7;8\n43,,Bob,\n",
		"42,ann@example.com,Ann Example,\"7, 8\"\n42,dup@example.com,Dup,\n",
		"\ufeffemail,id\nann@example.com,42\n",
		"id\n\"unterminated\n",
		"id,email\n1,\x00@x\n",
		"a b,c\n",
		`{"id":"42","email":"ann@example.com","name":"Ann","orgs":["7"]}` + "\n" + `{"id":43,"line":9}` + "\n",
		`{"id":"42","orgs":[1,2]}` + "\n" + `{"id":null}` + "\n" + `[]` + "\n" + `{"id":"x","email":"` + strings.Repeat("e", 300) + `"}`,
		`{"id":"1e400"}` + "\n" + `{"id":"-1"}` + "\n" + `{"id":"` + strings.Repeat("9", 129) + `"}`,
	} {
		f.Add([]byte(s), strings.HasPrefix(s, "{"))
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := admin.CSV
		if ndjson {
			format = admin.NDJSON
		}
		rows, err := admin.ReadRows(bytes.NewReader(body), format)
		if err != nil {
			return
		}
		if lines := bytes.Count(body, []byte("\n")) + 1; len(rows) > lines {
			t.Fatalf("%d rows from %d lines", len(rows), lines)
		}
		ids := map[string]bool{}
		for _, row := range rows {
			if row.Err != nil {
				if row.Err.Error() == "" {
					t.Fatal("a refused row without a reason")
				}
				continue
			}
			p := row.Person
			if !claim.ValidLegacyID(p.ID) {
				t.Fatalf("row %d accepted with id %q", row.Line, p.ID)
			}
			if ids[p.ID] {
				t.Fatalf("id %q accepted twice", p.ID)
			}
			ids[p.ID] = true
			for _, o := range p.Orgs {
				if !claim.ValidLegacyID(o) {
					t.Fatalf("row %d accepted with org %q", row.Line, o)
				}
			}
			if strings.ContainsRune(p.Email+p.Name, 0) {
				t.Fatalf("row %d accepted with a NUL byte", row.Line)
			}
		}
	})
}
