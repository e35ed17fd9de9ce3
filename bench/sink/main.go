// Command sink is the receiving end of the delivery benchmark: an SMTP
// server on loopback that accepts every message and counts it, an
// authoritative DNS server on loopback that answers the records a sending
// domain publishes (so Godwit can verify the domain and the sink can check
// DKIM signatures), and a small HTTP control endpoint.
//
// It is a benchmarking tool: it listens on loopback addresses only.
//
//	go run ./bench/sink -smtp 127.0.0.1:2525 -dns 127.0.0.1:5353 -http 127.0.0.1:8025
//
// HTTP endpoints (all JSON):
//
//	GET  /healthz              200 when every listener is up
//	GET  /stats                counters: messages, recipients, bytes, first/last arrival, DKIM sampling
//	POST /reset                zero the counters, forget arrivals and the sample
//	GET  /wait?message_id=ID&timeout=30s
//	                           wait until a message with that Message-ID (without <>) arrived;
//	                           answers its arrival time (unix ns), 408 on timeout
//	GET  /sample               the raw bytes of a recently received message (message/rfc822)
//	PUT  /dns                  replace the DNS zone: [{"name":FQDN,"type":"TXT"|"MX","value":…,"priority":N}]
//	POST /dns                  add records to the zone (same body), keeping the others
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
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

const (
	// maxArrivals bounds the Message-ID → arrival time map (about 100 bytes
	// an entry); arrivals beyond it are counted but not recorded.
	maxArrivals = 1 << 21
	// maxMessageBytes bounds one message.
	maxMessageBytes = 64 << 20
	// sampleEvery: a copy of the first message and of every sampleEvery-th
	// one is kept for GET /sample.
	sampleEvery = 1024
	// maxDKIMErrors bounds the distinct DKIM failure messages kept.
	maxDKIMErrors = 5
)

func main() {
	smtpAddr := flag.String("smtp", "127.0.0.1:2525", "SMTP listen address (loopback only)")
	dnsAddr := flag.String("dns", "127.0.0.1:5353", "DNS listen address, UDP and TCP (loopback only; empty: no DNS)")
	httpAddr := flag.String("http", "127.0.0.1:8025", "HTTP control listen address (loopback only)")
	dkimEvery := flag.Int("dkim-sample", 100, "verify the DKIM signatures of one message in N, off the SMTP path (0: never)")
	interval := flag.Duration("interval", time.Second, "print a JSON line with the delivery rate this often while messages arrive (0: never)")
	flag.Parse()

	addrs := []string{*smtpAddr, *httpAddr}
	if *dnsAddr != "" {
		addrs = append(addrs, *dnsAddr)
	}
	for _, a := range addrs {
		if err := checkLoopbackAddr(a); err != nil {
			log.Fatalf("sink: %v", err)
		}
	}
	if *dkimEvery < 0 {
		log.Fatal("sink: -dkim-sample must be >= 0")
	}

	s := newSink(*dkimEvery)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.run(ctx, *smtpAddr, *dnsAddr, *httpAddr, *interval); err != nil {
		log.Fatalf("sink: %v", err)
	}
}

// checkLoopbackAddr refuses a listen address whose host is not a loopback IP
// (or localhost).
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: only loopback addresses are allowed", addr)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Counters

type sink struct {
	dkimEvery int

	messages   atomic.Int64
	recipients atomic.Int64
	bytes      atomic.Int64
	conns      atomic.Int64
	firstAt    atomic.Int64 // unix ns of the first message since reset, 0 if none
	lastAt     atomic.Int64 // unix ns of the last message

	mu       sync.Mutex
	arrivals map[string]int64 // Message-ID (no <>) → unix ns
	dropped  int64            // arrivals not recorded (map full)
	waiters  map[string][]chan int64
	sample   []byte
	dkim     dkimStats

	zone zone

	dkimQueue chan []byte
	bufs      sync.Pool
}

type dkimStats struct {
	Every    int              `json:"every"`
	Sampled  int64            `json:"sampled"`
	Pass     int64            `json:"pass"`
	Fail     int64            `json:"fail"`
	Unsigned int64            `json:"unsigned"`
	Skipped  int64            `json:"skipped_busy"` // sampled but the verifier was busy
	Errors   map[string]int64 `json:"errors,omitempty"`
}

