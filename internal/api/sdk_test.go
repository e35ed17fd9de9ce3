package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

// These tests drive the server with the official Go SDK, as users do. Each
// one walks a resource through its life against one store, so the steps
// share state and run in order; the calls that repeat a shape (refusals,
// pages of a list, reads of the same kind of object) are tables of named
// subtests.

// sdk returns the official Go client for key, pointed at the test server.
func (e *testEnv) sdk(key string) *resend.Client {
	c := resend.NewClient(key)
	base, err := url.Parse(e.srv.URL + "/")
	require.NoError(e.t, err)
	c.BaseURL = base
	return c
}

// setupSDK starts a server over a fresh store of the given kind, and the
// official Go client for team A's full-access key.
func setupSDK(t *testing.T, kind sqlstore.Dialect, opts ...envOption) (*testEnv, *resend.Client) {
	t.Helper()
	e := setup(t, kind, opts...)
	return e, e.sdk(e.keyA)
}

// limit is a page size for the SDK's list options.
func limit(n int) *int { return &n }

// refusal is an SDK call the server must refuse, and a part of the message
// the SDK's error carries.
type refusal struct {
	name string
	call func() error
	msg  string
}

// requireRefused runs each call in a subtest of its name.
func requireRefused(t *testing.T, cases ...refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorContains(t, c.call(), c.msg)
		})
	}
}

// errOf keeps the error of an SDK call whose result a refusal ignores.
func errOf[T any](_ T, err error) error { return err }

// listed is one SDK list call and the page it must answer: the ids in order
// and has_more; check, when set, looks at fields the ids do not cover.
type listed[R any] struct {
	name    string
	list    func() (R, error)
	ids     []string
	hasMore bool
	check   func(t *testing.T, page R)
}

// requirePages runs each list call in a subtest of its name. Every page is
// an object "list".
func requirePages[R any](t *testing.T, cases []listed[R]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, err := c.list()
			require.NoError(t, err)
			object, ids, hasMore := listedPage(t, page)
			require.Equal(t, "list", object)
			require.Equal(t, c.ids, ids)
			require.Equal(t, c.hasMore, hasMore)
			if c.check != nil {
				c.check(t, page)
			}
		})
	}
}

// listedPage reads object, data[].id and has_more from any of the SDK's list
// responses, by encoding it back to the JSON it was decoded from.
func listedPage(t *testing.T, page any) (object string, ids []string, hasMore bool) {
	t.Helper()
	b, err := json.Marshal(page)
	require.NoError(t, err)
	var p struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	require.NoError(t, json.Unmarshal(b, &p))
	for _, d := range p.Data {
		ids = append(ids, d.ID)
	}
	return p.Object, ids, p.HasMore
}

// eventTypes lists the types of events, in order.
func eventTypes(evs []map[string]any) []string {
	var types []string
	for _, ev := range evs {
		types = append(types, ev["type"].(string))
	}
	return types
}

