package godwittest_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

func TestMXKeepsWhatItAccepts(t *testing.T) {
	t.Parallel()
	mx := godwittest.NewMX(t, godwittest.MXOptions{Rcpt: func(rcpt string, attempt int) error {
		if rcpt == "busy@dest.test" && attempt == 1 {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "try later"}
		}
		return nil
	}})
	data := "Message-ID: <1@src.test>\r\nSubject: s\r\n\r\nhi\r\n"
	send := func(rcpts ...string) error {
		c, err := smtp.Dial(mx.Addr())
		require.NoError(t, err)
		defer c.Close()
		return c.SendMail("a@src.test", rcpts, strings.NewReader(data))
	}

	err := send("busy@dest.test")
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 450, se.Code)
	require.Zero(t, mx.Count())

	require.NoError(t, send("busy@dest.test", "b@dest.test"))
	msgs := mx.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "a@src.test", msgs[0].From)
	require.Equal(t, []string{"busy@dest.test", "b@dest.test"}, msgs[0].Rcpts)
	require.Equal(t, data, string(msgs[0].Data))
	require.False(t, msgs[0].TLS)
	require.Equal(t, "<1@src.test>", msgs[0].MessageID())
	require.Len(t, mx.ForMessageID("<1@src.test>"), 1)
	require.Equal(t, map[string]int{"<1@src.test>": 1}, mx.MessageIDs())
	require.Equal(t, 2, mx.Attempts("busy@dest.test"))
	require.Equal(t, []string{"busy@dest.test", "busy@dest.test", "b@dest.test"}, mx.Rcpts())
	require.Equal(t, 2, mx.Sessions())
}

// The listener is closed when the test ends, even one that ends before
// the server's Serve has run.
func TestMXStopsWithTheTest(t *testing.T) {
	t.Parallel()
	var addr string
	t.Run("short", func(t *testing.T) { addr = godwittest.NewMX(t, godwittest.MXOptions{}).Addr() })
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	require.Error(t, err)
}

// TestMXCountsOpenConnections: the MX counts its connections from accept
// until the client closes (or says QUIT), and remembers the most at once.
func TestMXCountsOpenConnections(t *testing.T) {
	t.Parallel()
	mx := godwittest.NewMX(t, godwittest.MXOptions{})
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", mx.Addr())
		require.NoError(t, err)
		_, err = c.Read(make([]byte, 512)) // the greeting: the MX has accepted it
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Equal(t, 3, mx.Open())
	require.Equal(t, 3, mx.MaxOpen())
	for _, c := range conns[:2] {
		require.NoError(t, c.Close())
	}
	deadline := time.Now().Add(5 * time.Second)
	for mx.Open() != 1 {
		require.True(t, time.Now().Before(deadline), "the MX still counts %d open connections", mx.Open())
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, 3, mx.MaxOpen(), "the most at once stays")
	require.NoError(t, conns[2].Close())
}

// TestMXBeforeData: the hook sees the sender's EHLO name once the data
// are read, and the MX keeps the message only after the hook returns.
func TestMXBeforeData(t *testing.T) {
	t.Parallel()
	entered, release := make(chan string, 1), make(chan struct{})
	mx := godwittest.NewMX(t, godwittest.MXOptions{BeforeData: func(helo string) {
		entered <- helo
		<-release
	}})
	c, err := smtp.Dial(mx.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("sender.test"))
	sent := make(chan error, 1)
	go func() {
		sent <- c.SendMail("a@src.test", []string{"b@dest.test"}, strings.NewReader("Subject: s\r\n\r\nhi\r\n"))
	}()
	select {
	case helo := <-entered:
		require.Equal(t, "sender.test", helo)
	case <-time.After(5 * time.Second):
		t.Fatal("the hook was not called")
	}
	require.Zero(t, mx.Count(), "not kept while the hook runs")
	close(release)
	select {
	case err := <-sent:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("DATA was not answered")
	}
	require.Equal(t, 1, mx.Count())
}
