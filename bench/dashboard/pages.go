package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"time"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/dashboard"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// page is one dashboard page to time.
type page struct{ name, path string }

// timePages renders each page requests times through the dashboard's own
// handler, in this process (no network: the time is the server's, queries
// and rendering), signed in as an admin of the team, and returns a row per
// page. A page that does not answer 200 stops the run.
func timePages(ctx context.Context, db *sqlstore.DB, teamID string, s samples, requests int) ([]result, error) {
	accounts, err := account.New(account.Config{Store: db, Params: account.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		return nil, err
	}
	h, err := dashboard.New(dashboard.Config{Store: db, Accounts: accounts, Capture: true,
		CSRFKey: []byte("bench-dashboard-csrf-key-0123456789")})
	if err != nil {
		return nil, err
	}
	_, link, err := accounts.CreateUser(ctx, teamID, fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()), store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	sess, err := accounts.SetPassword(ctx, link, "a long enough bench password")
	if err != nil {
		return nil, err
	}
	cookie := &http.Cookie{Name: "godwit_session", Value: sess.Token}
	day := time.Now().UTC().AddDate(0, 0, -20).Format("2006-01-02")
	pages := []page{
		{"emails: first page", "/dashboard/emails"},
		{"emails: deep page", "/dashboard/emails?after=" + url.QueryEscape(s.middle)},
		{"emails: status bounced", "/dashboard/emails?status=bounced"},
		{"emails: status delivered, one day", "/dashboard/emails?status=delivered&since=" + day + "&until=" + day},
		{"emails: recipient", "/dashboard/emails?to=user42%40example.net"},
		{"emails: tag", "/dashboard/emails?tag=category%3Dc3"},
		{"emails: domain", "/dashboard/emails?domain=" + url.QueryEscape(s.domain)},
		{"email page", "/dashboard/emails/" + s.emails[len(s.emails)/2]},
		{"email page: .eml download", "/dashboard/emails/" + s.emails[len(s.emails)/2] + "/raw.eml"},
		{"metrics: 7 days", "/dashboard/metrics"},
		{"metrics: 30 days", "/dashboard/metrics?days=30"},
		{"metrics: 7 days hourly", "/dashboard/metrics?granularity=hourly"},
		{"queue", "/dashboard/queue"},
		{"dev inbox", "/dashboard/inbox"},
		{"dev inbox: message", "/dashboard/inbox/" + s.captured[len(s.captured)/2]},
		{"logs", "/dashboard/logs"},
		{"domains", "/dashboard/domains"},
		{"api keys", "/dashboard/api-keys"},
		{"webhooks", "/dashboard/webhooks"},
		{"suppressions", "/dashboard/suppressions"},
		{"contacts", "/dashboard/contacts"},
		{"segments", "/dashboard/segments"},
		{"topics", "/dashboard/topics"},
		{"templates", "/dashboard/templates"},
		{"broadcasts", "/dashboard/broadcasts"},
		{"settings", "/dashboard/settings"},
	}
	// The seed's emails name domains without rows; a domain's page is timed
	// when the team has one.
	doms, err := db.ListDomains(ctx, teamID)
	if err != nil {
		return nil, err
	}
	if len(doms) > 0 {
		pages = append(pages, page{"domain", "/dashboard/domains/" + doms[0].ID})
	}
	var out []result
	for _, p := range pages {
		lat := make([]time.Duration, requests)
		for i := range lat {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, p.path, nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			lat[i] = time.Since(start)
			if rec.Code != http.StatusOK {
				return nil, fmt.Errorf("page %s (%s): status %d", p.name, p.path, rec.Code)
			}
		}
		slices.Sort(lat)
		pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
		out = append(out, result{name: "page: " + p.name, p50: pct(0.50), p99: pct(0.99), worst: lat[len(lat)-1]})
	}
	return out, nil
}
