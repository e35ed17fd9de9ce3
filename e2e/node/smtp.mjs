// Sends one email to Godwit's SMTP submission server with nodemailer, as a
// Node application configured for Resend's SMTP relay would: over STARTTLS
// (SMTP_PORT) and over implicit TLS (SMTPS_PORT), user "resend", an API key
// as the password, trusting the CA in SMTP_CA (a PEM file). Prints one JSON
// object with what each send returned; exits 1 on the first failure.
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';

const ca = readFileSync(process.env.SMTP_CA);
const auth = { user: 'resend', pass: process.env.RESEND_API_KEY };

const message = {
  from: 'Zoë Müller <app@smtp.test>',
  to: ['Alice <alice@dest.test>', 'bob@dest.test'],
  cc: '"Doe, Carol" <carol@dest.test>',
  bcc: 'hidden@dest.test',
  replyTo: 'support@smtp.test',
  subject: 'Grüße from nodemailer ✓',
  text: 'Grüße aus Köln — plain text',
  html: '<p>Grüße aus <b>Köln</b></p><img src="cid:logo@smtp.test">',
  headers: { 'X-Entity-Ref-ID': 'node-1' },
  attachments: [
    { filename: 'logo.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]), contentType: 'image/png', cid: 'logo@smtp.test' },
    { filename: 'Rechnung März.pdf', content: Buffer.from('%PDF-1.4 fake'), contentType: 'application/pdf' },
  ],
};

const transports = {
  starttls: { host: '127.0.0.1', port: Number(process.env.SMTP_PORT), secure: false, requireTLS: true, auth, tls: { ca } },
  implicit: { host: '127.0.0.1', port: Number(process.env.SMTPS_PORT), secure: true, auth, authMethod: 'LOGIN', tls: { ca } },
};

const out = {};
for (const [name, options] of Object.entries(transports)) {
  const transport = nodemailer.createTransport({ ...options, connectionTimeout: 10000, greetingTimeout: 10000, socketTimeout: 10000 });
  try {
    const info = await transport.sendMail({
      ...message,
      headers: { ...message.headers, 'Resend-Idempotency-Key': `node-${name}` },
    });
    out[name] = { response: info.response, accepted: info.accepted, rejected: info.rejected };
  } catch (err) {
    console.log(JSON.stringify({ failed: name, error: String(err), out }));
    process.exit(1);
  } finally {
    transport.close();
  }
}
console.log(JSON.stringify(out));
