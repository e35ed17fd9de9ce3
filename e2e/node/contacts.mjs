// Drives contacts and segments with the official Resend Node SDK: prints one
// JSON object with what each call returned and exits 1 on the first
// unexpected answer.
import { Resend } from 'resend';

const resend = new Resend(process.env.RESEND_API_KEY);
const out = {};

function check(name, result) {
  out[name] = result.data ?? null;
  if (result.error) {
    console.log(JSON.stringify({ failed: name, error: result.error, out }));
    process.exit(1);
  }
  return result.data;
}

function fail(what) {
  console.log(JSON.stringify({ failed: what, out }));
  process.exit(1);
}

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

check('contactRemove', await resend.contacts.remove({ email }));
const gone = await resend.contacts.get(contact.id);
if (!gone.error || gone.error.statusCode !== 404) fail('a removed contact answers 404');
check('segmentRemove', await resend.segments.remove(segment.id));
console.log(JSON.stringify(out));
