// Drives templates with the official Resend Node SDK: create (and the
// chained publish), get by id and alias, list, update, duplicate, remove,
// and emails sent with a template. Prints one JSON object with what each
// call returned (errors that are expected under their own names) and exits
// 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, expectError, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const welcome = check('create', await resend.templates.create({
  name: 'Welcome', alias: 'welcome', from: 'Acme <onboarding@resend.dev>', subject: 'Welcome, {{{NAME}}}',
  replyTo: 'help@resend.dev', html: '<p>Hi {{{NAME}}}, plan {{{PLAN}}} x{{{SEATS}}}</p>', text: 'Hi {{{NAME}}}',
  variables: [
    { key: 'NAME', type: 'string' },
    { key: 'PLAN', type: 'string', fallbackValue: 'free' },
    { key: 'SEATS', type: 'number', fallbackValue: 1 },
  ],
}));
expectError('createReserved', await resend.templates.create({
  name: 'Bad', html: '<p>x</p>', variables: [{ key: 'EMAIL', type: 'string' }],
}));
expectError('sendDraft', await resend.emails.send({
  to: 'delivered@resend.dev', template: { id: 'welcome', variables: { NAME: 'Ada' } },
}));
// create(...).publish() publishes what was just created.
const chained = check('createAndPublish', await resend.templates.create({
  name: 'Receipt', html: '<p>{{{TOTAL}}}</p>', subject: 'Receipt', from: 'onboarding@resend.dev',
  variables: [{ key: 'TOTAL', type: 'number', fallbackValue: 0 }],
}).publish());

check('publish', await resend.templates.publish('welcome'));
const got = check('get', await resend.templates.get(welcome.id));
if (got.status !== 'published' || got.alias !== 'welcome' || got.has_unpublished_versions) fail('get after publish');
const byAlias = check('getByAlias', await resend.templates.get('welcome'));
if (byAlias.id !== welcome.id) fail('get by alias');
const receipt = check('getChained', await resend.templates.get(chained.id));
if (receipt.status !== 'published') fail('create().publish() published');

check('update', await resend.templates.update('welcome', { html: '<p>Draft {{{NAME}}}</p>' }));
const edited = check('getEdited', await resend.templates.get('welcome'));
if (!edited.has_unpublished_versions || edited.name !== 'Welcome') fail('update keeps the name and marks the draft unpublished');

const list = check('list', await resend.templates.list({ limit: 10 }));
if (list.data.length !== 2 || list.data[0].id !== chained.id) fail('list is newest first');

const sent = check('send', await resend.emails.send({
  to: 'delivered@resend.dev', template: { id: 'welcome', variables: { NAME: 'Ada <3', SEATS: 4 } },
}));
expectError('sendMissingVariable', await resend.emails.send({
  to: 'delivered@resend.dev', template: { id: 'welcome', variables: { PLAN: 'pro' } },
}));
expectError('sendWithHtml', await resend.emails.send({
  to: 'delivered@resend.dev', html: '<p>x</p>', template: { id: 'welcome', variables: { NAME: 'Ada' } },
}));
expectError('sendUnknown', await resend.emails.send({
  to: 'delivered@resend.dev', template: { id: 'nope' },
}));
const batch = check('batch', await resend.batch.send([
  { to: 'delivered@resend.dev', template: { id: 'welcome', variables: { NAME: 'One' } } },
  { to: 'delivered@resend.dev', subject: 'Yours', template: { id: chained.id, variables: { TOTAL: 9.5 } } },
]));
if (batch.data.length !== 2) fail('batch sent both');
check('sentGet', await resend.emails.get(sent.id));
check('batchGet', await resend.emails.get(batch.data[1].id));

const dup = check('duplicate', await resend.templates.duplicate('welcome'));
const copy = check('getDuplicate', await resend.templates.get(dup.id));
if (copy.status !== 'draft' || copy.alias !== null) fail('a duplicate is a draft without alias');
check('remove', await resend.templates.remove(dup.id));
expectError('getRemoved', await resend.templates.get(dup.id));
console.log(JSON.stringify(out));
