package queue

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tlsrpt"
)

// TLSReportMailArgs is the job that mails one TLS report (RFC 8460) to one
// mailto: rua: the message is in the job, built and unsigned; the worker
// signs it with the reporting domain's DKIM key and sends it. It is
// enqueued with the report's claim (sqlstore.ClaimTLSReport), so a claimed
// report is mailed or given up, never dropped.
type TLSReportMailArgs struct {
	Domain   string `json:"domain"`
	Day      string `json:"day"`
	ReportID string `json:"report_id"`
	To       string `json:"to"`
	Message  []byte `json:"message"`
}

// Kind implements river.JobArgs.
func (TLSReportMailArgs) Kind() string { return "tls_report_mail" }

const tlsReportQueue = "tls_report"

// tlsReportMaxAttempts bounds the tries of a report mail: with
// tlsReportRetry's delays, about a day of retries, after which the next
// day's report is due anyway.
const tlsReportMaxAttempts = 30

// tlsReportRetry is the wait before the next try after attempt: one
// minute doubling up to an hour.
func tlsReportRetry(attempt int) time.Duration {
	d := time.Minute
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// MailTLSReports implements sqlstore.Outbox.
func (o *Outbox) MailTLSReports(ctx context.Context, tx *sql.Tx, mails []store.TLSReportMail) error {
	params := make([]river.InsertManyParams, len(mails))
	for i, m := range mails {
		params[i] = river.InsertManyParams{Args: TLSReportMailArgs{Domain: m.Domain, Day: m.Day, ReportID: m.ReportID, To: m.To,
			Message: m.Message}, InsertOpts: &river.InsertOpts{Queue: tlsReportQueue, MaxAttempts: tlsReportMaxAttempts}}
	}
	return o.insert(ctx, tx, params)
}

type tlsReportWorker struct {
	river.WorkerDefaults[TLSReportMailArgs]
	m *tlsrpt.Mailer
	q *Queue
}

// Work makes one try. A temporary failure fails the job, which River runs
// again after NextRetry; a permanent one (or the last try's) cancels it.
func (tw *tlsReportWorker) Work(ctx context.Context, job *river.Job[TLSReportMailArgs]) error {
	a := job.Args
	err := tw.q.untilPanic("tls report mail", "report_id", a.ReportID, func() error {
		return tw.m.Send(ctx, store.TLSReportMail{Domain: a.Domain, Day: a.Day, ReportID: a.ReportID, To: a.To, Message: a.Message},
			job.Attempt, job.Attempt >= job.MaxAttempts)
	})
	if _, ok := errors.AsType[*tlsrpt.PermanentError](err); ok {
		return river.JobCancel(err)
	}
	return err // the Mailer has logged and counted the try
}

// NextRetry implements river.Worker: tlsReportRetry after the try (on the
// queue's clock, which wrote AttemptedAt).
func (tw *tlsReportWorker) NextRetry(job *river.Job[TLSReportMailArgs]) time.Time {
	at := time.Now()
	if job.AttemptedAt != nil {
		at = *job.AttemptedAt
	}
	return at.Add(tlsReportRetry(job.Attempt))
}
