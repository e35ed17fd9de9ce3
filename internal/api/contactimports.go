package api

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

// Contact imports: POST /contacts/imports takes a CSV (multipart/form-data,
// as the Node SDK sends it) and imports it within the request: the whole
// file is parsed once to check it (a malformed CSV is a 422 and changes
// nothing), then each row creates, updates or skips a contact. The import
// is stored completed with its counts. Imports record no contact events
// (Resend's CSV imports do not fire contact.created).

const (
	// maxImportBytes is Resend's limit on the CSV; the body may hold the
	// other fields besides.
	maxImportBytes = 50 << 20
	// maxImportRows bounds the data rows of one import (it runs within the
	// request).
	maxImportRows = 10000
)

var (
	errContactImportNotFound = apierr.NotFound("Contact import not found")
	errImportTooLarge        = apierr.New(http.StatusRequestEntityTooLarge, apierr.NameValidation, "The CSV file is larger than the 50 MB limit.")
)

type contactImportCounts struct {
	Total   int `json:"total"`
	Created int `json:"created"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

type contactImportObject struct {
	Object      string              `json:"object"`
	ID          string              `json:"id"`
	Status      string              `json:"status"`
	CreatedAt   string              `json:"created_at"`
	CompletedAt *string             `json:"completed_at"`
	Counts      contactImportCounts `json:"counts"`
}

func toContactImport(ci *store.ContactImport) contactImportObject {
	return contactImportObject{Object: "contact_import", ID: ci.ID, Status: ci.Status, CreatedAt: formatTime(ci.CreatedAt),
		CompletedAt: formatTimePtr(ci.CompletedAt),
		Counts:      contactImportCounts{Total: ci.Total, Created: ci.Created, Updated: ci.Updated, Skipped: ci.Skipped, Failed: ci.Failed}}
}

// importColumnMap is column_map: contact fields and property keys to CSV
// column names (headers).
type importColumnMap struct {
	Email        *string                         `json:"email"`
	FirstName    *string                         `json:"first_name"`
	LastName     *string                         `json:"last_name"`
	Unsubscribed *string                         `json:"unsubscribed"`
	Properties   map[string]importPropertyColumn `json:"properties"`
}

type importPropertyColumn struct {
	Column string `json:"column"`
	Type   string `json:"type"`
}

type importProperty struct {
	key, typ string
	col      int
	typed    bool // the type is column_map's, not the default
}

// importPlan says which column of a row holds what (-1: none).
type importPlan struct {
	email, firstName, lastName, unsubscribed int
	props                                    []importProperty
}

// importRow is one row's contact fields; nil fields are empty cells.
type importRow struct {
	email               string
	firstName, lastName *string
	unsubscribed        *bool
	props               map[string]any
}

func headerKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(h)
}

// parseColumnMap decodes column_map ("" for none).
func parseColumnMap(v string) (*importColumnMap, error) {
	if strings.TrimSpace(v) == "" || strings.TrimSpace(v) == "null" {
		return nil, nil
	}
	var cm importColumnMap
	if err := json.Unmarshal([]byte(v), &cm); err != nil {
		return nil, apierr.Validation("The `column_map` field must be a JSON object mapping contact fields to CSV column names.")
	}
	return &cm, nil
}

// planImport maps the header to contact fields: by column_map where it
// names a field, else by header name (email, first_name, last_name,
// unsubscribed, in any case, spaces or hyphens for underscores). Without
// column_map properties, every other column whose header is a valid
// property key is a string property.
func planImport(header []string, cm *importColumnMap) (*importPlan, error) {
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
		cm = &importColumnMap{}
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
		return -1, apierr.Validation("The `column_map.%s` column `%s` is not in the CSV header.", field, truncate(*named, 100))
	}
	p := &importPlan{}
	var err error
	if p.email, err = find("email", cm.Email); err != nil {
		return nil, err
	}
	if p.email < 0 {
		return nil, apierr.Validation("The CSV has no `email` column: name it in `column_map.email`.")
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
		if len(cm.Properties) > maxContactProperties {
			return nil, apierr.Validation("The `column_map.properties` field must name at most %d properties.", maxContactProperties)
		}
		for k, m := range cm.Properties {
			if !validPropertyKey(k) {
				return nil, apierr.Validation("Invalid `column_map.properties` key `%s`. Keys are 1 to %d letters, digits or underscores.",
					truncate(k, maxPropertyKey+1), maxPropertyKey)
			}
			typ, typed := m.Type, false
			switch typ {
			case "":
				typ = store.PropertyString
			case store.PropertyString, store.PropertyNumber, "boolean":
				typed = true
			default:
				return nil, apierr.Validation("The `column_map.properties.%s.type` must be `string`, `number` or `boolean`.", k)
			}
			col := m.Column
			if strings.TrimSpace(col) == "" {
				col = k
			}
			i, ok := byName[strings.TrimSpace(col)]
			if !ok {
				return nil, apierr.Validation("The `column_map.properties.%s` column `%s` is not in the CSV header.", k, truncate(col, 100))
			}
			p.props = append(p.props, importProperty{key: k, typ: typ, col: i, typed: typed})
		}
	} else {
		used := map[int]bool{p.email: true, p.firstName: true, p.lastName: true, p.unsubscribed: true}
		for i, h := range header {
			k := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			if used[i] || !validPropertyKey(k) || byName[k] != i {
				continue
			}
			p.props = append(p.props, importProperty{key: k, typ: store.PropertyString, col: i})
		}
	}
	return p, nil
}

func cell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// row reads one record; an error means the row fails.
func (p *importPlan) row(rec []string) (*importRow, error) {
	email, err := contactAddress(cell(rec, p.email))
	if err != nil {
		return nil, err
	}
	out := &importRow{email: email}
	for _, f := range []struct {
		col int
		dst **string
	}{{p.firstName, &out.firstName}, {p.lastName, &out.lastName}} {
		v := cell(rec, f.col)
		if v == "" {
			continue
		}
		if len(v) > maxContactName || strings.ContainsAny(v, "\r\n\x00") {
			return nil, errors.New("name too long or not on one line")
		}
		*f.dst = &v
	}
	if v := cell(rec, p.unsubscribed); v != "" {
		b, ok := parseImportBool(v)
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
		case "boolean":
			b, ok := parseImportBool(v)
			if !ok {
				return nil, fmt.Errorf("property %s is not a boolean", pr.key)
			}
			val = strconv.FormatBool(b)
		default:
			if !validPropertyString(v) {
				return nil, fmt.Errorf("property %s is too long", pr.key)
			}
			val = v
		}
		if out.props == nil {
			out.props = map[string]any{}
		}
		out.props[pr.key] = val
	}
	if len(out.props) > maxContactProperties {
		// Every column is read: a row with values for more properties than
		// a contact may hold fails (counts.failed), as a contact would.
		return nil, fmt.Errorf("%d properties, over %d", len(out.props), maxContactProperties)
	}
	return out, nil
}

func parseImportBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1", "y":
		return true, true
	case "false", "no", "0", "n":
		return false, true
	}
	return false, false
}

// newImportReader reads a CSV: any number of fields per record.
func newImportReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr
}

// checkImportCSV reads the whole CSV once: its header and at most
// maxImportRows well-formed records.
func checkImportCSV(r io.Reader) ([]string, error) {
	cr := newImportReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, apierr.Validation("The CSV file is empty: it needs a header row.")
	}
	if err != nil {
		return nil, apierr.Validation("The CSV file could not be parsed: %s.", err)
	}
	header = append([]string(nil), header...)
	for n := 0; ; n++ {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return header, nil
		}
		if err != nil {
			return nil, apierr.Validation("The CSV file could not be parsed: %s.", err)
		}
		if n == maxImportRows {
			return nil, apierr.Validation("The CSV file has more than %d rows.", maxImportRows)
		}
	}
}

func formValue(r *http.Request, name string) string {
	if v := r.MultipartForm.Value[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h *Handler) createContactImport(w http.ResponseWriter, r *http.Request) error {
	// The body is within maxImportBytes plus 1 MiB (guardBody).
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var apiErr *apierr.Error
		if errors.As(err, &apiErr) {
			return apiErr // too large, or too slow
		}
		return apierr.Validation("The request body must be multipart/form-data with the CSV in a `file` field.")
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		return apierr.MissingField("file")
	}
	if files[0].Size > maxImportBytes {
		return errImportTooLarge
	}
	cm, err := parseColumnMap(formValue(r, "column_map"))
	if err != nil {
		return err
	}
	upsert := false
	switch v := strings.TrimSpace(formValue(r, "on_conflict")); v {
	case "", "skip":
	case "upsert":
		upsert = true
	default:
		return apierr.Validation("The `on_conflict` field must be `skip` or `upsert`.")
	}
	var segments []string
	if v := formValue(r, "segments"); strings.TrimSpace(v) != "" {
		if segments, err = contactSegments(json.RawMessage(v)); err != nil {
			return err
		}
	}
	var topics []store.TopicSubscription
	if v := formValue(r, "topics"); strings.TrimSpace(v) != "" {
		if topics, err = contactTopics("topics", json.RawMessage(v)); err != nil {
			return err
		}
	}
	teamID := callerKey(r.Context()).TeamID
	for _, id := range segments {
		if _, err := h.segmentByID(r, id); err != nil {
			return err
		}
	}
	for _, t := range topics {
		if _, err := h.Store.GetTopic(r.Context(), teamID, t.TopicID); errors.Is(err, store.ErrNotFound) {
			return errTopicNotFound
		} else if err != nil {
			return fmt.Errorf("get topic: %w", err)
		}
	}

	f, err := files[0].Open()
	if err != nil {
		return fmt.Errorf("open import file: %w", err)
	}
	defer f.Close()
	header, err := checkImportCSV(f)
	if err != nil {
		return err
	}
	plan, err := planImport(header, cm)
	if err != nil {
		return err
	}
	declared, err := h.declaredTypes(r, plan)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind import file: %w", err)
	}

	ci := &store.ContactImport{ID: store.NewID(), TeamID: teamID, Status: store.ImportCompleted, CreatedAt: h.Now().UTC()}
	cr := newImportReader(f)
	if _, err := cr.Read(); err != nil { // the header, checked above
		return fmt.Errorf("read import header: %w", err)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read import row: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		ci.Total++
		row, err := plan.row(rec)
		if err == nil {
			err = checkDeclared(declared, row.props)
		}
		if err != nil {
			ci.Failed++
			continue
		}
		outcome, err := h.importRow(r, teamID, row, upsert, segments, topics)
		if err != nil {
			return err
		}
		switch outcome {
		case "created":
			ci.Created++
		case "updated":
			ci.Updated++
		case "skipped":
			ci.Skipped++
		default:
			ci.Failed++
		}
	}
	done := h.Now().UTC()
	ci.CompletedAt = &done
	if err := h.Store.CreateContactImport(r.Context(), ci); err != nil {
		return fmt.Errorf("create contact import: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "contact_import", ID: ci.ID})
	return nil
}

// declaredTypes returns the declared types of the plan's property keys,
// and gives each property whose type column_map does not name its
// declared type (an undeclared one stays a string).
func (h *Handler) declaredTypes(r *http.Request, plan *importPlan) (map[string]string, error) {
	if len(plan.props) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(plan.props))
	for _, p := range plan.props {
		keys = append(keys, p.key)
	}
	defs, err := h.Store.ContactPropertiesByKey(r.Context(), callerKey(r.Context()).TeamID, keys)
	if err != nil {
		return nil, fmt.Errorf("contact properties by key: %w", err)
	}
	out := make(map[string]string, len(defs))
	for _, d := range defs {
		out[d.Key] = d.Type
	}
	for i, p := range plan.props {
		if typ, ok := out[p.key]; ok && !p.typed {
			plan.props[i].typ = typ
		}
	}
	return out, nil
}

func checkDeclared(declared map[string]string, props map[string]any) error {
	for k, v := range props {
		if typ, ok := declared[k]; ok {
			if err := checkPropertyValue(typ, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// importRow applies one row: "created", "updated", "skipped" or "failed"
// (a row the store refuses: too many properties, an address taken by a
// concurrent change).
func (h *Handler) importRow(r *http.Request, teamID string, row *importRow, upsert bool,
	segments []string, topics []store.TopicSubscription) (string, error) {
	ctx := r.Context()
	for attempt := 0; attempt < 2; attempt++ {
		c, err := h.Store.GetContact(ctx, teamID, row.email)
		if errors.Is(err, store.ErrNotFound) {
			now := h.Now().UTC()
			c = &store.Contact{ID: store.NewID(), TeamID: teamID, Email: row.email, FirstName: row.firstName, LastName: row.lastName,
				Properties: row.props, SegmentIDs: segments, Topics: topics, CreatedAt: now, UpdatedAt: now}
			if row.unsubscribed != nil {
				c.Unsubscribed = *row.unsubscribed
			}
			switch err := h.Store.CreateContact(ctx, c); {
			case errors.Is(err, store.ErrConflict):
				continue // created meanwhile: look again
			case errors.Is(err, store.ErrNotFound):
				return "", errSegmentNotFound // a segment or topic deleted meanwhile
			case err != nil:
				return "", fmt.Errorf("create contact: %w", err)
			}
			return "created", nil
		}
		if err != nil {
			return "", fmt.Errorf("get contact: %w", err)
		}
		if !upsert {
			return "skipped", nil
		}
		if row.firstName != nil {
			c.FirstName = row.firstName
		}
		if row.lastName != nil {
			c.LastName = row.lastName
		}
		if row.unsubscribed != nil {
			c.Unsubscribed = *row.unsubscribed
		}
		if c.Properties, err = mergeProperties(c.Properties, row.props); err != nil {
			return "failed", nil
		}
		c.UpdatedAt = h.Now().UTC()
		switch err := h.Store.UpdateContact(ctx, c); {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
			return "failed", nil // deleted or changed meanwhile
		case err != nil:
			return "", fmt.Errorf("update contact: %w", err)
		}
		if len(topics) > 0 {
			switch err := h.Store.SetContactTopics(ctx, teamID, c.ID, topics, c.UpdatedAt); {
			case errors.Is(err, store.ErrUnknownTopic):
				return "", errTopicNotFound
			case errors.Is(err, store.ErrNotFound):
				return "failed", nil
			case err != nil:
				return "", fmt.Errorf("set contact topics: %w", err)
			}
		}
		for _, id := range segments {
			switch err := h.Store.AddContactToSegment(ctx, teamID, c.ID, id, c.UpdatedAt); {
			case errors.Is(err, store.ErrNotFound):
				return "", errSegmentNotFound
			case err != nil:
				return "", fmt.Errorf("add contact to segment: %w", err)
			}
		}
		return "updated", nil
	}
	return "failed", nil
}

func (h *Handler) loadContactImport(r *http.Request) (*store.ContactImport, error) {
	id, err := uuidParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	ci, err := h.Store.GetContactImport(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errContactImportNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get contact import: %w", err)
	}
	return ci, nil
}

// getContactImport answers GET /contacts/imports/{id}, routed as
// GET /contacts/{id_or_email}/{id} (see routes).
func (h *Handler) getContactImport(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id_or_email") != "imports" {
		return apierr.NotFound("The requested endpoint does not exist.")
	}
	ci, err := h.loadContactImport(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContactImport(ci))
	return nil
}

func (h *Handler) listContactImports(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	switch status {
	case "", store.ImportQueued, store.ImportInProgress, store.ImportCompleted, store.ImportFailed:
	default:
		return apierr.Validation("The `status` must be one of `queued`, `in_progress`, `completed` or `failed`.")
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListContactImports(r.Context(), callerKey(r.Context()).TeamID, status, p)
	return writeList(w, "list contact imports", list, more, err, toContactImport)
}
