// Command deliver measures accepted → delivered: it hands emails to a mail
// server (Godwit over its HTTP API, or any MTA such as Postfix over SMTP) and
// waits until bench/sink has received them.
//
// Modes:
//
//	setup      create the sending domain on Godwit, publish its records in the
//	           sink's DNS server, verify it and wait until it is verified
//	api        send -count emails with -clients concurrent POST /emails (or
//	           /emails/batch with -batch N) and wait for the sink to receive them
//	idle       send -count emails one at a time, each after the previous one
//	           was delivered and a short pause; report accept → first delivery
//	           attempt (Godwit's queued and sent events) and accept → received
//	smtp       feed -count messages over SMTP with -clients connections to
//	           -smtp (e.g. Postfix on 127.0.0.1:25) and wait for the sink
//	smtp-idle  the idle measurement over SMTP
//
// It is a benchmarking tool: every address it talks to must be on loopback.
//
//	go run ./bench/deliver -mode api -url http://127.0.0.1:8080 -key "$KEY" -sink http://127.0.0.1:8025 -count 20000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/bench/internal/emailgen"
)

const (
	requestTimeout   = 60 * time.Second
	maxResponseBytes = 4 << 20
	maxErrorKinds    = 5
	subjectDigits    = 10
)

type options struct {
	mode        string
	url         string
	key         string
	sink        string
	smtpAddr    string
	domain      string
	to          string
	count       int
	clients     int
	batch       int
	size        int
	gap         time.Duration
	message     string
	waitTimeout time.Duration
	stall       time.Duration
	label       string
	json        bool
	watch       watchList
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "api", "setup, api, idle, smtp or smtp-idle")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "Godwit's base URL (loopback only)")
	flag.StringVar(&o.key, "key", "", "Godwit API key, full access (if empty: $GODWIT_BENCH_KEY)")
	flag.StringVar(&o.sink, "sink", "http://127.0.0.1:8025", "bench/sink's HTTP control URL (loopback only)")
	flag.StringVar(&o.smtpAddr, "smtp", "127.0.0.1:25", "smtp modes: the MTA to feed (loopback only)")
	flag.StringVar(&o.domain, "domain", "bench.test", "sending domain; emails come from app@<domain>")
	flag.StringVar(&o.to, "to", "user@sink.test", "recipient (its domain must not be Godwit's test domain)")
	flag.IntVar(&o.count, "count", 20000, "emails to send (idle modes: sequential sends)")
	flag.IntVar(&o.clients, "clients", 16, "concurrent HTTP clients or SMTP connections")
	flag.IntVar(&o.batch, "batch", 0, "api: 0 for POST /emails, N for POST /emails/batch with N emails a request")
	flag.IntVar(&o.size, "size", 10240, "approximate size of the HTML body in bytes")
	flag.DurationVar(&o.gap, "gap", 50*time.Millisecond, "idle modes: mean pause between one delivery and the next send (jittered ±50%)")
	flag.StringVar(&o.message, "message", "", "smtp modes: raw message file to send (DKIM-Signature headers are removed); default: one built from the same HTML")
	flag.DurationVar(&o.waitTimeout, "wait-timeout", 15*time.Minute, "give up waiting for deliveries after this long")
	flag.DurationVar(&o.stall, "stall", 60*time.Second, "give up when the sink received nothing new for this long")
	flag.StringVar(&o.label, "label", "", "label printed with the results")
	flag.BoolVar(&o.json, "json", false, "also print the result as one JSON line")
	flag.Var(&o.watch, "watch", "name=PID, name=tree:PID (the process and its descendants) or name=comm:NAME+NAME… (by process name): report the CPU they use during the run (repeatable)")
	flag.Parse()
	if o.key == "" {
		o.key = os.Getenv("GODWIT_BENCH_KEY") // not a flag default: -h would print it
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "deliver:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	switch {
	case o.count < 1 || o.count > 10_000_000:
		return fmt.Errorf("-count must be in [1, 1e7]")
	case o.clients < 1 || o.clients > 1000:
		return fmt.Errorf("-clients must be in [1, 1000]")
	case o.batch < 0 || o.batch > 100:
		return fmt.Errorf("-batch must be in [0, 100]")
	case o.size < 0 || o.size > 10<<20:
		return fmt.Errorf("-size must be in [0, 10MiB]")
	case !strings.Contains(o.to, "@"):
		return fmt.Errorf("-to must be an address")
	}
	b := &bench{o: o, http: newHTTPClient(o.clients)}
	var err error
	if b.sink, err = loopbackURL("-sink", o.sink); err != nil {
		return err
	}
	switch o.mode {
	case "setup", "api", "idle":
		if b.api, err = loopbackURL("-url", o.url); err != nil {
			return err
		}
		if o.key == "" {
			return errors.New("-key (or $GODWIT_BENCH_KEY) is required")
		}
	case "smtp", "smtp-idle":
		if err := checkLoopbackHostPort("-smtp", o.smtpAddr); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	switch o.mode {
	case "setup":
		return b.setup()
	case "api":
		return b.throughput(b.sendAPI)
	case "idle":
		return b.idleAPI()
	case "smtp":
		return b.throughput(b.sendSMTP)
	default:
		return b.idleSMTP()
	}
}