func newSink(dkimEvery int) *sink {
	s := &sink{
		dkimEvery: dkimEvery,
		arrivals:  map[string]int64{},
		waiters:   map[string][]chan int64{},
		dkimQueue: make(chan []byte, 16),
	}
	s.dkim.Every = dkimEvery
	s.bufs.New = func() any { return new(bytes.Buffer) }
	return s
}

func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages.Store(0)
	s.recipients.Store(0)
	s.bytes.Store(0)
	s.firstAt.Store(0)
	s.lastAt.Store(0)
	s.arrivals = map[string]int64{}
	s.dropped = 0
	s.sample = nil
	s.dkim = dkimStats{Every: s.dkimEvery}
}

// received counts one message; data is only valid during the call.
func (s *sink) received(data []byte, rcpts int) {
	now := time.Now().UnixNano()
	n := s.messages.Add(1)
	s.recipients.Add(int64(rcpts))
	s.bytes.Add(int64(len(data)))
	s.firstAt.CompareAndSwap(0, now)
	s.lastAt.Store(now)
	id := messageID(data)

	s.mu.Lock()
	if id != "" {
		if len(s.arrivals) < maxArrivals {
			s.arrivals[id] = now
		} else {
			s.dropped++
		}
		if ws, ok := s.waiters[id]; ok {
			for _, w := range ws {
				w <- now // buffered, cap 1
			}
			delete(s.waiters, id)
		}
	}
	if s.sample == nil || n%sampleEvery == 0 {
		s.sample = bytes.Clone(data)
	}
	verify := s.dkimEvery > 0 && n%int64(s.dkimEvery) == 1%int64(s.dkimEvery)
	if verify {
		s.dkim.Sampled++
	}
	s.mu.Unlock()

	if verify {
		select {
		case s.dkimQueue <- bytes.Clone(data):
		default:
			s.mu.Lock()
			s.dkim.Skipped++
			s.mu.Unlock()
		}
	}
}

// messageID returns the Message-ID of a raw message without its angle
// brackets, or "" (only the header block is scanned).
func messageID(data []byte) string {
	hdr := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		hdr = data[:i+2]
	}
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line, hdr = hdr[:i], hdr[i+1:]
		} else {
			hdr = nil
		}
		if len(line) > 11 && bytes.EqualFold(line[:11], []byte("message-id:")) {
			v := strings.TrimSpace(string(line[11:]))
			// A folded value continues on the next line.
			if v == "" && len(hdr) > 0 && (hdr[0] == ' ' || hdr[0] == '\t') {
				next := hdr
				if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
					next = hdr[:i]
				}
				v = strings.TrimSpace(string(next))
			}
			return strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		}
	}
	return ""
}

// wait blocks until a message with Message-ID id arrived or ctx ends.
func (s *sink) wait(ctx context.Context, id string) (int64, error) {
	s.mu.Lock()
	if at, ok := s.arrivals[id]; ok {
		s.mu.Unlock()
		return at, nil
	}
	ch := make(chan int64, 1)
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	select {
	case at := <-ch:
		return at, nil
	case <-ctx.Done():
		s.mu.Lock()
		ws := s.waiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(s.waiters, id)
		} else {
			s.waiters[id] = ws
		}
		s.mu.Unlock()
		select {
		case at := <-ch: // arrived meanwhile
			return at, nil
		default:
		}
		return 0, ctx.Err()
	}
}

// verifier checks the DKIM signatures of sampled messages, one at a time,
// off the SMTP path.
func (s *sink) verifier(ctx context.Context) {
	opts := &dkim.VerifyOptions{LookupTXT: s.zone.lookupTXT}
	for {
		var data []byte
		select {
		case <-ctx.Done():
			return
		case data = <-s.dkimQueue:
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), opts)
		s.mu.Lock()
		switch {
		case err != nil:
			s.dkim.Fail++
			s.dkimError("verify: " + err.Error())
		case len(vs) == 0:
			s.dkim.Unsigned++
		default:
			ok := true
			for _, v := range vs {
				if v.Err != nil {
					ok = false
					s.dkimError(v.Domain + ": " + v.Err.Error())
				}
			}
			if ok {
				s.dkim.Pass++
			} else {
				s.dkim.Fail++
			}
		}
		s.mu.Unlock()
	}
}

