package chart

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// svgDoc is what the tests read back of a chart.
type svgDoc struct {
	XMLName  xml.Name `xml:"svg"`
	Role     string   `xml:"role,attr"`
	Labelled string   `xml:"aria-labelledby,attr"`
	Title    string   `xml:"title"`
	Desc     string   `xml:"desc"`
	Texts    []string `xml:"text"`
	Groups   []struct {
		Class    string `xml:"class,attr"`
		Title    string `xml:"title"`
		Polyline struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	} `xml:"g"`
	Rects []struct {
		Width string `xml:"width,attr"`
		Title string `xml:"title"`
	} `xml:"rect"`
}

func parse(t *testing.T, svg string) svgDoc {
	t.Helper()
	var d svgDoc
	require.NoError(t, xml.Unmarshal([]byte(svg), &d), svg)
	return d
}

func TestLine(t *testing.T) {
	c := Line{ID: "sent", Title: "Sent <per day>", Labels: []string{"Dec 1", "Dec 2", "Dec 3"},
		Series: []Series{{Name: "sent", Values: []float64{10, 1234, 7}}, {Name: "<script>x</script>", Values: []float64{0, 3, math.NaN()}}}}
	svg := string(c.SVG())
	require.NotContains(t, svg, "<script>", "names are escaped")
	d := parse(t, svg)
	require.Equal(t, "img", d.Role)
	require.Equal(t, "sent-title sent-desc", d.Labelled)
	require.Equal(t, "Sent <per day>", d.Title)
	require.Equal(t, "From Dec 1 to Dec 3. sent: total 1,251, peak 1,234 at Dec 2; <script>x</script>: total 3, peak 3 at Dec 2.", d.Desc)
	require.Len(t, d.Groups, 2)
	require.Equal(t, "series-0", d.Groups[0].Class)
	require.Equal(t, "series-1", d.Groups[1].Class)
	require.Len(t, strings.Fields(d.Groups[0].Polyline.Points), 3, "one point per label")
	// The axis is round: 0 to 1,500 in steps of 500 (1,234/4 → 500).
	for _, want := range []string{"0", "500", "1,000", "1,500", "Dec 1", "Dec 2", "Dec 3"} {
		require.Contains(t, d.Texts, want)
	}
	// The top of the axis is the top of the plot: the peak is below it.
	var ys []float64
	for _, p := range strings.Fields(d.Groups[0].Polyline.Points) {
		_, y, ok := strings.Cut(p, ",")
		require.True(t, ok)
		v, err := parseFloat(y)
		require.NoError(t, err)
		ys = append(ys, v)
	}
	require.Less(t, ys[1], ys[0], "1,234 is drawn higher than 10")
	require.Greater(t, ys[1], float64(padTop), "and under the axis top")
}

func TestLineEmptyAndOnePoint(t *testing.T) {
	d := parse(t, string(Line{Title: "Nothing"}.SVG()))
	require.Equal(t, "No data.", d.Desc)
	require.Contains(t, d.Texts, "No data for this period")
	require.Equal(t, "chart-title chart-desc", d.Labelled, "an id is made up when none is given")

	svg := string(Line{ID: `x"><y`, Title: "One", Labels: []string{"today"}, Series: []Series{{Name: "sent", Values: []float64{0}}}}.SVG())
	d = parse(t, svg)
	require.Equal(t, "xy-title xy-desc", d.Labelled, "the id keeps only safe characters")
	require.Contains(t, svg, "<circle", "a single point is marked")
	require.Contains(t, d.Texts, "1", "an all-zero chart still has an axis")
}

func TestBars(t *testing.T) {
	c := Bars{ID: "domains", Title: "Sent by domain", Labels: []string{"example.com", "a-very-long-subdomain.of.some.example.net"},
		Values: []float64{0.25, 0.125}, Format: Percent}
	d := parse(t, string(c.SVG()))
	require.Equal(t, "example.com 25.0%; a-very-long-subdomain.of.some.example.net 12.5%.", d.Desc)
	require.Len(t, d.Rects, 2)
	w0, err := parseFloat(d.Rects[0].Width)
	require.NoError(t, err)
	w1, err := parseFloat(d.Rects[1].Width)
	require.NoError(t, err)
	require.InDelta(t, 2*w1, w0, 0.2, "bars are proportional")
	require.Contains(t, d.Texts, "a-very-long-subdomain.of.so…", "long labels are shortened, with the whole in the title")
	require.Equal(t, "a-very-long-subdomain.of.some.example.net: 12.5%", d.Rects[1].Title)
	require.Contains(t, parse(t, string(Bars{Title: "none"}.SVG())).Texts, "No data for this period")
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		peak    float64
		integer bool
		want    []float64
	}{
		{0, true, []float64{0, 1}},
		{1, true, []float64{0, 1}},
		{7, true, []float64{0, 2, 4, 6, 8}},
		{10, true, []float64{0, 5, 10}},
		{99, true, []float64{0, 50, 100}},
		{1234, true, []float64{0, 500, 1000, 1500}},
		{0.37, false, []float64{0, 0.1, 0.2, 0.3, 0.4}},
		{1e9, true, []float64{0, 5e8, 1e9}},
	} {
		top, ticks := niceTicks(tc.peak, tc.integer)
		require.InDeltaSlice(t, tc.want, ticks, 1e-9, "peak %v", tc.peak)
		require.Equal(t, ticks[len(ticks)-1], top)
	}
}

func TestFormats(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", 12.6: "13"} {
		require.Equal(t, want, Count(v))
	}
	require.Equal(t, "12.5%", Percent(0.125))
}

// FuzzLine: whatever the names, labels and values (the names and labels
// come from users' domains and tags), a chart is well-formed XML with one
// point per label in each series.
func FuzzLine(f *testing.F) {
	f.Add("sent", "Dec 1", 1.0, 2.0)
	f.Add("<b>&amp;\"'", "\x00\xff", math.Inf(1), -5.0)
	f.Add("", "", math.NaN(), 1e308)
	f.Fuzz(func(t *testing.T, name, label string, a, b float64) {
		c := Line{ID: name, Title: name, Labels: []string{label, label + "2"}, Series: []Series{{Name: name, Values: []float64{a, b}}}}
		svg := string(c.SVG())
		d := parse(t, svg)
		if len(d.Groups) != 1 || len(strings.Fields(d.Groups[0].Polyline.Points)) != 2 {
			t.Fatalf("chart of %q %q %v %v: %s", name, label, a, b, svg)
		}
		parse(t, string(Bars{ID: name, Title: name, Labels: []string{label}, Values: []float64{a}}.SVG()))
	})
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