type bench struct {
	o    options
	http *http.Client
	api  string // base URL, no trailing slash
	sink string
}

// ---------------------------------------------------------------------------
// Loopback only

func loopbackURL(flagName, raw string) (string, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("%s: scheme must be http (loopback), got %q", flagName, u.Scheme)
	}
	if !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("%s: %q is not a loopback address; this tool only targets loopback", flagName, u.Hostname())
	}
	return u.String(), nil
}

func checkLoopbackHostPort(flagName, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %w", flagName, err)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("%s: %q is not a loopback address; this tool only targets loopback", flagName, host)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 4,
		MaxIdleConnsPerHost: conns + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// call does one JSON request; out may be nil. It returns the status code;
// a non-2xx status is an error carrying the body.
func (b *bench) call(ctx context.Context, method, u, key string, body io.Reader, length int64, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 500)]))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, u, err)
		}
	}
	return resp.StatusCode, nil
}

func (b *bench) apiCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	var n int64
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, n = bytes.NewReader(data), int64(len(data))
	}
	_, err := b.call(ctx, method, b.api+path, b.o.key, body, n, out)
	return err
}

func (b *bench) sinkCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	var n int64
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, n = bytes.NewReader(data), int64(len(data))
	}
	_, err := b.call(ctx, method, b.sink+path, "", body, n, out)
	return err
}

// ---------------------------------------------------------------------------
// setup: a verified sending domain

type domainRecord struct {
	Record   string `json:"record"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Value    string `json:"value"`
	Priority *int   `json:"priority"`
}

type domainObject struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Status  string         `json:"status"`
	Records []domainRecord `json:"records"`
}

type sinkRecord struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	Priority int    `json:"priority"`
}

func (b *bench) setup() error {
	ctx := context.Background()
	var d domainObject
	if err := b.apiCall(ctx, http.MethodPost, "/domains", map[string]string{"name": b.o.domain}, &d); err != nil {
		// Already there (a store reused from an earlier run)?
		var list struct {
			Data []domainObject `json:"data"`
		}
		if lerr := b.apiCall(ctx, http.MethodGet, "/domains", nil, &list); lerr != nil {
			return err
		}
		i := slices.IndexFunc(list.Data, func(x domainObject) bool { return strings.EqualFold(x.Name, b.o.domain) })
		if i < 0 {
			return err
		}
		d = list.Data[i]
	}
	if len(d.Records) == 0 {
		if err := b.apiCall(ctx, http.MethodGet, "/domains/"+d.ID, nil, &d); err != nil {
			return err
		}
	}
	var recs []sinkRecord
	for _, r := range d.Records {
		sr := sinkRecord{Name: r.Name + "." + b.o.domain, Type: r.Type, Value: r.Value}
		if r.Priority != nil {
			sr.Priority = *r.Priority
		}
		recs = append(recs, sr)
	}
	if err := b.sinkCall(ctx, http.MethodPut, "/dns", recs, nil); err != nil {
		return fmt.Errorf("publish the records in the sink's DNS: %w", err)
	}
	if err := b.apiCall(ctx, http.MethodPost, "/domains/"+d.ID+"/verify", nil, nil); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := b.apiCall(ctx, http.MethodGet, "/domains/"+d.ID, nil, &d); err != nil {
			return err
		}
		if d.Status == "verified" {
			fmt.Printf("domain %s (%s) verified; %d records published\n", d.Name, d.ID, len(recs))
			return nil
		}
		if time.Now().After(deadline) {
			var st []string
			for _, r := range d.Records {
				st = append(st, r.Type+" "+r.Name+"="+r.Status)
			}
			return fmt.Errorf("domain %s is still %q after 2m: %s", d.Name, d.Status, strings.Join(st, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Godwit's send requests

// sendBody builds the JSON of one send request (an array for batches) with
// a unique subject per email. The HTML is encoded once.
type sendBody struct {
	head, tail []byte
}

func newSendBody(from, to string, size int) (*sendBody, error) {
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(emailgen.HTML(size)); err != nil {
		return nil, err
	}
	fromJSON, _ := json.Marshal("Bench <" + from + ">")
	toJSON, _ := json.Marshal([]string{to})
	head := fmt.Appendf(nil, `{"from":%s,"to":%s,"subject":"bench `, fromJSON, toJSON)
	tail := slices.Concat([]byte(`","html":`), bytes.TrimSpace(hb.Bytes()), []byte(`,"tags":[{"name":"run","value":"bench"}]}`))
	s := &sendBody{head: head, tail: tail}
	var probe map[string]any
	if err := json.Unmarshal(s.build(1, 0, false), &probe); err != nil {
		return nil, fmt.Errorf("internal error: generated body is not valid JSON: %w", err)
	}
	return s, nil
}

func (s *sendBody) build(n int, first uint64, batch bool) []byte {
	out := make([]byte, 0, n*(len(s.head)+len(s.tail)+subjectDigits+1)+2)
	if batch {
		out = append(out, '[')
	}
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, s.head...)
		out = fmt.Appendf(out, "%0*d", subjectDigits, first+uint64(i))
		out = append(out, s.tail...)
	}
	if batch {
		out = append(out, ']')
	}
	return out
}

