// Drives Godwit with the official Resend Node SDK. Reads RESEND_BASE_URL and
// RESEND_API_KEY like any application would, prints one JSON object with
// what each call returned, and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const email = {
  from: 'Acme <onboarding@resend.dev>',
  to: ['delivered@resend.dev'],
  subject: 'Hello from the Node SDK',
  html: '<strong>It works!</strong>',
  replyTo: 'reply@example.com',
  tags: [{ name: 'category', value: 'welcome' }],
  headers: { 'X-Entity-Ref-ID': '42' },
  attachments: [
    { filename: 'buffer.txt', content: Buffer.from('from a Buffer') },
    { filename: 'base64.txt', content: Buffer.from('from base64').toString('base64') },
  ],
};
const sent = check('send', await resend.emails.send(email, { idempotencyKey: 'node-1' }));
const replay = check('replay', await resend.emails.send(email, { idempotencyKey: 'node-1' }));
if (replay.id !== sent.id) {
  console.log(JSON.stringify({ failed: 'replay returned another id', out }));
  process.exit(1);
}

check('get', await resend.emails.get(sent.id));
check('batch', await resend.batch.send([
  { from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'one', text: 'one' },
  { from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'two', text: 'two' },
]));
const permissive = await resend.batch.send([
  { from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'ok', text: 'ok' },
  { from: 'onboarding@resend.dev', to: 'not-an-address', subject: 'bad', text: 'bad' },
], { batchValidation: 'permissive' });
check('permissive', permissive);
const scheduled = check('schedule', await resend.emails.send({
  from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'later', text: 'later', scheduledAt: 'in 1 hour',
}));
check('update', await resend.emails.update({ id: scheduled.id, scheduledAt: 'in 2 hours' }));
check('cancel', await resend.emails.cancel(scheduled.id));
check('list', await resend.emails.list({ limit: 2 }));

// Domains and API keys, every call once.
const name = `node-${process.pid}-${Date.now()}.example`;
const domain = check('domainCreate', await resend.domains.create({ name, customReturnPath: 'bounce' }));
check('domainGet', await resend.domains.get(domain.id));
check('domainList', await resend.domains.list());
check('domainUpdate', await resend.domains.update({ id: domain.id, openTracking: true, tls: 'enforced' }));
check('domainVerify', await resend.domains.verify(domain.id));
out.domainAfterVerify = (await resend.domains.get(domain.id)).data?.status;
check('domainRemove', await resend.domains.remove(domain.id));
const key = check('keyCreate', await resend.apiKeys.create({ name: 'node', permission: 'sending_access' }));
check('keyList', await resend.apiKeys.list());
check('keyUpdate', await resend.apiKeys.update(key.id, { name: 'node-renamed' }));
check('keyRemove', await resend.apiKeys.remove(key.id));

const missing = await resend.emails.get('00000000-0000-4000-8000-000000000000');
out.missing = missing.error;
const invalid = await resend.emails.send({ from: 'onboarding@resend.dev', to: 'nope', subject: 's', text: 't' });
out.invalid = invalid.error;

console.log(JSON.stringify(out));
