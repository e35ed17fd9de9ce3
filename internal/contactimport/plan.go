package contactimport

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/store"
)

// ColumnMap is column_map: contact fields and property keys to CSV column
// names (headers).
type ColumnMap struct {
	Email        *string                   `json:"email,omitempty"`
	FirstName    *string                   `json:"first_name,omitempty"`
	LastName     *string                   `json:"last_name,omitempty"`
	Unsubscribed *string                   `json:"unsubscribed,omitempty"`
	Properties   map[string]PropertyColumn `json:"properties,omitempty"`
}

// PropertyColumn maps one property key: its column and its type (string,
// number or boolean; "" for the declared type, else string).
type PropertyColumn struct {
	Column string `json:"column"`
	Type   string `json:"type,omitempty"`
}

// propertyBoolean is column_map's boolean type: the cell is read as a
// boolean and stored as the string "true" or "false".
const propertyBoolean = "boolean"

type planProperty struct {
	key, typ string
	col      int
	typed    bool // the type is column_map's, not the default
}

// plan says which column of a row holds what (-1: none).
type plan struct {
	email, firstName, lastName, unsubscribed int
	props                                    []planProperty
}

// row is one record's contact fields; nil fields are empty cells.
type row struct {
	email               string
	firstName, lastName *string
	unsubscribed        *bool
	props               map[string]any
}

func headerKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(h)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ParseColumnMap decodes column_map as the form field carries it (JSON; ""
// or null for none).
func ParseColumnMap(v string) (*ColumnMap, error) {
	if strings.TrimSpace(v) == "" || strings.TrimSpace(v) == "null" {
		return nil, nil
	}
	var cm ColumnMap
	if err := json.Unmarshal([]byte(v), &cm); err != nil {
		return nil, invalid("The `column_map` field must be a JSON object mapping contact fields to CSV column names.")
	}
	return &cm, nil
}

// newPlan maps the header to contact fields: by column_map where it names
// a field, else by header name (email, first_name, last_name,
// unsubscribed, in any case, spaces or hyphens for underscores). Without
// column_map properties, every other column whose header is a valid
// property key is a string property.
func newPlan(header []string, cm *ColumnMap) (*plan, error) {
	byName := map[string]int{}
	byKey := map[string]int{}
	for i, h := range header {
		name := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, ok := byName[name]; !ok {
			byName[name] = i
		}
		if _, ok := byKey[headerKey(h)]; !ok {
			byKey[headerKey(h)] = i
		}
	}
	if cm == nil {
		cm = &ColumnMap{}
	}
	find := func(field string, named *string) (int, error) {
		if named == nil || strings.TrimSpace(*named) == "" {
			if i, ok := byKey[field]; ok {
				return i, nil
			}
			return -1, nil
		}
		if i, ok := byName[strings.TrimSpace(*named)]; ok {
			return i, nil
		}
		return -1, invalid("The `column_map.%s` column `%s` is not in the CSV header.", field, truncate(*named, 100))
	}
	p := &plan{}
	var err error
	if p.email, err = find("email", cm.Email); err != nil {
		return nil, err
	}
	if p.email < 0 {
		return nil, invalid("The CSV has no `email` column: name it in `column_map.email`.")
	}
	if p.firstName, err = find("first_name", cm.FirstName); err != nil {
		return nil, err
	}
	if p.lastName, err = find("last_name", cm.LastName); err != nil {
		return nil, err
	}
	if p.unsubscribed, err = find("unsubscribed", cm.Unsubscribed); err != nil {
		return nil, err
	}
	if cm.Properties != nil {
		if len(cm.Properties) > contact.MaxProperties {
			return nil, invalid("The `column_map.properties` field must name at most %d properties.", contact.MaxProperties)
		}
		for k, m := range cm.Properties {
			if !contact.ValidPropertyKey(k) {
				return nil, invalid("Invalid `column_map.properties` key `%s`. Keys are 1 to %d letters, digits or underscores.",
					truncate(k, contact.MaxPropertyKey+1), contact.MaxPropertyKey)
			}
			typ, typed := m.Type, false
			switch typ {
			case "":
				typ = store.PropertyString
			case store.PropertyString, store.PropertyNumber, propertyBoolean:
				typed = true
			default:
				return nil, invalid("The `column_map.properties.%s.type` must be `string`, `number` or `boolean`.", k)
			}
			col := m.Column
			if strings.TrimSpace(col) == "" {
				col = k
			}
			i, ok := byName[strings.TrimSpace(col)]
			if !ok {
				return nil, invalid("The `column_map.properties.%s` column `%s` is not in the CSV header.", k, truncate(col, 100))
			}
			p.props = append(p.props, planProperty{key: k, typ: typ, col: i, typed: typed})
		}
	} else {
		used := map[int]bool{p.email: true, p.firstName: true, p.lastName: true, p.unsubscribed: true}
		for i, h := range header {
			k := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			if used[i] || !contact.ValidPropertyKey(k) || byName[k] != i {
				continue
			}
			p.props = append(p.props, planProperty{key: k, typ: store.PropertyString, col: i})
		}
	}
	return p, nil
}

// keys returns the plan's property keys.
func (p *plan) keys() []string {
	keys := make([]string, 0, len(p.props))
	for _, pr := range p.props {
		keys = append(keys, pr.key)
	}
	return keys
}

// declare gives each property whose type column_map does not name its
// declared type (an undeclared one stays a string).
func (p *plan) declare(declared map[string]string) {
	for i, pr := range p.props {
		if typ, ok := declared[pr.key]; ok && !pr.typed {
			p.props[i].typ = typ
		}
	}
}

func cell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// blank reports whether a record is a blank line (not a row).
func blank(rec []string) bool {
	return len(rec) == 1 && strings.TrimSpace(rec[0]) == ""
}

// row reads one record; an error means the row fails.
func (p *plan) row(rec []string) (*row, error) {
	email, ok := contact.Address(cell(rec, p.email))
	if !ok {
		return nil, errors.New("invalid email address")
	}
	out := &row{email: email}
	for _, f := range []struct {
		col int
		dst **string
	}{{p.firstName, &out.firstName}, {p.lastName, &out.lastName}} {
		v := cell(rec, f.col)
		if v == "" {
			continue
		}
		if !contact.ValidName(v) {
			return nil, errors.New("name too long or not on one line")
		}
		*f.dst = &v
	}
	if v := cell(rec, p.unsubscribed); v != "" {
		b, ok := parseBool(v)
		if !ok {
			return nil, errors.New("unsubscribed is not a boolean")
		}
		out.unsubscribed = &b
	}
	for _, pr := range p.props {
		v := cell(rec, pr.col)
		if v == "" {
			continue
		}
		var val any
		switch pr.typ {
		case store.PropertyNumber:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
				return nil, fmt.Errorf("property %s is not a number", pr.key)
			}
			val = n
		case propertyBoolean:
			b, ok := parseBool(v)
			if !ok {
				return nil, fmt.Errorf("property %s is not a boolean", pr.key)
			}
			val = strconv.FormatBool(b)
		default:
			if !contact.ValidPropertyString(v) {
				return nil, fmt.Errorf("property %s is too long", pr.key)
			}
			val = v
		}
		if out.props == nil {
			out.props = map[string]any{}
		}
		out.props[pr.key] = val
	}
	if len(out.props) > contact.MaxProperties {
		// Every column is read: a row with values for more properties than
		// a contact may hold fails (counts.failed), as a contact would.
		return nil, fmt.Errorf("%d properties, over %d", len(out.props), contact.MaxProperties)
	}
	return out, nil
}

// checkDeclared checks a row's values against the declared types.
func checkDeclared(declared map[string]string, props map[string]any) error {
	for k, v := range props {
		if typ, ok := declared[k]; ok {
			if err := contact.CheckPropertyValue(typ, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1", "y":
		return true, true
	case "false", "no", "0", "n":
		return false, true
	}
	return false, false
}

// newReader reads a CSV: any number of fields per record.
func newReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr
}

// checkCSV reads the whole CSV once: its header and at most MaxRows
// well-formed records.
func checkCSV(r io.Reader) ([]string, error) {
	cr := newReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalid("The CSV file is empty: it needs a header row.")
	}
	if err != nil {
		return nil, invalid("The CSV file could not be parsed: %s.", err)
	}
	header = append([]string(nil), header...)
	for n := 0; ; n++ {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return header, nil
		}
		if err != nil {
			return nil, invalid("The CSV file could not be parsed: %s.", err)
		}
		if n == MaxRows {
			return nil, invalid("The CSV file has more than %d rows.", MaxRows)
		}
	}
}