func (b *bench) from() string { return "app@" + b.o.domain }

// ---------------------------------------------------------------------------
// Throughput: hand over count emails, wait until the sink has them all

// sendResult is what the sending side of a throughput run reports.
type sendResult struct {
	accepted  int64
	requests  int64
	errors    map[string]int64 // by HTTP status or SMTP reply / transport error
	bodyBytes int
	latency   durations // per request (HTTP) or message (SMTP), until the answer
}

type sender func(ctx context.Context) (*sendResult, error)

func (b *bench) throughput(send sender) error {
	ctx := context.Background()
	if err := b.sinkCall(ctx, http.MethodPost, "/reset", nil, nil); err != nil {
		return fmt.Errorf("reset the sink: %w", err)
	}
	cpu0, err := b.o.watch.sample()
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := send(ctx)
	if err != nil {
		return err
	}
	acceptSecs := time.Since(start).Seconds()

	// Wait for the sink.
	var st sinkStats
	deadline := start.Add(b.o.waitTimeout)
	lastProgress, lastN := time.Now(), int64(-1)
	for {
		if err := b.sinkCall(ctx, http.MethodGet, "/stats", nil, &st); err != nil {
			return err
		}
		if st.Messages >= res.accepted {
			break
		}
		if st.Messages != lastN {
			lastN, lastProgress = st.Messages, time.Now()
		}
		if time.Since(lastProgress) > b.o.stall || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, err := b.o.watch.sample()
	if err != nil {
		return err
	}
	// Let the DKIM verifier finish its sample.
	for range 100 {
		d := st.DKIM
		if d.Pass+d.Fail+d.Unsigned+d.Skipped >= d.Sampled {
			break
		}
		time.Sleep(50 * time.Millisecond)
		if err := b.sinkCall(ctx, http.MethodGet, "/stats", nil, &st); err != nil {
			return err
		}
	}

	r := map[string]any{
		"label": b.o.label, "mode": b.o.mode, "count": b.o.count, "clients": b.o.clients, "batch": b.o.batch,
		"size": b.o.size, "body_bytes": res.bodyBytes, "requests": res.requests,
		"accepted": res.accepted, "accepted_per_sec": float64(res.accepted) / acceptSecs, "accept_secs": acceptSecs,
		"delivered": st.Messages, "errors": res.errors, "dkim": st.DKIM, "accept_latency": res.latency.summary(),
	}
	var deliverSecs float64
	if st.Messages > 0 {
		deliverSecs = float64(st.LastAt-start.UnixNano()) / 1e9
		r["deliver_secs"] = deliverSecs
		r["delivered_per_sec"] = float64(st.Messages) / deliverSecs
		r["sink_per_sec"] = st.PerSec
		r["msg_bytes"] = st.Bytes / st.Messages
		r["first_delivery_secs"] = float64(st.FirstAt-start.UnixNano()) / 1e9
	}
	cpu := b.o.watch.usage(cpu0, cpu1)
	r["cpu"] = cpu

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "mode=%s label=%q count=%d clients=%d batch=%d size=%d body=%dB msg_bytes=%v\n",
		b.o.mode, b.o.label, b.o.count, b.o.clients, b.o.batch, b.o.size, res.bodyBytes, r["msg_bytes"])
	fmt.Fprintf(w, "delivered/s=%.1f accepted/s=%.1f delivered=%d accepted=%d deliver_secs=%.2f accept_secs=%.2f first_delivery_secs=%.3f sink_rate=%.1f errors=%d\n",
		f(r["delivered_per_sec"]), f(r["accepted_per_sec"]), st.Messages, res.accepted, deliverSecs, acceptSecs,
		f(r["first_delivery_secs"]), st.PerSec, sum(res.errors))
	fmt.Fprintf(w, "accept latency (per request, until the answer): %s\n", res.latency)
	for k, v := range res.errors {
		fmt.Fprintf(w, "  error x%d: %s\n", v, k)
	}
	fmt.Fprintf(w, "cpu (%% of one core, over %.1fs): %s\n", cpu.Secs, cpu)
	fmt.Fprintf(w, "dkim (sink verifies 1 message in %d): sampled=%d pass=%d fail=%d unsigned=%d skipped_busy=%d\n",
		st.DKIM.Every, st.DKIM.Sampled, st.DKIM.Pass, st.DKIM.Fail, st.DKIM.Unsigned, st.DKIM.Skipped)
	for k, v := range st.DKIM.Errors {
		fmt.Fprintf(w, "  dkim error x%d: %s\n", v, k)
	}
	if b.o.json {
		line, _ := json.Marshal(r)
		fmt.Fprintln(w, string(line))
	}
	if st.Messages < res.accepted {
		w.Flush()
		return fmt.Errorf("the sink received %d of %d accepted emails before giving up", st.Messages, res.accepted)
	}
	if res.accepted == 0 {
		w.Flush()
		return errors.New("no email was accepted")
	}
	return nil
}

