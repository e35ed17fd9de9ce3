// Drives contacts, segments and topics with the official Resend Node SDK: prints one
// JSON object with what each call returned and exits 1 on the first
// unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const segment = check('segmentCreate', await resend.segments.create({ name: 'Newsletter' }));
check('segmentGet', await resend.segments.get(segment.id));
check('segmentList', await resend.segments.list());

const email = `Jane.Doe+news-${process.pid}@Example.com`;
const contact = check('contactCreate', await resend.contacts.create({
  email, firstName: 'Jane', lastName: 'Doe', unsubscribed: false,
  properties: { plan: 'pro', seats: 3 }, segments: [{ id: segment.id }],
}));
const byId = check('contactGetById', await resend.contacts.get({ id: contact.id }));
const byEmail = check('contactGetByEmail', await resend.contacts.get({ email: email.toLowerCase() }));
if (byId.id !== contact.id || byEmail.id !== contact.id) fail('get by id and by email find the contact');

check('contactUpdate', await resend.contacts.update({ email, firstName: 'Janet', unsubscribed: true }));
const updated = check('contactGetUpdated', await resend.contacts.get(contact.id));
if (updated.first_name !== 'Janet' || updated.last_name !== 'Doe' || updated.unsubscribed !== true) fail('update applied');

const inSegment = check('contactListSegment', await resend.contacts.list({ segmentId: segment.id }));
if (!inSegment.data.some((c) => c.id === contact.id)) fail('the contact is listed in its segment');
check('contactList', await resend.contacts.list({ limit: 10 }));

const other = check('segmentCreate2', await resend.segments.create({ name: 'Beta' }));
check('contactSegmentAdd', await resend.contacts.segments.add({ contactId: contact.id, segmentId: other.id }));
const segments = check('contactSegmentList', await resend.contacts.segments.list({ email }));
if (segments.data.length !== 2) fail('the contact is in two segments');
check('contactSegmentRemove', await resend.contacts.segments.remove({ email, segmentId: other.id }));

// Topics, a contact's topics, and an email sent to a topic.
const topic = check('topicCreate', await resend.topics.create({
  name: 'Product updates', description: 'What shipped', defaultSubscription: 'opt_out',
}));
const digest = check('topicCreate2', await resend.topics.create({ name: 'Digest', defaultSubscription: 'opt_in' }));
const gotTopic = check('topicGet', await resend.topics.get(topic.id));
if (gotTopic.default_subscription !== 'opt_out' || gotTopic.description !== 'What shipped') fail('topic get');
const topics = check('topicList', await resend.topics.list());
if (topics.data.length !== 2 || topics.data[0].id !== digest.id) fail('topics listed newest first');
check('topicUpdate', await resend.topics.update({ id: topic.id, name: 'Updates', description: 'Shipped this week' }));
if (check('topicGetUpdated', await resend.topics.get(topic.id)).name !== 'Updates') fail('topic update applied');

let subs = check('contactTopicList', await resend.contacts.topics.list({ id: contact.id }));
if (subs.data.find((t) => t.id === topic.id).subscription !== 'opt_out') fail('the default applies before a choice');
check('contactTopicUpdate', await resend.contacts.topics.update({
  email, topics: [{ id: topic.id, subscription: 'opt_in' }, { id: digest.id, subscription: 'opt_out' }],
}));
subs = check('contactTopicListUpdated', await resend.contacts.topics.list({ email }));
if (subs.data.find((t) => t.id === topic.id).subscription !== 'opt_in') fail('the choice is recorded');
if (subs.data.find((t) => t.id === digest.id).subscription !== 'opt_out') fail('both choices are recorded');

const reader = `delivered+topic-${process.pid}@resend.dev`;
check('contactCreateWithTopics', await resend.contacts.create({ email: reader, topics: [{ id: topic.id, subscription: 'opt_in' }] }));
const toReader = check('emailToSubscriber', await resend.emails.send({
  from: 'onboarding@resend.dev', to: reader, subject: 'For subscribers', text: 'hi', topicId: topic.id,
}));
const toStranger = check('emailToStranger', await resend.emails.send({
  from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'For subscribers', text: 'hi', topicId: topic.id,
}));
async function settled(id) {
  for (let i = 0; i < 100; i++) {
    const got = (await resend.emails.get(id)).data;
    if (got && !['queued', 'sent', 'scheduled'].includes(got.last_event)) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`email ${id} settled`);
}
out.emailToSubscriberGet = await settled(toReader.id);
out.emailToStrangerGet = await settled(toStranger.id);
const unknownTopic = await resend.emails.send({
  from: 'onboarding@resend.dev', to: reader, subject: 's', text: 't', topicId: '00000000-0000-4000-8000-000000000000',
});
if (!unknownTopic.error || unknownTopic.error.statusCode !== 404) fail('an unknown topic is refused');

check('topicRemove', await resend.topics.remove(digest.id));
subs = check('contactTopicListAfterRemove', await resend.contacts.topics.list({ id: contact.id }));
if (subs.data.length !== 1) fail('a removed topic is no longer listed');

check('contactRemove', await resend.contacts.remove({ email }));
const gone = await resend.contacts.get(contact.id);
if (!gone.error || gone.error.statusCode !== 404) fail('a removed contact answers 404');
check('segmentRemove', await resend.segments.remove(segment.id));
console.log(JSON.stringify(out));
