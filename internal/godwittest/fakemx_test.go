package godwittest_test

import (
	"errors"
	"net"
	"strings"
	"testing"

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