// TestGoSDKEmails sends (single, batch, scheduled), reads, updates, cancels
// and lists emails.
func TestGoSDKEmails(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		_, client := setupSDK(t, kind)
		ctx := t.Context()

		sent, err := client.Emails.SendWithOptions(ctx, &resend.SendEmailRequest{
			From: "Acme <onboarding@example.com>", To: []string{"delivered@example.net"}, Subject: "hello",
			Html: "<strong>it works</strong>", ReplyTo: "reply@example.com",
			Tags:        []resend.Tag{{Name: "category", Value: "confirm_email"}},
			Headers:     map[string]string{"X-Entity-Ref-ID": "42"},
			Attachments: []*resend.Attachment{{Content: []byte("report"), Filename: "r.txt"}},
		}, &resend.SendEmailOptions{IdempotencyKey: "sdk-1"})
		require.NoError(t, err)
		require.NotEmpty(t, sent.Id)
		got, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, sent.Id, got.Id)
		require.Equal(t, "hello", got.Subject)
		require.Equal(t, []string{"reply@example.com"}, got.ReplyTo)
		require.Equal(t, "queued", got.LastEvent)

		// Permissive validation sends the valid emails and reports the rest.
		batch, err := client.Batch.SendWithOptions(ctx, []*resend.SendEmailRequest{
			{From: "a@example.com", To: []string{"b@example.net"}, Subject: "1", Text: "one"},
			{From: "a@example.com", To: []string{"nope"}, Subject: "2", Text: "two"},
		}, &resend.BatchSendEmailOptions{BatchValidation: resend.BatchValidationPermissive})
		require.NoError(t, err)
		require.Len(t, batch.Data, 1)
		require.Len(t, batch.Errors, 1)
		require.Equal(t, 1, batch.Errors[0].Index)

		scheduled, err := client.Emails.Send(&resend.SendEmailRequest{From: "a@example.com", To: []string{"b@example.net"},
			Subject: "later", Text: "x", ScheduledAt: "in 1 min"})
		require.NoError(t, err)
		upd, err := client.Emails.Update(&resend.UpdateEmailRequest{Id: scheduled.Id, ScheduledAt: "2026-11-29T10:00:00Z"})
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, upd.Id)
		require.Equal(t, "email", upd.Object)
		canceled, err := client.Emails.Cancel(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, canceled.Id)
		got, err = client.Emails.Get(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, "canceled", got.LastEvent)

		// Three emails were accepted; the order among them is not this test's.
		list, err := client.Emails.List()
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 3)
		page, err := client.Emails.ListWithOptions(ctx, &resend.ListOptions{Limit: limit(1), After: &list.Data[0].Id})
		require.NoError(t, err)
		require.True(t, page.HasMore)
		require.Equal(t, list.Data[1].Id, page.Data[0].Id)

		requireRefused(t,
			refusal{"strict batch with an invalid email", func() error {
				return errOf(client.Batch.Send([]*resend.SendEmailRequest{{From: "a@example.com", To: []string{"nope"}, Subject: "x", Text: "x"}}))
			}, "Invalid `to` field"},
			refusal{"unknown email", func() error { return errOf(client.Emails.Get("00000000-0000-4000-8000-000000000000")) },
				"Email not found"},
		)
	})
}

// TestGoSDKRateLimit checks that a 429 reaches the SDK as its RateLimitError.
func TestGoSDKRateLimit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		_, client := setupSDK(t, kind, func(d *Deps) { d.DefaultRateLimit = 1 })
		_, err := client.Emails.List()
		require.NoError(t, err)
		_, err = client.Emails.List()
		require.True(t, errors.Is(err, resend.ErrRateLimit), "got %v", err)
		var rl *resend.RateLimitError
		require.True(t, errors.As(err, &rl))
		require.Equal(t, "1", rl.Limit)
		require.Equal(t, "0", rl.Remaining)
		require.Equal(t, "1", rl.RetryAfter)
	})
}

