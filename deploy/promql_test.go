package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A small reader of PromQL, enough to find the series selectors of an
// expression (metric name and label matchers) and the functions it calls,
// so that the alert rules and the dashboard can be checked against the
// metrics contract without Prometheus' own parser (a large dependency for
// a test). It skips strings, ranges ([5m]), grouping label lists (by (…),
// on (…)) and Grafana variables; promtool, where installed, parses the
// rules fully.

type promMatcher struct {
	label, op, value string
}

type promSelector struct {
	name     string
	matchers []promMatcher
}

// promFunctions are PromQL's functions and aggregation operators.
var promFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year days_in_month
		delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
		histogram_sum holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear
		rate resets round scalar sgn sort sort_desc sqrt time timestamp vector year
		avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time
		stdvar_over_time last_over_time present_over_time`) {
		promFunctions[f] = true
	}
}

var (
	// promKeywords are words that are neither metrics nor functions.
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "Inf": true, "NaN": true, "inf": true, "nan": true, "group_left": true, "group_right": true, "by": true, "without": true, "on": true, "ignoring": true}
	// promLabelLists are keywords followed by a parenthesised label list.
	promLabelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// parsePromQL returns the selectors and the functions of expr.
func parsePromQL(expr string) (sels []promSelector, funcs []string, err error) {
	s := expr
	i, depth := 0, 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	// skipTo skips past the bracket that closes the one at i.
	skipTo := func(open, close byte) error {
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					i++
					return nil
				}
			}
		}
		return fmt.Errorf("unclosed %c", open)
	}
	readString := func() (string, error) {
		q := s[i]
		j := i + 1
		for j < len(s) && s[j] != q {
			if s[j] == '\\' && q != '`' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return "", fmt.Errorf("unterminated string at %d", i)
		}
		lit := s[i : j+1]
		i = j + 1
		if q == '\'' {
			lit = `"` + strings.ReplaceAll(lit[1:len(lit)-1], `"`, `\"`) + `"`
		}
		return strconv.Unquote(lit)
	}
	readIdent := func() string {
		j := i
		for i < len(s) && isIdentChar(s[i]) {
			i++
		}
		return s[j:i]
	}
	readMatchers := func() ([]promMatcher, error) {
		i++ // {
		var ms []promMatcher
		for {
			skipSpace()
			if i < len(s) && s[i] == ',' {
				i++
				skipSpace()
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unclosed {")
			}
			if s[i] == '}' {
				i++
				return ms, nil
			}
			if !isIdentStart(s[i]) {
				return nil, fmt.Errorf("label name expected at %q", s[i:])
			}
			m := promMatcher{label: readIdent()}
			skipSpace()
			for _, op := range []string{"=~", "!~", "!=", "="} {
				if strings.HasPrefix(s[i:], op) {
					m.op = op
					i += len(op)
					break
				}
			}
			if m.op == "" {
				return nil, fmt.Errorf("matcher operator expected after %s", m.label)
			}
			skipSpace()
			if i >= len(s) || (s[i] != '"' && s[i] != '\'' && s[i] != '`') {
				return nil, fmt.Errorf("string expected after %s%s", m.label, m.op)
			}
			v, err := readString()
			if err != nil {
				return nil, err
			}
			m.value = v
			ms = append(ms, m)
		}
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			if _, err := readString(); err != nil {
				return nil, nil, err
			}
		case c == '[':
			if err := skipTo('[', ']'); err != nil {
				return nil, nil, err
			}
		case c == '{':
			return nil, nil, fmt.Errorf("a selector without a metric name at %q", s[i:])
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				if err := skipTo('{', '}'); err != nil {
					return nil, nil, err
				}
			} else {
				readIdent()
			}
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			id := readIdent()
			skipSpace()
			next := byte(0)
			if i < len(s) {
				next = s[i]
			}
			switch {
			case promLabelLists[id] && next == '(':
				if err := skipTo('(', ')'); err != nil {
					return nil, nil, err
				}
			case promKeywords[id]:
			case promFunctions[id] && (strings.HasPrefix(s[i:], "by") || strings.HasPrefix(s[i:], "without")):
				funcs = append(funcs, id) // an aggregation: sum by (…) (…)
			case next == '(':
				if !promFunctions[id] {
					return nil, nil, fmt.Errorf("unknown function %s", id)
				}
				funcs = append(funcs, id)
			default:
				sel := promSelector{name: id}
				if next == '{' {
					ms, err := readMatchers()
					if err != nil {
						return nil, nil, err
					}
					sel.matchers = ms
				}
				sels = append(sels, sel)
			}
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth--; depth < 0 {
				return nil, nil, fmt.Errorf("unbalanced ) at %d", i)
			}
			i++
		default:
			i++
		}
	}
	if depth != 0 {
		return nil, nil, fmt.Errorf("%d unclosed (", depth)
	}
	return sels, funcs, nil
}

