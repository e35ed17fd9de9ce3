package tlsrpt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseTXT(t *testing.T) {
	r, err := ParseTXT("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/v1/tlsrpt")
	require.NoError(t, err)
	require.Len(t, r.RUA, 2)
	require.Equal(t, "mailto", r.RUA[0].Scheme)
	require.Equal(t, "tlsrpt@example.com", r.RUA[0].Opaque)
	require.Equal(t, "https://reports.example.com/v1/tlsrpt", r.RUA[1].String())

	r, err = ParseTXT("v=TLSRPTv1;rua=MAILTO:a%40b.example;ext=1;")
	require.NoError(t, err)
	require.Equal(t, "a@b.example", r.RUA[0].Opaque)

	for _, bad := range []string{"", "v=STSv1; id=1", "rua=mailto:a@b; v=TLSRPTv1", "v=TLSRPTv1", "v=TLSRPTv1; rua=ftp://x",
		"v=TLSRPTv1; rua=mailto:not an address", "v=TLSRPTv1; rua=https:///path", "v=TLSRPTv1; junk", strings.Repeat("x", MaxTXTSize+1)} {
		_, err := ParseTXT(bad)
		require.Error(t, err, bad)
	}
}

func FuzzParseTXT(f *testing.F) {
	for _, s := range []string{"v=TLSRPTv1; rua=mailto:tlsrpt@example.com", "v=TLSRPTv1;rua=https://r.example/x,mailto:a@b",
		"v=TLSRPTv1; rua=mailto:%zz", "v=TLSRPTv1; rua=", "v=TLSRPTv1 ; rua = https://h ; x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTXT(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, r.RUA)
		for _, u := range r.RUA {
			require.Contains(t, []string{"mailto", "https"}, u.Scheme)
		}
	})
}
