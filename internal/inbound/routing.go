package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
)

// Routing rules (docs/receiving.md): at RCPT, an address's rule (its own,
// else its domain's "*") may refuse it, and a domain without catch-all
// refuses the addresses no rule names; after DATA, the recipients whose
// rule drops are left out (a team's copy of which all are is not stored),
// and each forward rule of the others sends one email through the accept
// path once the received email is stored.

// Forwarder accepts the emails of forward rules: the accept path
// (accept.Service), as POST /emails does.
type Forwarder interface {
	Send(ctx context.Context, req accept.Request, decode func() (*store.Email, error)) (*accept.Result, error)
}

// ForwardEndpoint scopes the idempotency keys of forwards.
const ForwardEndpoint = "MX forward"

// ForwardedHeader counts the times Godwit forwarded a message: a message
// that carries it MaxForwards times is stored but not forwarded again (a
// forward loop between two rules ends there).
const ForwardedHeader = "X-Godwit-Forwarded"

// MaxForwards bounds the forwards of one message (ForwardedHeader).
const MaxForwards = 5

// errRuleRefused is what a rule's reject, or an address no rule names at
// a domain without catch-all, answers: as an unknown address.
var errRuleRefused = errNoSuchUser

// route finds the rule of an address at a receiving domain: nil for the
// default (store); errRuleRefused when the address is refused.
func (s *session) route(ctx context.Context, d *store.Domain, to string) (*store.ReceivingRule, error) {
	i := strings.LastIndexByte(to, '@')
	local := strings.ToLower(to[:i])
	rt, err := s.b.receivingRoute(ctx, d.ID, local)
	if err != nil {
		s.b.logger().Error("inbound: looking up a receiving rule", "error", err)
		s.b.Metrics.Inbound(metrics.InboundDeferred)
		return nil, errTryLater
	}
	switch {
	case rt.Rule != nil && rt.Rule.Action == store.RuleReject:
		return nil, s.refuseRcpt(to, "refused by rule "+rt.Rule.ID)
	case rt.Rule == nil && !rt.CatchAll:
		return nil, s.refuseRcpt(to, "no rule for the address and no catch-all")
	}
	return rt.Rule, nil
}

// keep returns the recipients of a team whose rules do not drop the
// message, and the distinct forward rules among theirs, in RCPT order;
// a copy with none kept is logged and counted as dropped.
func (s *session) keep(t *receipt) (kept []string, forwards []*store.ReceivingRule) {
	var dropped []string
	seen := map[string]bool{}
	for i, rc := range t.rcpts {
		r := t.rules[i]
		switch {
		case r != nil && r.Action == store.RuleDrop:
			dropped = append(dropped, r.ID)
			continue
		case r != nil && r.Action == store.RuleForward && !seen[r.ID]:
			seen[r.ID] = true
			forwards = append(forwards, r)
		}
		kept = append(kept, rc)
	}
	if len(kept) == 0 {
		s.b.Metrics.Inbound(metrics.InboundDropped)
		s.b.logger().Info("email dropped", "team_id", t.teamID, "domain_id", t.domainID, "from", clip(s.mailFrom, 200),
			"recipients", len(t.rcpts), "rule_ids", dropped, "remote", s.remote)
	}
	return kept, forwards
}

