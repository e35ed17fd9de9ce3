package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
)

// domainStore is what the domains pages read and write: the same calls as
// the API's domain routes, every one scoped to the team.
type domainStore interface {
	ListDomains(ctx context.Context, teamID string) ([]*store.Domain, error)
	GetDomain(ctx context.Context, teamID, id string) (*store.Domain, error)
	CreateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error
	UpdateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
	DeleteDomain(ctx context.Context, teamID, id string, events ...*store.Event) error
}

// Caches forgets what this node caches of a key or a domain once it is
// revoked or deleted (accept.Service), as the API does.
type Caches interface {
	ForgetKey(prefix string)
	ForgetDomain(teamID, name string)
}

type domainsData struct {
	Domains []*store.Domain
	Regions []string
	// Name, Region and Error are the add form's values after a refusal.
	Name, Region, Error string
}

// domainsList lists the team's domains, newest first (one query), with the
// add form for an admin.
func (h *Handler) domainsList(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.renderDomains(w, r, s, http.StatusOK, domainsData{Region: domains.Regions[0]})
}

func (h *Handler) renderDomains(w http.ResponseWriter, r *http.Request, s *request, status int, data domainsData) error {
	list, err := h.cfg.Store.ListDomains(r.Context(), s.user.TeamID)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	data.Domains, data.Regions = list, domains.Regions
	return h.render(w, r, s, status, "domains", "Domains", "Domains", data)
}

// addDomain adds a domain as POST /domains does (domains.Settings.New and
// Provision, then store.CreateDomain) and goes to its page.
func (h *Handler) addDomain(w http.ResponseWriter, r *http.Request, s *request) error {
	raw, region := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("region")
	refuse := func(status int, msg string) error {
		return h.renderDomains(w, r, s, status, domainsData{Name: raw, Region: region, Error: msg})
	}
	name, ok := domains.NormalizeName(raw)
	if !ok {
		return refuse(http.StatusBadRequest, "That is not a domain name: give one such as example.com, without a trailing dot.")
	}
	if !domains.ValidRegion(region) {
		return refuse(http.StatusBadRequest, "Choose one of the listed regions.")
	}
	now := time.Now()
	d := h.cfg.Domains.New(s.user.TeamID, name, now)
	d.Region = region
	_, created, err := h.cfg.Domains.Provision(d, now)
	if err != nil {
		return err
	}
	if err := h.cfg.Store.CreateDomain(r.Context(), d, created); errors.Is(err, store.ErrConflict) {
		return refuse(http.StatusConflict, "The domain "+name+" has been registered already.")
	} else if err != nil {
		return fmt.Errorf("create domain: %w", err)
	}
	s.note(slog.String("domain", d.Name), slog.String("domain_id", d.ID))
	http.Redirect(w, r, domainPath(d.ID), http.StatusSeeOther)
	return nil
}

func domainPath(id string) string { return Prefix + "domains/" + url.PathEscape(id) }

// recordView is one DNS record on a domain's page.
type recordView struct {
	domains.Object
	Kind  string
	FQDN  string
	Guide string
	// Check is what the last check found in DNS; nil: not checked yet.
	Check *answerView
}

// answerView is what DNS answered at a record's last check.
type answerView struct {
	Values  []string // the values published at the name
	Omitted int      // how many more were published
	// Note says why there is no value: the name does not exist, the lookup
	// failed, or the name publishes nothing of the type.
	Note      string
	Failed    bool // the lookup failed (the record's status is kept until a check succeeds)
	CheckedAt time.Time
	Ago       string
}

type domainData struct {
	Domain  *store.Domain
	Records []recordView
	// LastCheck is the time of the domain's last check (nil: never),
	// LastAgo how long ago; NextIn when the next is ("in 5 minutes", "due
	// now").
	LastCheck *time.Time
	LastAgo   string
	NextIn    string
}

// newAnswerView shapes the stored check of a record of type typ at fqdn.
func newAnswerView(c store.RecordCheck, typ, fqdn string, now time.Time) *answerView {
	a := &answerView{Values: c.Answer, Omitted: c.Omitted, CheckedAt: c.CheckedAt, Ago: ago(now.Sub(c.CheckedAt))}
	switch {
	case c.Error == dnscheck.NXDomain:
		a.Note = "NXDOMAIN: the name " + fqdn + " does not exist."
	case c.Error != "":
		a.Note, a.Failed = "The lookup failed ("+c.Error+"); the record is checked again soon.", true
	case len(c.Answer) == 0:
		a.Note = "No " + typ + " record at " + fqdn + "."
	}
	return a
}

// ago says how long a duration is, in words, to the nearest unit ("less
// than a second", "5 minutes", "24 hours", "3 days").
func ago(d time.Duration) string {
	if d < time.Second/2 {
		return "less than a second"
	}
	for _, u := range []struct {
		unit  time.Duration
		name  string
		below int // the count from which the next unit is used
	}{{time.Second, "second", 60}, {time.Minute, "minute", 60}, {time.Hour, "hour", 48}, {24 * time.Hour, "day", 0}} {
		n := int((d + u.unit/2) / u.unit)
		if u.below > 0 && n >= u.below {
			continue
		}
		if n == 1 {
			return "1 " + u.name
		}
		return fmt.Sprintf("%d %ss", n, u.name)
	}
	panic("unreachable")
}