func f(v any) float64 {
	x, _ := v.(float64)
	return x
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

type sinkStats struct {
	Messages int64   `json:"messages"`
	Bytes    int64   `json:"bytes"`
	FirstAt  int64   `json:"first_at_ns"`
	LastAt   int64   `json:"last_at_ns"`
	PerSec   float64 `json:"delivered_per_sec"`
	DKIM     struct {
		Every    int              `json:"every"`
		Sampled  int64            `json:"sampled"`
		Pass     int64            `json:"pass"`
		Fail     int64            `json:"fail"`
		Unsigned int64            `json:"unsigned"`
		Skipped  int64            `json:"skipped_busy"`
		Errors   map[string]int64 `json:"errors"`
	} `json:"dkim"`
}

// errorCounter gathers errors from concurrent senders, keeping a few kinds.
type errorCounter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *errorCounter) add(kind string, n int64) {
	if len(kind) > 200 {
		kind = kind[:200]
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	if _, ok := e.m[kind]; !ok && len(e.m) >= maxErrorKinds {
		kind = "(other)"
	}
	e.m[kind] += n
}

// sendAPI posts count emails with clients concurrent clients.
func (b *bench) sendAPI(ctx context.Context) (*sendResult, error) {
	body, err := newSendBody(b.from(), b.o.to, b.o.size)
	if err != nil {
		return nil, err
	}
	per := max(b.o.batch, 1)
	path := "/emails"
	if b.o.batch > 0 {
		path = "/emails/batch"
	}
	var next, accepted, requests atomic.Int64
	var errs errorCounter
	var wg sync.WaitGroup
	lat := make([]durations, b.o.clients)
	for c := range b.o.clients {
		wg.Go(func() {
			for {
				first := next.Add(int64(per)) - int64(per)
				if first >= int64(b.o.count) {
					return
				}
				n := int(min(int64(per), int64(b.o.count)-first))
				data := body.build(n, uint64(first), b.o.batch > 0)
				var out struct {
					ID   string `json:"id"`
					Data []struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				requests.Add(1)
				t0 := time.Now()
				status, err := b.call(ctx, http.MethodPost, b.api+path, b.o.key, bytes.NewReader(data), int64(len(data)), &out)
				lat[c] = append(lat[c], time.Since(t0))
				switch {
				case err != nil && status != 0:
					errs.add("HTTP "+strconv.Itoa(status), int64(n))
				case err != nil:
					errs.add(err.Error(), int64(n))
					time.Sleep(10 * time.Millisecond)
				case b.o.batch > 0:
					accepted.Add(int64(len(out.Data)))
				case out.ID != "":
					accepted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return &sendResult{accepted: accepted.Load(), requests: requests.Load(), errors: errs.m,
		bodyBytes: len(body.build(per, 0, b.o.batch > 0)), latency: slices.Concat(lat...)}, nil
}

// ---------------------------------------------------------------------------
// SMTP feeding

// smtpMessage is a raw message with its Message-ID header replaced per send.
type smtpMessage struct {
	head []byte // header fields before the Message-ID
	tail []byte // the rest of the header and the body
}

func (b *bench) loadMessage() (*smtpMessage, error) {
	var raw []byte
	if b.o.message != "" {
		data, err := os.ReadFile(b.o.message)
		if err != nil {
			return nil, err
		}
		raw = data
	} else {
		raw = buildMessage(b.from(), b.o.to, emailgen.HTML(b.o.size))
	}
	return splitMessage(raw)
}

// buildMessage writes a plain text/html message, quoted-printable.
func buildMessage(from, to, html string) []byte {
	var m bytes.Buffer
	fmt.Fprintf(&m, "From: Bench <%s>\r\nTo: %s\r\nSubject: bench\r\nDate: %s\r\nMessage-ID: <x@x>\r\nMIME-Version: 1.0\r\n",
		from, to, time.Now().UTC().Format(time.RFC1123Z))
	m.WriteString("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	m.Write(quotedPrintable(html))
	return m.Bytes()
}

func quotedPrintable(s string) []byte {
	var out bytes.Buffer
	line := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var enc string
		switch {
		case c == '\n':
			out.WriteString("\r\n")
			line = 0
			continue
		case c == '=' || c < ' ' || c > '~':
			enc = fmt.Sprintf("=%02X", c)
		default:
			enc = string(c)
		}
		if line+len(enc) > 75 {
			out.WriteString("=\r\n")
			line = 0
		}
		out.WriteString(enc)
		line += len(enc)
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// splitMessage normalises line endings to CRLF, removes DKIM-Signature
// fields (an MTA feeding Postfix does not sign; only Godwit's run is signed)
// and cuts the message around its Message-ID field.
func splitMessage(raw []byte) (*smtpMessage, error) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("message has no header/body separator")
	}
	header, body := raw[:end+2], raw[end+2:]
	var fields [][]byte
	for len(header) > 0 {
		i := bytes.Index(header, []byte("\r\n"))
		line := header[:i+2]
		header = header[i+2:]
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
			continue
		}
		fields = append(fields, slices.Clone(line))
	}
	m := &smtpMessage{}
	seen := false
	for _, fl := range fields {
		name, _, _ := bytes.Cut(fl, []byte(":"))
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("DKIM-Signature")):
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Message-ID")):
			seen = true
		case seen:
			m.tail = append(m.tail, fl...)
		default:
			m.head = append(m.head, fl...)
		}
	}
	m.tail = append(m.tail, body...)
	return m, nil
}

func (m *smtpMessage) write(w io.Writer, id string) error {
	if _, err := w.Write(m.head); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "Message-ID: <"+id+">\r\n"); err != nil {
		return err
	}
	_, err := w.Write(m.tail)
	return err
}

// smtpConn is one connection to the MTA, reused for every message.
type smtpConn struct {
	addr string
	c    *smtp.Client
}

func (s *smtpConn) send(from, to string, m *smtpMessage, id string) error {
	if s.c == nil {
		c, err := smtp.Dial(s.addr)
		if err != nil {
			return err
		}
		if err := c.Hello("feeder.bench.test"); err != nil {
			c.Close()
			return err
		}
		s.c = c
	}
	err := func() error {
		if err := s.c.Mail(from, nil); err != nil {
			return err
		}
		if err := s.c.Rcpt(to, nil); err != nil {
			return err
		}
		w, err := s.c.Data()
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(w, 32<<10)
		if err := m.write(bw, id); err != nil {
			w.Close()
			return err
		}
		if err := bw.Flush(); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}()
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			_ = s.c.Reset()
		} else {
			s.c.Close()
			s.c = nil
		}
	}
	return err
}

func (s *smtpConn) close() {
	if s.c != nil {
		_ = s.c.Quit()
		s.c.Close()
	}
}

func (b *bench) smtpFrom() string { return "bounces@" + b.o.domain }

func (b *bench) sendSMTP(context.Context) (*sendResult, error) {
	m, err := b.loadMessage()
	if err != nil {
		return nil, err
	}
	run := rand.Uint32()
	var next, accepted atomic.Int64
	var errs errorCounter
	var wg sync.WaitGroup
	lat := make([]durations, b.o.clients)
	for k := range b.o.clients {
		wg.Go(func() {
			c := &smtpConn{addr: b.o.smtpAddr}
			defer c.close()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.o.count) {
					return
				}
				id := fmt.Sprintf("bench-%08x-%d@%s", run, i, b.o.domain)
				t0 := time.Now()
				err := c.send(b.smtpFrom(), b.o.to, m, id)
				lat[k] = append(lat[k], time.Since(t0))
				if err != nil {
					errs.add(err.Error(), 1)
					var se *smtp.SMTPError
					if !errors.As(err, &se) {
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	return &sendResult{accepted: accepted.Load(), requests: int64(b.o.count), errors: errs.m,
		bodyBytes: len(m.head) + len(m.tail) + 40, latency: slices.Concat(lat...)}, nil
}

// ---------------------------------------------------------------------------
// Idle latency

// durations are latency samples.
type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (d durations) String() string {
	if len(d) == 0 {
		return "n=0"
	}
	ms := func(x time.Duration) string {
		return strconv.FormatFloat(float64(x.Microseconds())/1000, 'f', 1, 64) + "ms"
	}
	return fmt.Sprintf("p50=%s p90=%s p99=%s max=%s n=%d", ms(d.pct(0.5)), ms(d.pct(0.9)), ms(d.pct(0.99)), ms(d.pct(1)), len(d))
}

func (d durations) summary() map[string]float64 {
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return map[string]float64{"p50_ms": ms(d.pct(0.5)), "p90_ms": ms(d.pct(0.9)), "p99_ms": ms(d.pct(0.99)), "max_ms": ms(d.pct(1)), "n": float64(len(d))}
}

func (b *bench) pause() {
	g := b.o.gap
	if g > 0 {
		time.Sleep(g/2 + rand.N(g+1))
	}
}

// waitSink waits until the sink received the message with Message-ID id.
func (b *bench) waitSink(ctx context.Context, id string) (time.Time, error) {
	var out struct {
		At int64 `json:"at_ns"`
	}
	q := url.Values{"message_id": {id}, "timeout": {"60s"}}
	if err := b.sinkCall(ctx, http.MethodGet, "/wait?"+q.Encode(), nil, &out); err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, out.At), nil
}

// resendTime parses Resend's timestamp format, e.g. "2026-11-28 12:00:00.123456+00".
func resendTime(s string) (time.Time, error) {
	return time.Parse("2006-01-02 15:04:05.999999999-07", s)
}

func (b *bench) idleAPI() error {
	ctx := context.Background()
	body, err := newSendBody(b.from(), b.o.to, b.o.size)
	if err != nil {
		return err
	}
	var firstAttempt, queuedDelivered, acceptedSink, postSink durations
	for i := range b.o.count {
		b.pause()
		data := body.build(1, uint64(i), false)
		var out struct {
			ID string `json:"id"`
		}
		t0 := time.Now()
		if _, err := b.call(ctx, http.MethodPost, b.api+"/emails", b.o.key, bytes.NewReader(data), int64(len(data)), &out); err != nil {
			return err
		}
		t1 := time.Now()
		at, err := b.waitSink(ctx, out.ID+"@"+b.o.domain)
		if err != nil {
			return fmt.Errorf("email %s: %w", out.ID, err)
		}
		acceptedSink = append(acceptedSink, at.Sub(t1))
		postSink = append(postSink, at.Sub(t0))

		// Godwit's own view: the queued, sent and delivered events.
		var rep struct {
			LastEvent string `json:"last_event"`
			Events    []struct {
				Type      string `json:"type"`
				CreatedAt string `json:"created_at"`
			} `json:"events"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := b.apiCall(ctx, http.MethodGet, "/emails/"+out.ID+"/delivery", nil, &rep); err != nil {
				return err
			}
			if rep.LastEvent == "delivered" || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if rep.LastEvent != "delivered" {
			return fmt.Errorf("email %s: received by the sink but last_event is %q after 30s", out.ID, rep.LastEvent)
		}
		ev := map[string]time.Time{}
		for _, e := range rep.Events {
			if _, ok := ev[e.Type]; ok {
				continue
			}
			t, err := resendTime(e.CreatedAt)
			if err != nil {
				return fmt.Errorf("email %s: event %s: %w", out.ID, e.Type, err)
			}
			ev[e.Type] = t
		}
		q, okQ := ev["queued"]
		s, okS := ev["sent"]
		d, okD := ev["delivered"]
		if !okQ || !okS || !okD {
			return fmt.Errorf("email %s: missing events (have %v)", out.ID, rep.Events)
		}
		firstAttempt = append(firstAttempt, s.Sub(q))
		queuedDelivered = append(queuedDelivered, d.Sub(q))
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "mode=idle label=%q count=%d gap=%s size=%d\n", b.o.label, b.o.count, b.o.gap, b.o.size)
	fmt.Fprintf(w, "accept->first_attempt (queued->sent events): %s\n", firstAttempt)
	fmt.Fprintf(w, "queued->delivered (events):                 %s\n", queuedDelivered)
	fmt.Fprintf(w, "HTTP 200->received by the sink:             %s\n", acceptedSink)
	fmt.Fprintf(w, "POST sent->received by the sink:            %s\n", postSink)
	if b.o.json {
		line, _ := json.Marshal(map[string]any{"label": b.o.label, "mode": "idle", "count": b.o.count,
			"first_attempt": firstAttempt.summary(), "queued_delivered": queuedDelivered.summary(),
			"accepted_sink": acceptedSink.summary(), "post_sink": postSink.summary()})
		fmt.Fprintln(w, string(line))
	}
	return nil
}

func (b *bench) idleSMTP() error {
	ctx := context.Background()
	m, err := b.loadMessage()
	if err != nil {
		return err
	}
	c := &smtpConn{addr: b.o.smtpAddr}
	defer c.close()
	run := rand.Uint32()
	var acceptedSink, sendSink durations
	for i := range b.o.count {
		b.pause()
		id := fmt.Sprintf("idle-%08x-%d@%s", run, i, b.o.domain)
		t0 := time.Now()
		if err := c.send(b.smtpFrom(), b.o.to, m, id); err != nil {
			return err
		}
		t1 := time.Now()
		at, err := b.waitSink(ctx, id)
		if err != nil {
			return fmt.Errorf("message %s: %w", id, err)
		}
		acceptedSink = append(acceptedSink, at.Sub(t1))
		sendSink = append(sendSink, at.Sub(t0))
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "mode=smtp-idle label=%q count=%d gap=%s\n", b.o.label, b.o.count, b.o.gap)
	fmt.Fprintf(w, "250 after DATA->received by the sink: %s\n", acceptedSink)
	fmt.Fprintf(w, "MAIL FROM->received by the sink:      %s\n", sendSink)
	if b.o.json {
		line, _ := json.Marshal(map[string]any{"label": b.o.label, "mode": "smtp-idle", "count": b.o.count,
			"accepted_sink": acceptedSink.summary(), "post_sink": sendSink.summary()})
		fmt.Fprintln(w, string(line))
	}
	return nil
}

// ---------------------------------------------------------------------------
// CPU accounting from /proc

// watchList is the -watch flag: processes whose CPU use is reported.
type watchList []watch

type watch struct {
	name  string
	pid   int             // the process (or, with tree, the root of the tree); 0 when matching by name
	tree  bool            // the process and all its descendants
	comms map[string]bool // process names (/proc/PID/stat comm)
}

func (l *watchList) String() string { return fmt.Sprint(len(*l)) }

func (l *watchList) Set(v string) error {
	name, spec, ok := strings.Cut(v, "=")
	if !ok || name == "" || spec == "" {
		return fmt.Errorf("want name=PID, name=tree:PID or name=comm:A+B, got %q", v)
	}
	w := watch{name: name}
	if rest, ok := strings.CutPrefix(spec, "tree:"); ok {
		w.tree = true
		spec = rest
	}
	if rest, ok := strings.CutPrefix(spec, "comm:"); ok && !w.tree {
		w.comms = map[string]bool{}
		for _, c := range strings.Split(rest, "+") {
			if c != "" {
				w.comms[c] = true
			}
		}
	} else {
		pid, err := strconv.Atoi(spec)
		if err != nil || pid <= 0 {
			return fmt.Errorf("bad pid in %q", v)
		}
		w.pid = pid
	}
	*l = append(*l, w)
	return nil
}

// cpuSample holds CPU ticks per watched name, this process's and the
// machine's, at one instant.
type cpuSample struct {
	at      time.Time
	ticks   map[string]int64
	busy    int64 // machine, all cores
	total   int64
	ncpu    int
	missing map[string]bool
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func (l watchList) sample() (*cpuSample, error) {
	s := &cpuSample{at: time.Now(), ticks: map[string]int64{}, missing: map[string]bool{}}
	all := append(watchList{{name: "deliver", pid: os.Getpid()}}, l...)
	var procs []procStat
	for _, w := range all {
		if w.tree {
			if procs == nil {
				procs = allProcs()
			}
			in := map[int]bool{w.pid: true}
			for changed := true; changed; { // descendants, whatever the order of /proc
				changed = false
				for _, p := range procs {
					if !in[p.pid] && in[p.ppid] {
						in[p.pid], changed = true, true
					}
				}
			}
			found := false
			for _, p := range procs {
				if in[p.pid] {
					s.ticks[w.name] += p.ticks
					found = found || p.pid == w.pid
				}
			}
			if !found {
				s.missing[w.name] = true
			}
			continue
		}
		if w.pid > 0 {
			ps, err := readProcStat(w.pid)
			if err != nil {
				s.missing[w.name] = true
				continue
			}
			s.ticks[w.name] += ps.ticks
			continue
		}
		if procs == nil {
			procs = allProcs()
		}
		for _, p := range procs {
			if w.comms[p.comm] {
				s.ticks[w.name] += p.ticks
			}
		}
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "cpu" {
			for i, v := range f[1:] {
				n, _ := strconv.ParseInt(v, 10, 64)
				if i >= 8 { // guest time is already in user
					break
				}
				s.total += n
				if i != 3 && i != 4 { // idle, iowait
					s.busy += n
				}
			}
		} else if strings.HasPrefix(f[0], "cpu") {
			s.ncpu++
		}
	}
	return s, nil
}

type procStat struct {
	pid   int
	ppid  int
	comm  string
	ticks int64 // utime+stime+cutime+cstime: a reaped child's time moves to its parent
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s := string(data)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[closing+1:])
	// f[0] is field 3 (state); utime..cstime are fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var t int64
	for _, v := range f[11:15] {
		n, _ := strconv.ParseInt(v, 10, 64)
		t += n
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{pid: pid, ppid: ppid, comm: s[open+1 : closing], ticks: t}, nil
}

func allProcs() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ps, err := readProcStat(pid); err == nil {
			out = append(out, ps)
		}
	}
	return out
}

// cpuUsage is the CPU each watched name used between two samples, in % of
// one core, and the machine's busy share of all its cores.
type cpuUsage struct {
	Secs    float64            `json:"secs"`
	Percent map[string]float64 `json:"percent_of_one_core"`
	Machine float64            `json:"machine_busy_percent"`
	NCPU    int                `json:"cpus"`
	names   []string
}

func (l watchList) usage(a, b *cpuSample) cpuUsage {
	u := cpuUsage{Secs: b.at.Sub(a.at).Seconds(), Percent: map[string]float64{}, NCPU: b.ncpu}
	for _, name := range append([]string{"deliver"}, names(l)...) {
		if a.missing[name] || b.missing[name] {
			continue
		}
		u.Percent[name] = float64(b.ticks[name]-a.ticks[name]) / clockTicks / u.Secs * 100
		u.names = append(u.names, name)
	}
	if b.total > a.total {
		u.Machine = float64(b.busy-a.busy) / float64(b.total-a.total) * 100
	}
	return u
}

func names(l watchList) []string {
	var out []string
	for _, w := range l {
		if !slices.Contains(out, w.name) {
			out = append(out, w.name)
		}
	}
	return out
}

func (u cpuUsage) String() string {
	var b strings.Builder
	for _, n := range u.names {
		fmt.Fprintf(&b, "%s=%.0f%% ", n, u.Percent[n])
	}
	fmt.Fprintf(&b, "machine=%.0f%% of %d cpus", u.Machine, u.NCPU)
	return b.String()
}