// TestGoSDKContacts drives contacts, segments and audiences with the Go SDK.
func TestGoSDKContacts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, client := setupSDK(t, kind)
		ctx := t.Context()

		requireRefused(t,
			refusal{"segment without a name", func() error { return errOf(client.Segments.Create(&resend.CreateSegmentRequest{})) },
				"Missing `name` field."},
			refusal{"contact without an email", func() error {
				return errOf(client.Contacts.Create(&resend.CreateContactRequest{FirstName: "Nobody"}))
			}, "Missing `email` field."},
		)

		// A segment, and an audience (a segment by its old name).
		seg, err := client.Segments.Create(&resend.CreateSegmentRequest{Name: "Newsletter"})
		require.NoError(t, err)
		require.Equal(t, "segment", seg.Object)
		require.Equal(t, "Newsletter", seg.Name)
		gotSeg, err := client.Segments.Get(seg.Id)
		require.NoError(t, err)
		require.Equal(t, resend.Segment{Id: seg.Id, Name: "Newsletter", Object: "segment", CreatedAt: "2026-11-28 12:00:00+00"}, gotSeg)
		aud, err := client.Audiences.Create(&resend.CreateAudienceRequest{Name: "Old style"})
		require.NoError(t, err)
		requirePages(t, []listed[resend.ListSegmentsResponse]{
			{name: "segments, newest first", list: client.Segments.List, ids: []string{aud.Id, seg.Id}},
			{name: "segments after the audience", list: func() (resend.ListSegmentsResponse, error) {
				return client.Segments.ListWithOptions(ctx, &resend.ListOptions{Limit: limit(1), After: &aud.Id})
			}, ids: []string{seg.Id}},
		})
		requirePages(t, []listed[resend.ListAudiencesResponse]{
			{name: "audiences", list: client.Audiences.List, ids: []string{aud.Id, seg.Id}},
		})

		// A global contact, and one through the legacy audience path.
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada+news@example.net", FirstName: "Ada",
			Properties: map[string]any{"tier": "gold"}})
		require.NoError(t, err)
		require.Equal(t, "contact", ada.Object)
		bob, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "bob@example.net", AudienceId: seg.Id, Unsubscribed: true})
		require.NoError(t, err)

		adaRead := resend.Contact{Id: ada.Id, Email: "ada+news@example.net", Object: "contact", FirstName: "Ada",
			CreatedAt: "2026-11-28 12:00:00+00", Properties: map[string]any{"tier": "gold"}}
		for _, c := range []struct {
			name string
			opts *resend.GetContactOptions
			want resend.Contact
		}{
			{"by id", &resend.GetContactOptions{Id: ada.Id}, adaRead},
			{"by email", &resend.GetContactOptions{Id: "ada+news@example.net"}, adaRead},
			{"by email in another case", &resend.GetContactOptions{Id: "Ada+News@example.net"}, adaRead},
			{"by email through the audience", &resend.GetContactOptions{AudienceId: seg.Id, Id: "bob@example.net"},
				resend.Contact{Id: bob.Id, Email: "bob@example.net", Object: "contact", Unsubscribed: true,
					CreatedAt: "2026-11-28 12:00:00+00", Properties: map[string]any{}}},
		} {
			t.Run("get "+c.name, func(t *testing.T) {
				got, err := client.Contacts.Get(c.opts)
				require.NoError(t, err)
				require.Equal(t, c.want, got)
			})
		}
		requireRefused(t,
			refusal{"unknown contact", func() error {
				return errOf(client.Contacts.Get(&resend.GetContactOptions{Id: "nobody@example.net"}))
			}, "Contact not found"},
		)

		requirePages(t, []listed[resend.ListContactsResponse]{
			{name: "contacts, newest first", list: func() (resend.ListContactsResponse, error) { return client.Contacts.List(nil) },
				ids: []string{bob.Id, ada.Id}, check: func(t *testing.T, page resend.ListContactsResponse) {
					require.Equal(t, "ada+news@example.net", page.Data[1].Email)
				}},
			{name: "contacts in the audience", list: func() (resend.ListContactsResponse, error) {
				return client.Contacts.List(&resend.ListContactsOptions{AudienceId: seg.Id})
			}, ids: []string{bob.Id}},
			{name: "contacts, first page", list: func() (resend.ListContactsResponse, error) {
				return client.Contacts.List(&resend.ListContactsOptions{Limit: limit(1)})
			}, ids: []string{bob.Id}, hasMore: true},
			{name: "contacts, second page", list: func() (resend.ListContactsResponse, error) {
				return client.Contacts.List(&resend.ListContactsOptions{Limit: limit(1), After: &bob.Id})
			}, ids: []string{ada.Id}},
		})

		// Update by email (the SDK sends "id":"" and the email in the body),
		// by id through the audience path, and unsubscribed back to false.
		_, err = client.Contacts.Update(&resend.UpdateContactRequest{Email: "ada+news@example.net", LastName: "Lovelace",
			Properties: map[string]any{"city": "London"}})
		require.NoError(t, err)
		upd := &resend.UpdateContactRequest{Id: bob.Id, AudienceId: seg.Id, FirstName: "Bob"}
		upd.SetUnsubscribed(false)
		_, err = client.Contacts.Update(upd)
		require.NoError(t, err)
		c, err := client.Contacts.Get(&resend.GetContactOptions{Id: ada.Id})
		require.NoError(t, err)
		require.Equal(t, "Lovelace", c.LastName)
		require.Equal(t, map[string]any{"tier": "gold", "city": "London"}, c.Properties)
		c, err = client.Contacts.Get(&resend.GetContactOptions{Id: bob.Id})
		require.NoError(t, err)
		require.Equal(t, "Bob", c.FirstName)
		require.False(t, c.Unsubscribed)
		requireRefused(t,
			refusal{"update to an invalid email", func() error {
				return errOf(client.Contacts.Update(&resend.UpdateContactRequest{Id: ada.Id, Email: "nope"}))
			}, "Invalid `email` field"},
		)

		// A contact's segments: added by email and by id, listed by either.
		added, err := client.Contacts.Segments.Add(&resend.AddContactSegmentRequest{SegmentId: seg.Id, Email: "ada+news@example.net"})
		require.NoError(t, err)
		require.Equal(t, resend.AddContactSegmentResponse{Id: seg.Id, Object: "contact_segment"}, added)
		_, err = client.Contacts.Segments.Add(&resend.AddContactSegmentRequest{SegmentId: aud.Id, ContactId: ada.Id})
		require.NoError(t, err)
		requirePages(t, []listed[resend.ListContactSegmentsResponse]{
			{name: "segments of a contact by id", list: func() (resend.ListContactSegmentsResponse, error) {
				return client.Contacts.Segments.List(&resend.ListContactSegmentsRequest{ContactId: ada.Id})
			}, ids: []string{aud.Id, seg.Id}, check: func(t *testing.T, page resend.ListContactSegmentsResponse) {
				require.Equal(t, "Newsletter", page.Data[1].Name)
			}},
			{name: "segments of a contact by email, first page", list: func() (resend.ListContactSegmentsResponse, error) {
				return client.Contacts.Segments.ListWithOptions(ctx, &resend.ListContactSegmentsRequest{Email: "ada+news@example.net"},
					&resend.ListOptions{Limit: limit(1)})
			}, ids: []string{aud.Id}, hasMore: true},
		})
		removed, err := client.Contacts.Segments.Remove(&resend.RemoveContactSegmentRequest{SegmentId: seg.Id, Email: "ada+news@example.net"})
		require.NoError(t, err)
		require.Equal(t, resend.RemoveContactSegmentResponse{Id: seg.Id, Object: "contact_segment", Deleted: true}, removed)
		requirePages(t, []listed[resend.ListContactsResponse]{
			{name: "contacts in the segment after removing one", list: func() (resend.ListContactsResponse, error) {
				return client.Contacts.List(&resend.ListContactsOptions{AudienceId: seg.Id})
			}, ids: []string{bob.Id}},
		})
		requireRefused(t,
			refusal{"removing a contact from a segment it is not in", func() error {
				return errOf(client.Contacts.Segments.Remove(&resend.RemoveContactSegmentRequest{SegmentId: seg.Id, ContactId: ada.Id}))
			}, "not in this segment"},
		)

		// Remove: by email on the global path (the id comes back), and through
		// the audience path (even for a contact that is gone).
		for _, c := range []struct {
			name string
			opts *resend.RemoveContactOptions
			want resend.RemoveContactResponse
		}{
			{"by email", &resend.RemoveContactOptions{Id: "ada+news@example.net"},
				resend.RemoveContactResponse{Id: ada.Id, Object: "contact", Deleted: true}},
			{"through the audience", &resend.RemoveContactOptions{AudienceId: seg.Id, Id: bob.Id},
				resend.RemoveContactResponse{Id: bob.Id, Object: "contact", Deleted: true}},
			{"through the audience once gone", &resend.RemoveContactOptions{AudienceId: seg.Id, Id: bob.Id},
				resend.RemoveContactResponse{Id: bob.Id, Object: "contact", Deleted: true}},
		} {
			t.Run("remove "+c.name, func(t *testing.T) {
				rm, err := client.Contacts.Remove(c.opts)
				require.NoError(t, err)
				require.Equal(t, c.want, rm)
			})
		}
		requirePages(t, []listed[resend.ListContactsResponse]{
			{name: "no contacts left", list: func() (resend.ListContactsResponse, error) { return client.Contacts.List(nil) }},
		})

		rs, err := client.Segments.Remove(seg.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveSegmentResponse{Id: seg.Id, Object: "segment", Deleted: true}, rs)
		ga, err := client.Audiences.Get(aud.Id)
		require.NoError(t, err)
		require.Equal(t, "Old style", ga.Name)
		ra, err := client.Audiences.Remove(aud.Id)
		require.NoError(t, err)
		require.True(t, ra.Deleted)
		requireRefused(t,
			refusal{"removed contact, on the global path", func() error {
				return errOf(client.Contacts.Remove(&resend.RemoveContactOptions{Id: ada.Id}))
			}, "Contact not found"},
			refusal{"removed segment", func() error { return errOf(client.Segments.Get(seg.Id)) }, "Audience not found"},
		)

		// Every contact change reached the team's events.
		require.Equal(t, []string{"contact.created", "contact.created", "contact.updated", "contact.updated", "contact.deleted", "contact.deleted"},
			eventTypes(e.contactEvents(e.teamA)))
	})
}

