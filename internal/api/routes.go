package api

import "net/http"

// access says who may call a route.
type access int

const (
	public     access = iota // no API key (health checks)
	fullAccess               // a full_access key
	sendAccess               // any key, sending_access included
)

// routes is the whole route table.
func (h *Handler) routes() {
	h.handle("GET /healthz", public, h.healthz)
	h.handle("GET /readyz", public, h.readyz)
	// Open and click tracking (signed tokens, no key).
	h.handle("GET /t/o/{token}", public, publicPage(h.trackOpen))
	h.handle("GET /t/c/{token}", public, publicPage(h.trackClick))
	// Broadcast unsubscribe links (signed tokens, no key).
	h.handle("GET /unsubscribe/{token}", public, publicPage(h.unsubscribeForm))
	h.handle("POST /unsubscribe/{token}", public, publicPage(h.unsubscribe))

	h.handle("POST /emails", sendAccess, h.sendEmail)
	h.handle("POST /emails/batch", sendAccess, h.sendBatch)
	h.handle("GET /emails", fullAccess, h.listEmails)
	// Account email metrics; the literal segment wins over {id}.
	h.handle("GET /emails/metrics", fullAccess, h.getEmailMetrics)
	h.handle("GET /emails/{id}", fullAccess, h.getEmail)
	h.handle("PATCH /emails/{id}", fullAccess, h.updateEmail)
	h.handle("POST /emails/{id}/cancel", fullAccess, h.cancelEmail)
	// Godwit's own: how the email went on the wire.
	h.handle("GET /emails/{id}/delivery", fullAccess, h.getEmailDelivery)
	h.handle("GET /emails/{id}/captured", fullAccess, h.getCapturedMessage)
	// Sent emails' attachments and share links; their download links and
	// share pages are public (signed, expiring tokens, no key).
	h.handle("GET /emails/{id}/attachments", fullAccess, h.listEmailAttachments)
	h.handle("GET /emails/{id}/attachments/{attachment_id}", fullAccess, h.getEmailAttachment)
	h.handle("POST /emails/{id}/share", fullAccess, h.shareEmail)
	h.handle("GET /download/{token}", public, h.downloadAttachment)
	// Received emails (receiving.go). GET /emails/receiving/{email_id} and
	// …/{email_id}/attachments overlap GET /emails/{id}/attachments and
	// …/attachments/{attachment_id} with neither more specific, which the
	// mux refuses: the less specific patterns below serve them (and answer
	// 404 for any other {id}). Their raw message and attachments download
	// without a key (signed, expiring tokens).
	h.handle("GET /emails/receiving", fullAccess, h.listReceivedEmails)
	h.handle("GET /emails/{id}/{sub}", fullAccess, h.emailsSub)
	h.handle("GET /emails/{id}/{sub}/{rest}", fullAccess, h.emailsSubRest)
	h.handle("GET /emails/receiving/{email_id}/attachments/{attachment_id}", fullAccess, h.getReceivedAttachment)
	h.handle("GET /download/received/{token}", public, h.downloadReceived)
	h.handle("GET /share/{token}", public, h.sharedEmail)
	// Godwit's own: what waits for delivery, and why (queue.go).
	h.handle("GET /queue", fullAccess, h.listQueue)

	h.handle("POST /domains", fullAccess, h.createDomain)
	h.handle("GET /domains", fullAccess, h.listDomains)
	h.handle("GET /domains/{id}", fullAccess, h.getDomain)
	h.handle("PATCH /domains/{id}", fullAccess, h.updateDomain)
	h.handle("DELETE /domains/{id}", fullAccess, h.deleteDomain)
	h.handle("POST /domains/{id}/verify", fullAccess, h.verifyDomain)
	// Claims of a name another team holds (domainclaims.go); {id} is the
	// claiming team's placeholder domain.
	h.handle("POST /domains/claim", fullAccess, h.createDomainClaim)
	h.handle("GET /domains/{id}/claim", fullAccess, h.getDomainClaim)
	h.handle("POST /domains/{id}/claim/verify", fullAccess, h.verifyDomainClaim)
	// Godwit's own: a receiving domain's routing rules and catch-all
	// setting (receivingrules.go).
	h.handle("GET /domains/{id}/receiving-rules", fullAccess, h.listReceivingRules)
	h.handle("POST /domains/{id}/receiving-rules", fullAccess, h.createReceivingRule)
	h.handle("GET /domains/{id}/receiving-rules/{rule_id}", fullAccess, h.getReceivingRule)
	h.handle("PATCH /domains/{id}/receiving-rules/{rule_id}", fullAccess, h.updateReceivingRule)
	h.handle("DELETE /domains/{id}/receiving-rules/{rule_id}", fullAccess, h.deleteReceivingRule)
	h.handle("GET /domains/{id}/receiving", fullAccess, h.getReceivingSettings)
	h.handle("PATCH /domains/{id}/receiving", fullAccess, h.updateReceivingSettings)

	// Godwit's own: the team's events from a cursor, for consumers without an endpoint.
	h.handle("GET /feed", fullAccess, h.getFeed)

	h.handle("POST /webhooks", fullAccess, h.createWebhook)
	h.handle("GET /webhooks", fullAccess, h.listWebhooks)
	h.handle("GET /webhooks/{id}", fullAccess, h.getWebhook)
	h.handle("PATCH /webhooks/{id}", fullAccess, h.updateWebhook)
	h.handle("DELETE /webhooks/{id}", fullAccess, h.deleteWebhook)
	h.handle("POST /webhooks/{id}/signing-secret/rotate", fullAccess, h.rotateWebhookSecret)
	h.handle("GET /webhooks/{id}/events", fullAccess, h.listWebhookEvents)
	h.handle("GET /webhooks/{id}/events/{event_id}", fullAccess, h.getWebhookEvent)
	h.handle("GET /webhooks/{id}/events/{event_id}/attempts", fullAccess, h.listWebhookAttempts)
	h.handle("POST /webhooks/{id}/events/{event_id}/replay", fullAccess, h.replayWebhookEvent)

	// The record of the team's authenticated requests (logs.go).
	h.handle("GET /logs", fullAccess, h.listLogs)
	h.handle("GET /logs/{id}", fullAccess, h.getLog)

	h.handle("POST /api-keys", fullAccess, h.createAPIKey)
	h.handle("GET /api-keys", fullAccess, h.listAPIKeys)
	h.handle("PATCH /api-keys/{id}", fullAccess, h.updateAPIKey)
	h.handle("DELETE /api-keys/{id}", fullAccess, h.deleteAPIKey)

	h.handle("POST /suppressions", fullAccess, h.createSuppression)
	h.handle("GET /suppressions", fullAccess, h.listSuppressions)
	h.handle("POST /suppressions/batch/add", fullAccess, h.batchAddSuppressions)
	h.handle("POST /suppressions/batch/remove", fullAccess, h.batchRemoveSuppressions)
	h.handle("GET /suppressions/{id_or_email}", fullAccess, h.getSuppression)
	h.handle("DELETE /suppressions/{id_or_email}", fullAccess, h.deleteSuppression)

	// Contacts: {id_or_email} is an id or an address (a literal '+' stays a '+').
	h.handle("POST /contacts", fullAccess, h.createContact)
	h.handle("GET /contacts", fullAccess, h.listContacts)
	h.handle("POST /contacts/imports", fullAccess, h.createContactImport)
	h.handle("GET /contacts/imports", fullAccess, h.listContactImports)
	// GET /contacts/imports/{id}: a pattern of its own would overlap
	// GET /contacts/{id_or_email}/segments (and /topics) with neither more
	// specific, which the mux refuses; this one is less specific than both.
	h.handle("GET /contacts/{id_or_email}/{id}", fullAccess, h.getContactImport)
	h.handle("GET /contacts/{id_or_email}", fullAccess, h.getContact)
	h.handle("PATCH /contacts/{id_or_email}", fullAccess, h.updateContact)
	h.handle("DELETE /contacts/{id_or_email}", fullAccess, h.deleteContact)
	h.handle("GET /contacts/{id_or_email}/segments", fullAccess, h.listContactSegments)
	h.handle("POST /contacts/{id_or_email}/segments/{segment_id}", fullAccess, h.addContactSegment)
	h.handle("DELETE /contacts/{id_or_email}/segments/{segment_id}", fullAccess, h.removeContactSegment)
	h.handle("GET /contacts/{id_or_email}/topics", fullAccess, h.listContactTopics)
	h.handle("PATCH /contacts/{id_or_email}/topics", fullAccess, h.updateContactTopics)

	h.handle("POST /topics", fullAccess, h.createTopic)
	h.handle("GET /topics", fullAccess, h.listTopics)
	h.handle("GET /topics/{id}", fullAccess, h.getTopic)
	h.handle("PATCH /topics/{id}", fullAccess, h.updateTopic)
	h.handle("DELETE /topics/{id}", fullAccess, h.deleteTopic)

	// Custom events and automations (automations.go).
	h.handle("POST /events", fullAccess, h.createEvent)
	h.handle("GET /events", fullAccess, h.listEvents)
	h.handle("POST /events/send", fullAccess, h.sendEvent)
	h.handle("GET /events/{identifier}", fullAccess, h.getEvent)
	h.handle("PATCH /events/{identifier}", fullAccess, h.updateEvent)
	h.handle("DELETE /events/{identifier}", fullAccess, h.deleteEvent)
	h.handle("POST /automations", fullAccess, h.createAutomation)
	h.handle("GET /automations", fullAccess, h.listAutomations)
	h.handle("GET /automations/{automation_id}", fullAccess, h.getAutomation)
	h.handle("PATCH /automations/{automation_id}", fullAccess, h.updateAutomation)
	h.handle("DELETE /automations/{automation_id}", fullAccess, h.deleteAutomation)
	h.handle("POST /automations/{automation_id}/duplicate", fullAccess, h.duplicateAutomation)
	h.handle("POST /automations/{automation_id}/stop", fullAccess, h.stopAutomation)
	h.handle("GET /automations/{automation_id}/runs", fullAccess, h.listAutomationRuns)
	h.handle("GET /automations/{automation_id}/runs/{run_id}", fullAccess, h.getAutomationRun)

	h.handle("POST /contact-properties", fullAccess, h.createContactProperty)
	h.handle("GET /contact-properties", fullAccess, h.listContactProperties)
	h.handle("GET /contact-properties/{id}", fullAccess, h.getContactProperty)
	h.handle("PATCH /contact-properties/{id}", fullAccess, h.updateContactProperty)
	h.handle("DELETE /contact-properties/{id}", fullAccess, h.deleteContactProperty)

	h.handle("POST /templates", fullAccess, h.createTemplate)
	h.handle("GET /templates", fullAccess, h.listTemplates)
	h.handle("GET /templates/{id_or_alias}", fullAccess, h.getTemplate)
	h.handle("PATCH /templates/{id_or_alias}", fullAccess, h.updateTemplate)
	h.handle("DELETE /templates/{id_or_alias}", fullAccess, h.deleteTemplate)
	h.handle("POST /templates/{id_or_alias}/publish", fullAccess, h.publishTemplate)
	h.handle("POST /templates/{id_or_alias}/duplicate", fullAccess, h.duplicateTemplate)

	h.handle("POST /broadcasts", fullAccess, h.createBroadcast)
	h.handle("GET /broadcasts", fullAccess, h.listBroadcasts)
	h.handle("GET /broadcasts/{id}", fullAccess, h.getBroadcast)
	h.handle("PATCH /broadcasts/{id}", fullAccess, h.updateBroadcast)
	h.handle("DELETE /broadcasts/{id}", fullAccess, h.deleteBroadcast)
	h.handle("POST /broadcasts/{id}/send", fullAccess, h.sendBroadcast)
	h.handle("POST /broadcasts/{id}/cancel", fullAccess, h.cancelBroadcast)
	h.handle("POST /broadcasts/{id}/duplicate", fullAccess, h.duplicateBroadcast)
	// A broadcast's analytics, from its emails' events (broadcastanalytics.go).
	h.handle("GET /broadcasts/{id}/recipients", fullAccess, h.listBroadcastRecipients)
	h.handle("GET /broadcasts/{id}/clicked-links", fullAccess, h.listBroadcastClickedLinks)

	h.handle("POST /segments", fullAccess, h.createSegment("segment"))
	h.handle("GET /segments", fullAccess, h.listSegments)
	h.handle("GET /segments/{id}", fullAccess, h.getSegment("segment"))
	h.handle("PATCH /segments/{id}", fullAccess, h.updateSegment("segment"))
	h.handle("DELETE /segments/{id}", fullAccess, h.deleteSegment("segment"))
	h.handle("GET /segments/{segment_id}/contacts", fullAccess, h.listSegmentContacts("segment_id"))

	// Audiences: Resend's deprecated name for segments, and the contacts
	// paths from before contacts were global.
	h.handle("POST /audiences", fullAccess, h.createSegment("audience"))
	h.handle("GET /audiences", fullAccess, h.listSegments)
	h.handle("GET /audiences/{id}", fullAccess, h.getSegment("audience"))
	h.handle("PATCH /audiences/{id}", fullAccess, h.updateSegment("audience"))
	h.handle("DELETE /audiences/{id}", fullAccess, h.deleteSegment("audience"))
	h.handle("POST /audiences/{audience_id}/contacts", fullAccess, h.createAudienceContact)
	h.handle("GET /audiences/{audience_id}/contacts", fullAccess, h.listSegmentContacts("audience_id"))
	h.handle("GET /audiences/{audience_id}/contacts/{id_or_email}", fullAccess, h.getAudienceContact)
	h.handle("PATCH /audiences/{audience_id}/contacts/{id_or_email}", fullAccess, h.updateAudienceContact)
	h.handle("DELETE /audiences/{audience_id}/contacts/{id_or_email}", fullAccess, h.deleteAudienceContact)
}

// apiFunc is a handler that returns its error for the one error writer.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) handle(pattern string, a access, fn apiFunc) {
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
	limit, tooLarge := h.bodyLimit(pattern)
	next = h.guardBody(limit, tooLarge, next)
	if a != public {
		next = h.authenticate(a, next)
	}
	h.mux.Handle(pattern, next)
	h.shapes.add(pattern)
}
