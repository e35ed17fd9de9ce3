// Command load drives a running Godwit (or any Resend-compatible) server over
// HTTP with N concurrent clients for a fixed duration and reports accepted
// emails per second, requests per second, latency percentiles, errors and,
// optionally, the server's resident memory.
//
// It is a benchmarking tool for servers you run yourself: it refuses any
// target that does not resolve to a loopback address.
//
//	go run ./bench/load -url http://127.0.0.1:8080 -key "$KEY" -clients 16 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/bench/internal/emailgen"
)

const (
	// maxSamplesPerClient bounds the latency slice of each client (8 bytes a
	// sample, so 32 MiB per client at most). Requests beyond it are still
	// counted, only their latency is not recorded.
	maxSamplesPerClient = 1 << 22
	// maxResponseBytes bounds how much of a response body is read.
	maxResponseBytes = 4 << 20
	// maxErrorKinds bounds how many distinct transport error messages are kept.
	maxErrorKinds = 5
	// requestTimeout bounds a single request.
	requestTimeout = 30 * time.Second
	// subjectDigits is the fixed width of the counter in the subject.
	subjectDigits = 10
)

type options struct {
	url      string
	key      string
	clients  int
	duration time.Duration
	warmup   time.Duration
	size     int
	batch    int
	pid      int
	json     bool
	insecure bool
	smtp     string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	flag.StringVar(&o.key, "key", "", "API key sent as 'Authorization: Bearer <key>' (if empty: $GODWIT_BENCH_KEY)")
	flag.IntVar(&o.clients, "clients", 16, "number of concurrent clients (one connection each)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warmup before measuring (not counted)")
	flag.IntVar(&o.size, "size", 10240, "approximate email size in bytes (size of the HTML body)")
	flag.IntVar(&o.batch, "batch", 0, "0: POST /emails; N>0: POST /emails/batch with N emails per request")
	flag.IntVar(&o.pid, "pid", 0, "server process id: sample /proc/<pid>/status VmRSS every 100ms (optional)")
	flag.BoolVar(&o.json, "json", false, "print one JSON line instead of the table")
	flag.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate verification for https URLs")
	flag.StringVar(&o.smtp, "smtp", "", "host:port of Godwit's SMTP submission listener (loopback only): send each email over SMTP (AUTH PLAIN, no TLS) instead of HTTP")
	flag.Parse()
	if o.key == "" {
		o.key = os.Getenv("GODWIT_BENCH_KEY") // not a flag default: -h would print it
	}

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func (o *options) validate() (*url.URL, error) {
	switch {
	case o.clients < 1 || o.clients > 10000:
		return nil, fmt.Errorf("-clients must be in [1, 10000], got %d", o.clients)
	case o.duration <= 0 || o.duration > time.Hour:
		return nil, fmt.Errorf("-duration must be in (0, 1h], got %s", o.duration)
	case o.warmup < 0 || o.warmup > 10*time.Minute:
		return nil, fmt.Errorf("-warmup must be in [0, 10m], got %s", o.warmup)
	case o.size < 0 || o.size > 40<<20:
		return nil, fmt.Errorf("-size must be in [0, 40MiB], got %d", o.size)
	case o.batch < 0 || o.batch > 10000:
		return nil, fmt.Errorf("-batch must be in [0, 10000], got %d", o.batch)
	case o.pid < 0:
		return nil, fmt.Errorf("-pid must be positive")
	}
	u, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url: scheme must be http or https, got %q", u.Scheme)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return nil, err
	}
	if o.smtp != "" {
		host, _, err := net.SplitHostPort(o.smtp)
		if err != nil {
			return nil, fmt.Errorf("-smtp: %w", err)
		}
		if o.batch > 0 {
			return nil, errors.New("-smtp sends one email per message: -batch does not apply")
		}
		if err := checkLoopback(host); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// checkLoopback refuses any host that is not (or does not resolve only to) a
// loopback address: this tool generates heavy load and must only be pointed at
// a server on the same machine.
func checkLoopback(host string) error {
	if host == "" {
		return errors.New("-url: missing host")
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url: %s is not a loopback address; this tool only targets loopback", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("-url: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("-url: %s resolves to no address", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("-url: %s resolves to %s, which is not loopback; this tool only targets loopback", host, a.IP)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Request bodies

// bodyTemplate holds the immutable parts of a request body. The only part that
// changes between requests is the subject counter, which is written into a
// small per-request prefix; the large immutable tail (HTML and tags) is shared
// by every request and never written to, so the transport may keep reading it
// after RoundTrip returns without any data race.
type bodyTemplate struct {
	head []byte // `{"from":...,"to":[...],"subject":"bench ` (counter follows)
	tail []byte // `","html":"...","tags":[...]}`
}

func newBodyTemplate(size int) (*bodyTemplate, error) {
	html := emailgen.HTML(size)
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(html); err != nil {
		return nil, err
	}
	htmlJSON := bytes.TrimSpace(hb.Bytes())

	head := []byte(`{"from":"Bench <onboarding@resend.dev>","to":["delivered@resend.dev"],"subject":"bench `)
	tail := make([]byte, 0, len(htmlJSON)+64)
	tail = append(tail, `","html":`...)
	tail = append(tail, htmlJSON...)
	tail = append(tail, `,"tags":[{"name":"run","value":"bench"}]}`...)

	t := &bodyTemplate{head: head, tail: tail}
	// Sanity check: the assembled email must be valid JSON.
	sample := slices.Concat(head, []byte(strings.Repeat("0", subjectDigits)), tail)
	var probe map[string]any
	if err := json.Unmarshal(sample, &probe); err != nil {
		return nil, fmt.Errorf("internal error: generated body is not valid JSON: %w", err)
	}
	return t, nil
}

// build assembles one request body from the shared template: a list of
// buffers referencing the immutable head and tail, plus a small counter area
// allocated for this request only (the previous request's buffers may still be
// read by the transport if the server answered before reading the whole
// body). It costs a few small allocations and no copy of the HTML.
func (t *bodyTemplate) build(batch int, next func() uint64) (bufs net.Buffers, length int64) {
	n := max(batch, 1)
	scratch := make([]byte, n*(subjectDigits+1))
	bufs = make(net.Buffers, 0, 3*n+2)
	add := func(b []byte) {
		bufs = append(bufs, b)
		length += int64(len(b))
	}
	if batch > 0 {
		add(openBracket)
	}
	for i := range n {
		if i > 0 {
			add(comma)
		}
		c := scratch[i*(subjectDigits+1) : i*(subjectDigits+1)+subjectDigits]
		putCounter(c, next())
		add(t.head)
		add(c)
		add(t.tail)
	}
	if batch > 0 {
		add(closeBracket)
	}
	return bufs, length
}

var (
	openBracket  = []byte("[")
	closeBracket = []byte("]")
	comma        = []byte(",")
)

// putCounter writes v as a fixed-width, zero-padded decimal into dst.
func putCounter(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// ---------------------------------------------------------------------------
// Load

type clientResult struct {
	requests  int64 // completed in the measured window with any HTTP status
	ok        int64 // HTTP 200 in the measured window
	accepted  int64 // emails accepted (ids returned)
	latencies []time.Duration
	dropped   int64 // latency samples not recorded (slice full)
	statuses  map[int]int64
	transport int64
	errKinds  map[string]int64
}

type batchResponse struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
}

func run(o options) error {
	u, err := o.validate()
	if err != nil {
		return err
	}
	tmpl, err := newBodyTemplate(o.size)
	if err != nil {
		return err
	}
	mode, endpoint := "single", u.String()+"/emails"
	if o.batch > 0 {
		mode, endpoint = fmt.Sprintf("batch%d", o.batch), u.String()+"/emails/batch"
	}
	var smtpMsg *smtpMessage
	if o.smtp != "" {
		mode, smtpMsg = "smtp", newSMTPMessage(emailgen.HTML(o.size))
		u = &url.URL{Scheme: "smtp", Host: o.smtp}
	}

	tr := &http.Transport{
		Proxy:               nil, // never go through a proxy: loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.clients,
		MaxIdleConnsPerHost: o.clients,
		MaxConnsPerHost:     o.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      16 << 10,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	if o.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, loopback only
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // only ever talk to the URL given
		},
	}

	// RSS sampling.
	var rss *rssSampler
	if o.pid > 0 {
		rss, err = startRSS(o.pid)
		if err != nil {
			return err
		}
	}

	start := time.Now()
	measureStart := start.Add(o.warmup)
	measureEnd := measureStart.Add(o.duration)
	// In-flight requests are cancelled at the end of the measured window.
	ctx, cancel := context.WithDeadline(context.Background(), measureEnd)
	defer cancel()

	// The server's CPU time over the measured window (from the end of the
	// warmup to the last client's return), for CPU per accepted email.
	var cpuStart, cpuEnd time.Duration = -1, -1
	cpuDone := make(chan struct{})
	if o.pid > 0 {
		go func() {
			defer close(cpuDone)
			time.Sleep(time.Until(measureStart))
			cpuStart, _ = processCPU(o.pid)
		}()
	} else {
		close(cpuDone)
	}

	expected := int(o.duration.Seconds()*20000)/o.clients + 1024
	prealloc := min(expected, maxSamplesPerClient)

	var counter struct {
		sync.Mutex
		n uint64
	}
	// Each client takes a block of counters at a time to avoid contention.
	nextBlock := func() uint64 {
		counter.Lock()
		defer counter.Unlock()
		v := counter.n
		counter.n += 1 << 20
		return v
	}

	results := make([]*clientResult, o.clients)
	var wg sync.WaitGroup
	for c := range o.clients {
		res := &clientResult{
			latencies: make([]time.Duration, 0, prealloc),
			statuses:  map[int]int64{},
			errKinds:  map[string]int64{},
		}
		results[c] = res
		wg.Go(func() {
			base, used := nextBlock(), uint64(0)
			next := func() uint64 {
				if used == 1<<20 {
					base, used = nextBlock(), 0
				}
				used++
				return base + used - 1
			}
			if smtpMsg != nil {
				runSMTPClient(ctx, o, smtpMsg, res, next, measureStart, measureEnd)
				return
			}
			var respBuf bytes.Buffer
			for ctx.Err() == nil {
				bufs, length := tmpl.build(o.batch, next)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, io.NopCloser(&bufs))
				if err != nil {
					res.transport++
					res.errKinds[err.Error()]++
					return
				}
				req.ContentLength = length
				req.Header.Set("Content-Type", "application/json")
				if o.key != "" {
					req.Header.Set("Authorization", "Bearer "+o.key)
				}

				t0 := time.Now()
				resp, err := client.Do(req)
				var accepted int64
				status := 0
				if err == nil {
					status = resp.StatusCode
					if status == http.StatusOK && o.batch > 0 {
						respBuf.Reset()
						_, err = respBuf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
						if err == nil {
							var br batchResponse
							if jerr := json.Unmarshal(respBuf.Bytes(), &br); jerr == nil {
								accepted = int64(len(br.Data))
							} else {
								err = fmt.Errorf("decode batch response: %w", jerr)
							}
						}
					} else {
						_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
						if status == http.StatusOK {
							accepted = 1
						}
					}
					resp.Body.Close()
				}
				t1 := time.Now()

				if err != nil && ctx.Err() == nil {
					// Do not spin on a dead server: back off a little.
					time.Sleep(10 * time.Millisecond)
				}
				// Only count requests that completed inside the measured window.
				if t0.Before(measureStart) || t1.After(measureEnd) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						break // cancelled at the end of the window
					}
					res.transport++
					if k := errKind(err); len(res.errKinds) < maxErrorKinds || res.errKinds[k] > 0 {
						res.errKinds[k]++
					}
					continue
				}
				res.requests++
				if status == http.StatusOK {
					res.ok++
					res.accepted += accepted
				} else {
					res.statuses[status]++
				}
				if len(res.latencies) < maxSamplesPerClient {
					res.latencies = append(res.latencies, t1.Sub(t0))
				} else {
					res.dropped++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(measureStart)

	<-cpuDone
	if o.pid > 0 && cpuStart >= 0 {
		if c, err := processCPU(o.pid); err == nil {
			cpuEnd = c
		}
	}
	var rssIdle, rssPeak int64 = -1, -1
	if rss != nil {
		rssIdle, rssPeak = rss.stop()
	}

	rep := merge(results)
	rep.Target = u.String()
	rep.Mode = mode
	rep.Clients = o.clients
	rep.Size = o.size
	rep.Batch = o.batch
	_, rep.BodyBytes = tmpl.build(o.batch, func() uint64 { return 0 })
	if smtpMsg != nil {
		rep.BodyBytes = int64(len(smtpMsg.head) + subjectDigits + len(smtpMsg.tail))
	}
	rep.Duration = o.duration.String()
	rep.Warmup = o.warmup.String()
	secs := min(elapsed, o.duration).Seconds()
	rep.AcceptedPerSec = float64(rep.Accepted) / secs
	rep.ReqPerSec = float64(rep.Requests) / secs
	rep.MBPerSec = float64(rep.Requests) * float64(rep.BodyBytes) / secs / 1e6
	if o.pid > 0 {
		rep.PID = o.pid
		rep.RSSIdleMB = float64(rssIdle) / (1 << 20)
		rep.RSSPeakMB = float64(rssPeak) / (1 << 20)
		if cpuEnd >= cpuStart && cpuStart >= 0 && rep.Accepted > 0 {
			rep.CPUPerEmailUS = float64(cpuEnd-cpuStart) / float64(time.Microsecond) / float64(rep.Accepted)
		}
	}

	if o.json {
		line, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Println(string(line))
	} else {
		printTable(os.Stdout, rep)
	}
	if rep.Accepted == 0 {
		return errors.New("no email was accepted in the measured window")
	}
	return nil
}

// errKind shortens an error to a stable-ish label for grouping.
func errKind(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

type report struct {
	Target         string           `json:"target"`
	Mode           string           `json:"mode"`
	Clients        int              `json:"clients"`
	Size           int              `json:"size"`
	Batch          int              `json:"batch"`
	BodyBytes      int64            `json:"body_bytes"`
	Duration       string           `json:"duration"`
	Warmup         string           `json:"warmup"`
	Requests       int64            `json:"requests"`
	OK             int64            `json:"ok"`
	Accepted       int64            `json:"accepted"`
	AcceptedPerSec float64          `json:"accepted_per_sec"`
	ReqPerSec      float64          `json:"req_per_sec"`
	MBPerSec       float64          `json:"mb_per_sec"`
	P50ms          float64          `json:"p50_ms"`
	P90ms          float64          `json:"p90_ms"`
	P99ms          float64          `json:"p99_ms"`
	Maxms          float64          `json:"max_ms"`
	Errors         int64            `json:"errors"`
	ErrorsByStatus map[string]int64 `json:"errors_by_status,omitempty"`
	Transport      int64            `json:"transport_errors"`
	TransportKinds map[string]int64 `json:"transport_error_kinds,omitempty"`
	Dropped        int64            `json:"latency_samples_dropped,omitempty"`
	PID            int              `json:"pid,omitempty"`
	RSSIdleMB      float64          `json:"rss_idle_mb,omitempty"`
	RSSPeakMB      float64          `json:"rss_peak_mb,omitempty"`
	CPUPerEmailUS  float64          `json:"cpu_us_per_email,omitempty"`
}

func merge(results []*clientResult) *report {
	rep := &report{ErrorsByStatus: map[string]int64{}, TransportKinds: map[string]int64{}}
	n := 0
	for _, r := range results {
		n += len(r.latencies)
	}
	all := make([]time.Duration, 0, n)
	for _, r := range results {
		rep.Requests += r.requests
		rep.OK += r.ok
		rep.Accepted += r.accepted
		rep.Transport += r.transport
		rep.Dropped += r.dropped
		for s, c := range r.statuses {
			rep.ErrorsByStatus[strconv.Itoa(s)] += c
			rep.Errors += c
		}
		for k, c := range r.errKinds {
			if len(rep.TransportKinds) < maxErrorKinds || rep.TransportKinds[k] > 0 {
				rep.TransportKinds[k] += c
			}
		}
		all = append(all, r.latencies...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p*float64(len(all))+0.5) - 1
		i = max(0, min(i, len(all)-1))
		return ms(all[i])
	}
	rep.P50ms, rep.P90ms, rep.P99ms = pct(0.50), pct(0.90), pct(0.99)
	if len(all) > 0 {
		rep.Maxms = ms(all[len(all)-1])
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printTable(w io.Writer, r *report) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "target=%s mode=%s clients=%d size=%d body=%dB duration=%s warmup=%s\n",
		r.Target, r.Mode, r.Clients, r.Size, r.BodyBytes, r.Duration, r.Warmup)
	fmt.Fprintf(bw, "accepted/s=%.1f req/s=%.1f MB/s=%.1f p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms errors=%d transport_errors=%d",
		r.AcceptedPerSec, r.ReqPerSec, r.MBPerSec, r.P50ms, r.P90ms, r.P99ms, r.Maxms, r.Errors, r.Transport)
	if r.PID > 0 {
		fmt.Fprintf(bw, " rss_idle=%.1fMB rss_peak=%.1fMB cpu/email=%.0fus", r.RSSIdleMB, r.RSSPeakMB, r.CPUPerEmailUS)
	}
	fmt.Fprintln(bw)
	if len(r.ErrorsByStatus) > 0 {
		keys := make([]string, 0, len(r.ErrorsByStatus))
		for k := range r.ErrorsByStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(bw, "  errors by status:")
		for _, k := range keys {
			fmt.Fprintf(bw, " %s=%d", k, r.ErrorsByStatus[k])
		}
		fmt.Fprintln(bw)
	}
	for k, c := range r.TransportKinds {
		fmt.Fprintf(bw, "  transport error x%d: %s\n", c, k)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(bw, "  latency samples dropped: %d\n", r.Dropped)
	}
}

// ---------------------------------------------------------------------------
// RSS sampling from /proc/<pid>/status

type rssSampler struct {
	path string
	idle int64
	peak int64
	done chan struct{}
	wg   sync.WaitGroup
}

func startRSS(pid int) (*rssSampler, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	idle, err := readRSS(path)
	if err != nil {
		return nil, fmt.Errorf("-pid: %w", err)
	}
	s := &rssSampler{path: path, idle: idle, peak: idle, done: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if v, err := readRSS(path); err == nil && v > s.peak {
					s.peak = v
				}
			}
		}
	})
	return s, nil
}

// stop ends sampling and returns the idle and peak RSS in bytes.
func (s *rssSampler) stop() (idle, peak int64) {
	close(s.done)
	s.wg.Wait()
	if v, err := readRSS(s.path); err == nil && v > s.peak {
		s.peak = v
	}
	return s.idle, s.peak
}

// processCPU is the user and system CPU time pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in the kernel's USER_HZ ticks, which
// Linux fixes at 100 per second).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

func readRSS(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "12345 kB"
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: bad VmRSS %q", path, rest)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%s: no VmRSS line (is the process a zombie or a kernel thread?)", path)
}
