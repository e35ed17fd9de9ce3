package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
)

// keyStore is what the API keys pages read and write.
type keyStore interface {
	ListAPIKeys(ctx context.Context, teamID string) ([]*store.APIKey, error)
	GetAPIKey(ctx context.Context, teamID, id string) (*store.APIKey, error)
	CreateAPIKey(ctx context.Context, k *store.APIKey) error
	DeleteAPIKey(ctx context.Context, teamID, id string) error
}

// keyView is a key in the list, with the name of the domain it is
// restricted to.
type keyView struct {
	*store.APIKey
	Domain string
}

type keysData struct {
	Keys    []keyView
	Domains []*store.Domain
	// NewKey and Token are the key just created and its token, shown this
	// once.
	NewKey *store.APIKey
	Token  string
	// Name, Permission, DomainID and Error are the form's values after a
	// refusal.
	Name, Permission, DomainID, Error string
}

// apiKeys lists the team's keys, never their tokens: two queries (the keys
// and the domains they may be restricted to).
func (h *Handler) apiKeys(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.renderKeys(w, r, s, http.StatusOK, keysData{Permission: store.PermissionFullAccess})
}

func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, s *request, status int, data keysData) error {
	keys, err := h.cfg.Store.ListAPIKeys(r.Context(), s.user.TeamID)
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	doms, err := h.cfg.Store.ListDomains(r.Context(), s.user.TeamID)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	names := make(map[string]string, len(doms))
	for _, d := range doms {
		names[d.ID] = d.Name
	}
	data.Domains = doms
	data.Keys = make([]keyView, len(keys))
	for i, k := range keys {
		data.Keys[i] = keyView{APIKey: k, Domain: names[k.DomainID]}
	}
	return h.render(w, r, s, status, "apikeys", "API keys", "API keys", data)
}

// createAPIKey makes a key as POST /api-keys does (auth.NewKey) and shows
// its token once.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, s *request) error {
	name, perm, domainID := r.PostFormValue("name"), r.PostFormValue("permission"), r.PostFormValue("domain_id")
	refuse := func(status int, msg string) error {
		return h.renderKeys(w, r, s, status, keysData{Name: name, Permission: perm, DomainID: domainID, Error: msg})
	}
	if domainID != "" {
		d, err := h.cfg.Store.GetDomain(r.Context(), s.user.TeamID, domainID)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(http.StatusBadRequest, "That domain is not one of your team's.")
		}
		if err != nil {
			return fmt.Errorf("get domain: %w", err)
		}
		domainID = d.ID
	}
	k, token, err := auth.NewKey(s.user.TeamID, name, perm, domainID, time.Now())
	switch {
	case errors.Is(err, auth.ErrKeyName):
		return refuse(http.StatusBadRequest, fmt.Sprintf("The name must be one line of at most %d characters.", auth.MaxKeyName))
	case errors.Is(err, auth.ErrPermission):
		return refuse(http.StatusBadRequest, "Choose full access or sending access.")
	case errors.Is(err, auth.ErrDomainNeedsSend):
		return refuse(http.StatusBadRequest, "Only a sending access key can be restricted to one domain.")
	case err != nil:
		return err
	}
	if err := h.cfg.Store.CreateAPIKey(r.Context(), k); err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	s.note(slog.String("api_key_id", k.ID))
	return h.renderKeys(w, r, s, http.StatusOK, keysData{NewKey: k, Token: token, Permission: store.PermissionFullAccess})
}

func keyPath(id string) string { return Prefix + "api-keys/" + url.PathEscape(id) }

// revokeKeyPage asks before a key is revoked.
func (h *Handler) revokeKeyPage(w http.ResponseWriter, r *http.Request, s *request) error {
	k, err := h.cfg.Store.GetAPIKey(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	label := k.Name
	if label == "" {
		label = "(no name)"
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Revoke "+label, "API keys", confirmData{
		Question: "Revoke the API key " + label + "?",
		Detail:   "Every request made with it is refused from now on. This cannot be undone: a new key has a new token.",
		Action:   keyPath(k.ID) + "/revoke", Button: "Revoke " + label, Back: Prefix + "api-keys"})
}

// revokeKey deletes a key as DELETE /api-keys/{id} does, and forgets it in
// this node's cache so that it stops working at once.
func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *request) error {
	k, err := h.cfg.Store.GetAPIKey(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.cfg.Store.DeleteAPIKey(r.Context(), s.user.TeamID, k.ID); err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	if h.cfg.Caches != nil {
		h.cfg.Caches.ForgetKey(k.Prefix)
	}
	http.Redirect(w, r, Prefix+"api-keys", http.StatusSeeOther)
	return nil
}
