// Verifies one webhook request with the official Resend Node SDK, as a
// receiver of Resend's webhooks would. Input (JSON on stdin):
// {"payload": "<raw body>", "id": "...", "timestamp": "...", "signature": "...", "secret": "whsec_..."}
// Prints the verified event's type; exits 1 when verification fails.
import { Resend } from 'resend';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);
const resend = new Resend('re_unused');
try {
  const event = resend.webhooks.verify({
    payload: req.payload,
    headers: { id: req.id, timestamp: req.timestamp, signature: req.signature },
    webhookSecret: req.secret,
  });
  console.log(event.type);
} catch (err) {
  console.error('verification failed:', err.message);
  process.exit(1);
}
