// Package chart draws the dashboard's charts as SVG on the server: no
// script, no chart library, nothing a strict Content-Security-Policy
// refuses. Colours come from CSS classes (series-0 … series-5, axis, grid,
// label) that the dashboard's stylesheet sets for its light and dark
// themes; the markup carries only geometry and escaped text.
//
// Every chart is an image with an accessible name and a description that
// states its figures in words (totals and peaks), for screen readers.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// MaxSeriesClasses is how many series colours the stylesheet defines;
// series past it reuse them in turn.
const MaxSeriesClasses = 6

// Series is one named line (or bar group) of values.
type Series struct {
	Name   string
	Values []float64
}

// Line is a line chart of series over labelled points (periods).
type Line struct {
	// ID prefixes the ids inside the SVG; unique within a page.
	ID string
	// Title is the chart's accessible name.
	Title string
	// Labels name the points, one per value, left to right.
	Labels []string
	Series []Series
	// Width and Height are the viewBox's size (720×240 when 0).
	Width, Height int
	// Format writes a value for the axis and the description (an integer
	// with thousands separators when nil).
	Format func(float64) string
}

// Bars is a horizontal bar chart: one bar per label (for example a count
// per domain), longest first as given.
type Bars struct {
	ID     string
	Title  string
	Labels []string
	Values []float64
	Width  int // 720 when 0; the height follows the bars
	Format func(float64) string
}

const (
	padLeft   = 56
	padRight  = 16
	padTop    = 12
	padBottom = 28
	maxXTicks = 8
	barHeight = 22
	barGap    = 8
	barLabel  = 180
)

