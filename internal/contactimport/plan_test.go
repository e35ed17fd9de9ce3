package contactimport

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/message"
)

// TestPlan: columns are found by column_map, else by header name in any
// case, with spaces or hyphens for underscores and a byte-order mark
// ignored; other columns are string properties.
func TestPlan(t *testing.T) {
	t.Parallel()
	p, err := newPlan([]string{"\ufeff EMAIL ", "First-Name", "x", "plan", "bad key", "plan"}, nil)
	require.NoError(t, err)
	require.Equal(t, 0, p.email)
	require.Equal(t, 1, p.firstName)
	require.Equal(t, -1, p.lastName)
	require.Equal(t, []string{"x", "plan"}, p.keys(), "the first of a repeated header; invalid keys left out")

	named := "Given"
	p, err = newPlan([]string{"email", "Given", "n"}, &ColumnMap{FirstName: &named,
		Properties: map[string]PropertyColumn{"seats": {Column: "n", Type: "number"}}})
	require.NoError(t, err)
	require.Equal(t, 1, p.firstName)
	r, err := p.row([]string{" A@example.net ", "Ann", "3"})
	require.NoError(t, err)
	require.Equal(t, "A@example.net", r.email)
	require.Equal(t, map[string]any{"seats": 3.0}, r.props)
	_, err = p.row([]string{"a@example.net", "Ann", "three"})
	require.Error(t, err)

	for name, c := range map[string]struct {
		header []string
		cm     string
	}{
		"no email":        {[]string{"name"}, ""},
		"unknown column":  {[]string{"email"}, `{"first_name":"Nope"}`},
		"bad type":        {[]string{"email", "n"}, `{"properties":{"n":{"column":"n","type":"date"}}}`},
		"bad key":         {[]string{"email", "n"}, `{"properties":{"a-b":{"column":"n"}}}`},
		"unknown prop":    {[]string{"email"}, `{"properties":{"n":{}}}`},
		"column_map JSON": {[]string{"email"}, `[`},
	} {
		cm, err := ParseColumnMap(c.cm)
		if err == nil {
			_, err = newPlan(c.header, cm)
		}
		var ie *Error
		require.ErrorAs(t, err, &ie, name)
		require.Equal(t, CodeInvalid, ie.Code, name)
	}
}

// TestCheckCSV: a malformed CSV, an empty one and one over MaxRows are
// refused; blank lines are not rows.
func TestCheckCSV(t *testing.T) {
	t.Parallel()
	header, err := checkCSV(strings.NewReader("email,name\na@example.net\n\n  \nb@example.net,B,extra\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"email", "name"}, header)
	for _, bad := range []string{"", "email\n\"a@example.net\n", "email\n" + strings.Repeat("a@example.net\n", MaxRows+1)} {
		_, err := checkCSV(strings.NewReader(bad))
		var ie *Error
		require.ErrorAs(t, err, &ie)
	}
	_, err = checkCSV(strings.NewReader("email\n" + strings.Repeat("a@example.net\n", MaxRows)))
	require.NoError(t, err)
	require.True(t, blank([]string{"  "}))
	require.False(t, blank([]string{"", ""}))
}

// FuzzRows throws CSVs and column maps at the import's parsing and row
// mapping: no panic, and every row that maps has a valid address,
// one-line names and properties a contact may hold.
func FuzzRows(f *testing.F) {
	f.Add("email,first_name,last_name,unsubscribed,plan\na@example.net,A,B,yes,pro\n", "")
	f.Add("\ufeffE-mail,Given,n\n a@example.net ,\"x, y\",3\nbad,,x\n", `{"email":"E-mail","first_name":"Given","properties":{"n":{"column":"n","type":"number"}}}`)
	f.Add("email,b\n\"a@example.net\",true\n", `{"properties":{"b":{"column":"b","type":"boolean"}}}`)
	f.Add("email\n\"a\n", `{`)
	f.Fuzz(func(t *testing.T, csv, columnMap string) {
		header, err := checkCSV(strings.NewReader(csv))
		if err != nil {
			return
		}
		cm, err := ParseColumnMap(columnMap)
		if err != nil {
			return
		}
		p, err := newPlan(header, cm)
		if err != nil {
			return
		}
		cr := newReader(strings.NewReader(csv))
		if _, err := cr.Read(); err != nil {
			t.Fatalf("header read twice: %v", err)
		}
		for {
			rec, err := cr.Read()
			if err != nil {
				return
			}
			r, err := p.row(rec)
			if err != nil {
				continue
			}
			if !message.ValidAddress(r.email) || strings.ContainsAny(r.email, "<>\r\n\x00") {
				t.Fatalf("row maps an invalid address %q", r.email)
			}
			for _, n := range []*string{r.firstName, r.lastName} {
				if n != nil && (*n == "" || len(*n) > contact.MaxName || strings.ContainsAny(*n, "\r\n\x00")) {
					t.Fatalf("row maps a bad name %q", *n)
				}
			}
			if len(r.props) > contact.MaxProperties {
				t.Fatalf("%d properties", len(r.props))
			}
			for k, v := range r.props {
				if !contact.ValidPropertyKey(k) {
					t.Fatalf("bad property key %q", k)
				}
				switch v := v.(type) {
				case string:
					if !contact.ValidPropertyString(v) {
						t.Fatalf("bad property value %q", v)
					}
				case float64:
				default:
					t.Fatalf("property %s of type %T", k, v)
				}
			}
		}
	})
}
