package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/godwit/godwit/internal/store"
)

// pager is the pair of links beside a page of a list, as the "pager"
// template (layout.html) shows them: {{template "pager" .Data}} for a page
// whose data embeds it.
type pager struct {
	// Newer and Older are the full URLs of the pages beside this one ("" for
	// none), with the list's query parameters (filters) kept.
	Newer, Older string
	// Label names the links for screen readers ("" for "Pages").
	Label string
	// NewerText and OlderText are the links' words ("" for "← Newer" and
	// "Older →").
	NewerText, OlderText string
}

// listLink makes the links of the cursor-paged list at path (under Prefix)
// with the query parameters keep (but their cursors): the page before (key
// "before") or after ("after") the item id.
func listLink(path string, keep url.Values) func(key, id string) string {
	return func(key, id string) string {
		v := url.Values{}
		for k, vs := range keep {
			if k != "before" && k != "after" {
				v[k] = vs
			}
		}
		v.Set(key, id)
		return Prefix + path + "?" + v.Encode()
	}
}

// pagerOf is the links of a page of n items read with p, whose first and
// last ids are first and last; more is the store's "there is more in p's
// direction". link makes a page's URL (listLink).
func pagerOf(p store.Page, n int, first, last string, more bool, link func(key, id string) string) pager {
	var pg pager
	if n == 0 {
		return pg
	}
	switch {
	case p.After != "":
		pg.Newer = link("before", first)
		if more {
			pg.Older = link("after", last)
		}
	case p.Before != "":
		pg.Older = link("after", last)
		if more {
			pg.Newer = link("before", first)
		}
	case more:
		pg.Older = link("after", last)
	}
	return pg
}

// listPage reads a cursor page of perPage items of a list with fetch,
// turning an unknown cursor (another team's id, say) into the 404 page; the
// pager's links are to path (under Prefix), id names an item for the
// cursors.
func listPage[T any](r *http.Request, perPage int, what, path string, fetch func(store.Page) ([]T, bool, error), id func(T) string) ([]T, pager, error) {
	p, err := cursorPage(r, perPage)
	if err != nil {
		return nil, pager{}, err
	}
	list, more, err := fetch(p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, pager{}, errNotFound
	}
	if err != nil {
		return nil, pager{}, fmt.Errorf("list %s: %w", what, err)
	}
	var pg pager
	if len(list) > 0 {
		pg = pagerOf(p, len(list), id(list[0]), id(list[len(list)-1]), more, listLink(path, nil))
	}
	return list, pg, nil
}

// cursorPage reads the page of a list from the query: after or before,
// not both.
func cursorPage(r *http.Request, limit int) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: limit, After: q.Get("after"), Before: q.Get("before")}
	if p.After != "" && p.Before != "" {
		return p, &httpError{status: http.StatusBadRequest, msg: "Give either a newer or an older page, not both."}
	}
	return p, nil
}
