// Package report renders a run of the control plane as one self-contained
// HTML page: charts over time, drawn as inline SVG here, the timeline and
// the tables, with inline CSS and no script, so that the page needs no
// network to be read. `ecsplane local` fills it from what a scenario
// observed; `ecsplane report` from a ledger and the service's CloudWatch
// metrics.
package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Page is what the page shows.
type Page struct {
	Title, Subtitle string
	// Source says where the figures come from.
	Source string
	// From and To bound the charts' time axis; Origin is the time shown
	// as +0:00:00.
	From, To time.Time
	Charts   []Chart
	Timeline []Row
	Tables   []Table
}

// Chart is one chart over time: lines of counts, or lanes of spans and
// marks.
type Chart struct {
	// ID names the chart in the page (data-chart).
	ID, Title, Note string
	Lines           []Series
	Spans           []Span
	Marks           []Mark
}

// Series is a line: a value that holds from each point to the next.
type Series struct {
	Name   string
	Points []Point
}

// Point is a value from a time on.
type Point struct {
	At    time.Time
	Value float64
}

// Span is a bar on a lane, from From to To; Class colours it (ok, bad,
// warn, info).
type Span struct {
	Lane, Label, Class string
	From, To           time.Time
}

// Mark is a point event on a lane.
type Mark struct {
	Lane, Label, Class string
	At                 time.Time
}

// Row is a line of the timeline.
type Row struct {
	Virtual, Wall, Event, StateMachine, Outcome string
}

// Table is a titled table.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Render writes the page.
func Render(w io.Writer, p Page) error {
	var charts []template.HTML
	for _, c := range p.Charts {
		charts = append(charts, chartSVG(c, p.From, p.To))
	}
	return pageTemplate.Execute(w, struct {
		Page
		SVG []template.HTML
	}{p, charts})
}