func (s *sink) dkimError(msg string) {
	if s.dkim.Errors == nil {
		s.dkim.Errors = map[string]int64{}
	}
	if len(s.dkim.Errors) < maxDKIMErrors || s.dkim.Errors[msg] > 0 {
		s.dkim.Errors[msg]++
	}
}

type stats struct {
	Messages    int64     `json:"messages"`
	Recipients  int64     `json:"recipients"`
	Bytes       int64     `json:"bytes"`
	Connections int64     `json:"connections"`
	FirstAt     int64     `json:"first_at_ns"`
	LastAt      int64     `json:"last_at_ns"`
	PerSec      float64   `json:"delivered_per_sec"` // (messages-1) / (last-first)
	Arrivals    int       `json:"arrivals_recorded"`
	Dropped     int64     `json:"arrivals_dropped,omitempty"`
	DKIM        dkimStats `json:"dkim"`
}

func (s *sink) stats() stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := stats{
		Messages: s.messages.Load(), Recipients: s.recipients.Load(), Bytes: s.bytes.Load(),
		Connections: s.conns.Load(), FirstAt: s.firstAt.Load(), LastAt: s.lastAt.Load(),
		Arrivals: len(s.arrivals), Dropped: s.dropped, DKIM: s.dkim,
	}
	if st.Messages > 1 && st.LastAt > st.FirstAt {
		st.PerSec = float64(st.Messages-1) / (float64(st.LastAt-st.FirstAt) / 1e9)
	}
	if s.dkim.Errors != nil {
		st.DKIM.Errors = make(map[string]int64, len(s.dkim.Errors))
		for k, v := range s.dkim.Errors {
			st.DKIM.Errors[k] = v
		}
	}
	return st
}

// ---------------------------------------------------------------------------
// SMTP

type session struct {
	s     *sink
	rcpts int
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.conns.Add(1)
	return &session{s: s}, nil
}

func (ss *session) Reset()        { ss.rcpts = 0 }
func (ss *session) Logout() error { return nil }
func (ss *session) Mail(string, *smtp.MailOptions) error {
	ss.rcpts = 0
	return nil
}
func (ss *session) Rcpt(string, *smtp.RcptOptions) error {
	ss.rcpts++
	return nil
}

func (ss *session) Data(r io.Reader) error {
	buf := ss.s.bufs.Get().(*bytes.Buffer)
	defer ss.s.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	ss.s.received(buf.Bytes(), ss.rcpts)
	return nil
}

// ---------------------------------------------------------------------------
// DNS

// zone is the set of records the DNS server answers, by lower-case FQDN.
type zone struct {
	mu   sync.RWMutex
	recs map[string][]record
}

type record struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	Priority uint16 `json:"priority"`
}

func (z *zone) set(recs []record) error { return z.update(recs, false) }

// add adds recs to the zone, keeping the records it holds.
func (z *zone) add(recs []record) error { return z.update(recs, true) }

func (z *zone) update(recs []record, keep bool) error {
	m := map[string][]record{}
	for _, r := range recs {
		r.Type = strings.ToUpper(r.Type)
		if r.Type != "TXT" && r.Type != "MX" {
			return fmt.Errorf("record %s: type %q not supported (TXT, MX)", r.Name, r.Type)
		}
		if _, ok := dns.IsDomainName(r.Name); !ok || r.Name == "" {
			return fmt.Errorf("record name %q is not a domain name", r.Name)
		}
		k := strings.ToLower(dns.Fqdn(r.Name))
		m[k] = append(m[k], r)
	}
	z.mu.Lock()
	if keep {
		for k, rs := range z.recs {
			m[k] = append(rs[:len(rs):len(rs)], m[k]...)
		}
	}
	z.recs = m
	z.mu.Unlock()
	return nil
}

func (z *zone) get(name string) ([]record, bool) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	rs, ok := z.recs[strings.ToLower(dns.Fqdn(name))]
	return rs, ok
}

// lookupTXT serves the DKIM verifier from the zone directly.
func (z *zone) lookupTXT(name string) ([]string, error) {
	rs, _ := z.get(name)
	var out []string
	for _, r := range rs {
		if r.Type == "TXT" {
			out = append(out, r.Value)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such TXT record", Name: name, IsNotFound: true}
	}
	return out, nil
}

func (z *zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	rs, exists := z.get(q.Name)
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	for _, r := range rs {
		switch {
		case r.Type == "TXT" && q.Qtype == dns.TypeTXT:
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(r.Value)})
		case r.Type == "MX" && q.Qtype == dns.TypeMX:
			m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: r.Priority, Mx: dns.Fqdn(r.Value)})
		}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// splitTXT cuts a TXT value into character-strings of at most 255 bytes (a
