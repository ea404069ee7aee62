package roles_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/roles"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		m       map[string][]string
		def     []string
		wantErr string // "" means valid
	}{
		{"empty", nil, nil, ""},
		{"typical", map[string][]string{"owner": {"admin"}, "member": {"user", "viewer"}}, []string{"viewer"}, ""},
		{"header-safe characters", map[string][]string{"customer_service_representative": {"support.tier-1@eu"}}, nil, ""},
		{"role mapped to nothing", map[string][]string{"developer": {}}, nil, ""},
		{"64-character role", map[string][]string{"owner": {strings.Repeat("r", 64)}}, nil, ""},
		{"empty zaikio role", map[string][]string{"": {"admin"}}, nil, `zaikio role ""`},
		{"zaikio role with space", map[string][]string{"sales rep": {"sales"}}, nil, `zaikio role "sales rep"`},
		{"wildcard zaikio role", map[string][]string{"*": {"viewer"}}, nil, `zaikio role "*"`},
		{"empty local role", map[string][]string{"owner": {""}}, nil, `local role ""`},
		{"local role with comma", map[string][]string{"owner": {"admin,root"}}, nil, `local role "admin,root"`},
		{"local role with colon", map[string][]string{"owner": {"org:admin"}}, nil, `local role "org:admin"`},
		{"local role with newline", map[string][]string{"owner": {"admin\nX-Evil: 1"}}, nil, "local role"},
		{"65-character local role", map[string][]string{"owner": {strings.Repeat("r", 65)}}, nil, "local role"},
		{"bad default", nil, []string{"view er"}, `default role "view er"`},
		{"empty default entry", nil, []string{""}, `default role ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := roles.New(tc.m, tc.def)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("New(%q, %q) = %v; want success", tc.m, tc.def, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "roles: ") {
				t.Errorf("New(%q, %q) = %+v, %v; want an error with %q", tc.m, tc.def, m, err, tc.wantErr)
			}
		})
	}
}

// TestNewCopies: New validates what it is given; a caller changing its map
// afterwards must not change (or invalidate) the Map.
func TestNewCopies(t *testing.T) {
	t.Parallel()
	in := map[string][]string{"owner": {"admin"}}
	def := []string{"viewer"}
	m, err := roles.New(in, def)
	if err != nil {
		t.Fatal(err)
	}
	in["owner"][0] = "root,evil"
	in["member"] = []string{"bad role"}
	def[0] = "x:y"
	if got, want := m.Local([]string{"owner", "member"}), []string{"admin", "viewer"}; !cmp.Equal(got, want) {
		t.Errorf("Local(owner, member) after the caller changed its inputs = %q; want %q", got, want)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	m, err := roles.New(map[string][]string{
		"owner":     {"admin", "billing"},
		"admin":     {"admin"},
		"member":    {"user"},
		"designer":  {"user", "artwork"},
		"developer": {},
	}, []string{"viewer"})
	if err != nil {
		t.Fatal(err)
	}
	noDefault, err := roles.New(map[string][]string{"owner": {"admin"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		m      roles.Map
		zaikio []string
		want   []string
	}{
		{"one role", m, []string{"member"}, []string{"user"}},
		{"several locals, sorted", m, []string{"owner"}, []string{"admin", "billing"}},
		{"several roles, deduplicated", m, []string{"owner", "admin", "member", "designer"}, []string{"admin", "artwork", "billing", "user"}},
		{"same role twice", m, []string{"member", "member"}, []string{"user"}},
		{"order does not matter", m, []string{"designer", "owner"}, []string{"admin", "artwork", "billing", "user"}},
		{"unmapped gets the default", m, []string{"purchaser"}, []string{"viewer"}},
		{"unmapped and mapped", m, []string{"purchaser", "member"}, []string{"user", "viewer"}},
		{"mapped to nothing is not the default", m, []string{"developer"}, nil},
		{"roles are case-sensitive", m, []string{"Owner"}, []string{"viewer"}},
		{"no roles", m, nil, nil},
		{"nil default grants nothing", noDefault, []string{"member", "purchaser"}, nil},
		{"nil default, mapped role", noDefault, []string{"member", "owner"}, []string{"admin"}},
		{"zero Map", roles.Map{}, []string{"owner"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.m.Local(tc.zaikio)); diff != "" {
				t.Errorf("Local(%q) (-want +got):\n%s", tc.zaikio, diff)
			}
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	m, err := roles.New(map[string][]string{"owner": {"admin"}, "member": {"user"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Apply([]roles.Membership{
		{LegacyOrg: "7", Roles: []string{"member"}},
		{LegacyOrg: "", Roles: []string{"owner"}}, // unlinked: skipped
		{LegacyOrg: "12", Roles: []string{"owner", "member"}},
		{LegacyOrg: "9", Roles: []string{"purchaser"}}, // linked, no local role
	})
	want := roles.Grant{Orgs: []string{"12", "7", "9"}, Roles: []string{"12:admin", "12:user", "7:user"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	if got := m.Apply([]roles.Membership{{Roles: []string{"owner"}}}); len(got.Orgs) != 0 || len(got.Roles) != 0 {
		t.Errorf("Apply(only unlinked memberships) = %+v; want nothing", got)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"7"}, "7"},
		{[]string{"12:admin", "7:user"}, "12:admin,7:user"},
	}
	for _, tc := range tests {
		if got := roles.Header(tc.in); got != tc.want {
			t.Errorf("Header(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// mappingCase is a testdata/*.json input: a role map and a person's
// memberships.
type mappingCase struct {
	Comment     string              `json:"comment"`
	Roles       map[string][]string `json:"roles"`
	Default     []string            `json:"default"`
	Memberships []roles.Membership  `json:"memberships"`
}

// mappingResult is what a golden file holds: the local roles of each
// membership, the grant, and the two headers sent upstream.
type mappingResult struct {
	Local       [][]string  `json:"local"`
	Grant       roles.Grant `json:"grant"`
	OrgsHeader  string      `json:"orgs_header"`
	RolesHeader string      `json:"roles_header"`
}

// TestGolden maps each testdata/NAME.json and compares with
// testdata/NAME.golden. Run with -update to rewrite the golden files after
// an intended change, and review the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 5 {
		t.Fatalf("testdata holds %d mapping tables; want at least 5", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c mappingCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			m, err := roles.New(c.Roles, c.Default)
			if err != nil {
				t.Fatalf("New(%s) = %v", in, err)
			}
			res := mappingResult{Local: [][]string{}, Grant: m.Apply(c.Memberships)}
			for _, ms := range c.Memberships {
				res.Local = append(res.Local, m.Local(ms.Roles))
			}
			res.OrgsHeader, res.RolesHeader = roles.Header(res.Grant.Orgs), roles.Header(res.Grant.Roles)
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./roles -run TestGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("mapping %s (-%s +got):\n%s", in, golden, diff)
			}
		})
	}
}
