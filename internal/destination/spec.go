package destination

import (
	"fmt"
	"slices"
	"strings"
)

// ParseSpec parses a per-destination flag (--destination-limits, and
// internal/warmup's --warmup): comma-separated entries
// NAME:KEY=VALUE[/KEY=VALUE…], blank entries skipped. NAME (lower-cased)
// must be one of names and appear once; set is called with each field of
// each entry, in order, key and value trimmed, and says what is wrong with
// it. Errors name the flag by what ("destination limits") and the entry,
// and show example (a valid entry) when an entry is not of that shape.
func ParseSpec(spec, what, example string, names []string, set func(name, key, value string) error) error {
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, fields, ok := strings.Cut(entry, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || strings.TrimSpace(fields) == "" {
			return fmt.Errorf("%s %q: want NAME:KEY=VALUE[/KEY=VALUE…], e.g. %s", what, entry, example)
		}
		if !slices.Contains(names, name) {
			return fmt.Errorf("%s %q: unknown destination %q (known: %s)", what, entry, name, strings.Join(names, ", "))
		}
		if seen[name] {
			return fmt.Errorf("%s: %q is set twice", what, name)
		}
		seen[name] = true
		for f := range strings.SplitSeq(fields, "/") {
			key, val, ok := strings.Cut(strings.TrimSpace(f), "=")
			if !ok {
				return fmt.Errorf("%s %q: %q is not KEY=VALUE", what, entry, f)
			}
			if err := set(name, strings.TrimSpace(key), strings.TrimSpace(val)); err != nil {
				return fmt.Errorf("%s %q: %w", what, entry, err)
			}
		}
	}
	return nil
}
