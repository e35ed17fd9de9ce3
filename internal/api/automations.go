package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/store"
)

// The Events API (event definitions, POST /events/send) and the
// Automations API with their runs. The graph rules live in
// internal/automation; runs are moved on by its engine, one job per step.

var (
	errEventNotFound      = apierr.NotFound("Event not found")
	errAutomationNotFound = apierr.NotFound("Automation not found")
	errRunNotFound        = apierr.NotFound("Automation run not found")
)

// maxAutomationName bounds an automation's name, in characters.
const maxAutomationName = 255

type eventDefItem struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Schema    map[string]string `json:"schema"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt *string           `json:"updated_at"`
}

func toEventDefItem(e *store.EventDefinition) eventDefItem {
	return eventDefItem{ID: e.ID, Name: e.Name, Schema: e.Schema, CreatedAt: formatTime(e.CreatedAt), UpdatedAt: formatTimePtr(e.UpdatedAt)}
}

func eventSchema(raw json.RawMessage) (map[string]string, error) {
	s, err := automation.ParseSchema(raw)
	if err != nil {
		return nil, apierr.Validation("%s.", upperFirst(err.Error()))
	}
	return s, nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// loadEvent finds the team's event by id or name.
func (h *Handler) loadEvent(r *http.Request) (*store.EventDefinition, error) {
	e, err := h.Store.GetEventDefinition(r.Context(), callerKey(r.Context()).TeamID, r.PathValue("identifier"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errEventNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	return e, nil
}

func (h *Handler) createEvent(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   *string         `json:"name"`
		Schema json.RawMessage `json:"schema"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return apierr.MissingField("name")
	}
	name, err := automation.EventName(strings.TrimSpace(*req.Name))
	if err != nil {
		return apierr.Validation("%s", upperFirst(err.Error()))
	}
	schema, err := eventSchema(req.Schema)
	if err != nil {
		return err
	}
	e := &store.EventDefinition{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Name: name, Schema: schema,
		CreatedAt: h.Now().UTC()}
	if err := h.Store.CreateEventDefinition(r.Context(), e); errors.Is(err, store.ErrConflict) {
		return apierr.Validation("An event named `%s` already exists.", name)
	} else if err != nil {
		return fmt.Errorf("create event: %w", err)
	}
	h.Logger.Info("event created", slog.String("team_id", e.TeamID), slog.String("event_id", e.ID), slog.String("name", name))
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "event", ID: e.ID})
	return nil
}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListEventDefinitions(r.Context(), callerKey(r.Context()).TeamID, p)
	return writeList(w, "list events", list, more, err, toEventDefItem)
}

func (h *Handler) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := h.loadEvent(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		eventDefItem
	}{"event", toEventDefItem(e)})
	return nil
}

// updateEvent replaces an event's schema (null clears it); the schema
// field is required, as Resend's.
func (h *Handler) updateEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := h.loadEvent(r)
	if err != nil {
		return err
	}
	var req struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if len(req.Schema) == 0 {
		return apierr.MissingField("schema")
	}
	if e.Schema, err = eventSchema(req.Schema); err != nil {
		return err
	}
	now := h.Now().UTC()
	e.UpdatedAt = &now
	if err := h.Store.UpdateEventDefinition(r.Context(), e); errors.Is(err, store.ErrNotFound) {
		return errEventNotFound
	} else if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	h.Logger.Info("event updated", slog.String("team_id", e.TeamID), slog.String("event_id", e.ID))
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "event", ID: e.ID})
	return nil
}

func (h *Handler) deleteEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := h.loadEvent(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteEventDefinition(r.Context(), e.TeamID, e.ID); errors.Is(err, store.ErrNotFound) {
		return errEventNotFound
	} else if err != nil {
		return fmt.Errorf("delete event: %w", err)
	}
	h.Logger.Info("event deleted", slog.String("team_id", e.TeamID), slog.String("event_id", e.ID))
	writeJSON(w, http.StatusOK, deletedResponse{Object: "event", ID: e.ID, Deleted: true})
	return nil
}

