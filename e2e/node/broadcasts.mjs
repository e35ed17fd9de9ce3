// Drives broadcasts with the official Resend Node SDK against the real
// binary: a segment of test-address contacts, one broadcast with merge tags
// and an unsubscribe link, sent and followed until it is sent. Prints one
// JSON object with what each call returned; exits 1 on the first
// unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const segment = check('segment', await resend.segments.create({ name: 'Launch list' }));
check('jane', await resend.contacts.create({ email: 'delivered+jane@resend.dev', firstName: 'Jane', segments: [{ id: segment.id }] }));
check('nameless', await resend.contacts.create({ email: 'delivered+nameless@resend.dev', segments: [{ id: segment.id }] }));
check('gone', await resend.contacts.create({ email: 'delivered+gone@resend.dev', firstName: 'Gone', unsubscribed: true, segments: [{ id: segment.id }] }));

const draft = check('create', await resend.broadcasts.create({
  segmentId: segment.id,
  name: 'Launch',
  from: 'Acme <onboarding@resend.dev>',
  subject: 'Draft subject',
  html: '<p>Hello {{{FIRST_NAME|friend}}}</p><p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a></p>',
}));
check('update', await resend.broadcasts.update(draft.id, { subject: 'Hi {{{FIRST_NAME|there}}}' }));
const got = check('get', await resend.broadcasts.get(draft.id));
if (got.status !== 'draft') fail('a new broadcast is a draft');
check('list', await resend.broadcasts.list());

const spare = check('spare', await resend.broadcasts.create({
  segmentId: segment.id, from: 'onboarding@resend.dev', subject: 'spare', text: 'spare',
}));
check('remove', await resend.broadcasts.remove(spare.id));
const dup = check('duplicate', await resend.broadcasts.duplicate(draft.id));
if (check('getDuplicate', await resend.broadcasts.get(dup.id)).name !== 'Launch (copy)') fail('the duplicate is named "Launch (copy)"');
check('removeDuplicate', await resend.broadcasts.remove(dup.id));

check('send', await resend.broadcasts.send(draft.id));
const deadline = Date.now() + 20000;
let status = '';
while (Date.now() < deadline) {
  status = check('getAfterSend', await resend.broadcasts.get(draft.id)).status;
  if (status === 'sent') break;
  await new Promise((r) => setTimeout(r, 100));
}
if (status !== 'sent') fail(`the broadcast is ${status}, not sent, after 20 s`);

check('emails', await resend.emails.list({ limit: 100 }));

// The broadcast's analytics: who it was delivered to (once delivery has
// run), a page of one, and its clicked links (none yet).
const until = Date.now() + 20000;
let delivered = null;
while (Date.now() < until) {
  delivered = check('recipients', await resend.broadcasts.recipients(draft.id, { type: 'delivered' }));
  if (delivered.data.length === 2) break;
  await new Promise((r) => setTimeout(r, 100));
}
if (delivered.data.length !== 2) fail(`${delivered.data.length} recipients delivered, not 2, after 20 s`);
const first = check('recipientsPage', await resend.broadcasts.recipients(draft.id, { type: 'sent', limit: 1 }));
check('recipientsNext', await resend.broadcasts.recipients(draft.id, { type: 'sent', limit: 1, after: first.data[0].id }));
check('bounced', await resend.broadcasts.recipients(draft.id, { type: 'bounced', bounceType: 'permanent' }));
check('clickedLinks', await resend.broadcasts.clickedLinks(draft.id));
console.log(JSON.stringify(out));
