package delivery

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/bounce"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// A refusal of each bounce class, as a real provider words it, sent by the
// loopback MX at RCPT TO or at DATA.
var refusals = []struct {
	rcpt     string
	atData   bool
	reply    *smtp.SMTPError
	typ      bounce.Type
	sub      bounce.SubType
	suppress bool
}{
	{"gmail-nosuchuser@example.test", false, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "5.1.1 The email account that you tried to reach does not exist. Please try\n5.1.1 double-checking the recipient's email address for typos or\n5.1.1 unnecessary spaces. - gsmtp"},
		bounce.Permanent, bounce.NoEmail, true},
	{"gmail-disabled@example.test", false, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1},
		Message: "The email account that you tried to reach is disabled. - gsmtp"},
		bounce.Permanent, bounce.NoEmail, true},
	{"outlook-unavailable@example.test", false, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 0},
		Message: "Requested action not taken: mailbox unavailable (S2017062302)."},
		bounce.Permanent, bounce.NoEmail, true},
	{"m365-dbeb@example.test", false, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 4, 1},
		Message: "Recipient address rejected: Access denied. AS(201806281)"},
		bounce.Permanent, bounce.NoEmail, true},
	{"yahoo-noaccount@example.test", false, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.NoEnhancedCode,
		Message: "delivery error: dd This user doesn't have a yahoo.com account (yahoo-noaccount@example.test) [0]"},
		bounce.Permanent, bounce.NoEmail, true},
	{"gmail-overquota@example.test", false, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2},
		Message: "The email account that you tried to reach is over quota. - gsmtp"},
		bounce.Transient, bounce.MailboxFull, false},
	{"spamhaus@example.test", false, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org"},
		bounce.Permanent, bounce.General, false},
	{"dmarc@example.test", false, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 26},
		Message: "Unauthenticated email from example.com is not accepted due to domain's DMARC policy."},
		bounce.Permanent, bounce.General, false},
	{"spam@example.test", true, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message rejected as spam by Content Filtering."},
		bounce.Transient, bounce.ContentRejected, false},
	{"attachment@example.test", true, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message rejected: attachment with a forbidden file extension (.exe)"},
		bounce.Transient, bounce.AttachmentRejected, false},
	{"toolarge@example.test", true, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message size exceeds fixed maximum message size"},
		bounce.Transient, bounce.MessageTooLarge, false},
}

// TestWorkerBounceClasses: a loopback MX refuses with each class; the
// email bounces with Resend's type and subType and the server's reply as
// diagnosticCode, and only a permanent recipient failure puts the address
// on the suppression list: the next email to it is suppressed without an
// attempt, while after a block, a full mailbox or a content refusal it is
// tried again.
func TestWorkerBounceClasses(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		var logs godwittest.LogBuffer
		e.w.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		reg := prometheus.NewRegistry()
		e.w.Metrics = metrics.New(reg)
		ctx := context.Background()
		for _, tc := range refusals {
			if tc.atData {
				e.mx.setDataReply(tc.rcpt, tc.reply)
			} else {
				e.mx.setReply(tc.rcpt, tc.reply)
			}
		}
		for _, tc := range refusals {
			em := e.accept(`{"from":"hello@example.com","to":"` + tc.rcpt + `","subject":"s","text":"t"}`)
			require.NoError(t, e.deliver(em, nil, 1), tc.rcpt)
			require.Equal(t, store.EventBounced, e.lastEvent(em), tc.rcpt)
			b := e.event(em, "bounced")["bounce"].(map[string]any)
			require.Equal(t, string(tc.typ), b["type"], tc.rcpt)
			require.Equal(t, string(tc.sub), b["subType"], tc.rcpt)
			require.Equal(t, bounce.Message(bounce.Class{Type: tc.typ, SubType: tc.sub}), b["message"], tc.rcpt)
			diag := b["diagnosticCode"].([]any)
			require.Len(t, diag, 1)
			require.True(t, strings.HasPrefix(diag[0].(string), "smtp; "+strconv.Itoa(tc.reply.Code)), "%s: %v", tc.rcpt, diag)

			suppressed, err := e.db.SuppressedAmong(ctx, e.team.ID, []string{tc.rcpt})
			require.NoError(t, err)
			require.Equal(t, tc.suppress, suppressed[tc.rcpt], "%s suppressed", tc.rcpt)

			before := e.mx.Attempts(tc.rcpt)
			again := e.accept(`{"from":"hello@example.com","to":"` + tc.rcpt + `","subject":"s","text":"t"}`)
			require.NoError(t, e.deliver(again, nil, 1), tc.rcpt)
			if tc.suppress {
				require.Equal(t, store.EventSuppressed, e.lastEvent(again), tc.rcpt)
				require.Equal(t, before, e.mx.Attempts(tc.rcpt), "%s: no attempt after suppression", tc.rcpt)
			} else {
				require.Equal(t, store.EventBounced, e.lastEvent(again), tc.rcpt)
				require.Equal(t, before+1, e.mx.Attempts(tc.rcpt), "%s: tried again", tc.rcpt)
			}
		}

		// Each bounce is logged with its class and counted by it.
		want := map[[3]string]int{}
		for _, tc := range refusals {
			key := [3]string{string(tc.typ), string(tc.sub), strconv.FormatBool(tc.suppress)}
			want[key]++
			if !tc.suppress {
				want[key]++ // the second email bounced too
			}
		}
		got := map[[3]string]int{}
		for _, rec := range logs.Records(t, "email bounced") {
			got[[3]string{rec["bounce_type"].(string), rec["bounce_sub_type"].(string), strconv.FormatBool(rec["suppressed"].(bool))}]++
		}
		require.Equal(t, want, got)
		families, err := reg.Gather()
		require.NoError(t, err)
		counted := map[[3]string]int{}
		for _, f := range families {
			if f.GetName() != "godwit_bounces_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				counted[[3]string{l["type"], l["sub_type"], l["suppressed"]}] = int(m.GetCounter().GetValue())
			}
		}
		require.Equal(t, want, counted)
	})
}

// TestWorkerBouncesOfOneEmailKeepEachDetail: two recipients of one email
// refused for different reasons get a bounced event each, with their own
// detail; only the unknown one is suppressed.
func TestWorkerBouncesOfOneEmailKeepEachDetail(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.mx.setReply("gone@example.test", refusals[0].reply)
		e.mx.setReply("full@example.test", refusals[5].reply)
		em := e.accept(`{"from":"hello@example.com","to":["gone@example.test","full@example.test"],"subject":"s","text":"t"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, []string{"queued", "sent", "bounced", "bounced"}, e.events(em))
		evs, err := e.db.ListEmailEvents(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		got := map[string]string{}
		for _, ev := range evs {
			if ev.Type != store.EventBounced {
				continue
			}
			s := string(ev.Data)
			switch {
			case strings.Contains(s, `"to":["gone@example.test"]`):
				got["gone"] = s
			case strings.Contains(s, `"to":["full@example.test"]`):
				got["full"] = s
			}
		}
		require.Contains(t, got["gone"], `"subType":"NoEmail"`)
		require.Contains(t, got["full"], `"subType":"MailboxFull"`)
		suppressed, err := e.db.SuppressedAmong(context.Background(), e.team.ID, []string{"gone@example.test", "full@example.test"})
		require.NoError(t, err)
		require.True(t, suppressed["gone@example.test"])
		require.False(t, suppressed["full@example.test"])
	})
}
