package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/store"
)

// The Segments API, and the Audiences API as its deprecated alias: the
// same resources, answered with "object":"audience" under /audiences.

// maxSegmentName bounds a segment's name.
const maxSegmentName = contact.MaxSegmentName

// errSegmentNotFound is Resend's answer for an unknown segment: its live
// API still says "Audience" on the /segments paths.
var errSegmentNotFound = apierr.NotFound("Audience not found")

type segmentItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func toSegmentItem(s *store.Segment) segmentItem {
	return segmentItem{ID: s.ID, Name: s.Name, CreatedAt: formatTime(s.CreatedAt)}
}

// uuidParam validates an id (from the path or the query) named param in
// the message: a 422 invalid_parameter unless it is a UUID. It returns the
// id in lower case.
func uuidParam(param, v string) (string, error) {
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return "", apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidParameter,
			fmt.Sprintf("The `%s` must be a valid UUID.", param))
	}
	return strings.ToLower(v), nil
}

// segmentName validates a segment's name: required, one line, at most
// maxSegmentName characters, trimmed.
func segmentName(name *string) (string, error) {
	if name == nil || strings.TrimSpace(*name) == "" {
		return "", apierr.MissingField("name")
	}
	n, ok := contact.SegmentName(*name)
	if !ok {
		return "", apierr.Validation("The `name` field must be at most %d characters, on one line.", maxSegmentName)
	}
	return n, nil
}

// loadSegment finds the team's segment whose id is the path value param.
func (h *Handler) loadSegment(r *http.Request, param string) (*store.Segment, error) {
	id, err := uuidParam(param, r.PathValue(param))
	if err != nil {
		return nil, err
	}
	return h.segmentByID(r, id)
}

func (h *Handler) segmentByID(r *http.Request, id string) (*store.Segment, error) {
	s, err := h.Store.GetSegment(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSegmentNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get segment: %w", err)
	}
	return s, nil
}

// allPages collects every item of a list the store returns page by page,
// for the legacy list endpoints that answer everything when no pagination
// parameter is given.
func allPages[T any](fetch func(p store.Page) ([]T, bool, error), id func(T) string) ([]T, error) {
	var all []T
	p := store.Page{Limit: 100}
	for {
		list, more, err := fetch(p)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
		if !more || len(list) == 0 {
			return all, nil
		}
		p.After = id(list[len(list)-1])
	}
}

func (h *Handler) createSegment(object string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name *string `json:"name"`
		}
		if err := h.decodeJSONBody(w, r, &req); err != nil {
			return err
		}
		name, err := segmentName(req.Name)
		if err != nil {
			return err
		}
		s := &store.Segment{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Name: name, CreatedAt: h.Now().UTC()}
		if err := h.Store.CreateSegment(r.Context(), s); err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
		writeJSON(w, http.StatusCreated, struct {
			Object string `json:"object"`
			ID     string `json:"id"`
			Name   string `json:"name"`
		}{object, s.ID, s.Name})
		return nil
	}
}

func (h *Handler) listSegments(w http.ResponseWriter, r *http.Request) error {
	p, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	fetch := func(p store.Page) ([]*store.Segment, bool, error) {
		return h.Store.ListSegments(r.Context(), teamID, p)
	}
	var list []*store.Segment
	more := false
	if paginate {
		list, more, err = fetch(p)
	} else {
		list, err = allPages(fetch, func(s *store.Segment) string { return s.ID })
	}
	return writeList(w, "list segments", list, more, err, toSegmentItem)
}

func (h *Handler) getSegment(object string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := h.loadSegment(r, "id")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			Object string `json:"object"`
			segmentItem
		}{object, toSegmentItem(s)})
		return nil
	}
}

// updateSegment renames a segment; without a name it changes nothing.
func (h *Handler) updateSegment(object string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := h.loadSegment(r, "id")
		if err != nil {
			return err
		}
		var req struct {
			Name *string `json:"name"`
		}
		if err := h.decodeJSONBody(w, r, &req); err != nil {
			return err
		}
		if req.Name != nil {
			if s.Name, err = segmentName(req.Name); err != nil {
				return err
			}
			if err := h.Store.UpdateSegment(r.Context(), s); errors.Is(err, store.ErrNotFound) {
				return errSegmentNotFound
			} else if err != nil {
				return fmt.Errorf("update segment: %w", err)
			}
		}
		writeJSON(w, http.StatusOK, objectIDResponse{Object: object, ID: s.ID})
		return nil
	}
}

// deleteSegment removes a segment and its memberships (the contacts stay).
// As Resend does, it answers deleted:true for an id that names no segment
// of the team.
func (h *Handler) deleteSegment(object string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := uuidParam("id", r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := h.Store.DeleteSegment(r.Context(), callerKey(r.Context()).TeamID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete segment: %w", err)
		}
		writeJSON(w, http.StatusOK, struct {
			Object  string `json:"object"`
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}{object, id, true})
		return nil
	}
}
