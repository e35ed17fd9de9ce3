// Forwards one received email (EMAIL_ID) with the official Resend Node
// SDK's emails.receiving.forward(), passthrough and wrapped, from FROM to
// TO. Prints the two sends' answers; exits 1 on an error.
import { Resend } from 'resend';
import { out, check } from './harness.mjs';

// The download links name PUBLIC_URL, which nothing resolves in the test:
// the server itself (RESEND_BASE_URL) answers them. The SDK is unchanged.
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) => {
  const u = String(url instanceof Request ? url.url : url);
  if (process.env.PUBLIC_URL && u.startsWith(process.env.PUBLIC_URL)) {
    return realFetch(process.env.RESEND_BASE_URL + u.slice(process.env.PUBLIC_URL.length), init);
  }
  return realFetch(url, init);
};
const resend = new Resend(process.env.RESEND_API_KEY);
const { EMAIL_ID: emailId, FROM: from, TO: to } = process.env;
check('passthrough', await resend.emails.receiving.forward({ emailId, from, to }));
check('wrapped', await resend.emails.receiving.forward({ emailId, from, to, passthrough: false, text: 'Forwarded.' }));
console.log(JSON.stringify(out));
