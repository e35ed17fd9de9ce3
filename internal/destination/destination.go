// Package destination groups MX hosts into the destinations that delivery
// limits and throttles (MX rollup): the MX hosts of one mailbox provider
// share one budget of connections, messages per connection and messages per
// second, as the provider counts a sender across all of its MX hosts. An MX
// host that belongs to no provider in the table is its own destination,
// named after the host. It is a leaf: internal/config validates
// --destination-limits with it and internal/delivery applies it.
package destination

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Provider is a mailbox provider recognised by the names of its MX hosts.
type Provider struct {
	Name     string   // the destination's name: "gmail", "microsoft", …
	Suffixes []string // MX host name suffixes, each matching the name itself or a subdomain of it
	Limits   Limits
}

// Limits are the limits of one destination. Zero means no limit
// for MessagesPerConn and Rate; Connections is at least 1 once resolved.
type Limits struct {
	Connections     int     // connections open at once (busy and idle), across all of its MX hosts
	MessagesPerConn int     // messages sent over one connection before it is closed; 0: unlimited
	Rate            float64 // messages per second started to the destination; 0: unlimited
}

// Providers is the MX rollup table. The limits are conservative starting
// points taken from the providers' published guidance for senders (and from
// what they accept without throttling in practice); --destination-limits
// overrides them.
var Providers = []Provider{
	{Name: "gmail", Suffixes: []string{"google.com", "googlemail.com"},
		Limits: Limits{Connections: 20, MessagesPerConn: 100}},
	{Name: "microsoft", Suffixes: []string{"protection.outlook.com", "outlook.com", "hotmail.com"},
		Limits: Limits{Connections: 10, MessagesPerConn: 100}},
	{Name: "yahoo", Suffixes: []string{"yahoodns.net", "yahoo.com", "aol.com"},
		Limits: Limits{Connections: 5, MessagesPerConn: 20}},
	{Name: "icloud", Suffixes: []string{"mail.icloud.com", "me.com"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
	{Name: "zoho", Suffixes: []string{"zoho.com", "zoho.eu", "zoho.in", "zohomail.com"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
	{Name: "fastmail", Suffixes: []string{"messagingengine.com", "fastmail.com"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
	{Name: "proton", Suffixes: []string{"protonmail.ch", "proton.me"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
	{Name: "yandex", Suffixes: []string{"yandex.net", "yandex.ru"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
	{Name: "mimecast", Suffixes: []string{"mimecast.com"},
		Limits: Limits{Connections: 10, MessagesPerConn: 50}},
	{Name: "proofpoint", Suffixes: []string{"pphosted.com", "ppe-hosted.com"},
		Limits: Limits{Connections: 10, MessagesPerConn: 50}},
	{Name: "gmx", Suffixes: []string{"gmx.net", "gmx.com", "web.de"},
		Limits: Limits{Connections: 5, MessagesPerConn: 50}},
}

// DefaultConnections is the connection limit when maxPerHost is 0 (as
// delivery.DefaultMaxPerHost).
const DefaultConnections = 20

// Other is the name under which --destination-limits sets the
// limits of every MX host that belongs to no provider (each host still has
// its own budget).
const Other = "other"

// provider returns the provider of an MX host name, nil for none.
func provider(mxHost string) *Provider {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(mxHost), "."))
	for i := range Providers {
		for _, s := range Providers[i].Suffixes {
			if h == s || strings.HasSuffix(h, "."+s) {
				return &Providers[i]
			}
		}
	}
	return nil
}

// Of returns the destination an MX host belongs to: its
// provider's name, or else the host name itself (lower case, no final dot).
func Of(mxHost string) string {
	if p := provider(mxHost); p != nil {
		return p.Name
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(mxHost), "."))
}

// Config holds the limits set per destination name (a provider's
// name or Other) by --destination-limits: each field set
// replaces the default, the others keep theirs.
type Config map[string]override

type override struct {
	connections, messages *int
	rate                  *float64
}

// For returns the limits of destination dest (Of): the
// provider's defaults (connections at most maxPerHost, the --max-per-host
// default) or, for another host, maxPerHost connections without other
// limits; then what c sets for the provider or for "other".
func (c Config) For(dest string, maxPerHost int) Limits {
	if maxPerHost <= 0 {
		maxPerHost = DefaultConnections
	}
	name := Other
	l := Limits{Connections: maxPerHost}
	if i := slices.IndexFunc(Providers, func(p Provider) bool { return p.Name == dest }); i >= 0 {
		name = dest
		l = Providers[i].Limits
		l.Connections = min(l.Connections, maxPerHost)
	}
	if o, ok := c[name]; ok {
		if o.connections != nil {
			l.Connections = *o.connections
		}
		if o.messages != nil {
			l.MessagesPerConn = *o.messages
		}
		if o.rate != nil {
			l.Rate = *o.rate
		}
	}
	l.Connections = max(l.Connections, 1)
	return l
}

// Parse parses --destination-limits: comma-separated
// entries NAME:KEY=VALUE[/KEY=VALUE…] where NAME is a provider of the MX
// rollup table or "other", and KEY is connections (≥ 1), messages (per
// connection, ≥ 0, 0 unlimited) or rate (messages per second, ≥ 0, 0
// unlimited), e.g. "gmail:connections=10/rate=20,other:connections=5".
// An empty spec sets nothing.
func Parse(spec string) (Config, error) {
	c := Config{}
	err := ParseSpec(spec, "destination limits", "gmail:connections=10/rate=20", Names(), func(name, key, val string) error {
		o := c[name]
		switch key {
		case "connections":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 10000 {
				return fmt.Errorf("connections must be an integer from 1 to 10000, got %q", val)
			}
			o.connections = &n
		case "messages":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 1000000 {
				return fmt.Errorf("messages (per connection) must be an integer from 0 (unlimited) to 1000000, got %q", val)
			}
			o.messages = &n
		case "rate":
			r, err := strconv.ParseFloat(val, 64)
			if err != nil || r < 0 || r > 100000 || math.IsNaN(r) {
				return fmt.Errorf("rate (messages per second) must be a number from 0 (unlimited) to 100000, got %q", val)
			}
			o.rate = &r
		default:
			return fmt.Errorf("unknown key %q (want connections, messages or rate)", key)
		}
		c[name] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Group is dest's provider name, or Other for the destination of an MX
// host of no provider: a label of bounded cardinality for metrics.
func Group(dest string) string {
	if slices.ContainsFunc(Providers, func(p Provider) bool { return p.Name == dest }) {
		return dest
	}
	return Other
}

// Names lists the names --destination-limits accepts.
func Names() []string {
	names := make([]string, 0, len(Providers)+1)
	for _, p := range Providers {
		names = append(names, p.Name)
	}
	return append(names, Other)
}
