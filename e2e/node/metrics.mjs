// Drives GET /emails/metrics with the official Resend Node SDK
// (resend.emails.metrics): three emails to the test addresses, then the
// team's totals and a daily breakdown by domain. Prints one JSON object with
// what each call returned and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

for (const to of ['delivered@resend.dev', 'delivered+2@resend.dev', 'bounced@resend.dev']) {
  check('send ' + to, await resend.emails.send({ from: 'onboarding@resend.dev', to, subject: 'counted', html: '<p>hi</p>' }));
}

// Delivery is asynchronous: poll the totals, within a deadline, until the
// three emails are sent and their outcomes are counted.
let totals;
const deadline = Date.now() + 20000;
for (;;) {
  const m = check('totals', await resend.emails.metrics({ metrics: ['sent', 'delivered', 'bounced'] }));
  totals = m.totals;
  if (totals.sent === 3 && totals.delivered === 2 && totals.bounced === 1) break;
  if (Date.now() > deadline) fail('3 sent, 2 delivered, 1 bounced within 20 s');
  await new Promise((r) => setTimeout(r, 50));
}

const daily = check('daily', await resend.emails.metrics({
  granularity: 'daily', dimensions: ['period'], metrics: ['sent', 'delivered', 'delivery_rate'],
  timezone: 'Europe/Paris',
}));
// Every day of the range has a row, empty days included; the rows add up
// to the totals.
if (daily.object !== 'metrics' || daily.granularity !== 'daily') fail('the response names itself and its granularity');
if (!Array.isArray(daily.data) || daily.data.length < 2) fail('a row per day of the range');
const sum = (k) => daily.data.reduce((n, r) => n + r[k], 0);
if (sum('sent') !== 3 || sum('delivered') !== 2) fail('the rows add up to the three emails');
if (daily.totals.delivery_rate !== 66.67) fail('the delivery rate is delivered / sent, as a percentage');

const refused = await resend.emails.metrics({ granularity: 'yearly' });
if (!refused.error || refused.error.name !== 'validation_error') fail('an unknown granularity is a validation_error');
out.refused = refused.error;

console.log(JSON.stringify(out));
