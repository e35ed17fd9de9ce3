package tlsrpt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
)

// Store is what the Reporter reads and claims.
type Store interface {
	TLSResults(ctx context.Context, day string) ([]store.TLSResultCount, error)
	// ClaimTLSReport claims the report of domain for day and, when this
	// call claimed it, enqueues its mails (Mailer sends them) in the same
	// transaction.
	ClaimTLSReport(ctx context.Context, domain, day string, at time.Time, mails []store.TLSReportMail) (bool, error)
	PruneTLSResults(ctx context.Context, before string) error
}

// TXTResolver looks the `_smtp._tls` records up.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Reporter sends yesterday's reports once a day (see the package doc).
type Reporter struct {
	Store Store
	DNS   TXTResolver
	// HTTP posts to https: endpoints; it should be guarded
	// (netguard.Policy.HTTPClient) and follow no redirects.
	HTTP *http.Client
	// Org is the organization-name, Contact the contact-info, From the
	// address reports are mailed from (envelope and header).
	Org, Contact, From string
	// Interval is how often the loop looks for a day to report (1 h); Keep
	// is how many days of counters are kept (30).
	Interval time.Duration
	Keep     int
	Now      func() time.Time
	Logger   *slog.Logger
	// Sent, when set, counts each https: report sent or failed (a mailto:
	// report is counted by the Mailer that sends it).
	Sent func(scheme, result string)
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run reports the previous UTC day at once and then every Interval (a day
// already reported is skipped by its claims) until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	for {
		day := r.now().UTC().AddDate(0, 0, -1)
		if err := r.SendDay(ctx, day); err != nil && ctx.Err() == nil {
			r.log().Warn("tlsrpt: daily reports failed; trying again later", "day", day.Format(DayLayout), "err", err)
		}
		keep := r.Keep
		if keep <= 0 {
			keep = 30
		}
		if err := r.Store.PruneTLSResults(ctx, r.now().UTC().AddDate(0, 0, -keep).Format(DayLayout)); err != nil && ctx.Err() == nil {
			r.log().Warn("tlsrpt: pruning old counters failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// SendDay sends the reports of day (UTC) to every domain with counters
// that publishes a TLSRPT record and whose report nobody claimed yet.
func (r *Reporter) SendDay(ctx context.Context, day time.Time) error {
	dayS := day.UTC().Format(DayLayout)
	counts, err := r.Store.TLSResults(ctx, dayS)
	if err != nil {
		return err
	}
	byDomain := map[string][]store.TLSResultCount{}
	for _, c := range counts {
		byDomain[c.Domain] = append(byDomain[c.Domain], c)
	}
	domains := make([]string, 0, len(byDomain))
	for d := range byDomain {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	var errs []error
	for _, d := range domains {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := panics.Catch(func() error { return r.sendDomain(ctx, d, day, byDomain[d]) })
		var pe *panics.Error
		if errors.As(err, &pe) {
			r.log().Error("tlsrpt: report failed", append([]any{"domain", d}, pe.LogAttrs()...)...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendDomain sends one domain's report for day.
func (r *Reporter) sendDomain(ctx context.Context, domain string, day time.Time, counts []store.TLSResultCount) error {
	dayS := day.UTC().Format(DayLayout)
	txts, err := r.DNS.LookupTXT(ctx, "_smtp._tls."+domain)
	if err != nil {
		return fmt.Errorf("tlsrpt: TXT lookup for %s: %w", domain, err)
	}
	var rec *Record
	n := 0
	for _, txt := range txts {
		p, err := ParseTXT(txt)
		if errors.Is(err, ErrNotTLSRPT) {
			continue
		}
		n++
		if err != nil {
			r.log().Info("tlsrpt: invalid TLSRPT record; no report", "domain", domain, "err", err)
			continue
		}
		rec = p
	}
	if rec == nil || n != 1 { // RFC 8460 §3: several records mean none
		return nil
	}
	reportID := fmt.Sprintf("%sT00:00:00Z_%s_%s", dayS, domain, r.Org)
	report, ok := Build(r.Org, r.Contact, reportID, domain, day, counts)
	if !ok {
		return nil
	}
	gz, err := report.Gzip()
	if err != nil {
		return err
	}
	var mails []store.TLSReportMail
	for _, u := range rec.RUA {
		if u.Scheme != "mailto" {
			continue
		}
		msg, err := r.Message(u.Opaque, report, gz)
		if err != nil {
			return err
		}
		mails = append(mails, store.TLSReportMail{Domain: domain, Day: dayS, ReportID: reportID, To: u.Opaque, Message: msg})
	}
	claimed, err := r.Store.ClaimTLSReport(ctx, domain, dayS, r.now(), mails)
	if err != nil || !claimed {
		return err
	}
	var errs []error
	for _, u := range rec.RUA {
		if u.Scheme == "mailto" {
			r.log().Info("tlsrpt: report queued", "domain", domain, "day", dayS, "rua", u.String(), "report_id", reportID,
				"policies", len(report.Policies))
			continue
		}
		err := r.post(ctx, u, gz)
		result := "sent"
		if err != nil {
			result = "failed"
			errs = append(errs, err)
			r.log().Warn("tlsrpt: report not sent", "domain", domain, "day", dayS, "rua", u.String(), "err", err)
		} else {
			r.log().Info("tlsrpt: report sent", "domain", domain, "day", dayS, "rua", u.String(), "report_id", reportID,
				"policies", len(report.Policies))
		}
		if r.Sent != nil {
			r.Sent(u.Scheme, result)
		}
	}
	return errors.Join(errs...)
}

// post sends the gzipped report to an https: endpoint (RFC 8460 §5.4).
func (r *Reporter) post(ctx context.Context, u *url.URL, gz []byte) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("tlsrpt: POST %s: %w", u.Redacted(), err)
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("tlsrpt: POST %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("tlsrpt: POST %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	return nil
}

// Message builds the report message to addr: multipart/report with
// report-type "tlsrpt", a text part and the gzipped report as an
// application/tlsrpt+gzip attachment (RFC 8460 §5.3), CRLF line endings.
func (r *Reporter) Message(addr string, report Report, gz []byte) ([]byte, error) {
	domain := report.Policies[0].Policy.Domain
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	text, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {`text/plain; charset="us-ascii"`}})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(text, "This is an aggregate TLS report (RFC 8460) from %s for %s, %s.\r\n", r.Org, domain,
		report.DateRange.Start.Format(DayLayout))
	name := fmt.Sprintf("%s!%s!%d!%d.json.gz", r.Org, domain, report.DateRange.Start.Unix(), report.DateRange.End.Unix())
	att, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/tlsrpt+gzip"},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {`attachment; filename="` + name + `"`},
	})
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		fmt.Fprintf(att, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(att, "%s\r\n", enc)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	fromDomain := r.From[strings.LastIndexByte(r.From, '@')+1:]
	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", "<" + r.From + ">"},
		{"To", "<" + addr + ">"},
		{"Date", r.now().UTC().Format(time.RFC1123Z)},
		{"Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, r.Org, report.ReportID)},
		{"Message-ID", "<tlsrpt-" + hex.EncodeToString(id[:]) + "@" + fromDomain + ">"},
		{"TLS-Report-Domain", domain},
		{"TLS-Report-Submitter", r.Org},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/report; report-type="tlsrpt"; boundary="` + mw.Boundary() + `"`},
	} {
		fmt.Fprintf(&msg, "%s: %s\r\n", h[0], h[1])
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}
