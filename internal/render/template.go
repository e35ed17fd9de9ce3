package render

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Merge values: the one formatter of the values that fill placeholders, for
// templates sent with the API (template.variables) and for broadcasts
// (contact properties). Values are as encoding/json decodes them.

// Types of a template variable or contact property.
const (
	TypeString = "string"
	TypeNumber = "number"
)

// Resend's limits on a value.
const (
	// MaxKey bounds a variable's or property's key.
	MaxKey = maxKey
	// MaxString bounds a string value, in characters.
	MaxString = 2000
	// MaxNumber is 2^53−1, the largest number value in magnitude.
	MaxNumber = 1<<53 - 1
)

// ValidKey reports whether k is a key a placeholder can name: 1 to 50
// letters, digits or underscores.
func ValidKey(k string) bool { return validKey(k) }

// Value writes a value as it is inserted: strings as they are, numbers in
// plain decimal; ok is false for anything else (null, booleans, objects).
func Value(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// ValueError is a value refused by CheckValue or TemplateValues; its
// message names the field and is safe to show to the caller.
type ValueError struct {
	Field   string
	Message string
}

func (e *ValueError) Error() string { return e.Message }

// CheckValue checks a value for a variable of type typ: a string of at most
// MaxString characters, or a number of at most 2^53−1 in magnitude. Its
// error names field.
func CheckValue(field, typ string, v any) error {
	switch x := v.(type) {
	case string:
		if typ == TypeString {
			if utf8.RuneCountInString(x) > MaxString || strings.ContainsRune(x, 0) {
				return &ValueError{field, fmt.Sprintf("The `%s` value must be at most %d characters.", field, MaxString)}
			}
			return nil
		}
	case float64:
		if typ == TypeNumber {
			if math.Abs(x) > MaxNumber {
				return &ValueError{field, fmt.Sprintf("The `%s` value must be a number of at most 2^53-1.", field)}
			}
			return nil
		}
	}
	return &ValueError{field, fmt.Sprintf("The `%s` value must be a %s.", field, typ)}
}

// Variable is a declared template variable.
type Variable struct {
	Key      string
	Type     string // TypeString or TypeNumber
	Fallback any    // nil: none
}

// TemplateValues checks the values given for a template's variables
// (template.variables) and returns the value of every key: the given
// keys must be valid, their values strings or numbers of the declared
// type, and every declared variable needs a value or a fallback.
func TemplateValues(declared []Variable, given map[string]any) (map[string]string, error) {
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	byKey := make(map[string]Variable, len(declared))
	for _, v := range declared {
		byKey[v.Key] = v
	}
	for _, k := range keys {
		if !ValidKey(k) {
			shown := k
			if len(shown) > MaxKey+1 {
				shown = shown[:MaxKey+1] + "…"
			}
			return nil, &ValueError{"template.variables", fmt.Sprintf(
				"Invalid key `%s` in `template.variables`. Keys are 1 to %d letters, digits or underscores.", shown, MaxKey)}
		}
		field := "template.variables." + k
		if d, ok := byKey[k]; ok {
			if err := CheckValue(field, d.Type, given[k]); err != nil {
				return nil, err
			}
			continue
		}
		switch v := given[k].(type) {
		case string:
			if err := CheckValue(field, TypeString, v); err != nil {
				return nil, err
			}
		case float64:
			if err := CheckValue(field, TypeNumber, v); err != nil {
				return nil, err
			}
		default:
			return nil, &ValueError{field, fmt.Sprintf("The `%s` value must be a string or a number.", field)}
		}
	}
	values := make(map[string]string, len(given)+len(declared))
	for _, v := range declared {
		if g, ok := given[v.Key]; ok {
			values[v.Key], _ = Value(g)
		} else if v.Fallback != nil {
			values[v.Key], _ = Value(v.Fallback)
		} else {
			return nil, &ValueError{"template.variables", fmt.Sprintf(
				"Missing value for the template variable `%s`, which has no fallback value.", v.Key)}
		}
	}
	for k, g := range given {
		if _, ok := values[k]; !ok {
			values[k], _ = Value(g)
		}
	}
	return values, nil
}
