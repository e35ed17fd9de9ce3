package destination

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOf(t *testing.T) {
	for host, want := range map[string]string{
		"gmail-smtp-in.l.google.com":                     "gmail",
		"ALT1.aspmx.l.google.com.":                       "gmail",
		"aspmx2.googlemail.com":                          "gmail",
		"example-com.mail.protection.outlook.com":        "microsoft",
		"mta5.am0.yahoodns.net":                          "yahoo",
		"mx01.mail.icloud.com":                           "icloud",
		"in1-smtp.messagingengine.com":                   "fastmail",
		"mail.protonmail.ch":                             "proton",
		"mx.zoho.eu":                                     "zoho",
		"mx.yandex.net":                                  "yandex",
		"eu-smtp-inbound-1.mimecast.com":                 "mimecast",
		"mx0a-00123456.pphosted.com":                     "proofpoint",
		"mx.example.com":                                 "mx.example.com",
		"MX2.Example.com.":                               "mx2.example.com",
		"notgoogle.com":                                  "notgoogle.com", // a suffix matches whole labels only
		"google.com.evil.example":                        "google.com.evil.example",
		"example-com.mail.protection.outlook.com.attack": "example-com.mail.protection.outlook.com.attack",
	} {
		require.Equal(t, want, Of(host), host)
	}
}

func TestParse(t *testing.T) {
	c, err := Parse(" gmail:connections=3/messages=7/rate=2.5 , other:connections=4,yahoo:rate=0")
	require.NoError(t, err)
	require.Equal(t, Limits{Connections: 3, MessagesPerConn: 7, Rate: 2.5}, c.For("gmail", 20))
	require.Equal(t, Limits{Connections: 4}, c.For("mx.example.com", 20))
	require.Equal(t, Limits{Connections: 5, MessagesPerConn: 20}, c.For("yahoo", 20))
	// Defaults: a provider's connections at most --max-per-host; other hosts get --max-per-host.
	var none Config
	require.Equal(t, Limits{Connections: 2, MessagesPerConn: 100}, none.For("gmail", 2))
	require.Equal(t, Limits{Connections: DefaultConnections}, none.For("mx.example.com", 0))

	empty, err := Parse("")
	require.NoError(t, err)
	require.Empty(t, empty)

	for spec, wantErr := range map[string]string{
		"gmail":                        "want NAME:KEY=VALUE",
		"gmail:":                       "want NAME:KEY=VALUE",
		"hotmail:connections=2":        `unknown destination "hotmail"`,
		"gmail:connections=0":          "connections must be an integer from 1",
		"gmail:connections=x":          "connections must be an integer from 1",
		"gmail:messages=-1":            "messages (per connection) must be",
		"gmail:rate=NaN":               "rate (messages per second) must be",
		"gmail:rate=-2":                "rate (messages per second) must be",
		"gmail:speed=2":                `unknown key "speed"`,
		"gmail:connections":            "is not KEY=VALUE",
		"gmail:rate=1,gmail:rate=2":    `"gmail" is set twice`,
		"other:connections=1/rate=1e9": "rate (messages per second) must be",
	} {
		_, err := Parse(spec)
		require.ErrorContains(t, err, wantErr, spec)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "gmail:connections=3/messages=7/rate=2.5", "other:connections=4,yahoo:rate=0", "x:y=z", ",,:/=", "gmail:rate=1e-300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := Parse(spec)
		if err != nil {
			return
		}
		for _, name := range Names() {
			l := c.For(name, 20)
			if l.Connections < 1 || l.MessagesPerConn < 0 || l.Rate < 0 {
				t.Fatalf("%q: limits of %s out of range: %+v", spec, name, l)
			}
		}
	})
}
