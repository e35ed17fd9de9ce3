package api

import (
	"strings"
	"testing"

	"github.com/godwit/godwit/internal/sendreq"
)

// FuzzImportRows throws CSVs and column maps at the import's parsing and
// row mapping: no panic, and every row that maps has a valid address,
// one-line names and properties a contact may hold.
func FuzzImportRows(f *testing.F) {
	f.Add("email,first_name,last_name,unsubscribed,plan\na@example.net,A,B,yes,pro\n", "")
	f.Add("\ufeffE-mail,Given,n\n a@example.net ,\"x, y\",3\nbad,,x\n", `{"email":"E-mail","first_name":"Given","properties":{"n":{"column":"n","type":"number"}}}`)
	f.Add("email,b\n\"a@example.net\",true\n", `{"properties":{"b":{"column":"b","type":"boolean"}}}`)
	f.Add("email\n\"a\n", `{`)
	f.Fuzz(func(t *testing.T, csv, columnMap string) {
		header, err := checkImportCSV(strings.NewReader(csv))
		if err != nil {
			return
		}
		cm, err := parseColumnMap(columnMap)
		if err != nil {
			return
		}
		plan, err := planImport(header, cm)
		if err != nil {
			return
		}
		cr := newImportReader(strings.NewReader(csv))
		if _, err := cr.Read(); err != nil {
			t.Fatalf("header read twice: %v", err)
		}
		for {
			rec, err := cr.Read()
			if err != nil {
				return
			}
			row, err := plan.row(rec)
			if err != nil {
				continue
			}
			if !sendreq.ValidAddress(row.email) || strings.ContainsAny(row.email, "<>\r\n\x00") {
				t.Fatalf("row maps an invalid address %q", row.email)
			}
			for _, n := range []*string{row.firstName, row.lastName} {
				if n != nil && (*n == "" || len(*n) > maxContactName || strings.ContainsAny(*n, "\r\n\x00")) {
					t.Fatalf("row maps a bad name %q", *n)
				}
			}
			if len(row.props) > maxContactProperties {
				t.Fatalf("%d properties", len(row.props))
			}
			for k, v := range row.props {
				if !validPropertyKey(k) {
					t.Fatalf("bad property key %q", k)
				}
				switch v := v.(type) {
				case string:
					if !validPropertyString(v) {
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