// simpleAlternation is a regex matcher value that only lists values.
var simpleAlternation = regexp.MustCompile(`^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$`)

// checkPromQL reports every selector of expr that does not fit the metrics
// contract: an unknown series, a label the family does not have, or a value
// outside the ones the contract fixes. It returns the families used.
func checkPromQL(t *testing.T, where, expr string) []string {
	t.Helper()
	sels, _, err := parsePromQL(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return nil
	}
	var families []string
	for _, sel := range sels {
		family, m, extra, ok := seriesOf(sel.name)
		if !ok {
			t.Errorf("%s: %s is not a metric of the contract (opscontract_test.go)", where, sel.name)
			continue
		}
		families = append(families, family)
		for _, mt := range sel.matchers {
			if family != "ALERTS" && !slices.Contains(m.labels, mt.label) && !slices.Contains(targetLabels, mt.label) && !slices.Contains(extra, mt.label) {
				t.Errorf("%s: %s has no label %s", where, sel.name, mt.label)
				continue
			}
			allowed := m.values[mt.label]
			if allowed == nil || strings.Contains(mt.value, "$") {
				continue
			}
			var vals []string
			switch {
			case mt.op == "=" || mt.op == "!=":
				vals = []string{mt.value}
			case simpleAlternation.MatchString(mt.value):
				vals = strings.Split(mt.value, "|")
			}
			for _, v := range vals {
				if !slices.Contains(allowed, v) {
					t.Errorf("%s: %s{%s%s%q}: %q is not one of %v", where, sel.name, mt.label, mt.op, mt.value, v, allowed)
				}
			}
		}
	}
	if len(sels) == 0 {
		t.Errorf("%s: %q selects no series", where, expr)
	}
	return families
}

// The reader itself: selectors, matchers and functions, with the parts it
// must skip.
func TestParsePromQL(t *testing.T) {
	expr := `histogram_quantile(0.99, sum by (job, le) (rate(hubgate_x_bucket{class="upstream", code=~"5.."}[$__rate_interval])))
	  / on (job) group_left sum(rate(up{job='hubgate'}[5m] offset 30m)) > 2 and ALERTS{alertname="A"} # comment {x}
	  or label_replace(vector(1), "a", "$1", "b", "(.*)")`
	sels, funcs, err := parsePromQL(expr)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sels {
		var ms []string
		for _, m := range s.matchers {
			ms = append(ms, m.label+m.op+m.value)
		}
		got = append(got, s.name+"{"+strings.Join(ms, ",")+"}")
	}
	want := []string{`hubgate_x_bucket{class=upstream,code=~5..}`, `up{job=hubgate}`, `ALERTS{alertname=A}`}
	if !slices.Equal(got, want) {
		t.Errorf("selectors %q; want %q", got, want)
	}
	if wantF := []string{"histogram_quantile", "sum", "rate", "sum", "rate", "label_replace", "vector"}; !slices.Equal(funcs, wantF) {
		t.Errorf("functions %q; want %q", funcs, wantF)
	}
	for _, bad := range []string{`rate(x[5m]`, `{job="x"}`, `histogram_quantle(0.9, x)`, `x{a="b}`, `x{a b}`} {
		if _, _, err := parsePromQL(bad); err == nil {
			t.Errorf("parsePromQL(%q): no error", bad)
		}
	}
}
