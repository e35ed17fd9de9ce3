// Drives the Receiving API with the official Resend Node SDK: reads the
// received emails the Go test stored (RECEIVED_IDS, newest first), their
// attachments and raw messages, and forwards one both ways. Prints one
// JSON object with what each call returned and exits 1 on the first
// unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);
const ids = process.env.RECEIVED_IDS.split(',');

const list = check('list', await resend.emails.receiving.list());
if (list.object !== 'list' || list.data.length !== ids.length || list.data[0].id !== ids[0]) fail('the received emails are listed newest first');
const page = check('page', await resend.emails.receiving.list({ limit: 1, after: ids[0] }));
if (page.data.length !== 1 || page.data[0].id !== ids[1] || page.has_more !== (ids.length > 2)) fail('the second page holds the second');

const email = check('get', await resend.emails.receiving.get(ids[0]));
if (email.object !== 'email' || email.id !== ids[0] || !email.raw?.download_url) fail('the email has a raw download link');
if (!email.html.includes('data:image/png;base64,')) fail('inline images are data: URIs by default');
check('getCid', await resend.emails.receiving.get(ids[0], { html_format: 'cid' }));
if (!out.getCid.html.includes('cid:logo')) fail('html_format cid keeps the cid: references');

const raw = await fetch(email.raw.download_url);
out.rawStatus = raw.status;
out.rawType = raw.headers.get('content-type');
out.raw = await raw.text();

const atts = check('attachments', await resend.emails.receiving.attachments.list({ emailId: ids[0] }));
if (atts.object !== 'list' || atts.data.length !== email.attachments.length) fail('the attachments are listed');
const second = check('attachmentsPage', await resend.emails.receiving.attachments.list({ emailId: ids[0], limit: 1, after: atts.data[0].id }));
if (second.data.length !== 1 || second.data[0].id !== atts.data[1].id) fail('the attachments page');
const one = check('attachment', await resend.emails.receiving.attachments.get({ emailId: ids[0], id: atts.data[1].id }));
if (one.object !== 'attachment' || one.id !== atts.data[1].id) fail('one attachment is read');
const dl = await fetch(one.download_url);
out.attachmentStatus = dl.status;
out.attachmentBody = await dl.text();

const missing = await resend.emails.receiving.get('00000000-0000-4000-8000-000000000000');
out.missing = missing.error;
if (!missing.error) fail('an unknown received email is an error');

// forward() downloads raw.download_url and re-sends it through POST /emails.
check('forwardPassthrough', await resend.emails.receiving.forward({
  emailId: ids[0], from: 'onboarding@resend.dev', to: 'delivered@resend.dev',
}));
check('forwardWrapped', await resend.emails.receiving.forward({
  emailId: ids[0], from: 'onboarding@resend.dev', to: 'delivered@resend.dev', passthrough: false, text: 'See the attached message.',
}));
check('forwardedPassthrough', await resend.emails.get(out.forwardPassthrough.id));
check('forwardedWrapped', await resend.emails.get(out.forwardWrapped.id));
check('forwardedWrappedAttachments', await resend.emails.attachments.list({ emailId: out.forwardWrapped.id }));

console.log(JSON.stringify(out));
