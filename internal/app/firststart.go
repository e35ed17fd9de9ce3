package app

import (
	"fmt"
	"io"
	"net"

	"github.com/godwit/godwit/internal/config"
)

// firstStart is what the first start tells about the server it just set
// up, next to its first key: where the API listens, a request that sends a
// test email, the dashboard and the rate limit.
type firstStart struct {
	cfg           config.Config
	apiAddr       net.Addr // the bound --http-addr
	dashboardAddr net.Addr // the bound --dashboard-addr, nil without one
	tls           bool     // the listeners serve HTTPS
}

// teach prints the first steps with token, the first key.
func (f firstStart) teach(w io.Writer, token string) {
	api := f.url(f.apiAddr)
	dash := api + "/dashboard/"
	if f.dashboardAddr != nil {
		dash = f.url(f.dashboardAddr) + "/dashboard/"
	}
	if f.cfg.Role == "worker" {
		fmt.Fprintf(w, "This node runs with --role worker: the API and the dashboard are served by the api nodes.\n\n")
		return
	}
	test := f.cfg.TestDomain
	fmt.Fprintf(w, "The API listens on %s. Send a test email from the test sender (simulated: stored and marked delivered, never sent out):\n\n", api)
	fmt.Fprintf(w, "    curl -sS -X POST %s/emails \\\n", api)
	fmt.Fprintf(w, "      -H 'Authorization: Bearer %s' \\\n", token)
	fmt.Fprintf(w, "      -H 'Content-Type: application/json' \\\n")
	fmt.Fprintf(w, "      -d '{\"from\":\"onboarding@%s\",\"to\":\"delivered@%s\",\"subject\":\"Hello from Godwit\",\"html\":\"<p>It works.</p>\"}'\n\n", test, test)
	fmt.Fprintf(w, "The dashboard is at %s\n", dash)
	fmt.Fprintf(w, "Each team may make %d API requests per second (--rate-limit); raise one team's limit with `godwit teams set-rate-limit --team %s --limit N` (same database flags).\n\n",
		f.cfg.RateLimit, DefaultTeam)
}

// url is the base URL of a bound listener: https with a certificate (the
// ACME domain's name when there is one), and a wildcard address as
// localhost.
func (f firstStart) url(addr net.Addr) string {
	scheme := "http"
	if f.tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	if len(f.cfg.ACMEDomains) > 0 {
		host = f.cfg.ACMEDomains[0]
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + hostOnly(host)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// hostOnly brackets an IPv6 literal for a URL without a port.
func hostOnly(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}