// TestGoSDKTopics drives topics and a contact's topics with the Go SDK.
func TestGoSDKTopics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, client := setupSDK(t, kind)
		ctx := t.Context()

		requireRefused(t,
			refusal{"topic without a default subscription", func() error {
				return errOf(client.Topics.Create(&resend.CreateTopicRequest{Name: "x"}))
			}, "Missing `default_subscription` field."},
		)
		news, err := client.Topics.Create(&resend.CreateTopicRequest{Name: "Newsletter", DefaultSubscription: resend.DefaultSubscriptionOptIn,
			Description: "Once a month"})
		require.NoError(t, err)
		require.NotEmpty(t, news.Id)
		promo, err := client.Topics.CreateWithContext(ctx, &resend.CreateTopicRequest{Name: "Promotions",
			DefaultSubscription: resend.DefaultSubscriptionOptOut})
		require.NoError(t, err)

		for _, c := range []struct {
			name string
			id   string
			want *resend.Topic
		}{
			{"with a description", news.Id, &resend.Topic{Id: news.Id, Name: "Newsletter", Description: "Once a month",
				DefaultSubscription: resend.DefaultSubscriptionOptIn, CreatedAt: "2026-11-28 12:00:00+00"}},
			{"without one (null reads as empty)", promo.Id, &resend.Topic{Id: promo.Id, Name: "Promotions",
				DefaultSubscription: resend.DefaultSubscriptionOptOut, CreatedAt: "2026-11-28 12:00:00+00"}},
		} {
			t.Run("get "+c.name, func(t *testing.T) {
				got, err := client.Topics.Get(c.id)
				require.NoError(t, err)
				require.Equal(t, c.want, got)
			})
		}
		requirePages(t, []listed[*resend.ListTopicsResponse]{
			{name: "topics, newest first", list: func() (*resend.ListTopicsResponse, error) { return client.Topics.List(nil) },
				ids: []string{promo.Id, news.Id}},
			{name: "topics, first page", list: func() (*resend.ListTopicsResponse, error) {
				return client.Topics.List(&resend.ListOptions{Limit: limit(1)})
			}, ids: []string{promo.Id}, hasMore: true},
			{name: "topics, second page", list: func() (*resend.ListTopicsResponse, error) {
				return client.Topics.ListWithContext(ctx, &resend.ListOptions{Limit: limit(1), After: &promo.Id})
			}, ids: []string{news.Id}},
		})

		upd, err := client.Topics.Update(news.Id, &resend.UpdateTopicRequest{Name: "Monthly news"})
		require.NoError(t, err)
		require.Equal(t, news.Id, upd.Id)
		got, err := client.Topics.Get(news.Id)
		require.NoError(t, err)
		require.Equal(t, "Monthly news", got.Name)
		require.Equal(t, "Once a month", got.Description, "omitted fields are left as they are")

		// A contact's topics, by id and by email: each topic's default, then
		// the contact's own choices.
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net"})
		require.NoError(t, err)
		ct, err := client.Contacts.Topics.List(ada.Id)
		require.NoError(t, err)
		require.Equal(t, "list", ct.Object)
		require.Equal(t, []resend.ContactTopic{
			{Id: promo.Id, Name: "Promotions", Subscription: "opt_out"},
			{Id: news.Id, Name: "Monthly news", Description: "Once a month", Subscription: "opt_in"},
		}, ct.Data)
		_, err = client.Contacts.Topics.Update(&resend.UpdateContactTopicsRequest{Email: "ADA@example.net",
			Topics: []resend.TopicSubscriptionUpdate{{Id: promo.Id, Subscription: "opt_in"}, {Id: news.Id, Subscription: "opt_out"}}})
		require.NoError(t, err)
		res, err := client.Contacts.Topics.UpdateWithContext(ctx, &resend.UpdateContactTopicsRequest{Id: ada.Id,
			Topics: []resend.TopicSubscriptionUpdate{{Id: news.Id, Subscription: "opt_in"}}})
		require.NoError(t, err)
		require.Equal(t, ada.Id, res.Id)
		ct, err = client.Contacts.Topics.ListWithOptions(ctx, "ada@example.net", &resend.ListOptions{Limit: limit(1)})
		require.NoError(t, err)
		require.True(t, ct.HasMore)
		require.Equal(t, []resend.ContactTopic{{Id: promo.Id, Name: "Promotions", Subscription: "opt_in"}}, ct.Data)
		ct, err = client.Contacts.Topics.List(ada.Id)
		require.NoError(t, err)
		require.Equal(t, "opt_in", ct.Data[1].Subscription)
		requireRefused(t,
			refusal{"unknown topic", func() error { return errOf(client.Topics.Get("00000000-0000-4000-8000-000000000000")) },
				"Topic not found"},
			refusal{"a contact's unknown topic", func() error {
				return errOf(client.Contacts.Topics.Update(&resend.UpdateContactTopicsRequest{Id: ada.Id,
					Topics: []resend.TopicSubscriptionUpdate{{Id: "00000000-0000-4000-8000-000000000000", Subscription: "opt_in"}}}))
			}, "Topic not found"},
			refusal{"an unknown contact's topics", func() error { return errOf(client.Contacts.Topics.List("nobody@example.net")) },
				"Contact not found"},
		)

		rm, err := client.Topics.Remove(promo.Id)
		require.NoError(t, err)
		require.Equal(t, &resend.RemoveTopicResponse{Object: "topic", Id: promo.Id, Deleted: true}, rm)
		requireRefused(t,
			refusal{"removed topic", func() error { return errOf(client.Topics.Remove(promo.Id)) }, "Topic not found"},
		)
		requirePages(t, []listed[resend.ListContactTopicsResponse]{
			{name: "a contact's topics after one is removed", list: func() (resend.ListContactTopicsResponse, error) {
				return client.Contacts.Topics.List(ada.Id)
			}, ids: []string{news.Id}},
		})

		require.Equal(t, []string{"topic.created", "topic.created", "topic.updated", "contact.topics.updated", "contact.topics.updated",
			"topic.deleted"}, eventTypes(e.topicEvents(e.teamA)))
	})
}