type deletedResponse struct {
	Object  string `json:"object"`
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// sendEvent answers POST /events/send: 202 once the runs it starts and the
// waits it ends are committed with their jobs.
func (h *Handler) sendEvent(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Event     *string         `json:"event"`
		ContactID *string         `json:"contact_id"`
		Email     *string         `json:"email"`
		Payload   json.RawMessage `json:"payload"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Event == nil || strings.TrimSpace(*req.Event) == "" {
		return apierr.MissingField("event")
	}
	name := strings.TrimSpace(*req.Event)
	if strings.HasPrefix(strings.ToLower(name), automation.ReservedPrefix) {
		return apierr.Validation("Event names cannot start with the reserved `%s` prefix.", automation.ReservedPrefix)
	}
	hasID, hasEmail := req.ContactID != nil && *req.ContactID != "", req.Email != nil && *req.Email != ""
	if hasID == hasEmail {
		return apierr.Validation("Exactly one of `contact_id` or `email` must be provided.")
	}
	ref := ""
	if hasID {
		id, err := uuidParam("contact_id", *req.ContactID)
		if err != nil {
			return err
		}
		ref = id
	} else {
		ref = strings.TrimSpace(*req.Email)
		if !strings.Contains(ref, "@") {
			return apierr.Validation("The `email` field must be an email address.")
		}
	}
	payload := map[string]any{}
	if present(req.Payload) {
		if err := json.Unmarshal(req.Payload, &payload); err != nil || payload == nil {
			return apierr.Validation("The `payload` field must be an object.")
		}
	}
	teamID := callerKey(r.Context()).TeamID
	def, err := h.Store.GetEventDefinition(r.Context(), teamID, name)
	switch {
	case err == nil:
		if err := automation.CheckPayload(def.Schema, payload); err != nil {
			return apierr.Validation("%s.", upperFirst(err.Error()))
		}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("get event: %w", err)
	}
	c, err := h.Store.GetContact(r.Context(), teamID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Contact not found")
	}
	if err != nil {
		return fmt.Errorf("get contact: %w", err)
	}
	if _, err := h.Automations.SendEvent(r.Context(), teamID, c, name, payload); err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	writeJSON(w, http.StatusAccepted, struct {
		Object string `json:"object"`
		Event  string `json:"event"`
	}{"event", name})
	return nil
}

type automationItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func toAutomationItem(a *store.Automation) automationItem {
	return automationItem{ID: a.ID, Name: a.Name, Status: a.Status, CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt)}
}

func automationName(name *string) (string, error) {
	if name == nil || strings.TrimSpace(*name) == "" {
		return "", apierr.MissingField("name")
	}
	n := strings.TrimSpace(*name)
	if utf8.RuneCountInString(n) > maxAutomationName || strings.ContainsAny(n, "\r\n") {
		return "", apierr.Validation("The `name` field must be at most %d characters, on one line.", maxAutomationName)
	}
	return n, nil
}

func automationStatus(s *string) (string, error) {
	switch strings.TrimSpace(*s) {
	case store.AutomationEnabled:
		return store.AutomationEnabled, nil
	case store.AutomationDisabled:
		return store.AutomationDisabled, nil
	}
	return "", apierr.Validation("Invalid `status` field. It must be `enabled` or `disabled`.")
}

// parseGraph validates a graph; its refusal is a 422 that names the step.
func parseGraph(steps, connections json.RawMessage) (*automation.Graph, error) {
	g, err := automation.Parse(steps, connections)
	var ge *automation.Error
	if errors.As(err, &ge) {
		return nil, apierr.Validation("%s", ge.Message)
	}
	return g, err
}

func setGraph(a *store.Automation, g *automation.Graph) {
	_, event := g.TriggerStep()
	a.Graph, a.TriggerEvent = g.Encode(), event
}

type automationRequest struct {
	Name        *string         `json:"name"`
	Status      *string         `json:"status"`
	Steps       json.RawMessage `json:"steps"`
	Connections json.RawMessage `json:"connections"`
}

func (h *Handler) createAutomation(w http.ResponseWriter, r *http.Request) error {
	var req automationRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	name, err := automationName(req.Name)
	if err != nil {
		return err
	}
	status := store.AutomationDisabled
	if req.Status != nil {
		if status, err = automationStatus(req.Status); err != nil {
			return err
		}
	}
	if !present(req.Steps) {
		return apierr.MissingField("steps")
	}
	if !present(req.Connections) {
		return apierr.MissingField("connections")
	}
	g, err := parseGraph(req.Steps, req.Connections)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	a := &store.Automation{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Name: name, Status: status, Version: 1,
		CreatedAt: now, UpdatedAt: now}
	setGraph(a, g)
	if err := h.Store.CreateAutomation(r.Context(), a); err != nil {
		return fmt.Errorf("create automation: %w", err)
	}
	h.Logger.Info("automation created", slog.String("team_id", a.TeamID), slog.String("automation_id", a.ID),
		slog.String("status", a.Status), slog.Int("steps", len(g.Steps)))
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "automation", ID: a.ID})
	return nil
}

func (h *Handler) loadAutomation(r *http.Request) (*store.Automation, error) {
	id, err := uuidParam("automation_id", r.PathValue("automation_id"))
	if err != nil {
		return nil, err
	}
	a, err := h.Store.GetAutomation(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAutomationNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get automation: %w", err)
	}
	return a, nil
}

func (h *Handler) listAutomations(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	status := ""
	if q := r.URL.Query(); q.Has("status") {
		s := q.Get("status")
		if status, err = automationStatus(&s); err != nil {
			return err
		}
	}
	list, more, err := h.Store.ListAutomations(r.Context(), callerKey(r.Context()).TeamID, status, p)
	return writeList(w, "list automations", list, more, err, toAutomationItem)
}

func (h *Handler) getAutomation(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	g, err := automation.Decode(a.Graph)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		automationItem
		Steps       []automation.Step       `json:"steps"`
		Connections []automation.Connection `json:"connections"`
	}{"automation", toAutomationItem(a), g.Steps, g.Connections})
	return nil
}

// updateAutomation changes the name, the status, or the graph (steps and
// connections together), which becomes a new version: runs in flight go
// on with the version they started with.
func (h *Handler) updateAutomation(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	var req automationRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Status == nil && !present(req.Steps) && !present(req.Connections) {
		return apierr.Validation("Provide at least one of `name`, `status`, or `steps` and `connections`.")
	}
	if present(req.Steps) != present(req.Connections) {
		return apierr.Validation("The `steps` and `connections` fields must be provided together.")
	}
	if req.Name != nil {
		if a.Name, err = automationName(req.Name); err != nil {
			return err
		}
	}
	if req.Status != nil {
		if a.Status, err = automationStatus(req.Status); err != nil {
			return err
		}
	}
	if present(req.Steps) {
		g, err := parseGraph(req.Steps, req.Connections)
		if err != nil {
			return err
		}
		before := a.Graph
		setGraph(a, g)
		if string(before) != string(a.Graph) {
			a.Version++
		}
	}
	a.UpdatedAt = h.Now().UTC()
	if err := h.Store.UpdateAutomation(r.Context(), a); errors.Is(err, store.ErrNotFound) {
		return errAutomationNotFound
	} else if err != nil {
		return fmt.Errorf("update automation: %w", err)
	}
	h.Logger.Info("automation updated", slog.String("team_id", a.TeamID), slog.String("automation_id", a.ID),
		slog.String("status", a.Status), slog.Int("version", a.Version))
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "automation", ID: a.ID})
	return nil
}

func (h *Handler) deleteAutomation(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteAutomation(r.Context(), a.TeamID, a.ID); errors.Is(err, store.ErrNotFound) {
		return errAutomationNotFound
	} else if err != nil {
		return fmt.Errorf("delete automation: %w", err)
	}
	h.Logger.Info("automation deleted", slog.String("team_id", a.TeamID), slog.String("automation_id", a.ID))
	writeJSON(w, http.StatusOK, deletedResponse{Object: "automation", ID: a.ID, Deleted: true})
	return nil
}

// duplicateAutomation copies the current graph into a new, disabled
// automation named "<name> (copy)".
func (h *Handler) duplicateAutomation(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	name := a.Name + " (copy)"
	if utf8.RuneCountInString(name) > maxAutomationName {
		name = a.Name
	}
	d := &store.Automation{ID: store.NewID(), TeamID: a.TeamID, Name: name, Status: store.AutomationDisabled, Version: 1,
		TriggerEvent: a.TriggerEvent, Graph: a.Graph, CreatedAt: now, UpdatedAt: now}
	if err := h.Store.CreateAutomation(r.Context(), d); err != nil {
		return fmt.Errorf("duplicate automation: %w", err)
	}
	h.Logger.Info("automation duplicated", slog.String("team_id", a.TeamID), slog.String("automation_id", d.ID),
		slog.String("from", a.ID))
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "automation", ID: d.ID})
	return nil
}

// stopAutomation disables the automation and cancels its running runs.
func (h *Handler) stopAutomation(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	if err := h.Store.StopAutomation(r.Context(), a.TeamID, a.ID, h.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return errAutomationNotFound
	} else if err != nil {
		return fmt.Errorf("stop automation: %w", err)
	}
	h.Logger.Info("automation stopped", slog.String("team_id", a.TeamID), slog.String("automation_id", a.ID))
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		ID     string `json:"id"`
		Status string `json:"status"`
	}{"automation", a.ID, store.AutomationDisabled})
	return nil
}

type runItem struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	CreatedAt   string  `json:"created_at"`
}

func toRunItem(r *store.AutomationRun) runItem {
	return runItem{ID: r.ID, Status: r.Status, StartedAt: formatTimePtr(r.StartedAt), CompletedAt: formatTimePtr(r.CompletedAt),
		CreatedAt: formatTime(r.CreatedAt)}
}

type runStepItem struct {
	Key         string          `json:"key"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	StartedAt   *string         `json:"started_at"`
	CompletedAt *string         `json:"completed_at"`
	Output      json.RawMessage `json:"output"`
	Error       json.RawMessage `json:"error"`
	CreatedAt   string          `json:"created_at"`
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

var runStatuses = []string{store.RunRunning, store.RunCompleted, store.RunFailed, store.RunCancelled}

func (h *Handler) listAutomationRuns(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	var statuses []string
	if s := r.URL.Query().Get("status"); s != "" {
		for _, v := range strings.Split(s, ",") {
			v = strings.TrimSpace(v)
			ok := false
			for _, known := range runStatuses {
				ok = ok || v == known
			}
			if !ok {
				return apierr.Validation("Invalid `status` filter `%s`. It must be a comma-separated list of running, completed, failed, cancelled.", v)
			}
			statuses = append(statuses, v)
		}
	}
	list, more, err := h.Store.ListAutomationRuns(r.Context(), a.TeamID, a.ID, statuses, p)
	return writeList(w, "list automation runs", list, more, err, toRunItem)
}

func (h *Handler) getAutomationRun(w http.ResponseWriter, r *http.Request) error {
	a, err := h.loadAutomation(r)
	if err != nil {
		return err
	}
	id, err := uuidParam("run_id", r.PathValue("run_id"))
	if err != nil {
		return err
	}
	run, err := h.Store.GetAutomationRun(r.Context(), a.TeamID, a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errRunNotFound
	}
	if err != nil {
		return fmt.Errorf("get automation run: %w", err)
	}
	steps := make([]runStepItem, len(run.Steps))
	for i, s := range run.Steps {
		steps[i] = runStepItem{Key: s.Key, Type: s.Type, Status: s.Status, StartedAt: formatTimePtr(s.StartedAt),
			CompletedAt: formatTimePtr(s.CompletedAt), Output: rawOrNull(s.Output), Error: rawOrNull(s.Error), CreatedAt: formatTime(s.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		runItem
		Steps []runStepItem `json:"steps"`
	}{"automation_run", toRunItem(run), steps})
	return nil
}