// SVG renders the line chart.
func (c Line) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 240
	}
	format := c.Format
	if format == nil {
		format = Count
	}
	var b strings.Builder
	begin(&b, c.ID, c.Title, c.describe(format), w, h)
	n := len(c.Labels)
	peak := 0.0
	for _, s := range c.Series {
		for i := range min(n, len(s.Values)) {
			peak = math.Max(peak, clean(s.Values[i]))
		}
	}
	if n == 0 || len(c.Series) == 0 {
		empty(&b, w, h)
		return end(&b)
	}
	top, ticks := niceTicks(peak, c.Format == nil)
	plotW, plotH := float64(w-padLeft-padRight), float64(h-padTop-padBottom)
	y := func(v float64) float64 { return float64(padTop) + plotH - clean(v)/top*plotH }
	x := func(i int) float64 {
		if n == 1 {
			return float64(padLeft) + plotW/2
		}
		return float64(padLeft) + plotW*float64(i)/float64(n-1)
	}
	// Grid and y axis labels.
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>`, padLeft, w-padRight, num(y(t)), num(y(t)))
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`,
			padLeft-6, num(y(t)), esc(format(t)))
	}
	// X axis labels, at most maxXTicks of them, evenly spaced.
	step := max1((n + maxXTicks - 1) / maxXTicks)
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<text class="label" x="%s" y="%d" text-anchor="middle">%s</text>`, num(x(i)), h-8, esc(c.Labels[i]))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%s" y2="%s"/>`, padLeft, w-padRight, num(y(0)), num(y(0)))
	// One polyline per series, with a point marker when there is one point.
	for si, s := range c.Series {
		fmt.Fprintf(&b, `<g class="series-%d"><title>%s</title>`, si%MaxSeriesClasses, esc(s.Name))
		var pts strings.Builder
		for i := range min(n, len(s.Values)) {
			if i > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(num(x(i)) + "," + num(y(s.Values[i])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2" points="%s"/>`, pts.String())
		if n == 1 && len(s.Values) > 0 {
			fmt.Fprintf(&b, `<circle r="3" cx="%s" cy="%s"/>`, num(x(0)), num(y(s.Values[0])))
		}
		b.WriteString(`</g>`)
	}
	return end(&b)
}

// describe says the chart's figures in words: each series' total and
// peak.
func (c Line) describe(format func(float64) string) string {
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return "No data."
	}
	parts := make([]string, 0, len(c.Series))
	for _, s := range c.Series {
		total, peak, at := 0.0, -1.0, ""
		for i := range min(len(c.Labels), len(s.Values)) {
			v := clean(s.Values[i])
			total += v
			if v > peak {
				peak, at = v, c.Labels[i]
			}
		}
		parts = append(parts, fmt.Sprintf("%s: total %s, peak %s at %s", s.Name, format(total), format(peak), at))
	}
	return fmt.Sprintf("From %s to %s. %s.", c.Labels[0], c.Labels[len(c.Labels)-1], strings.Join(parts, "; "))
}

// SVG renders the bar chart.
func (c Bars) SVG() template.HTML {
	w := c.Width
	if w <= 0 {
		w = 720
	}
	format := c.Format
	if format == nil {
		format = Count
	}
	n := min(len(c.Labels), len(c.Values))
	h := padTop + padBottom + max1(n)*(barHeight+barGap)
	desc := "No data."
	if n > 0 {
		parts := make([]string, n)
		for i := range n {
			parts[i] = c.Labels[i] + " " + format(clean(c.Values[i]))
		}
		desc = strings.Join(parts, "; ") + "."
	}
	var b strings.Builder
	begin(&b, c.ID, c.Title, desc, w, h)
	if n == 0 {
		empty(&b, w, h)
		return end(&b)
	}
	peak := 0.0
	for i := range n {
		peak = math.Max(peak, clean(c.Values[i]))
	}
	top, _ := niceTicks(peak, c.Format == nil)
	plotW := float64(w - barLabel - padRight - 64)
	for i := range n {
		y := padTop + i*(barHeight+barGap)
		bw := clean(c.Values[i]) / top * plotW
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s</text>`,
			barLabel-8, y+barHeight/2, esc(truncate(c.Labels[i], 28)))
		fmt.Fprintf(&b, `<rect class="series-0" x="%d" y="%d" width="%s" height="%d" rx="3"><title>%s</title></rect>`,
			barLabel, y, num(bw), barHeight, esc(c.Labels[i]+": "+format(clean(c.Values[i]))))
		fmt.Fprintf(&b, `<text class="label" x="%s" y="%d" dominant-baseline="middle">%s</text>`,
			num(float64(barLabel)+bw+6), y+barHeight/2, esc(format(clean(c.Values[i]))))
	}
	return end(&b)
}

func begin(b *strings.Builder, id, title, desc string, w, h int) {
	id = safeID(id)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`,
		w, h, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(title), id, esc(desc))
}

func empty(b *strings.Builder, w, h int) {
	fmt.Fprintf(b, `<text class="label" x="%d" y="%d" text-anchor="middle">No data for this period</text>`, w/2, h/2)
}

func end(b *strings.Builder) template.HTML {
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text and attribute above is escaped or generated
}

// niceTicks returns the axis top (at least peak, a round number) and the
// ticks from 0 to it, at most 5 intervals of 1, 2 or 5 times a power of
// ten; whole numbers only when integer (counts).
func niceTicks(peak float64, integer bool) (top float64, ticks []float64) {
	peak = clean(peak)
	if peak <= 0 {
		return 1, []float64{0, 1}
	}
	raw := peak / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if integer && step < 1 {
		step = 1
	}
	top = math.Ceil(peak/step) * step
	for i := 0; float64(i)*step <= top+step/2 && i <= 10; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return top, ticks
}

// maxValue bounds what is drawn (no count or rate comes near it), so the
// axis arithmetic stays finite.
const maxValue = 1e15

// clean turns what cannot be drawn (NaN, -Inf, negatives) into 0 and caps
// the rest at maxValue.
func clean(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return math.Min(v, maxValue)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc makes s safe text for SVG (XML inside HTML): escaped, valid UTF-8,
// without the control characters XML forbids.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || r == 0xfffe || r == 0xffff {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return html.EscapeString(s)
}

func max1(n int) int { return max(n, 1) }

// safeID keeps letters, digits, '-' and '_' of id ("chart" when none).
func safeID(id string) string {
	out := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, id)
	if out == "" {
		return "chart"
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Count writes a value as an integer with thousands separators.
func Count(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Percent writes a rate (0–1) as a percentage with one decimal.
func Percent(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }
