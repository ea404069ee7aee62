package deploy

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// grafanaPanel is the part of a Grafana panel this checks.
type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Datasource *grafanaDatasource `json:"datasource"`
		Expr       string             `json:"expr"`
		RefID      string             `json:"refId"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // of a collapsed row
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaDashboard struct {
	Title         string         `json:"title"`
	UID           string         `json:"uid"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Datasource *grafanaDatasource `json:"datasource"`
			Query      json.RawMessage    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// The dashboard parses, every panel queries the data source variable with
// PromQL that names only metrics, labels and values of the contract, scoped
// to the job/namespace/instance variables, the panels do not overlap, and
// together they show every metric family of the contract.
func TestGrafanaDashboard(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "grafana", "hubgate.json")
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(readFile(t, path)), &d); err != nil {
		t.Fatalf("%s: %v", rel(t, path), err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard title %q uid %q schemaVersion %d: want a title, a uid and schemaVersion ≥ 36", d.Title, d.UID, d.SchemaVersion)
	}

	// Template variables: a Prometheus data source picker, and query
	// variables over the contract's metrics.
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch v.Type {
		case "datasource":
			var q string
			if json.Unmarshal(v.Query, &q) != nil || q != "prometheus" || v.Name != "datasource" {
				t.Errorf("variable %s: want the data source variable \"datasource\" of type prometheus", v.Name)
			}
		case "query":
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
				continue
			}
			checkDatasource(t, "variable "+v.Name, v.Datasource)
			m := labelValuesQuery.FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("variable %s: query %q: want label_values(SELECTOR, LABEL)", v.Name, q.Query)
				continue
			}
			for _, fam := range checkPromQL(t, "variable "+v.Name, m[1]) {
				if mm := opsMetrics[fam]; !slices.Contains(mm.labels, m[2]) && !slices.Contains(targetLabels, m[2]) {
					t.Errorf("variable %s: %s has no label %s", v.Name, fam, m[2])
				}
			}
		default:
			t.Errorf("variable %s: type %q unknown here", v.Name, v.Type)
		}
	}
	for _, v := range []string{"datasource", "job", "namespace", "instance"} {
		if !vars[v] {
			t.Errorf("dashboard: variable %s missing", v)
		}
	}

	// Panels.
	var all []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	ids := map[int]bool{}
	used := map[string]bool{}
	kinds := []string{"row", "timeseries", "stat", "gauge", "table", "bargauge", "state-timeline"}
	for _, p := range all {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("%s: ids must be unique and non-zero", where)
		}
		ids[p.ID] = true
		if p.Title == "" || !slices.Contains(kinds, p.Type) {
			t.Errorf("%s: want a title and one of the panel types %v (got %q)", where, kinds, p.Type)
		}
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
		}
		if p.Type == "row" {
			continue
		}
		checkDatasource(t, where, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" {
				t.Errorf("%s: target %q without expr or refId", where, tg.RefID)
				continue
			}
			checkDatasource(t, where+" target "+tg.RefID, tg.Datasource)
			for _, fam := range checkPromQL(t, where, tg.Expr) {
				used[fam] = true
			}
			checkScoped(t, where, tg.Expr)
		}
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			ga, gb := a.GridPos, b.GridPos
			if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
				t.Errorf("panels %q and %q overlap (%+v, %+v)", a.Title, b.Title, ga, gb)
			}
		}
	}
	for fam := range opsMetrics {
		if !used[fam] {
			t.Errorf("dashboard: no panel shows %s", fam)
		}
	}
}

// checkDatasource: panels and queries use the data source variable, so the
// dashboard works on import and when provisioned from a file.
func checkDatasource(t *testing.T, where string, ds *grafanaDatasource) {
	t.Helper()
	if ds == nil || ds.Type != "prometheus" || ds.UID != "${datasource}" {
		t.Errorf("%s: datasource %+v: want {type: prometheus, uid: ${datasource}}", where, ds)
	}
}

// checkScoped: every hubgate series (and up) is filtered by the job,
// namespace and instance variables, so that one installation's panels do
// not mix in another's.
func checkScoped(t *testing.T, where, expr string) {
	t.Helper()
	sels, _, _ := parsePromQL(expr)
	for _, s := range sels {
		if s.name == "ALERTS" {
			continue
		}
		for _, v := range []string{"job", "namespace", "instance"} {
			if !slices.Contains(s.matchers, promMatcher{v, "=~", "$" + v}) {
				t.Errorf("%s: %s is not filtered by %s=~\"$%s\"", where, s.name, v, v)
			}
		}
	}
}
