// Drives the Logs API with the official Resend Node SDK: prints one JSON
// object with what each call returned (errors that are expected under
// their own names) and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, expectError, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const sent = check('send', await resend.emails.send({
  from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'logged', html: '<p>hi</p>',
  attachments: [{ filename: 'a.txt', content: Buffer.from('attachment secret').toString('base64') }],
}));
check('domains', await resend.domains.list());
expectError('missing', await resend.emails.get('00000000-0000-4000-8000-000000000000'));

// Logs are written off the request path: poll, within a deadline.
let list;
const deadline = Date.now() + 10000;
for (;;) {
  list = check('list', await resend.logs.list());
  if (list.data.length >= 3) break;
  if (Date.now() > deadline) fail('three logs within 10 s');
  await new Promise((r) => setTimeout(r, 20));
}
if (list.data.length !== 3 || list.has_more) fail('exactly three logs');
const [miss, domains, send] = list.data;
if (send.endpoint !== '/emails' || send.method !== 'POST' || send.response_status !== 200) fail('the send is logged');
if (!send.user_agent || !send.user_agent.startsWith('resend-node:')) fail('the SDK\'s user agent is logged');
if (domains.endpoint !== '/domains' || miss.response_status !== 404) fail('list is newest first');

const page = check('page', await resend.logs.list({ limit: 1, after: domains.id }));
if (page.data.length !== 1 || page.data[0].id !== send.id || page.has_more) fail('list paginates');

const log = check('get', await resend.logs.get(send.id));
if (log.object !== 'log' || log.response_body.id !== sent.id) fail('get returns the bodies');
if (log.request_body.attachments[0].content !== '[masked: 24 characters]') fail('attachment content is masked');
if (JSON.stringify(log).includes(process.env.RESEND_API_KEY)) fail('the API key is not in the log');
expectError('getMissing', await resend.logs.get('00000000-0000-4000-8000-000000000000'));
expectError('getInvalid', await resend.logs.get('not-a-uuid'));
console.log(JSON.stringify(out));
