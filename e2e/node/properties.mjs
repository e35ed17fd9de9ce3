// Drives contact properties with the official Resend Node SDK: prints one
// JSON object with what each call returned (errors that are expected under
// their own names) and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, expectError, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const plan = check('create', await resend.contactProperties.create({ key: 'plan', type: 'string', fallbackValue: 'free' }));
const seats = check('createNoFallback', await resend.contactProperties.create({ key: 'seats', type: 'number' }));
expectError('duplicate', await resend.contactProperties.create({ key: 'plan', type: 'string' }));
expectError('wrongFallback', await resend.contactProperties.create({ key: 'ltv', type: 'number', fallbackValue: 'zero' }));

const got = check('get', await resend.contactProperties.get(plan.id));
if (got.key !== 'plan' || got.fallbackValue !== 'free' || got.type !== 'string') fail('get maps the property');
const list = check('list', await resend.contactProperties.list());
if (list.data.length !== 2 || list.data[0].id !== seats.id) fail('list is newest first');
const page = check('listPage', await resend.contactProperties.list({ limit: 1, after: seats.id }));
if (page.data.length !== 1 || page.data[0].id !== plan.id || page.has_more) fail('list paginates');

check('update', await resend.contactProperties.update({ id: seats.id, fallbackValue: 10 }));
// Without fallbackValue the SDK sends nothing to change.
check('updateNothing', await resend.contactProperties.update({ id: seats.id }));
const updated = check('getUpdated', await resend.contactProperties.get(seats.id));
if (updated.fallbackValue !== 10) fail('update applied');
expectError('updateWrongType', await resend.contactProperties.update({ id: seats.id, fallbackValue: 'ten' }));

expectError('contactWrongType', await resend.contacts.create({ email: `typed-${process.pid}@example.com`, properties: { seats: 'three' } }));
const contact = check('contactCreate', await resend.contacts.create({
  email: `typed-${process.pid}@example.com`, properties: { seats: 3, plan: 'pro' },
}));
check('contactGet', await resend.contacts.get(contact.id));

check('remove', await resend.contactProperties.remove(seats.id));
expectError('getRemoved', await resend.contactProperties.get(seats.id));
console.log(JSON.stringify(out));