// TestGoSDKContactProperties drives the contact properties with the
// official Go SDK, which sends "fallback_value":null when none is set.
func TestGoSDKContactProperties(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		_, client := setupSDK(t, kind)
		ctx := t.Context()

		plan, err := client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "plan", Type: "string", FallbackValue: "free"})
		require.NoError(t, err)
		require.Equal(t, "contact_property", plan.Object)
		require.NotEmpty(t, plan.Id)
		seats, err := client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "seats", Type: "number"})
		require.NoError(t, err)
		requireRefused(t,
			refusal{"a key that exists", func() error {
				return errOf(client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "plan", Type: "string"}))
			}, "already exists"},
			refusal{"a fallback not of the type", func() error {
				return errOf(client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "ltv", Type: "number", FallbackValue: "0"}))
			}, "The `fallback_value` field must be a number"},
			refusal{"unknown property", func() error { return errOf(client.ContactProperties.Get(uuid.NewString())) },
				"Contact property not found"},
		)

		for _, c := range []struct {
			name string
			id   string
			want resend.ContactProperty
		}{
			{"with a fallback", plan.Id, resend.ContactProperty{Id: plan.Id, Key: "plan", Object: "contact_property",
				CreatedAt: "2026-11-28 12:00:00+00", Type: "string", FallbackValue: "free"}},
			{"without one", seats.Id, resend.ContactProperty{Id: seats.Id, Key: "seats", Object: "contact_property",
				CreatedAt: "2026-11-28 12:00:00+00", Type: "number", FallbackValue: nil}},
		} {
			t.Run("get "+c.name, func(t *testing.T) {
				got, err := client.ContactProperties.Get(c.id)
				require.NoError(t, err)
				require.Equal(t, c.want, got)
			})
		}
		requirePages(t, []listed[resend.ListContactPropertiesResponse]{
			{name: "properties, newest first", list: client.ContactProperties.List, ids: []string{seats.Id, plan.Id},
				check: func(t *testing.T, page resend.ListContactPropertiesResponse) {
					require.Equal(t, "free", page.Data[1].FallbackValue)
				}},
			{name: "properties, first page", list: func() (resend.ListContactPropertiesResponse, error) {
				return client.ContactProperties.ListWithOptions(ctx, &resend.ListOptions{Limit: limit(1)})
			}, ids: []string{seats.Id}, hasMore: true},
			{name: "properties, second page", list: func() (resend.ListContactPropertiesResponse, error) {
				return client.ContactProperties.ListWithOptions(ctx, &resend.ListOptions{Limit: limit(1), After: &seats.Id})
			}, ids: []string{plan.Id}},
		})

		upd, err := client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: seats.Id, FallbackValue: 5})
		require.NoError(t, err)
		require.Equal(t, resend.UpdateContactPropertyResponse{Id: seats.Id, Object: "contact_property"}, upd)
		got, err := client.ContactProperties.Get(seats.Id)
		require.NoError(t, err)
		require.Equal(t, float64(5), got.FallbackValue)
		requireRefused(t,
			refusal{"an update to a fallback not of the type", func() error {
				return errOf(client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: seats.Id, FallbackValue: "five"}))
			}, "must be a number"},
		)
		// The SDK always sends fallback_value: nil clears it.
		_, err = client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: plan.Id})
		require.NoError(t, err)
		got, err = client.ContactProperties.Get(plan.Id)
		require.NoError(t, err)
		require.Nil(t, got.FallbackValue)

		// Contacts' values for declared keys must be of their types.
		requireRefused(t,
			refusal{"a contact's value not of the type", func() error {
				return errOf(client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net", Properties: map[string]any{"seats": "3"}}))
			}, "`properties.seats`"},
		)
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net", Properties: map[string]any{"seats": 3, "plan": "pro"}})
		require.NoError(t, err)
		c, err := client.Contacts.Get(&resend.GetContactOptions{Id: ada.Id})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"seats": float64(3), "plan": "pro"}, c.Properties)

		removed, err := client.ContactProperties.Remove(seats.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveContactPropertyResponse{Id: seats.Id, Object: "contact_property", Deleted: true}, removed)
		requireRefused(t,
			refusal{"removed property", func() error { return errOf(client.ContactProperties.Remove(seats.Id)) },
				"Contact property not found"},
		)
		requirePages(t, []listed[resend.ListContactPropertiesResponse]{
			{name: "properties after one is removed", list: client.ContactProperties.List, ids: []string{plan.Id}},
		})
	})
}

