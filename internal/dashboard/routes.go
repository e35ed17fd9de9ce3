package dashboard

import "net/http"

// routes is the whole dashboard on one page, with each route's access:
// public (no session needed), member (any signed-in user) or admin.
func (h *Handler) routes() {
	h.mux.Handle("GET /dashboard/assets/", h.assets())

	h.handle("GET /dashboard/{$}", public, h.home)
	h.handle("GET /dashboard/sign-in", public, h.signInPage)
	h.handle("POST /dashboard/sign-in", public, h.signIn)
	h.handle("GET /dashboard/set-password", public, h.setPasswordPage)
	h.handle("POST /dashboard/set-password", public, h.setPassword)
	h.handle("POST /dashboard/sign-out", member, h.signOut)

	h.handle("GET /dashboard/emails", member, h.emails)
	h.handle("GET /dashboard/emails/{id}", member, h.email)
	h.handle("GET /dashboard/emails/{id}/body.html", member, h.emailHTML)
	h.handle("GET /dashboard/emails/{id}/raw.eml", member, h.emailRaw)
	h.handle("GET /dashboard/emails/{id}/attachments/{index}", member, h.emailAttachment)
	h.handle("POST /dashboard/emails/{id}/share", admin, h.shareEmail)
	h.handle("GET /dashboard/emails/{id}/cancel", admin, h.confirmCancelEmail)
	h.handle("POST /dashboard/emails/{id}/cancel", admin, h.cancelEmail)
	h.handle("POST /dashboard/emails/{id}/reschedule", admin, h.rescheduleEmail)

	h.handle("GET /dashboard/webhooks", member, h.webhooks)
	h.handle("GET /dashboard/webhooks/new", admin, h.newWebhook)
	h.handle("POST /dashboard/webhooks", admin, h.createWebhook)
	h.handle("GET /dashboard/webhooks/{id}", member, h.webhook)
	h.handle("GET /dashboard/webhooks/{id}/edit", admin, h.editWebhook)
	h.handle("POST /dashboard/webhooks/{id}", admin, h.updateWebhook)
	h.handle("GET /dashboard/webhooks/{id}/delete", admin, h.confirmDeleteWebhook)
	h.handle("POST /dashboard/webhooks/{id}/delete", admin, h.deleteWebhook)
	h.handle("POST /dashboard/webhooks/{id}/reveal", admin, h.revealWebhookSecret)
	h.handle("POST /dashboard/webhooks/{id}/rotate", admin, h.rotateWebhookSecret)
	h.handle("GET /dashboard/webhooks/{id}/messages/{msg}", member, h.webhookMessage)
	h.handle("POST /dashboard/webhooks/{id}/messages/{msg}/replay", admin, h.replayWebhookMessage)

	h.handle("GET /dashboard/logs", member, h.logs)
	h.handle("GET /dashboard/logs/{id}", member, h.requestLog)

	h.handle("GET /dashboard/queue", member, h.queue)

	h.handle("GET /dashboard/metrics", member, h.metrics)

	h.handle("GET /dashboard/inbox", member, h.inbox)
	h.handle("GET /dashboard/inbox/{id}", member, h.inboxMessage)
	h.handle("GET /dashboard/inbox/{id}/body.html", member, h.inboxHTML)
	h.handle("GET /dashboard/inbox/{id}/raw.eml", member, h.inboxRaw)
	h.handle("GET /dashboard/suppressions", member, h.suppressions)
	h.handle("POST /dashboard/suppressions/{id}/delete", admin, h.removeSuppression)

	h.handle("GET /dashboard/contacts", member, h.contacts)
	h.handle("GET /dashboard/contacts/new", admin, h.newContact)
	h.handle("POST /dashboard/contacts", admin, h.createContact)
	h.handle("GET /dashboard/contacts/{id}", member, h.contact)
	h.handle("GET /dashboard/contacts/{id}/edit", admin, h.editContact)
	h.handle("POST /dashboard/contacts/{id}", admin, h.updateContact)
	h.handle("GET /dashboard/contacts/{id}/delete", admin, h.confirmDeleteContact)
	h.handle("POST /dashboard/contacts/{id}/delete", admin, h.deleteContact)
	h.handle("POST /dashboard/contacts/{id}/segments", admin, h.addContactSegment)
	h.handle("POST /dashboard/contacts/{id}/segments/{segment}/remove", admin, h.removeContactSegment)
	h.handle("POST /dashboard/contacts/{id}/topics", admin, h.setContactTopic)
	h.handle("POST /dashboard/contact-properties", admin, h.createContactProperty)
	h.handle("GET /dashboard/contact-properties/{id}/delete", admin, h.confirmDeleteContactProperty)
	h.handle("POST /dashboard/contact-properties/{id}/delete", admin, h.deleteContactProperty)

	h.handle("GET /dashboard/segments", member, h.segments)
	h.handle("POST /dashboard/segments", admin, h.createSegment)
	h.handle("GET /dashboard/segments/{id}", member, h.segment)
	h.handle("GET /dashboard/segments/{id}/delete", admin, h.confirmDeleteSegment)
	h.handle("POST /dashboard/segments/{id}/delete", admin, h.deleteSegment)

	h.handle("GET /dashboard/topics", member, h.topics)
	h.handle("GET /dashboard/topics/new", admin, h.newTopic)
	h.handle("POST /dashboard/topics", admin, h.createTopic)
	h.handle("GET /dashboard/topics/{id}/edit", admin, h.editTopic)
	h.handle("POST /dashboard/topics/{id}", admin, h.updateTopic)
	h.handle("GET /dashboard/topics/{id}/delete", admin, h.confirmDeleteTopic)
	h.handle("POST /dashboard/topics/{id}/delete", admin, h.deleteTopic)

	h.handle("GET /dashboard/domains", member, h.domainsList)
	h.handle("POST /dashboard/domains", admin, h.addDomain)
	h.handle("GET /dashboard/domains/{id}", member, h.domain)
	h.handle("POST /dashboard/domains/{id}/verify", admin, h.verifyDomain)
	h.handle("POST /dashboard/domains/{id}/resume", admin, h.resumeDomain)
	h.handle("GET /dashboard/domains/{id}/delete", admin, h.deleteDomainPage)
	h.handle("POST /dashboard/domains/{id}/delete", admin, h.deleteDomain)

	h.handle("GET /dashboard/api-keys", member, h.apiKeys)
	h.handle("POST /dashboard/api-keys", admin, h.createAPIKey)
	h.handle("GET /dashboard/api-keys/{id}/revoke", admin, h.revokeKeyPage)
	h.handle("POST /dashboard/api-keys/{id}/revoke", admin, h.revokeKey)

	h.handle("GET /dashboard/templates", member, h.templatesList)
	h.handle("GET /dashboard/templates/new", admin, h.newTemplate)
	h.handle("POST /dashboard/templates", admin, h.createTemplate)
	h.handle("GET /dashboard/templates/{id}", member, h.template)
	h.handle("GET /dashboard/templates/{id}/edit", admin, h.editTemplate)
	h.handle("POST /dashboard/templates/{id}", admin, h.updateTemplate)
	h.handle("GET /dashboard/templates/{id}/preview.html", member, h.templatePreview)
	h.handle("POST /dashboard/templates/{id}/publish", admin, h.publishTemplate)
	h.handle("POST /dashboard/templates/{id}/duplicate", admin, h.duplicateTemplate)
	h.handle("GET /dashboard/templates/{id}/delete", admin, h.confirmDeleteTemplate)
	h.handle("POST /dashboard/templates/{id}/delete", admin, h.deleteTemplate)

	h.handle("GET /dashboard/broadcasts", member, h.broadcasts)
	h.handle("GET /dashboard/broadcasts/new", admin, h.newBroadcast)
	h.handle("POST /dashboard/broadcasts", admin, h.createBroadcast)
	h.handle("GET /dashboard/broadcasts/{id}", member, h.broadcast)
	h.handle("GET /dashboard/broadcasts/{id}/preview.html", member, h.broadcastPreview)
	h.handle("POST /dashboard/broadcasts/{id}/send", admin, h.sendBroadcast)
	h.handle("GET /dashboard/broadcasts/{id}/cancel", admin, h.confirmCancelBroadcast)
	h.handle("POST /dashboard/broadcasts/{id}/cancel", admin, h.cancelBroadcast)

	h.handle("GET /dashboard/settings", member, h.settings)
	h.handle("POST /dashboard/settings/sign-out-everywhere", member, h.signOutEverywhere)
	h.handle("POST /dashboard/settings/members", admin, h.addMember)
	h.handle("POST /dashboard/settings/rate-limit", admin, h.setRateLimit)

	h.handle("/dashboard/", public, func(http.ResponseWriter, *http.Request, *request) error { return errNotFound })
}

