package godwittest

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// LargeMessage is a MIME message generated as it is read, so that a test
// sending it holds no copy of it: a short text part and one attachment of
// AttachmentBytes pseudo-random bytes (from Seed), base64 in 76-column
// lines, CRLF line ends.
type LargeMessage struct {
	From, To        string // addresses of the From and To fields
	AttachmentBytes int
	Seed            byte
}

// LargeMessage's fixed parts.
const (
	LargeMessageSubject  = "the big one"
	LargeMessageText     = "See the attached archive."
	LargeMessageFilename = "archive.bin"
)

const largeHead = "MIME-Version: 1.0\r\nSubject: " + LargeMessageSubject + "\r\nMessage-ID: <big@example.net>\r\n" +
	"Content-Type: multipart/mixed; boundary=b0undary\r\n\r\n" +
	"--b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + LargeMessageText + "\r\n" +
	"--b0undary\r\nContent-Type: application/octet-stream; name=\"" + LargeMessageFilename + "\"\r\n" +
	"Content-Disposition: attachment; filename=\"" + LargeMessageFilename + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"

const largeTail = "--b0undary--\r\n"

// LargeSums are the SHA-256 sums of a LargeMessage and of its attachment.
type LargeSums struct{ Message, Attachment [32]byte }

func (m LargeMessage) head() string {
	return "From: Sender <" + m.From + ">\r\nTo: " + m.To + "\r\n" + largeHead
}

// Reader returns the message as a stream; sums receives its sums once
// the stream is read to its end. Closing it early ends the generator.
func (m LargeMessage) Reader(sums chan<- LargeSums) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		msgSum, attSum := sha256.New(), sha256.New()
		out := io.MultiWriter(pw, msgSum)
		rng := rand.NewChaCha8([32]byte{m.Seed})
		_, err := io.WriteString(out, m.head())
		chunk := make([]byte, 57*1024) // 1024 lines a write
		lines := make([]byte, 0, 78*1024)
		for left := m.AttachmentBytes; left > 0 && err == nil; {
			n := min(left, len(chunk))
			_, _ = rng.Read(chunk[:n])
			attSum.Write(chunk[:n])
			lines = lines[:0]
			for i := 0; i < n; i += 57 {
				lines = base64.StdEncoding.AppendEncode(lines, chunk[i:min(i+57, n)])
				lines = append(lines, '\r', '\n')
			}
			_, err = out.Write(lines)
			left -= n
		}
		if err == nil {
			_, err = io.WriteString(out, largeTail)
		}
		if err == nil {
			var s LargeSums
			copy(s.Message[:], msgSum.Sum(nil))
			copy(s.Attachment[:], attSum.Sum(nil))
			sums <- s
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// Size is the length of the message.
func (m LargeMessage) Size() int64 {
	full, rest := m.AttachmentBytes/57, m.AttachmentBytes%57
	b64 := int64(full) * 78
	if rest > 0 {
		b64 += int64((rest+2)/3*4) + 2
	}
	return int64(len(m.head())+len(largeTail)) + b64
}

// SendLarge sends m over SMTP to addr (HELO helo, one recipient) and
// returns its sums and the reply to the end of DATA (nil for a 250). With
// cut > 0 it writes only the first cut bytes of DATA, calls then, and drops
// the connection (the sums are then zero, the error nil).
func SendLarge(t testing.TB, addr, helo, from, rcpt string, m LargeMessage, cut int64, then func()) (LargeSums, error) {
	t.Helper()
	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = 30*time.Second, time.Minute
	require.NoError(t, c.Hello(helo))
	require.NoError(t, c.Mail(from, nil))
	require.NoError(t, c.Rcpt(rcpt, nil))
	w, err := c.Data()
	require.NoError(t, err)
	sums := make(chan LargeSums, 1)
	src := m.Reader(sums)
	defer src.Close()
	if cut > 0 {
		_, err := io.CopyN(w, src, cut)
		require.NoError(t, err)
		then()
		return LargeSums{}, nil // the deferred Close drops the connection mid-DATA
	}
	_, err = io.Copy(w, src)
	require.NoError(t, err)
	if err := w.Close(); err != nil {
		return LargeSums{}, err
	}
	return <-sums, c.Quit()
}
