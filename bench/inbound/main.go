// Command inbound measures inbound mail throughput: messages handed over
// SMTP to an MX with -conns connections, each message MAIL/RCPT/DATA on a
// kept connection, and how many the server answers 250 per second.
//
// Modes:
//
//	godwit   start -godwit (a godwit binary) as an MX on loopback with a
//	         loopback DNS server, create the receiving domain through the API
//	         and publish its records so it verifies, then send; a 250 means
//	         the message is stored with its email.received event
//	smtp     send to any MX at -target (e.g. Postfix on 127.0.0.1:2525) for
//	         -rcpt; with -maildir, also wait until that many messages are
//	         delivered into the Maildir (files in new/) and report the rate
//	         end to end
//
// It is a benchmarking tool: every address it talks to is on loopback.
//
//	go run ./bench/inbound -mode godwit -godwit /tmp/godwit -n 20000
//	go run ./bench/inbound -mode smtp -target 127.0.0.1:2525 -rcpt bench@bench.test -maildir /var/mail/vhosts/bench.test/bench
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/bench/internal/emailgen"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

type options struct {
	mode, godwit, databaseURL, debugAddr, profile string
	profileSeconds                                int
	target, rcpt, maildir                         string
	n, warmup, conns, size                        int
	senderRecords                                 string
	extra                                         string
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "godwit", "godwit or smtp")
	flag.StringVar(&o.godwit, "godwit", "", "godwit mode: the godwit binary to start")
	flag.StringVar(&o.databaseURL, "database-url", "", "godwit mode: --database-url (an empty PostgreSQL database); SQLite in a temporary --data-dir when empty")
	flag.StringVar(&o.debugAddr, "debug-addr", "", "godwit mode: --debug-addr for pprof (loopback)")
	flag.StringVar(&o.profile, "profile", "", "godwit mode: write a CPU profile of the server, taken during the measured run, to this file (needs -debug-addr)")
	flag.IntVar(&o.profileSeconds, "profile-seconds", 5, "length of the -profile")
	flag.StringVar(&o.extra, "args", "", "godwit mode: more flags for godwit serve, space-separated")
	flag.StringVar(&o.senderRecords, "sender-records", "none", "godwit mode: what the sender's domain publishes in the DNS: none, or spf-dmarc (SPF passing 127.0.0.1 and a DMARC p=none record)")
	flag.StringVar(&o.target, "target", "", "smtp mode: host:port of the MX (loopback)")
	flag.StringVar(&o.rcpt, "rcpt", "bench@bench.test", "the recipient (in godwit mode its domain is created as the receiving domain)")
	flag.StringVar(&o.maildir, "maildir", "", "smtp mode: the Maildir the target delivers -rcpt to; wait for the messages to arrive in new/")
	flag.IntVar(&o.n, "n", 20000, "messages in the measured run")
	flag.IntVar(&o.warmup, "warmup", 1000, "messages sent before the measured run, not counted")
	flag.IntVar(&o.conns, "conns", 16, "concurrent SMTP connections")
	flag.IntVar(&o.size, "size", 10240, "message size in bytes")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("inbound: ")
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	_, domain, ok := strings.Cut(o.rcpt, "@")
	if !ok {
		return fmt.Errorf("-rcpt %q is not an address", o.rcpt)
	}
	var (
		target string
		pid    int
	)
	switch o.mode {
	case "godwit":
		if o.godwit == "" {
			return errors.New("-godwit is required in godwit mode")
		}
		shim := &tb{}
		defer shim.cleanup()
		srv, err := startGodwit(o, shim, domain)
		if err != nil {
			return err
		}
		defer srv.stop()
		target, pid = srv.mx, srv.cmd.Process.Pid
	case "smtp":
		target = o.target
	default:
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err := loopbackOnly(target); err != nil {
		return err
	}
	msg := message(o.size, o.rcpt)
	fmt.Printf("target=%s mode=%s conns=%d size=%dB n=%d warmup=%d\n", target, o.mode, o.conns, len(msg("00000000")), o.n, o.warmup)

	if o.warmup > 0 {
		at := countDir(filepath.Join(o.maildir, "new"))
		if r := blast(target, o.rcpt, o.warmup, o.conns, msg, "w"); r.ok != o.warmup {
			return fmt.Errorf("warmup: %d of %d answered 250; first error: %v", r.ok, o.warmup, r.firstErr)
		}
		if o.maildir != "" { // the warmup's deliveries must not count in the run
			if err := waitDir(o.maildir, at+o.warmup); err != nil {
				return err
			}
		}
	}
	var before int
	if o.maildir != "" {
		before = countDir(filepath.Join(o.maildir, "new"))
	}
	var profDone chan error
	if o.profile != "" {
		profDone = make(chan error, 1)
		go func() { profDone <- fetchProfile(o) }()
	}
	cpu0, self0 := procCPU(pid), procCPU(os.Getpid())
	r := blast(target, o.rcpt, o.n, o.conns, msg, "m")
	cpu, self := procCPU(pid)-cpu0, procCPU(os.Getpid())-self0
	lat := r.latencies
	slices.Sort(lat)
	line := fmt.Sprintf("accepted/s=%.1f p50=%s p99=%s max=%s ok=%d errors=%d elapsed=%s",
		float64(r.ok)/r.elapsed.Seconds(), pct(lat, 0.50), pct(lat, 0.99), pct(lat, 1), r.ok, r.errs, r.elapsed.Round(time.Millisecond))
	if pid != 0 && r.ok > 0 {
		line += fmt.Sprintf(" server_cpu/msg=%.3fms", cpu.Seconds()*1000/float64(r.ok))
	}
	if r.ok > 0 {
		line += fmt.Sprintf(" client_cpu/msg=%.3fms", self.Seconds()*1000/float64(r.ok))
	}
	fmt.Println(line)
	if r.firstErr != nil {
		fmt.Println("first error:", r.firstErr)
	}
	if o.maildir != "" {
		if err := waitDir(o.maildir, before+r.ok); err != nil {
			return err
		}
		e2e := time.Since(r.start)
		fmt.Printf("delivered_to_maildir/s=%.1f (all %d in %s/new %s after the first MAIL)\n", float64(r.ok)/e2e.Seconds(), r.ok, o.maildir, e2e.Round(time.Millisecond))
	}
	if profDone != nil {
		if err := <-profDone; err != nil {
			return err
		}
		fmt.Println("profile:", o.profile)
	}
	if r.ok == 0 {
		return errors.New("no message was accepted")
	}
	return nil
}