// recordGuide is a line of guidance per kind of record.
var recordGuide = map[string]string{
	domains.KindDKIM: "DKIM: the public key receivers check Godwit's signatures against. Publish it as one TXT record; " +
		"a DNS host that splits long values into several quoted strings is fine.",
	domains.KindDKIMEd25519: "DKIM (Ed25519): a second, shorter signing key that newer receivers check as well. A TXT record, like the RSA one.",
	domains.KindSPFMX: "SPF (MX): bounces of mail sent from this domain come back to Godwit at this return-path subdomain. " +
		"It does not touch the MX of the domain itself.",
	domains.KindSPFTXT: "SPF (TXT): allows Godwit's servers to send with the return-path subdomain. " +
		"It is a record of the subdomain, so the domain's own SPF record stays as it is.",
	domains.KindDMARC: "DMARC (optional): asks receivers for reports on mail that fails SPF and DKIM alignment; p=none changes nothing else. " +
		"If the domain has a DMARC record already, keep yours.",
}

// domain is a domain's page: its status and DNS records with their
// statuses (one query; the records are derived from the domain).
func (h *Handler) domain(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetDomain(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's domain too
	}
	recs, err := h.cfg.Domains.Records(d)
	if err != nil {
		return err
	}
	objs := domains.Objects(d, recs)
	now := time.Now()
	if h.cfg.Now != nil {
		now = h.cfg.Now()
	}
	data := domainData{Domain: d, Records: make([]recordView, len(recs))}
	for i, rec := range recs {
		v := recordView{Object: objs[i], Kind: rec.Kind, FQDN: rec.FQDN(d.Name), Guide: recordGuide[rec.Kind]}
		if c, ok := d.RecordChecks[rec.Kind]; ok {
			v.Check = newAnswerView(c, rec.Type, v.FQDN, now)
			if data.LastCheck == nil || c.CheckedAt.After(*data.LastCheck) {
				data.LastCheck = &c.CheckedAt
			}
		}
		data.Records[i] = v
	}
	if data.LastCheck != nil {
		data.LastAgo = ago(now.Sub(*data.LastCheck))
	}
	if d.NextCheckAt != nil && d.NextCheckAt.After(now) {
		data.NextIn = "in " + ago(d.NextCheckAt.Sub(now))
	} else if d.NextCheckAt != nil {
		data.NextIn = "due now"
	}
	return h.render(w, r, s, http.StatusOK, "domain", d.Name, "Domains", data)
}

// DomainResumer resumes a domain's paused sending and enqueues its held
// emails (reputation.Guard).
type DomainResumer interface {
	Resume(ctx context.Context, teamID, domainID, by string) (*store.Domain, bool, int, error)
}

// resumeDomain is "Resume sending" on a domain the reputation guard
// paused: as godwit domains resume.
func (h *Handler) resumeDomain(w http.ResponseWriter, r *http.Request, s *request) error {
	if h.cfg.Resumer == nil {
		return &httpError{status: http.StatusNotFound, msg: "Resuming is not available on this server."}
	}
	d, _, held, err := h.cfg.Resumer.Resume(r.Context(), s.user.TeamID, r.PathValue("id"), "dashboard:"+s.user.ID)
	if err != nil {
		return err
	}
	s.note(slog.Int("held_emails", held))
	http.Redirect(w, r, domainPath(d.ID), http.StatusSeeOther)
	return nil
}

// verifyDomain is "Verify now": what POST /domains/{id}/verify does
// (domains.Settings.StartVerification, then the verifier is woken).
func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetDomain(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	lostTo, err := h.cfg.Domains.StartVerification(r.Context(), h.cfg.Store, d, time.Now())
	switch {
	case errors.Is(err, domains.ErrTaken):
		if lostTo != "" {
			h.log.InfoContext(r.Context(), "domain failed: another team verified it first", slog.String("domain", d.Name),
				slog.String("domain_id", d.ID), slog.String("team_id", d.TeamID), slog.String("winner_team_id", lostTo))
		}
		return &httpError{status: http.StatusConflict, msg: "Another team has verified " + d.Name + " already, so it cannot be verified here."}
	case err != nil:
		return err
	}
	if h.cfg.VerifyNow != nil {
		h.cfg.VerifyNow()
	}
	http.Redirect(w, r, domainPath(d.ID), http.StatusSeeOther)
	return nil
}

// confirmData is the confirmation page of a destructive action.
type confirmData struct {
	Question string
	Detail   string
	Action   string // where the form posts
	Button   string
	Back     string
}

// deleteDomainPage asks before a domain is deleted.
func (h *Handler) deleteDomainPage(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetDomain(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Delete "+d.Name, "Domains", confirmData{
		Question: "Delete the domain " + d.Name + "?",
		Detail:   "Emails from it are refused from now on, and its DKIM keys are destroyed: adding it again makes new records to publish.",
		Action:   domainPath(d.ID) + "/delete", Button: "Delete " + d.Name, Back: domainPath(d.ID)})
}

// deleteDomain deletes as DELETE /domains/{id} does.
func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetDomain(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.cfg.Domains.Delete(r.Context(), h.cfg.Store, d, time.Now()); err != nil {
		return err
	}
	if h.cfg.Caches != nil {
		h.cfg.Caches.ForgetDomain(d.TeamID, d.Name)
	}
	s.note(slog.String("domain", d.Name))
	http.Redirect(w, r, Prefix+"domains", http.StatusSeeOther)
	return nil
}

func init() {
	// domainClass is the badge colour of a domain's or a record's status.
	funcs["domainClass"] = func(s string) string {
		switch s {
		case store.DomainVerified:
			return "ok"
		case store.DomainFailed:
			return "bad"
		case store.DomainPending, store.DomainTemporaryFailure, store.DomainPartiallyVerified, store.DomainPartiallyFailed:
			return "warn"
		}
		return "neutral"
	}
}
