package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/netguard"
)

// FetchTimeout bounds one policy fetch (connect, TLS, headers and body).
const FetchTimeout = 30 * time.Second

// Cache looks MTA-STS policies up and keeps them per domain for their
// max_age, in memory. It is safe for concurrent use; a domain's TXT record
// is looked up on every Lookup (the id says whether the policy changed),
// its policy file only when needed.
type Cache struct {
	// Resolver asks the `_mta-sts` TXT records and resolves the
	// mta-sts.<domain> host name ("host:port"; "" is the system's).
	Resolver string
	// DNSCache, when set, keeps the TXT answers for their TTL (nil asks
	// on every Lookup).
	DNSCache *dnscheck.Cache
	// Guard is applied to the address the policy is fetched from.
	Guard netguard.Policy
	// RootCAs verifies the policy host's certificate; nil is the system's.
	RootCAs *x509.CertPool
	// Port is the HTTPS port; 0 means 443 (tests use another).
	Port int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger receives every policy fetched, changed or failing; nil
	// discards.
	Logger *slog.Logger
	// Fetched, when set, is called with the outcome of each fetch:
	// "ok", "error" (for a metric).
	Fetched func(outcome string)

	once   sync.Once
	client *http.Client
	mu     sync.Mutex
	byDom  map[string]*entry
}

type entry struct {
	policy  *Policy
	expires time.Time
}

func (c *Cache) init() {
	c.once.Do(func() {
		c.byDom = map[string]*entry{}
		client := c.Guard.HTTPClient(FetchTimeout)
		tr := client.Transport.(*http.Transport)
		d := c.Guard.Dialer(FetchTimeout)
		if c.Resolver != "" {
			addr := c.Resolver
			d.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var nd net.Dialer
				return nd.DialContext(ctx, network, addr)
			}}
		}
		tr.DialContext = d.DialContext
		tr.TLSClientConfig = &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
		tr.ForceAttemptHTTP2 = false
		// RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed".
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		c.client = client
	})
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Lookup returns the policy that applies to mail for domain, or nil when
// there is none (no `_mta-sts` record and nothing cached, or a policy that
// cannot be fetched or parsed and nothing cached). The error is nil
// whenever a decision was reached; it only explains a nil policy
// (for the log), never asks the caller to defer.
func (c *Cache) Lookup(ctx context.Context, domain string) (*Policy, error) {
	c.init()
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := c.now()

	c.mu.Lock()
	cached := c.byDom[domain]
	if cached != nil && !now.Before(cached.expires) {
		delete(c.byDom, domain)
		cached = nil
	}
	c.mu.Unlock()

	res := &dnscheck.Resolver{Addr: c.Resolver, Cache: c.DNSCache}
	txts, err := res.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		if cached != nil {
			return cached.policy, nil
		}
		return nil, fmt.Errorf("mta-sts: TXT lookup for %s: %w", domain, err)
	}
	var ids []string
	for _, txt := range txts {
		if !strings.HasPrefix(txt, "v=STSv1") {
			continue
		}
		id, err := ParseTXT(txt)
		if err != nil {
			ids = append(ids, "") // a broken record counts: several records mean no policy
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] == "" {
		if cached != nil { // §5.1: a cached policy outlives a vanished record
			return cached.policy, nil
		}
		if len(ids) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("mta-sts: %s publishes %d STSv1 TXT records or an invalid one", domain, len(ids))
	}
	id := ids[0]
	if cached != nil && cached.policy.ID == id {
		return cached.policy, nil
	}

	p, err := c.fetch(ctx, domain)
	if err != nil {
		c.logger().Warn("mta-sts: policy fetch failed", "domain", domain, "id", id, "err", err)
		if c.Fetched != nil {
			c.Fetched("error")
		}
		if cached != nil {
			return cached.policy, nil
		}
		return nil, err
	}
	if c.Fetched != nil {
		c.Fetched("ok")
	}
	p.ID = id
	c.mu.Lock()
	c.byDom[domain] = &entry{policy: p, expires: now.Add(p.MaxAge)}
	c.mu.Unlock()
	c.logger().Info("mta-sts: policy cached", "domain", domain, "id", id, "mode", string(p.Mode),
		"mx", strings.Join(p.MX, ","), "max_age", p.MaxAge.String())
	return p, nil
}

// fetch gets and parses https://mta-sts.<domain>/.well-known/mta-sts.txt.
func (c *Cache) fetch(ctx context.Context, domain string) (*Policy, error) {
	host := "mta-sts." + domain
	if c.Port != 0 && c.Port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return nil, fmt.Errorf("mta-sts: policy request for %s: %w", domain, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mta-sts: policy fetch for %s: %w", domain, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mta-sts: policy fetch for %s: HTTP %d", domain, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("mta-sts: policy for %s served as %q, not text/plain", domain, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("mta-sts: policy fetch for %s: body: %w", domain, err)
	}
	p, err := Parse(body)
	if err != nil {
		return nil, fmt.Errorf("mta-sts: policy for %s: %w", domain, err)
	}
	return p, nil
}