// Clock writes the time since from as +h:mm:ss.
func Clock(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%s%d:%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// The charts' geometry, in SVG user units.
const (
	width   = 960
	left    = 150
	right   = 40
	lineH   = 180
	laneH   = 26
	topPad  = 12
	axisPad = 26
)

var palette = []string{"#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2"}

func chartSVG(c Chart, from, to time.Time) template.HTML {
	span := to.Sub(from)
	if span <= 0 {
		span = time.Minute
	}
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(span)
		return left + math.Max(0, math.Min(1, f))*(width-left-right)
	}
	var b strings.Builder
	lanes := laneNames(c)
	h := topPad + axisPad
	if len(c.Lines) > 0 {
		h += lineH
	}
	h += laneH * len(lanes)
	fmt.Fprintf(&b, `<svg class="chart" data-chart="%s" viewBox="0 0 %d %d" role="img" aria-label="%s">`, esc(c.ID), width, h, esc(c.Title))
	y0 := float64(topPad)
	if len(c.Lines) > 0 {
		top := 1.0
		for _, s := range c.Lines {
			for _, p := range s.Points {
				top = math.Max(top, p.Value)
			}
		}
		top = math.Ceil(top)
		y := func(v float64) float64 { return y0 + lineH - v/top*(lineH-8) }
		for _, v := range ticks(top) {
			fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f">%g</text>`, left, width-right, y(v), y(v), left-6, y(v)+4, v)
		}
		for i, s := range c.Lines {
			if len(s.Points) == 0 {
				continue
			}
			var d strings.Builder
			for j, p := range s.Points {
				if j == 0 {
					fmt.Fprintf(&d, "M%.1f %.1f", x(p.At), y(p.Value))
					continue
				}
				fmt.Fprintf(&d, " H%.1f V%.1f", x(p.At), y(p.Value))
			}
			fmt.Fprintf(&d, " H%.1f", x(to))
			colour := palette[i%len(palette)]
			fmt.Fprintf(&b, `<g class="series" data-series="%s" data-points="%d"><path d="%s" stroke="%s"/></g>`, esc(s.Name), len(s.Points), d.String(), colour)
			fmt.Fprintf(&b, `<g class="legend"><rect x="8" y="%d" width="10" height="10" fill="%s"/><text x="22" y="%d">%s</text></g>`, topPad+i*16, colour, topPad+i*16+9, esc(s.Name))
		}
		y0 += lineH
	}
	for i, lane := range lanes {
		ly := y0 + float64(i*laneH)
		fmt.Fprintf(&b, `<g class="lane" data-lane="%s"><line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="lane-name" x="%d" y="%.1f">%s</text>`, esc(lane), left, width-right, ly+laneH, ly+laneH, left-6, ly+17, esc(trim(lane, 22)))
		for _, s := range c.Spans {
			if s.Lane != lane {
				continue
			}
			x1, x2 := x(s.From), x(s.To)
			fmt.Fprintf(&b, `<g class="span %s" data-span="%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%d"><title>%s</title></rect><text x="%.1f" y="%.1f">%s</text></g>`,
				esc(s.Class), esc(s.Label), x1, ly+4, math.Max(2, x2-x1), laneH-8, esc(s.Label), x1+3, ly+17, esc(trim(s.Label, int(math.Max(0, (x2-x1)/6.5)))))
		}
		for _, m := range c.Marks {
			if m.Lane != lane {
				continue
			}
			mx := x(m.At)
			fmt.Fprintf(&b, `<g class="mark %s" data-mark="%s"><path d="M%.1f %.1f l5 8 l-5 8 l-5 -8 z"><title>%s</title></path></g>`, esc(m.Class), esc(m.Label), mx, ly+5, esc(m.Label))
		}
		b.WriteString(`</g>`)
	}
	axisY := h - axisPad + 14
	for i := 0; i <= 6; i++ {
		t := from.Add(span * time.Duration(i) / 6)
		fmt.Fprintf(&b, `<text class="tick axis" x="%.1f" y="%d">%s</text>`, x(t), axisY, Clock(t.Sub(from)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func laneNames(c Chart) []string {
	var lanes []string
	add := func(l string) {
		if !slices.Contains(lanes, l) {
			lanes = append(lanes, l)
		}
	}
	for _, s := range c.Spans {
		add(s.Lane)
	}
	for _, m := range c.Marks {
		add(m.Lane)
	}
	return lanes
}

// ticks are up to five round values from 0 to top.
func ticks(top float64) []float64 {
	step := math.Max(1, math.Ceil(top/4))
	var out []float64
	for v := 0.0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}

func esc(s string) string { return html.EscapeString(s) }

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return ""
	}
	return string(r[:n-1]) + "…"
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:18px 28px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#d1d5db}
main{padding:12px 28px 40px;max-width:1100px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:4px 0 6px}.note{color:#4b5563;margin:0 0 6px}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:#e5e7eb}svg text{font-size:11px;fill:#374151}svg .tick{text-anchor:end}svg .axis{text-anchor:middle}
svg .lane-name{text-anchor:end}svg .series path{fill:none;stroke-width:2}
svg .span rect{fill:#9ca3af}svg .span.ok rect{fill:#86efac}svg .span.bad rect{fill:#fca5a5}svg .span.warn rect{fill:#fcd34d}svg .span.info rect{fill:#93c5fd}
svg .mark path{fill:#6b7280}svg .mark.ok path{fill:#16a34a}svg .mark.bad path{fill:#dc2626}svg .mark.warn path{fill:#d97706}svg .mark.info path{fill:#2563eb}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{background:#f3f4f6;position:sticky;top:0}td.mono{font-family:ui-monospace,monospace;white-space:nowrap}
.scroll{max-height:520px;overflow:auto}
</style></head>
<body>
<header><h1>{{.Title}}</h1><p>{{.Subtitle}}</p></header>
<main>
<p class="note">{{.Source}}</p>
{{range $i, $c := .Charts}}<section class="chart-section" id="chart-{{$c.ID}}"><h2>{{$c.Title}}</h2>{{if $c.Note}}<p class="note">{{$c.Note}}</p>{{end}}{{index $.SVG $i}}</section>
{{end}}
{{range .Tables}}<section class="table"><h2>{{.Title}}</h2><div class="scroll"><table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></div></section>
{{end}}
{{if .Timeline}}<section id="timeline"><h2>Timeline</h2><div class="scroll"><table><thead><tr><th>virtual</th><th>wall</th><th>event</th><th>state machine</th><th>outcome</th></tr></thead><tbody>
{{range .Timeline}}<tr><td class="mono">{{.Virtual}}</td><td class="mono">{{.Wall}}</td><td>{{.Event}}</td><td>{{.StateMachine}}</td><td>{{.Outcome}}</td></tr>
{{end}}</tbody></table></div></section>{{end}}
</main></body></html>
`))
