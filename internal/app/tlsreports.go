package app

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tlsrpt"
)

// tlsReporting is TLS reporting (RFC 8460) on this node: the counters of
// its own TLS sessions, and the daily reports, sent by one node.
type tlsReporting struct {
	rec  *tlsrpt.Recorder
	rep  *tlsrpt.Reporter
	mail *tlsrpt.Mailer
}

// newTLSReporting is nil unless --tls-reports on and --delivery mx.
func newTLSReporting(cfg config.Config, db *sqlstore.DB, keys domains.Settings, met *metrics.Metrics, log *slog.Logger) (*tlsReporting, error) {
	if cfg.TLSReports != "on" || cfg.Delivery != "mx" {
		return nil, nil
	}
	roots, err := cfg.OutboundRootCAs()
	if err != nil {
		return nil, err
	}
	guard := netguard.Policy{AllowPrivate: cfg.AllowPrivateNetworks}
	client := guard.HTTPClient(time.Minute)
	if roots != nil {
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	org, contact, from := cfg.TLSReportsNames()
	// Reports by mail are queue jobs (enqueued with the report's claim),
	// signed with the reporting domain's DKIM key and sent through an MX
	// transport of their own.
	transport := &delivery.MXTransport{Resolver: cfg.DNSResolver, Port: cfg.MXPort, HELO: cfg.HELOName(), MaxPerHost: 2,
		Guard: guard, Logger: log, RootCAs: roots}
	return &tlsReporting{
		rec: &tlsrpt.Recorder{Store: db, Logger: log},
		rep: &tlsrpt.Reporter{Store: db, DNS: &dnscheck.Resolver{Addr: cfg.DNSResolver}, HTTP: client,
			Org: org, Contact: contact, From: from, Logger: log, Sent: met.TLSReport},
		mail: &tlsrpt.Mailer{Store: db, Keys: keys, Transport: transport, From: from, Logger: log, Sent: met.TLSReport},
	}, nil
}

// session is the transport's TLSSession hook (nil without reporting).
func (r *tlsReporting) session() func(delivery.TLSSession) {
	if r == nil {
		return nil
	}
	return func(s delivery.TLSSession) {
		r.rec.Record(s.Domain, s.PolicyType, s.PolicyString, s.MXHost, s.ResultType)
	}
}

// mailer sends the mailed reports' queue jobs (nil without reporting).
func (r *tlsReporting) mailer() *tlsrpt.Mailer {
	if r == nil {
		return nil
	}
	return r.mail
}

// services are the counters' flush loop and, on one node, the daily
// reports.
func (r *tlsReporting) services(cfg config.Config, log *slog.Logger) []Service {
	if r == nil {
		return nil
	}
	return []Service{
		Background("TLS report counters", r.rec.Run),
		Background("TLS reports", onOneNode(cfg, log, "tls reports", r.rep.Run)),
	}
}
