package message_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

func TestReplaceCID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`<img src="cid:logo">`, `<img src="DATA">`},
		{`<img src='cid:logo'><img src=cid:logo>`, `<img src='DATA'><img src=DATA>`},
		{`<td style="background:url(cid:logo)">`, `<td style="background:url(DATA)">`},
		{`<img src="cid:logo2"><img src="cid:logo.png">`, `<img src="cid:logo2"><img src="cid:logo.png">`},
		{`cid:logo`, `DATA`},
		{`cid:logocid:logo cid:logo`, `cid:logoDATA DATA`},
		{`no reference`, `no reference`},
	} {
		require.Equal(t, tc.want, message.ReplaceCID(tc.in, "logo", "DATA"), tc.in)
	}
}

func FuzzReplaceCID(f *testing.F) {
	f.Add(`<img src="cid:logo"><img src=cid:logo2>`, "logo")
	f.Add(`cid:cid:a"`, "cid:a")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, in, id string) {
		out := message.ReplaceCID(in, id, "\x00")
		if !strings.Contains(in, "cid:"+id) {
			require.Equal(t, in, out)
		}
		// Only references were replaced: putting them back gives the input.
		if !strings.Contains(in, "\x00") {
			require.Equal(t, in, strings.ReplaceAll(out, "\x00", "cid:"+id))
		}
	})
}

func TestInlineImages(t *testing.T) {
	t.Parallel()
	atts := []store.AttachmentInfo{
		{Index: 0, Filename: "logo.png", ContentID: "logo", Size: 3},
		{Index: 1, Filename: "report.pdf", ContentID: "report", Size: 3},                    // not an image
		{Index: 2, Filename: "big.png", ContentID: "big", Size: message.MaxInlineImage + 1}, // too large
		{Index: 3, ContentType: "image/gif; x=1", ContentID: "gone", Size: 3},               // deleted meanwhile
	}
	var read []int
	out, err := message.InlineImages(`<img src="cid:logo"><img src="cid:report"><img src="cid:big"><img src="cid:gone">`, atts,
		func(i int) (*store.Attachment, error) {
			read = append(read, i)
			if i == 3 {
				return nil, store.ErrNotFound
			}
			return &store.Attachment{Content: []byte("abc")}, nil
		})
	require.NoError(t, err)
	require.Equal(t, `<img src="data:image/png;base64,YWJj"><img src="cid:report"><img src="cid:big"><img src="cid:gone">`, out)
	require.Equal(t, []int{0, 3}, read, "only the images that can show are read")
	require.Equal(t, "application/octet-stream", message.AttachmentContentType("", "noext"))
	require.Equal(t, "text/csv", message.AttachmentContentType("text/csv", "a.png"))
}
