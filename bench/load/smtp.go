package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpMessage is the email of the SMTP mode: the same HTML as the JSON
// body, as one text/html part in base64 (76-character lines), after a
// header whose subject counter is written per message.
type smtpMessage struct {
	head []byte // header fields up to "Subject: bench "
	tail []byte // the rest of the header and the body
}

func newSMTPMessage(html string) *smtpMessage {
	var tail bytes.Buffer
	tail.WriteString("\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(html))
	for len(enc) > 76 {
		tail.WriteString(enc[:76])
		tail.WriteString("\r\n")
		enc = enc[76:]
	}
	tail.WriteString(enc)
	tail.WriteString("\r\n")
	return &smtpMessage{
		head: []byte("From: Bench <onboarding@resend.dev>\r\nTo: delivered@resend.dev\r\nSubject: bench "),
		tail: tail.Bytes(),
	}
}

// smtpSession is one client's authenticated connection.
func smtpSession(addr, key string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = requestTimeout, requestTimeout
	if err := c.Hello("bench.localhost"); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Auth(sasl.NewPlainClient("", "resend", key)); err != nil {
		c.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

// sendSMTP submits one message on c: MAIL, RCPT, DATA. code is the SMTP
// reply code of the refusal (0 for a transport error).
func sendSMTP(c *smtp.Client, m *smtpMessage, counter []byte) (code int, err error) {
	err = func() error {
		if err := c.Mail("onboarding@resend.dev", nil); err != nil {
			return err
		}
		if err := c.Rcpt("delivered@resend.dev", nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		for _, b := range [][]byte{m.head, counter, m.tail} {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		_, err = w.CloseWithResponse()
		return err
	}()
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.Code != 421 {
			_ = c.Reset()
		}
		return se.Code, err
	}
	return 0, err
}

// runSMTPClient is one client of the SMTP mode: one connection (made again
// when it breaks), messages back to back, counted like HTTP requests (a 250
// is a 200; a refusal counts under its SMTP code).
func runSMTPClient(ctx context.Context, o options, m *smtpMessage, res *clientResult, next func() uint64, measureStart, measureEnd time.Time) {
	var c *smtp.Client
	defer func() {
		if c != nil {
			_ = c.Quit()
		}
	}()
	counter := make([]byte, subjectDigits)
	for ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = smtpSession(o.smtp, o.key); err != nil {
				res.transport++
				if k := errKind(err); len(res.errKinds) < maxErrorKinds || res.errKinds[k] > 0 {
					res.errKinds[k]++
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		putCounter(counter, next())
		t0 := time.Now()
		code, err := sendSMTP(c, m, counter)
		t1 := time.Now()
		if err != nil && (code == 0 || code == 421) {
			_ = c.Close()
			c = nil
		}
		if isReconnect(err) {
			// Godwit closes a connection after 100 messages, as pooling
			// clients (Nodemailer) expect: reconnect, not an error.
			continue
		}
		if t0.Before(measureStart) || t1.After(measureEnd) {
			continue
		}
		switch {
		case err == nil:
			res.requests++
			res.ok++
			res.accepted++
		case code != 0:
			res.requests++
			res.statuses[code]++
		default:
			res.transport++
			if k := errKind(err); len(res.errKinds) < maxErrorKinds || res.errKinds[k] > 0 {
				res.errKinds[k]++
			}
			continue
		}
		if len(res.latencies) < maxSamplesPerClient {
			res.latencies = append(res.latencies, t1.Sub(t0))
		} else {
			res.dropped++
		}
	}
}

// isReconnect reports the 421 that ends a connection after its message
// limit.
func isReconnect(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == 421 && bytes.Contains([]byte(se.Message), []byte("Too many messages"))
}
