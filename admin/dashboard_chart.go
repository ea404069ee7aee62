package admin

import (
	"strconv"
	"time"
)

// chart is the geometry of the links-per-day bar chart, computed here so
// that the template only places values (all escaped by html/template) into
// an inline SVG: no script, no image request, readable without CSS.
type chart struct {
	W, H           int
	Title, Desc    string
	Persons, Orgs  string // legend
	Bars           []chartBar
	YTicks, XTicks []chartTick
	AxisX1, AxisX2 string // the x axis line
	AxisY          string
}

type chartBar struct {
	Class      string // "p" persons, "o" organizations
	X, Y, W, H string
	Title      string // tooltip and accessible name
}

type chartTick struct {
	X, Y   string // where the label goes
	Anchor string // text-anchor: start, middle or end
	X1, X2 string // the grid line (y ticks)
	LineY  string
	Label  string
}

// Chart layout in SVG user units; the SVG scales to the card's width.
const (
	chartW      = 640
	chartH      = 220
	chartLeft   = 40
	chartRight  = 8
	chartTop    = 12
	chartBottom = 30
)

// newChart lays out one pair of bars (persons, organizations) per day.
func newChart(days []DayLinks, l locale) chart {
	c := chart{W: chartW, H: chartH, Title: l.T("dash.chart.title"),
		Persons: l.T("dash.chart.persons"), Orgs: l.T("dash.chart.orgs")}
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	bottom := float64(chartH - chartBottom)
	peak, persons, orgs := 0, 0, 0
	for _, d := range days {
		peak = max(peak, d.Persons, d.Orgs)
		persons += d.Persons
		orgs += d.Orgs
	}
	c.Desc = l.F("dash.chart.desc", l.Num(persons), l.Num(orgs), l.Num(peak))
	step, top := axisScale(peak)
	for v := 0; v <= top; v += step {
		y := bottom - plotH*float64(v)/float64(top)
		c.YTicks = append(c.YTicks, chartTick{X: num(chartLeft - 6), Y: num(y + 4), Anchor: "end", X1: num(chartLeft), X2: num(chartW - chartRight),
			LineY: num(y), Label: l.Num(v)})
	}
	c.AxisX1, c.AxisX2, c.AxisY = num(chartLeft), num(chartW-chartRight), num(bottom)
	if len(days) == 0 {
		return c
	}
	slot := plotW / float64(len(days))
	barW := slot * 0.38
	for i, d := range days {
		x := chartLeft + slot*float64(i)
		day, err := time.Parse(time.DateOnly, d.Date)
		label := d.Date
		if err == nil {
			label = l.Day(day)
		}
		for _, b := range []struct {
			class, key string
			n          int
			off        float64
		}{{"p", "dash.chart.bar.persons", d.Persons, slot * 0.1}, {"o", "dash.chart.bar.orgs", d.Orgs, slot * 0.52}} {
			if b.n == 0 {
				continue
			}
			h := plotH * float64(b.n) / float64(top)
			c.Bars = append(c.Bars, chartBar{Class: b.class, X: num(x + b.off), Y: num(bottom - h), W: num(barW), H: num(h),
				Title: l.F(b.key, label, l.Num(b.n))})
		}
		// A label every seventh day, counted back from today (the last,
		// whose label ends at the plot's edge so that it is not cut off).
		switch {
		case i == len(days)-1:
			c.XTicks = append(c.XTicks, chartTick{X: num(x + slot), Y: num(bottom + 18), Anchor: "end", Label: label})
		case (len(days)-1-i)%7 == 0:
			c.XTicks = append(c.XTicks, chartTick{X: num(x + slot/2), Y: num(bottom + 18), Anchor: "middle", Label: label})
		}
	}
	return c
}

// axisScale picks a tick step of 1, 2 or 5 times a power of ten that
// divides the axis into at most four parts, and the axis' top: a multiple
// of the step at or above peak (at least one step).
func axisScale(peak int) (step, top int) {
	step = 1
	for mag := 1; ; mag *= 10 {
		for _, m := range []int{1, 2, 5} {
			step = m * mag
			if peak <= 4*step {
				top = max(step, (peak+step-1)/step*step)
				return step, top
			}
		}
	}
}

// num formats an SVG coordinate with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
