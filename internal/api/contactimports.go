package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/store"
)

// Contact imports: POST /contacts/imports takes a CSV (multipart/form-data,
// as the Node SDK sends it); package contactimport checks it and stores the
// import queued with its job (a malformed CSV is a 422 and changes
// nothing), and the job imports it in batches. GET shows the import's
// status moving queued → in_progress → completed (or failed) and its
// counts growing with each batch.

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
	n := ci.Counts
	return contactImportObject{Object: "contact_import", ID: ci.ID, Status: ci.Status, CreatedAt: formatTime(ci.CreatedAt),
		CompletedAt: formatTimePtr(ci.CompletedAt),
		Counts:      contactImportCounts{Total: n.Total, Created: n.Created, Updated: n.Updated, Skipped: n.Skipped, Failed: n.Failed}}
}

func formValue(r *http.Request, name string) string {
	if v := r.MultipartForm.Value[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// importError maps the importer's refusals to Resend's envelope.
func importError(err error) error {
	var ie *contactimport.Error
	if !errors.As(err, &ie) {
		return err
	}
	switch ie.Code {
	case contactimport.CodeTooLarge:
		return errImportTooLarge
	case contactimport.CodeSegmentNotFound:
		return errSegmentNotFound
	case contactimport.CodeTopicNotFound:
		return errTopicNotFound
	}
	return apierr.Validation("%s", ie.Message)
}

func (h *Handler) createContactImport(w http.ResponseWriter, r *http.Request) error {
	// The body is within contactimport.MaxBytes plus 1 MiB (guardBody).
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
	if files[0].Size > contactimport.MaxBytes {
		return errImportTooLarge
	}
	req := contactimport.Request{TeamID: callerKey(r.Context()).TeamID, ColumnMap: formValue(r, "column_map"),
		OnConflict: formValue(r, "on_conflict")}
	var err error
	if v := formValue(r, "segments"); strings.TrimSpace(v) != "" {
		if req.Segments, err = contactSegments(json.RawMessage(v)); err != nil {
			return err
		}
	}
	if v := formValue(r, "topics"); strings.TrimSpace(v) != "" {
		if req.Topics, err = contactTopics("topics", json.RawMessage(v)); err != nil {
			return err
		}
	}
	f, err := files[0].Open()
	if err != nil {
		return fmt.Errorf("open import file: %w", err)
	}
	defer f.Close()
	if req.CSV, err = io.ReadAll(io.LimitReader(f, contactimport.MaxBytes+1)); err != nil {
		return fmt.Errorf("read import file: %w", err)
	}
	im := &contactimport.Importer{Store: h.Store, Now: h.Now, Logger: h.Logger}
	ci, err := im.Create(r.Context(), req)
	if err != nil {
		return importError(err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "contact_import", ID: ci.ID})
	return nil
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
