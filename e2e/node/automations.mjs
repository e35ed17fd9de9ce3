// Drives events and automations with the official Resend Node SDK: prints
// one JSON object with what each call returned (errors that are expected
// under their own names) and exits 1 on the first unexpected answer.
import { Resend } from 'resend';
import { out, check, expectError, fail } from './harness.mjs';

const resend = new Resend(process.env.RESEND_API_KEY);

const ev = check('eventCreate', await resend.events.create({ name: 'user.created', schema: { plan: 'string', seats: 'number' } }));
check('eventGet', await resend.events.get(ev.id));
const byName = check('eventGetByName', await resend.events.get('user.created'));
if (byName.id !== ev.id) fail('an event by its name');
check('eventList', await resend.events.list({ limit: 10 }));
check('eventUpdate', await resend.events.update('user.created', { schema: { plan: 'string', seats: 'number', since: 'date' } }));
expectError('eventReserved', await resend.events.create({ name: 'resend:email.sent' }));
const other = check('eventCreateOther', await resend.events.create({ name: 'order.paid' }));
check('eventRemove', await resend.events.remove(other.id));

const segment = check('segment', await resend.segments.create({ name: 'Onboarded' }));
const email = `auto-${process.pid}@example.com`;
const contact = check('contact', await resend.contacts.create({ email }));

expectError('automationInvalid', await resend.automations.create({
  name: 'Broken', steps: [{ key: 'start', type: 'trigger', config: { eventName: 'user.created' } },
    { key: 'lost', type: 'delay', config: { duration: '1 day' } }], connections: [],
}));
const auto = check('automationCreate', await resend.automations.create({
  name: 'Onboarding',
  status: 'enabled',
  steps: [
    { key: 'start', type: 'trigger', config: { eventName: 'user.created' } },
    { key: 'name', type: 'contact_update', config: { firstName: { var: 'event.plan' } } },
    { key: 'join', type: 'add_to_segment', config: { segmentId: segment.id } },
    { key: 'is_pro', type: 'condition', config: { type: 'rule', field: 'event.plan', operator: 'eq', value: 'pro' } },
    { key: 'later', type: 'delay', config: { duration: '1 hour' } },
    { key: 'paid', type: 'wait_for_event', config: { eventName: 'order.paid', timeout: '2 days' } },
  ],
  connections: [
    { from: 'start', to: 'name' },
    { from: 'name', to: 'join' },
    { from: 'join', to: 'is_pro' },
    { from: 'is_pro', to: 'later', type: 'condition_met' },
    { from: 'is_pro', to: 'paid', type: 'condition_not_met' },
  ],
}));
const got = check('automationGet', await resend.automations.get(auto.id));
if (got.steps.length !== 6 || got.steps[1].config.first_name?.var !== 'event.plan') fail('the steps as sent, in snake_case');
check('automationList', await resend.automations.list({ status: 'enabled' }));
check('automationUpdate', await resend.automations.update(auto.id, { name: 'Onboarding v1' }));
const dup = check('automationDuplicate', await resend.automations.duplicate(auto.id));

expectError('sendWrongType', await resend.events.send({ event: 'user.created', contactId: contact.id, payload: { seats: 'two' } }));
check('send', await resend.events.send({ event: 'user.created', email, payload: { plan: 'pro', seats: 2 } }));

// The run reaches the delay in the binary's own time.
let run;
for (let i = 0; i < 200; i++) {
  const runs = check('runs', await resend.automations.runs.list({ automationId: auto.id }));
  if (runs.data.length === 1) {
    run = check('run', await resend.automations.runs.get({ automationId: auto.id, runId: runs.data[0].id }));
    if (run.steps.some((s) => s.key === 'later' && s.status === 'waiting')) break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
if (!run || !run.steps.some((s) => s.key === 'later' && s.status === 'waiting')) fail('the run reaches its delay');
check('runsRunning', await resend.automations.runs.list({ automationId: auto.id, status: ['running'] }));
const c = check('contactAfter', await resend.contacts.get(contact.id));
if (c.first_name !== 'pro') fail('contact_update applied');

check('stop', await resend.automations.stop(auto.id));
const stopped = check('runStopped', await resend.automations.runs.get({ automationId: auto.id, runId: run.id }));
if (stopped.status !== 'cancelled') fail('stop cancels the running run');
check('automationRemove', await resend.automations.remove(dup.id));
expectError('automationGetRemoved', await resend.automations.get(dup.id));
console.log(JSON.stringify(out));