// DKIM RSA-2048 key does not fit in one).
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// ---------------------------------------------------------------------------
// Running

func (s *sink) run(ctx context.Context, smtpAddr, dnsAddr, httpAddr string, interval time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srv := smtp.NewServer(s)
	srv.Addr = smtpAddr
	srv.Domain = "sink.test"
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 1000
	srv.MaxLineLength = 0 // unlimited: count what arrives, do not judge it
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	ln, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	errs := make(chan error, 4)
	go func() { errs <- srv.Serve(ln) }()

	var dnsServers []*dns.Server
	if dnsAddr != "" {
		pc, err := net.ListenPacket("udp", dnsAddr)
		if err != nil {
			return fmt.Errorf("dns udp: %w", err)
		}
		tl, err := net.Listen("tcp", dnsAddr)
		if err != nil {
			return fmt.Errorf("dns tcp: %w", err)
		}
		udp := &dns.Server{PacketConn: pc, Handler: &s.zone}
		tcp := &dns.Server{Listener: tl, Handler: &s.zone}
		dnsServers = append(dnsServers, udp, tcp)
		go func() { errs <- udp.ActivateAndServe() }()
		go func() { errs <- tcp.ActivateAndServe() }()
	}

	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	hs := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { errs <- hs.Serve(hl) }()

	go s.verifier(ctx)
	if interval > 0 {
		go s.report(ctx, interval)
	}
	fmt.Fprintf(os.Stderr, "sink: smtp=%s dns=%s http=%s dkim-sample=1/%d\n", ln.Addr(), dnsAddr, hl.Addr(), s.dkimEvery)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	_ = srv.Close()
	for _, d := range dnsServers {
		_ = d.ShutdownContext(sctx)
	}
	line, _ := json.Marshal(map[string]any{"final": s.stats()})
	fmt.Println(string(line))
	if runErr != nil && !errors.Is(runErr, smtp.ErrServerClosed) && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// report prints one JSON line per interval in which messages arrived.
func (s *sink) report(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	w := bufio.NewWriter(os.Stdout)
	prev := s.messages.Load()
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.messages.Load()
			if n != prev {
				rate := float64(n-prev) / now.Sub(prevAt).Seconds()
				fmt.Fprintf(w, `{"time":%q,"messages":%d,"delivered_per_sec":%.1f}`+"\n",
					now.UTC().Format(time.RFC3339Nano), n, rate)
				_ = w.Flush()
			}
			prev, prevAt = n, now
		}
	}
}

func (s *sink) routes() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, code int, msg string) {
		writeJSON(w, code, map[string]string{"error": msg})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.stats())
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		s.reset()
		writeJSON(w, http.StatusOK, s.stats())
	})
	mux.HandleFunc("GET /sample", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		sample := s.sample
		s.mu.Unlock()
		if sample == nil {
			fail(w, http.StatusNotFound, "no message received yet")
			return
		}
		w.Header().Set("Content-Type", "message/rfc822")
		_, _ = w.Write(sample)
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Query().Get("message_id"), "<"), ">")
		if id == "" {
			fail(w, http.StatusBadRequest, "message_id is required")
			return
		}
		timeout := 30 * time.Second
		if v := r.URL.Query().Get("timeout"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 10*time.Minute {
				fail(w, http.StatusBadRequest, "timeout must be a duration in (0, 10m]")
				return
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		at, err := s.wait(ctx, id)
		if err != nil {
			fail(w, http.StatusRequestTimeout, "not received: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"at_ns": at})
	})
	dnsHandler := func(update func([]record) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var recs []record
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&recs); err != nil {
				fail(w, http.StatusBadRequest, "decode: "+err.Error())
				return
			}
			if err := update(recs); err != nil {
				fail(w, http.StatusBadRequest, err.Error())
				return
			}
			writeJSON(w, http.StatusOK, map[string]int{"records": len(recs)})
		}
	}
	mux.HandleFunc("PUT /dns", dnsHandler(s.zone.set))
	mux.HandleFunc("POST /dns", dnsHandler(s.zone.add))
	return mux
}