// forward sends the stored email e to each forward rule's address,
// wrapped: a new email from the rule's sender (which passes the sending
// gate, so it is signed by and aligned with the team's verified domain)
// with the original attached as message/rfc822. Its idempotency key is
// derived from the message as it arrived and the rule, so a sender that
// retries after a failure here forwards it once. A refusal of the accept
// path (the sender's domain is no longer verified…) is logged and the
// message stays stored; any other failure is a 451.
func (s *session) forward(ctx context.Context, e *store.ReceivedEmail, original []byte, forwards []*store.ReceivingRule) error {
	if len(forwards) == 0 {
		return nil
	}
	depth := forwardDepth(e.Headers)
	why := ""
	switch {
	case depth >= MaxForwards:
		why = "forwarded too many times already (a loop?)"
	case s.b.Forward == nil:
		why = "this MX has no accept path to forward through"
	}
	if why != "" {
		for _, r := range forwards {
			s.b.Metrics.Inbound(metrics.InboundForwardRefused)
			s.b.logger().Warn("inbound: email not forwarded", "email_id", e.ID, "team_id", e.TeamID, "rule_id", r.ID, "reason", why)
		}
		return nil
	}
	sum := sha256.Sum256(original)
	for _, r := range forwards {
		key := "mx-forward:" + hex.EncodeToString(sum[:16]) + ":" + r.ID
		req := accept.Request{Key: &store.APIKey{TeamID: e.TeamID}, Endpoint: ForwardEndpoint, IdempotencyKey: key, Hash: []byte(key)}
		res, err := s.b.Forward.Send(ctx, req, func() (*store.Email, error) { return forwardEmail(e, r, depth+1), nil })
		if refusal := accept.AsError(err); refusal != nil {
			s.b.Metrics.Inbound(metrics.InboundForwardRefused)
			s.b.logger().Warn("inbound: email not forwarded", "email_id", e.ID, "team_id", e.TeamID, "rule_id", r.ID,
				"reason", refusal.Message)
			continue
		}
		if err != nil {
			s.b.logger().Error("inbound: forwarding an email", "email_id", e.ID, "team_id", e.TeamID, "rule_id", r.ID, "error", err)
			s.b.Metrics.Inbound(metrics.InboundDeferred)
			return errTryLater
		}
		var id string
		if len(res.IDs) == 1 {
			id = res.IDs[0]
		}
		if !res.Replayed {
			s.b.Metrics.Inbound(metrics.InboundForwarded)
		}
		s.b.logger().Info("email forwarded", "email_id", e.ID, "team_id", e.TeamID, "rule_id", r.ID,
			"forward_email_id", id, "to_domain", domainOf(r.ForwardTo), "replayed", res.Replayed)
	}
	return nil
}

// forwardEmail is the email a forward rule sends for e: "Fwd: <subject>",
// the original's text and HTML bodies, replies going to the original
// sender, and the message as received (with the MX's trace fields)
// attached as message/rfc822, as the Node SDK's forward() wraps it.
func forwardEmail(e *store.ReceivedEmail, r *store.ReceivingRule, depth int) *store.Email {
	subject := strings.TrimSpace(e.Subject)
	if subject == "" {
		subject = "(no subject)"
	}
	f := &store.Email{From: r.ForwardFrom, To: []string{r.ForwardTo}, Subject: "Fwd: " + subject,
		HTML: e.HTML, Text: e.Text,
		Headers:     []store.Header{{Name: ForwardedHeader, Value: strconv.Itoa(depth)}},
		Attachments: []store.Attachment{{Filename: "forwarded_message.eml", ContentType: "message/rfc822", Content: e.Raw}}}
	if f.HTML == nil && f.Text == nil {
		text := "The forwarded message is attached."
		f.Text = &text
	}
	replyTo := e.ReplyTo
	if len(replyTo) == 0 && e.From != "" {
		replyTo = []string{e.From}
	}
	for _, a := range replyTo {
		if _, ok := message.ParseAddress(a); ok {
			f.ReplyTo = append(f.ReplyTo, a)
		}
	}
	return f
}

// forwardDepth is the ForwardedHeader count of a received message (0
// without one).
func forwardDepth(hs []store.Header) int {
	for _, h := range hs {
		if strings.EqualFold(h.Name, ForwardedHeader) {
			n, err := strconv.Atoi(strings.TrimSpace(h.Value))
			if err != nil || n < 0 {
				return MaxForwards // tampered with: take no chance
			}
			return n
		}
	}
	return 0
}
