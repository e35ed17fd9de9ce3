// Drives contact imports with the official Resend Node SDK (its
// contacts.imports, which sends multipart/form-data): prints one JSON
// object with what each call returned and exits 1 on the first unexpected
// answer.
import { Resend } from 'resend';
import { out, check, expectError, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

// waitDone polls an import until its job has ended (imports run on a
// job: create answers while the import is queued), within a deadline.
async function waitDone(name, id) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const got = check(name, await resend.contacts.imports.get(id));
    if (got.status === 'completed' || got.status === 'failed') return got;
    if (!['queued', 'in_progress'].includes(got.status)) fail(name + ': unknown status ' + got.status);
    if (Date.now() > deadline) fail(name + ': still ' + got.status + ' at the deadline');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const segment = check('segment', await resend.segments.create({ name: 'imported' }));
const topic = check('topic', await resend.topics.create({ name: 'news', defaultSubscription: 'opt_out' }));
check('existing', await resend.contacts.create({ email: 'old@example.com', firstName: 'Old' }));

const csv = 'Email Address,Given,Plan\nnew@example.com,Ann,pro\nold@example.com,Olga,gold\nnot-an-address,X,\n';
const created = check('create', await resend.contacts.imports.create({
  file: new Blob([csv], { type: 'text/csv' }),
  columnMap: { email: 'Email Address', firstName: 'Given', properties: { plan: { column: 'Plan', type: 'string' } } },
  onConflict: 'upsert',
  segments: [{ id: segment.id }],
  topics: [{ id: topic.id, subscription: 'opt_in' }],
}));
const got = await waitDone('get', created.id);
if (got.status !== 'completed' || got.counts.created !== 1 || got.counts.updated !== 1 || got.counts.failed !== 1) fail('counts');

const skipped = check('createSkip', await resend.contacts.imports.create({ file: new Blob(['email\nold@example.com\n']) }));
if ((await waitDone('getSkip', skipped.id)).counts.skipped !== 1) fail('skipped');
const list = check('list', await resend.contacts.imports.list({ status: 'completed', limit: 1 }));
if (list.data.length !== 1 || list.data[0].id !== skipped.id || !list.has_more) fail('list is newest first, paginated');

const ann = check('contact', await resend.contacts.get({ email: 'new@example.com' }));
if (ann.first_name !== 'Ann' || ann.properties.plan !== 'pro') fail('the contact is imported');
const olga = check('updated', await resend.contacts.get({ email: 'old@example.com' }));
if (olga.first_name !== 'Olga') fail('upsert updates');
const segs = check('segments', await resend.contacts.segments.list({ email: 'new@example.com' }));
if (segs.data.length !== 1 || segs.data[0].id !== segment.id) fail('segments applied');

expectError('badCSV', await resend.contacts.imports.create({ file: new Blob(['email\n"a@example.com\n']) }));
console.log(JSON.stringify(out));
