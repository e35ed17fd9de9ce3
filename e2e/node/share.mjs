// Drives sent emails' attachments and share links with the official Resend
// Node SDK: prints one JSON object with what each call returned (and the
// downloads' bodies) and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const sent = check('send', await resend.emails.send({
  from: 'onboarding@resend.dev', to: 'delivered@resend.dev', subject: 'Shared with Node',
  html: '<p id="x">Hello from Node</p><script>document.title = "pwned"</script>',
  attachments: [
    { filename: 'notes.txt', content: Buffer.from('hello from node').toString('base64') },
    { filename: 'logo.png', content: Buffer.from([137, 80, 78, 71]), contentId: 'logo' },
  ],
}));

const list = check('attachmentsList', await resend.emails.attachments.list({ emailId: sent.id }));
if (list.object !== 'list' || list.data.length !== 2) fail('two attachments are listed');
const page = check('attachmentsPage', await resend.emails.attachments.list({ emailId: sent.id, limit: 1, after: list.data[0].id }));
if (page.data.length !== 1 || page.data[0].id !== list.data[1].id || page.has_more) fail('the second page holds the second');
const one = check('attachmentGet', await resend.emails.attachments.get({ emailId: sent.id, id: list.data[0].id }));
if (one.object !== 'attachment' || one.filename !== 'notes.txt') fail('the attachment is read');

// The download link needs no key.
const dl = await fetch(one.download_url);
out.downloadStatus = dl.status;
out.downloadBody = await dl.text();
out.downloadDisposition = dl.headers.get('content-disposition');

const share = check('share', await resend.emails.share(sent.id, { expiresIn: '2 hours' }));
if (share.object !== 'email' || share.id !== sent.id || !share.url) fail('a share link is made');
check('shareDefault', await resend.emails.share(sent.id));
const refused = await resend.emails.share(sent.id, { expiresIn: '3 days' });
out.shareTooLong = refused.error;
if (!refused.error) fail('a link over 48 hours is refused');

console.log(JSON.stringify(out));