// section is one entry of the navigation: every section the dashboard will
// have, linked once its page exists (Path set).
type section struct {
	Name string
	Path string
}

// inboxPath is the dev inbox's section, shown only with --delivery capture
// (Handler.nav).
const inboxPath = "/dashboard/inbox"

var sections = []section{
	{"Emails", "/dashboard/emails"},
	{"Domains", "/dashboard/domains"},
	{"API keys", "/dashboard/api-keys"},
	{"Webhooks", "/dashboard/webhooks"},
	{"Metrics", "/dashboard/metrics"},
	{"Logs", "/dashboard/logs"},
	{"Queue", "/dashboard/queue"},
	{"Suppressions", "/dashboard/suppressions"},
	{"Contacts", "/dashboard/contacts"},
	{"Segments", "/dashboard/segments"},
	{"Topics", "/dashboard/topics"},
	{"Templates", "/dashboard/templates"},
	{"Broadcasts", "/dashboard/broadcasts"},
	{"Dev inbox", inboxPath},
	{"Settings", "/dashboard/settings"},
}

// nav is the navigation of this server: the dev inbox only when mail is
// captured.
func (h *Handler) nav() []section {
	if h.cfg.Capture {
		return sections
	}
	out := make([]section, 0, len(sections))
	for _, s := range sections {
		if s.Path != inboxPath {
			out = append(out, s)
		}
	}
	return out
}
