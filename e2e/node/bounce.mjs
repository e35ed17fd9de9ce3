// Reads a bounced email with the official Resend Node SDK
// (resend.emails.get): an email to the test address bounced@resend.dev,
// polled within a deadline until its last_event is bounced; its bounce
// object ({message, type, subType, diagnosticCode}) must come through.
// Prints one JSON object with what each call returned and exits 1 on the
// first unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const sent = check('send', await resend.emails.send({ from: 'onboarding@resend.dev', to: 'bounced@resend.dev', subject: 's', text: 't' }));
const deadline = Date.now() + 20000;
let got;
for (;;) {
  got = check('get', await resend.emails.get(sent.id));
  if (got.last_event === 'bounced') break;
  if (Date.now() > deadline) fail('the email bounced within 20 s');
  await new Promise((r) => setTimeout(r, 50));
}
const b = got.bounce;
if (!b) fail('emails.get returns the bounce object of a bounced email');
if (b.type !== 'Permanent' || b.subType !== 'NoEmail') fail('a Permanent/NoEmail bounce');
if (typeof b.message !== 'string' || b.message === '') fail('the bounce has a message');
if (!Array.isArray(b.diagnosticCode) || b.diagnosticCode.length !== 1) fail('diagnosticCode is an array of strings, as resend-node types it');

const delivered = check('sendDelivered', await resend.emails.send({ from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 's', text: 't' }));
for (;;) {
  const d = check('getDelivered', await resend.emails.get(delivered.id));
  if (d.last_event === 'delivered') {
    if ('bounce' in d) fail('an email that did not bounce has no bounce object');
    break;
  }
  if (Date.now() > deadline) fail('the email was delivered within 20 s');
  await new Promise((r) => setTimeout(r, 50));
}

console.log(JSON.stringify(out));