// TestGoSDKTemplates drives the Templates service and Emails.Send with a
// template through the official Go SDK.
func TestGoSDKTemplates(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		_, client := setupSDK(t, kind)
		ctx := t.Context()
		sendOrder := func(vars map[string]any) (*resend.SendEmailResponse, error) {
			return client.Emails.Send(&resend.SendEmailRequest{To: []string{"x@example.net"},
				Template: &resend.EmailTemplate{Id: "order", Variables: vars}})
		}

		requireRefused(t,
			refusal{"template without html", func() error {
				return errOf(client.Templates.Create(&resend.CreateTemplateRequest{Name: "x"}))
			}, "Missing `html` field."},
		)
		created, err := client.Templates.Create(&resend.CreateTemplateRequest{Name: "Order", Alias: "order",
			From: "Shop <shop@example.com>", Subject: "Order {{{ORDER}}}", ReplyTo: []string{"help@example.com"},
			Html: "<p>{{{ORDER}}}: {{{TOTAL}}}</p>", Text: "{{{ORDER}}}",
			Variables: []*resend.TemplateVariable{{Key: "ORDER", Type: resend.VariableTypeString},
				{Key: "TOTAL", Type: resend.VariableTypeNumber, FallbackValue: 0}}})
		require.NoError(t, err)
		require.Equal(t, "template", created.Object)

		got, err := client.Templates.Get("order")
		require.NoError(t, err)
		require.Equal(t, created.Id, got.Id)
		require.Equal(t, "draft", got.Status)
		require.Equal(t, "", got.PublishedAt)
		require.Equal(t, []any{"help@example.com"}, got.ReplyTo)
		require.Len(t, got.Variables, 2)
		require.Equal(t, resend.VariableTypeNumber, got.Variables[1].Type)
		require.Equal(t, float64(0), got.Variables[1].FallbackValue)

		requireRefused(t,
			refusal{"sending a draft", func() error { return errOf(sendOrder(map[string]any{"ORDER": "A1"})) }, "not published"},
		)
		pub, err := client.Templates.Publish(created.Id)
		require.NoError(t, err)
		require.Equal(t, created.Id, pub.Id)

		// The Go SDK's update sends name and html even when empty.
		upd, err := client.Templates.UpdateWithContext(ctx, "order", &resend.UpdateTemplateRequest{Subject: "Your order {{{ORDER}}}"})
		require.NoError(t, err)
		require.Equal(t, created.Id, upd.Id)
		got, err = client.Templates.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "Order", got.Name)
		require.Equal(t, "<p>{{{ORDER}}}: {{{TOTAL}}}</p>", got.Html)
		require.Equal(t, "published", got.Status)
		require.NotEmpty(t, got.PublishedAt)

		sent, err := sendOrder(map[string]any{"ORDER": "A1", "TOTAL": 12.5})
		require.NoError(t, err)
		email, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, "Order A1", email.Subject, "the published subject, not the draft's")
		require.Equal(t, "<p>A1: 12.5</p>", email.Html)
		require.Equal(t, "Shop <shop@example.com>", email.From)

		dup, err := client.Templates.Duplicate("order")
		require.NoError(t, err)
		requirePages(t, []listed[*resend.ListTemplatesResponse]{
			{name: "templates, newest first", list: func() (*resend.ListTemplatesResponse, error) { return client.Templates.List(nil) },
				ids: []string{dup.Id, created.Id}, check: func(t *testing.T, page *resend.ListTemplatesResponse) {
					require.Equal(t, "Order (Copy)", page.Data[0].Name)
					require.Nil(t, page.Data[0].PublishedAt)
					require.Equal(t, "order", page.Data[1].Alias)
				}},
		})
		removed, err := client.Templates.Remove(dup.Id)
		require.NoError(t, err)
		require.True(t, removed.Deleted)
		requireRefused(t,
			refusal{"removed template", func() error { return errOf(client.Templates.Get(dup.Id)) }, "Template not found"},
		)
	})
}