// message builds the messages: headers and a quoted-printable HTML body,
// size bytes in all; id makes the Message-ID and Subject unique.
func message(size int, rcpt string) func(id string) []byte {
	head := func(id string) string {
		return "From: Bench Sender <sender@sender.example.net>\r\nTo: <" + rcpt + ">\r\nSubject: inbound bench " + id +
			"\r\nMessage-ID: <" + id + "@sender.example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	}
	want := size - len(head("00000000"))
	var body string
	for n := want; n > 0; n -= 16 {
		var b strings.Builder
		w := quotedprintable.NewWriter(&b)
		_, _ = io.WriteString(w, emailgen.HTML(n))
		_ = w.Close()
		body = strings.ReplaceAll(strings.ReplaceAll(b.String(), "\r\n", "\n"), "\n", "\r\n")
		if len(body) <= want {
			break
		}
	}
	// Up to size exactly: soft-broken lines of x (QP), decoded as a run of
	// x after the HTML.
	for pad := want - len(body) - 2; pad > 0; pad -= 73 {
		body += strings.Repeat("x", max(0, min(70, pad-3))) + "=\r\n"
	}
	return func(id string) []byte { return []byte(head(id) + body + "\r\n") }
}

type result struct {
	ok, errs  int
	firstErr  error
	latencies []time.Duration
	start     time.Time
	elapsed   time.Duration
}

// blast sends n messages over conns connections, each connection its
// share back to back, and times each from MAIL to the reply to DATA.
func blast(target, rcpt string, n, conns int, msg func(string) []byte, tag string) result {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		r        result
		wg       sync.WaitGroup
		okCount  atomic.Int64
		errCount atomic.Int64
	)
	r.start = time.Now()
	for c := range conns {
		wg.Go(func() {
			var lat []time.Duration
			defer func() { mu.Lock(); r.latencies = append(r.latencies, lat...); mu.Unlock() }()
			fail := func(err error) {
				errCount.Add(1)
				mu.Lock()
				if r.firstErr == nil {
					r.firstErr = err
				}
				mu.Unlock()
			}
			var cl *smtp.Client
			for {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				if cl == nil {
					var err error
					if cl, err = smtp.Dial(target); err != nil {
						fail(err)
						continue
					}
					cl.CommandTimeout, cl.SubmissionTimeout = 30*time.Second, 30*time.Second
					if err := cl.Hello("mta.sender.example.net"); err != nil {
						fail(err)
						cl.Close()
						cl = nil
						continue
					}
				}
				id := fmt.Sprintf("%s%02d%08d.%d", tag, c, i, r.start.UnixNano())
				t0 := time.Now()
				if err := send(cl, rcpt, msg(id)); err != nil {
					fail(err)
					cl.Close()
					cl = nil
					continue
				}
				lat = append(lat, time.Since(t0))
				okCount.Add(1)
			}
			if cl != nil {
				_ = cl.Quit()
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(r.start)
	r.ok, r.errs = int(okCount.Load()), int(errCount.Load())
	return r
}

func send(c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Mail("sender@sender.example.net", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i].Round(10 * time.Microsecond).String()
}

func countDir(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

// waitDir waits until maildir/new holds n files.
func waitDir(maildir string, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for countDir(filepath.Join(maildir, "new")) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d messages in %s/new after 10 minutes", countDir(filepath.Join(maildir, "new")), n, maildir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// procCPU is the user+system CPU time of a process (0 without one).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("target %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q is not a loopback address", addr)
	}
	return nil
}

func fetchProfile(o options) error {
	if o.debugAddr == "" {
		return errors.New("-profile needs -debug-addr")
	}
	c := &http.Client{Timeout: time.Duration(o.profileSeconds+30) * time.Second}
	res, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", o.debugAddr, o.profileSeconds))
	if err != nil {
		return fmt.Errorf("fetching the CPU profile: %w", err)
	}
	defer res.Body.Close()
	f, err := os.Create(o.profile)
	if err != nil {
		return fmt.Errorf("writing the profile: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("writing the profile: %w", err)
	}
	return f.Close()
}

// godwit is a godwit serve this tool started.
type godwit struct {
	cmd           *exec.Cmd
	url, mx, key  string
	dir           string
	stderrLogPath string
}

var tokenRE = regexp.MustCompile(`re_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}`)

// startGodwit runs godwit serve as an MX with the loopback DNS server and
// makes domain a verified receiving domain.
func startGodwit(o options, shim *tb, domain string) (*godwit, error) {
	dns := dnstest.NewServer(shim)
	switch o.senderRecords {
	case "none":
	case "spf-dmarc":
		dns.SetTXT("sender.example.net", "v=spf1 ip4:127.0.0.1 -all")
		dns.SetTXT("_dmarc.sender.example.net", "v=DMARC1; p=none")
	default:
		return nil, fmt.Errorf("unknown -sender-records %q", o.senderRecords)
	}
	dir, err := os.MkdirTemp("", "godwit-inbound-bench")
	if err != nil {
		return nil, fmt.Errorf("temporary data dir: %w", err)
	}
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mx-addr", "127.0.0.1:0",
		"--dns-resolver", dns.Addr(), "--rate-limit", "1000000"}
	if o.databaseURL != "" {
		args = append(args, "--database-url", o.databaseURL)
	}
	if o.debugAddr != "" {
		args = append(args, "--debug-addr", o.debugAddr)
	}
	args = append(args, strings.Fields(o.extra)...)
	g := &godwit{cmd: exec.Command(o.godwit, args...), dir: dir, stderrLogPath: filepath.Join(dir, "godwit.log")}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.godwit, err)
	}
	logf, err := os.Create(g.stderrLogPath)
	if err != nil {
		return nil, err
	}
	type found struct{ what, value string }
	ch := make(chan found, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if k := tokenRE.FindString(sc.Text()); k != "" {
				ch <- found{"key", k}
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			if rec["msg"] == "MX receiving mail" {
				ch <- found{"mx", fmt.Sprint(rec["mx_addr"])}
			} else if a, ok := rec["addr"].(string); ok && strings.HasPrefix(fmt.Sprint(rec["msg"]), "serving plain HTTP") {
				ch <- found{"url", "http://" + a}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	timeout := time.After(60 * time.Second)
	for g.url == "" || g.mx == "" || g.key == "" {
		select {
		case f := <-ch:
			switch f.what {
			case "key":
				g.key = f.value
			case "mx":
				g.mx = f.value
			case "url":
				if g.url == "" {
					g.url = f.value
				}
			}
		case <-timeout:
			g.stop()
			return nil, fmt.Errorf("godwit did not print its addresses and a key within 60 s (log: %s)", g.stderrLogPath)
		}
	}
	if err := g.receivingDomain(dns, domain); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

func (g *godwit) api(method, path, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m, nil
}

// receivingDomain creates domain with receiving enabled, publishes its
// records in the DNS server, and waits until it is verified.
func (g *godwit) receivingDomain(dns *dnstest.Server, domain string) error {
	status, body, err := g.api("POST", "/domains", `{"name":"`+domain+`","capabilities":{"sending":"disabled","receiving":"enabled"}}`)
	if err != nil || status != 201 {
		return fmt.Errorf("creating the domain: %d %v %v", status, body, err)
	}
	id := body["id"].(string)
	for _, rec := range body["records"].([]any) {
		r := rec.(map[string]any)
		fqdn := r["name"].(string) + "." + domain
		if r["name"] == domain {
			fqdn = domain
		}
		switch r["type"] {
		case "TXT":
			dns.SetTXT(fqdn, r["value"].(string))
		case "MX":
			dns.SetMX(fqdn, dnscheck.MX{Host: r["value"].(string) + ".", Preference: uint16(r["priority"].(float64))})
		}
	}
	if status, body, err := g.api("POST", "/domains/"+id+"/verify", ""); err != nil || status != 200 {
		return fmt.Errorf("verifying the domain: %d %v %v", status, body, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body, err := g.api("GET", "/domains/"+id, "")
		if err == nil && body["status"] == "verified" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the domain %s was not verified within 30 s: %v", domain, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *godwit) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(g.dir)
}

// tb lets dnstest.NewServer, written for tests, run in this program.
type tb struct {
	testing.TB
	cleanups []func()
}

func (t *tb) Helper()                        {}
func (t *tb) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }
func (t *tb) Fatalf(format string, a ...any) { log.Fatalf(format, a...) }
func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
