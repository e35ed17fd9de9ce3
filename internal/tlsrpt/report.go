package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// DayLayout is how a UTC day is written in the counters.
const DayLayout = "2006-01-02"

// Report is the JSON report of RFC 8460 §4.4.
type Report struct {
	OrganizationName string      `json:"organization-name"`
	DateRange        DateRange   `json:"date-range"`
	ContactInfo      string      `json:"contact-info"`
	ReportID         string      `json:"report-id"`
	Policies         []PolicyRow `json:"policies"`
}

// DateRange is the day a report covers, inclusive.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyRow is the results of one policy.
type PolicyRow struct {
	Policy         Policy          `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// Policy names the policy the sessions ran under.
type Policy struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts the sessions of a policy.
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail counts one kind of failure at one MX host.
type FailureDetail struct {
	ResultType          string `json:"result-type"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
}

// Build makes the report of one domain's counters of one day: one policy
// row per (policy type, policy string), its MX hosts, totals and failures
// per result type and host. ok is false when there is nothing to report.
func Build(org, contact, reportID, domain string, day time.Time, counts []store.TLSResultCount) (Report, bool) {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	r := Report{OrganizationName: org, ContactInfo: contact, ReportID: reportID,
		DateRange: DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)}, Policies: []PolicyRow{}}
	index := map[string]int{}
	for _, c := range counts {
		if c.Domain != domain || c.Sessions <= 0 {
			continue
		}
		key := c.PolicyType + "\x00" + c.PolicyString
		i, ok := index[key]
		if !ok {
			i = len(r.Policies)
			index[key] = i
			p := Policy{Type: c.PolicyType, Domain: domain}
			if c.PolicyString != "" {
				p.String = strings.Split(c.PolicyString, "\n")
			}
			r.Policies = append(r.Policies, PolicyRow{Policy: p})
		}
		row := &r.Policies[i]
		if c.MXHost != "" && !slices.Contains(row.Policy.MXHost, c.MXHost) {
			row.Policy.MXHost = append(row.Policy.MXHost, c.MXHost)
		}
		if c.ResultType == "success" {
			row.Summary.Successful += c.Sessions
			continue
		}
		row.Summary.Failed += c.Sessions
		row.FailureDetails = append(row.FailureDetails, FailureDetail{ResultType: c.ResultType, ReceivingMXHostname: c.MXHost,
			FailedSessionCount: c.Sessions})
	}
	return r, len(r.Policies) > 0
}

// Gzip is the report as gzipped JSON (application/tlsrpt+gzip).
func (r Report) Gzip() ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: report JSON: %w", err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(js); err != nil {
		return nil, fmt.Errorf("tlsrpt: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("tlsrpt: gzip: %w", err)
	}
	return b.Bytes(), nil
}