// TestGoSDKBroadcasts drives the Broadcasts service of the official Go SDK
// unchanged: Create, Get, List, Update, Send (which always sends
// "scheduled_at":"" and broadcast_id), Remove.
func TestGoSDKBroadcasts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		_, client := setupSDK(t, kind)
		seg, err := client.Segments.Create(&resend.CreateSegmentRequest{Name: "news"})
		require.NoError(t, err)

		created, err := client.Broadcasts.Create(&resend.CreateBroadcastRequest{SegmentId: seg.Id, From: "Acme <news@example.com>",
			Subject: "Hello", ReplyTo: []string{"help@example.com"}, Html: "<p>Hi {{{FIRST_NAME|there}}}</p>", Name: "First"})
		require.NoError(t, err)
		require.NotEmpty(t, created.Id)
		got, err := client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "broadcast", got.Object)
		require.Equal(t, "First", got.Name)
		require.Equal(t, seg.Id, got.SegmentId)
		require.Equal(t, seg.Id, got.AudienceId)
		require.Equal(t, []string{"help@example.com"}, got.ReplyTo)
		require.Equal(t, "draft", got.Status)
		require.Equal(t, "", got.ScheduledAt)

		updated, err := client.Broadcasts.Update(&resend.UpdateBroadcastRequest{BroadcastId: created.Id, Subject: "Hello again", Text: "plain"})
		require.NoError(t, err)
		require.Equal(t, created.Id, updated.Id)
		got, err = client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "Hello again", got.Subject)
		require.Equal(t, "plain", got.Text)

		requirePages(t, []listed[resend.ListBroadcastsResponse]{
			{name: "broadcasts", list: client.Broadcasts.List, ids: []string{created.Id}},
		})

		// Through the audience_id the SDK still offers.
		other, err := client.Broadcasts.Create(&resend.CreateBroadcastRequest{AudienceId: seg.Id, From: "news@example.com", Subject: "x", Text: "t"})
		require.NoError(t, err)
		removed, err := client.Broadcasts.Remove(other.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveBroadcastResponse{Object: "broadcast", Id: other.Id, Deleted: true}, removed)

		sent, err := client.Broadcasts.Send(&resend.SendBroadcastRequest{BroadcastId: created.Id})
		require.NoError(t, err)
		require.Equal(t, created.Id, sent.Id)
		got, err = client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "queued", got.Status)
		requireRefused(t,
			refusal{"removing a sent broadcast", func() error { return errOf(client.Broadcasts.Remove(created.Id)) },
				"Only broadcasts in draft"},
		)
	})
}
