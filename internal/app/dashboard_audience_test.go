package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardAudience drives the Suppressions, Contacts, Segments and
// Topics pages in headless Chromium against the real server, on both
// stores: an admin adds a contact (a bad address is refused), edits it,
// makes a segment and puts the contact in it, makes a topic and opts the
// contact in, removes a suppression found by searching its address, and
// deletes a topic, a segment and a contact after confirming. A viewer
// reads the pages but is refused every admin action; another team's
// contact, segment, topic and suppression are 404s.
func TestDashboardAudience(t *testing.T) {
	eachStoreInBrowser(t, testDashboardAudience)
}

func testDashboardAudience(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.RateLimit = 100 // the test sets its scene through the API in bursts
	d, _ := startDash(t, bctx, kind, cfg)
	ctx := d.ctx

	keyA := d.cli(cfg, "keys", "create", "--name", "e2e")
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	defer db.Close()
	linkCfg := cfg
	linkCfg.PublicURL = d.base
	admin, adminLink, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	_, viewerLink, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "viewer@example.com", store.RoleViewer)
	require.NoError(t, err)

	d.do(chromedp.EmulateViewport(1280, 900))
	d.setPassword(adminLink, "the admin's password")

	// Contacts: empty, a bad address refused, then a contact; edited.
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	require.Contains(t, d.text("main"), "No contacts yet")
	require.Equal(t, http.StatusOK, d.click("#new-contact"))
	d.shot("contact-new")
	d.do(chromedp.SetValue(chromedp.CSS("#email"), "Ann <ann@example.com>"), chromedp.SetValue(chromedp.CSS("#first_name"), "Ann"))
	require.Equal(t, http.StatusBadRequest, d.submit("#email"))
	require.Contains(t, d.text(".alert"), "must be an address")
	d.do(chromedp.SetValue(chromedp.CSS("#email"), "Ann@Example.com"))
	require.Equal(t, http.StatusOK, d.submit("#email"))
	require.Equal(t, "Ann@Example.com", d.text("h1"))
	require.Equal(t, "Ann", d.text("#contact-first"), "the refused form kept the name")
	contactID := strings.TrimPrefix(d.location(), d.base+"/dashboard/contacts/")
	require.Equal(t, http.StatusOK, d.click("#edit-contact"))
	d.do(chromedp.SetValue(chromedp.CSS("#last_name"), "<b>Lee</b>"))
	require.Equal(t, http.StatusOK, d.submit("#email"))
	require.Equal(t, "<b>Lee</b>", d.text("#contact-last"), "as text")
	_, err = db.GetContact(context.Background(), admin.TeamID, contactID)
	require.NoError(t, err)
	d.navigate(d.base+"/dashboard/contacts?email=ann%40example.com", http.StatusOK)
	require.Contains(t, d.text("#contacts"), "Ann@Example.com", "found without regard to case")
	d.shot("contacts")
	d.navigate(d.base+"/dashboard/contacts?email=nobody%40example.com", http.StatusOK)
	require.Contains(t, d.text("main"), "No contact has this email")

	// Properties: declared through the API, listed on the Contacts page,
	// set on the contact's form, read back through the API; a bad number
	// is refused and changes nothing; an empty field removes the value.
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	require.Contains(t, d.text("#properties"), "declared no contact properties")
	d.navigate(d.base+"/dashboard/contacts/"+contactID+"/edit", http.StatusOK)
	require.Zero(t, d.count("#contact-property-fields"), "no declared property, no field")
	d.apiJSON(http.MethodPost, "/contact-properties", keyA, map[string]any{"key": "plan", "type": "string", "fallback_value": "free"})
	seatsProp := d.apiJSON(http.MethodPost, "/contact-properties", keyA, map[string]any{"key": "seats", "type": "number"})["id"].(string)
	theirProp := d.apiJSON(http.MethodPost, "/contact-properties", keyB, map[string]any{"key": "theirs", "type": "string"})["id"].(string)
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	require.Equal(t, 2, d.count("#property-definitions tr[data-property]"), "the team's own")
	require.Contains(t, d.text(`#property-definitions tr[data-property="plan"]`), "free")
	require.Contains(t, d.text(`#property-definitions tr[data-property="seats"]`), "number")
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	require.Contains(t, d.text(`#contact-properties dd[data-property="plan"]`), "no value (the fallback, “free”)")
	require.Equal(t, http.StatusOK, d.click("#edit-contact"))
	require.Equal(t, "number", d.attr("#property-seats", "type"))
	require.Equal(t, "", d.value("#property-plan"))
	d.do(chromedp.SetValue(chromedp.CSS("#property-plan"), "pro <b>plus</b>"), chromedp.SetValue(chromedp.CSS("#property-seats"), "12.5"))
	d.shot("contact-edit-properties")
	require.Equal(t, http.StatusOK, d.submit("#email"))
	require.Equal(t, "pro <b>plus</b>", d.text(`#contact-properties dd[data-property="plan"]`), "as text")
	require.Equal(t, "12.5", d.text(`#contact-properties dd[data-property="seats"]`))
	props := func() map[string]any {
		return d.apiJSON(http.MethodGet, "/contacts/"+contactID, keyA, nil)["properties"].(map[string]any)
	}
	require.Equal(t, map[string]any{"plan": "pro <b>plus</b>", "seats": 12.5}, props())
	require.Equal(t, http.StatusOK, d.click("#edit-contact"))
	require.Equal(t, "12.5", d.value("#property-seats"), "prefilled")
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/contacts/"+contactID, d.csrf(), "email", "Ann@Example.com",
		"first_name", "Ann", "last_name", "<b>Lee</b>", "property.plan", "", "property.seats", "lots"))
	require.Contains(t, d.text(".alert"), "Some properties are not valid")
	require.Contains(t, d.text("#property-seats-error"), "Write a number")
	require.Equal(t, "lots", d.value("#property-seats"), "the typed text is shown")
	require.Equal(t, "true", d.attr("#property-seats", "aria-invalid"))
	d.shot("contact-edit-bad-number")
	require.Equal(t, map[string]any{"plan": "pro <b>plus</b>", "seats": 12.5}, props(), "the refused form changed nothing")
	d.navigate(d.base+"/dashboard/contacts/"+contactID+"/edit", http.StatusOK)
	d.do(chromedp.Clear(chromedp.CSS("#property-plan")))
	require.Equal(t, http.StatusOK, d.submit("#email"))
	require.Contains(t, d.text(`#contact-properties dd[data-property="plan"]`), "no value (the fallback, “free”)")
	require.Equal(t, map[string]any{"seats": 12.5}, props(), "an empty field removed the value")
	d.apiJSON(http.MethodPatch, "/contacts/"+contactID, keyA, map[string]any{"properties": map[string]any{"extra": "api"}})
	d.navigate(d.base+"/dashboard/contacts/"+contactID+"/edit", http.StatusOK)
	require.Equal(t, http.StatusOK, d.submit("#email"))
	require.Equal(t, map[string]any{"seats": 12.5, "extra": "api"}, props(), "an undeclared property is kept")
	require.Equal(t, "api", d.text(`#contact-properties dd[data-property="extra"]`))

	// Declaring a property in the dashboard, with the API's rules, and
	// deleting it after confirming.
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	for _, c := range []struct{ key, typ, fallback, want string }{
		{"plan", "string", "", "already has a property with this key"},
		{"bad key", "string", "", "1 to 50 letters, digits or underscores"},
		{"tier", "number", "gold", "must be a number"},
	} {
		d.do(chromedp.SetValue(chromedp.CSS("#property-key"), c.key), chromedp.SetValue(chromedp.CSS("#property-type"), c.typ))
		if c.fallback != "" {
			d.do(chromedp.SetValue(chromedp.CSS("#property-fallback"), c.fallback))
		}
		status := http.StatusBadRequest
		if c.key == "plan" {
			status = http.StatusConflict
		}
		require.Equal(t, status, d.submit("#property-key"), c.key)
		require.Contains(t, d.text("#properties .alert"), c.want, c.key)
		require.Equal(t, c.key, d.value("#property-key"), "the form keeps what was typed")
	}
	d.do(chromedp.SetValue(chromedp.CSS("#property-fallback"), "0"))
	d.shot("contacts-property-form")
	require.Equal(t, http.StatusOK, d.submit("#property-key"))
	require.Equal(t, "0", d.text(`#property-definitions tr[data-property="tier"] td:nth-child(3)`))
	require.Contains(t, d.text(`#property-definitions tr[data-property="tier"]`), "number")
	listed := map[string]any{}
	for _, p := range d.apiJSON(http.MethodGet, "/contact-properties", keyA, nil)["data"].([]any) {
		listed[p.(map[string]any)["key"].(string)] = p.(map[string]any)["fallback_value"]
	}
	require.Equal(t, map[string]any{"plan": "free", "seats": nil, "tier": 0.0}, listed, "the API lists it")
	d.navigate(d.base+"/dashboard/contacts/"+contactID+"/edit", http.StatusOK)
	require.Equal(t, "number", d.attr("#property-tier", "type"), "a field for it on the form")
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	require.Equal(t, http.StatusOK, d.click(`#property-definitions tr[data-property="tier"] .delete-property`))
	require.Contains(t, d.text("#confirm"), "Delete the contact property tier?")
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Zero(t, d.count(`#property-definitions tr[data-property="tier"]`))
	require.Equal(t, 2, d.count("#property-definitions tr[data-property]"))
	d.navigate(d.base+"/dashboard/contact-properties/"+theirProp+"/delete", http.StatusNotFound)
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/contact-properties/"+theirProp+"/delete", d.csrf()), "another team's")
	require.Equal(t, "theirs", d.apiJSON(http.MethodGet, "/contact-properties/"+theirProp, keyB, nil)["key"])

	// Segments: a bad name refused, then one; the contact joins it.
	d.navigate(d.base+"/dashboard/segments", http.StatusOK)
	require.Contains(t, d.text("main"), "No segments yet")
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/segments", d.csrf(), "name", "  "))
	require.Contains(t, d.text(".alert"), "name is required")
	d.do(chromedp.SetValue(chromedp.CSS("#segment-name"), "Customers"))
	require.Equal(t, http.StatusOK, d.submit("#segment-name"))
	require.Equal(t, "Customers", d.text("h1"))
	segID := strings.TrimPrefix(d.location(), d.base+"/dashboard/segments/")
	require.Contains(t, d.text("main"), "No contact is in this segment")
	d.navigate(d.base+"/dashboard/segments", http.StatusOK)
	d.shot("segments")

	// Topics: one, opt-out by default.
	d.navigate(d.base+"/dashboard/topics", http.StatusOK)
	require.Contains(t, d.text("main"), "No topics yet")
	require.Equal(t, http.StatusOK, d.click("#new-topic"))
	d.do(chromedp.SetValue(chromedp.CSS("#name"), "Product news"), chromedp.SetValue(chromedp.CSS("#description"), "Now and then"),
		chromedp.SetValue(chromedp.CSS("#default_subscription"), "opt_out"))
	d.shot("topic-new")
	require.Equal(t, http.StatusOK, d.submit("#name"))
	require.Contains(t, d.text("#topics"), "Product news")
	require.Contains(t, d.text("#topics"), "opt out")
	topicID := d.attr("#topics tr[data-topic]", "data-topic")
	d.shot("topics")
	require.Equal(t, http.StatusOK, d.click("#topics td.subject a"))
	d.do(chromedp.SetValue(chromedp.CSS("#name"), "Product updates"))
	require.Equal(t, http.StatusOK, d.submit("#name"))
	require.Contains(t, d.text("#topics"), "Product updates")

	// The contact's page: into the segment, opted in to the topic.
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	require.Contains(t, d.text("#contact-topics"), "(the topic's default)")
	require.Equal(t, http.StatusOK, d.click("#add-segment"))
	require.Contains(t, d.text("#contact-segments"), "Customers")
	require.Equal(t, http.StatusOK, d.click("#contact-topics .topic-toggle"))
	require.Equal(t, "opt in", d.text("#contact-topics td.subscription"), "the contact's own choice")
	d.shot("contact")
	subs, _, err := db.ListContactTopics(context.Background(), admin.TeamID, contactID, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, store.SubscriptionOptIn, subs[0].Subscription)
	require.True(t, subs[0].Explicit)
	d.navigate(d.base+"/dashboard/segments/"+segID, http.StatusOK)
	require.Contains(t, d.text("#segment-contacts"), "Ann@Example.com")
	d.shot("segment")

	// Suppressions: found by address, removed.
	d.apiJSON(http.MethodPost, "/suppressions", keyA, map[string]any{"email": "gone@example.com"})
	d.apiJSON(http.MethodPost, "/suppressions", keyA, map[string]any{"email": "kept@example.com"})
	d.navigate(d.base+"/dashboard/suppressions", http.StatusOK)
	require.Equal(t, 2, d.count("#suppressions tr[data-suppression]"))
	d.shot("suppressions")
	d.do(chromedp.SetValue(chromedp.CSS("#suppression-email"), "GONE@example.com"))
	require.Equal(t, http.StatusOK, d.submit("#suppression-email"))
	require.Equal(t, 1, d.count("#suppressions tr[data-suppression]"))
	supID := d.attr("#suppressions tr[data-suppression]", "data-suppression")
	require.Equal(t, http.StatusOK, d.click("#suppressions .remove-suppression"))
	require.Equal(t, d.base+"/dashboard/suppressions", d.location())
	require.NotContains(t, d.text("#suppressions"), "gone@example.com")
	require.Contains(t, d.text("#suppressions"), "kept@example.com")
	_, err = db.GetSuppression(context.Background(), admin.TeamID, "gone@example.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	keptID := d.attr("#suppressions tr[data-suppression]", "data-suppression")
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/suppressions/"+supID+"/delete", d.csrf()), "removed once")

	// Another team's contact, segment, topic and suppression are 404s.
	theirContact := d.apiJSON(http.MethodPost, "/contacts", keyB, map[string]any{"email": "theirs@example.com"})["id"].(string)
	theirSeg := d.apiJSON(http.MethodPost, "/segments", keyB, map[string]any{"name": "Theirs"})["id"].(string)
	theirTopic := d.apiJSON(http.MethodPost, "/topics", keyB, map[string]any{"name": "Theirs", "default_subscription": "opt_in"})["id"].(string)
	theirSup := d.apiJSON(http.MethodPost, "/suppressions", keyB, map[string]any{"email": "theirs@example.com"})["id"].(string)
	for _, p := range []string{"/dashboard/contacts/" + theirContact, "/dashboard/contacts/" + theirContact + "/edit",
		"/dashboard/segments/" + theirSeg, "/dashboard/segments/" + theirSeg + "/delete", "/dashboard/topics/" + theirTopic + "/edit",
		"/dashboard/contacts/not-an-id", "/dashboard/contacts?after=" + theirContact} {
		d.navigate(d.base+p, http.StatusNotFound)
	}
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	csrf := d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/suppressions/" + theirSup + "/delete":         nil,
		"/dashboard/contacts/" + theirContact + "/delete":         nil,
		"/dashboard/contacts/" + contactID + "/segments":          {"segment", theirSeg},
		"/dashboard/contacts/" + contactID + "/topics":            {"topic", theirTopic, "subscription", "opt_in"},
		"/dashboard/topics/" + theirTopic + "/delete":             nil,
		"/dashboard/segments/" + theirSeg + "/delete":             nil,
		"/dashboard/contacts/" + theirContact + "/segments":       {"segment", segID},
		"/dashboard/contacts/" + contactID + "/segments/x/remove": nil,
	} {
		require.Equal(t, http.StatusNotFound, d.postForm(path, csrf, form...), path)
	}
	require.Equal(t, "theirs@example.com", d.apiJSON(http.MethodGet, "/suppressions/"+theirSup, keyB, nil)["email"])
	require.Equal(t, "Theirs", d.apiJSON(http.MethodGet, "/segments/"+theirSeg, keyB, nil)["name"])

	// A viewer reads, but every admin action is refused.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.setPassword(viewerLink, "the viewer's password")
	for _, p := range []string{"/dashboard/contacts", "/dashboard/contacts/" + contactID, "/dashboard/segments",
		"/dashboard/segments/" + segID, "/dashboard/topics", "/dashboard/suppressions"} {
		d.navigate(d.base+p, http.StatusOK)
		require.Zero(t, d.count("#new-contact, #edit-contact, #delete-contact, #add-segment, .remove-segment, .topic-toggle, "+
			"#segment-form, #delete-segment, #new-topic, .remove-suppression, #property-form, .delete-property"), "no admin controls for a viewer: %s", p)
	}
	for _, p := range []string{"/dashboard/contacts/new", "/dashboard/contacts/" + contactID + "/edit", "/dashboard/contacts/" + contactID + "/delete",
		"/dashboard/segments/" + segID + "/delete", "/dashboard/topics/new", "/dashboard/topics/" + topicID + "/edit",
		"/dashboard/contact-properties/" + seatsProp + "/delete"} {
		d.navigate(d.base+p, http.StatusForbidden)
	}
	csrf = d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/suppressions/" + keptID + "/delete":                       nil,
		"/dashboard/contacts":                                                 {"email", "x@example.com"},
		"/dashboard/contacts/" + contactID:                                    {"email", "x@example.com", "property.seats", "1"},
		"/dashboard/contacts/" + contactID + "/delete":                        nil,
		"/dashboard/contacts/" + contactID + "/segments":                      {"segment", segID},
		"/dashboard/contacts/" + contactID + "/segments/" + segID + "/remove": nil,
		"/dashboard/contacts/" + contactID + "/topics":                        {"topic", topicID, "subscription", "opt_out"},
		"/dashboard/segments":                                                 {"name", "x"},
		"/dashboard/segments/" + segID + "/delete":                            nil,
		"/dashboard/topics":                                                   {"name", "x", "default_subscription", "opt_in", "visibility", "private"},
		"/dashboard/topics/" + topicID:                                        {"name", "x", "visibility", "private"},
		"/dashboard/topics/" + topicID + "/delete":                            nil,
		"/dashboard/contact-properties":                                       {"key", "x", "type", "string"},
		"/dashboard/contact-properties/" + seatsProp + "/delete":              nil,
	} {
		require.Equal(t, http.StatusForbidden, d.postForm(path, csrf, form...), path)
		require.Contains(t, d.text("main"), "you are a viewer", path)
	}
	_, err = db.GetSuppression(context.Background(), admin.TeamID, keptID)
	require.NoError(t, err, "the viewer removed nothing")
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	require.Equal(t, "12.5", d.text(`#contact-properties dd[data-property="seats"]`), "a viewer reads the properties, unchanged")
	require.Zero(t, d.count("#contact-property-fields, #edit-contact"))

	// The admin takes the contact out of the segment, and deletes the
	// topic, the segment and the contact after confirming.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	require.Equal(t, http.StatusOK, d.signIn("admin@example.com", "the admin's password"))
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#contact-segments .remove-segment"))
	require.Contains(t, d.text("main"), "In no segment.")
	d.navigate(d.base+"/dashboard/topics/"+topicID+"/edit", http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#delete-topic"))
	d.shot("topic-delete")
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Contains(t, d.text("main"), "No topics yet")
	d.navigate(d.base+"/dashboard/segments/"+segID, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#delete-segment"))
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Contains(t, d.text("main"), "No segments yet")
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#delete-contact"))
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Contains(t, d.text("main"), "No contacts yet")
	d.navigate(d.base+"/dashboard/contacts/"+contactID, http.StatusNotFound)

	// Cursor pages of contacts: 50 a page, Older then Newer.
	t0 := time.Now().UTC()
	for i := range 53 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		require.NoError(t, db.CreateContact(context.Background(), &store.Contact{ID: store.NewID(), TeamID: admin.TeamID,
			Email: fmt.Sprintf("c%02d@example.com", i), CreatedAt: at, UpdatedAt: at}))
	}
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	require.Equal(t, 50, d.count("#contacts tr[data-contact]"))
	require.Contains(t, d.text("#contacts"), "c52@example.com", "newest first")
	require.Equal(t, http.StatusOK, d.click(`.pager a[rel="next"]`))
	require.Equal(t, 3, d.count("#contacts tr[data-contact]"))
	require.Contains(t, d.text("#contacts"), "c00@example.com")
	require.Equal(t, http.StatusOK, d.click(`.pager a[rel="prev"]`))
	require.Equal(t, 50, d.count("#contacts tr[data-contact]"))
	require.Zero(t, d.count(`.pager a[rel="prev"]`), "back at the first page")

	// At phone width, nothing scrolls sideways.
	d.do(chromedp.EmulateViewport(375, 812))
	for _, p := range []string{"/dashboard/suppressions", "/dashboard/contacts", "/dashboard/segments", "/dashboard/topics", "/dashboard/topics/new"} {
		d.navigate(d.base+p, http.StatusOK)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width: %s", p)
	}
	d.shot("topic-new-375")

	// The dark theme.
	d.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	d.navigate(d.base+"/dashboard/contacts", http.StatusOK)
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(17, 20, 23)", bg, "the dark palette")
	d.shot("contacts-dark")
}
