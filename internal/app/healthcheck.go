package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/godwit/godwit/internal/config"
)

// cmdHealthcheck asks a running server's /readyz whether it is ready, for
// container health checks (the image has no curl): exit 0 on 200, 1
// otherwise, with one line saying why. The URL defaults to the server's own
// /readyz as the configuration (file, GODWIT_* environment, flags) places
// it: --http-addr, with an unspecified host dialled on loopback, over HTTPS
// when --tls-cert or --acme-domain is set. Over HTTPS the certificate is not
// verified (the name on it is not 127.0.0.1): this checks that the process
// answers, not who it is.
func cmdHealthcheck(ctx context.Context, args []string, stdout, _ io.Writer, getenv func(string) string) error {
	var target string
	var timeout time.Duration
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit healthcheck", flag.ContinueOnError)
	cfg.Register(fs)
	fs.StringVar(&target, "url", "", "URL to GET (default: /readyz of the --http-addr listener)")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if target == "" {
		addr, err := hostForDial(cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("--http-addr %q: %v", cfg.HTTPAddr, err)
		}
		scheme := "http"
		if cfg.TLS() {
			scheme = "https"
		}
		target = scheme + "://" + addr + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("--url %q: %v", target, err)
	}
	resp, err := healthClient(cfg).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", target, resp.Status, oneLine(string(body)))
	}
	fmt.Fprintf(stdout, "%s: ready\n", target)
	return nil
}

func healthClient(cfg config.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil                                                                // the server is local; an HTTP_PROXY must not be asked
	tlsCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // liveness of a local process, see cmdHealthcheck
	if len(cfg.ACMEDomains) > 0 {
		tlsCfg.ServerName = cfg.ACMEDomains[0] // autocert needs SNI
	}
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
