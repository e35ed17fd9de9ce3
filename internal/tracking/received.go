package tracking

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ReceivedDownload is what a received email's download token carries: the
// raw message of one of a team's received emails (AttachmentID "") or one
// of its attachments, until Expires (not checked by parsing, as for
// Download).
type ReceivedDownload struct {
	EmailID string // a UUID; parsing returns it in canonical lower-case form
	// AttachmentID is the attachment's id (a UUID), or "" for the raw message.
	AttachmentID string
	TeamID       string // at most 256 bytes
	Expires      time.Time
}

// What a received email's download token names.
const (
	recvRaw        = 0
	recvAttachment = 1
)

// ReceivedDownloadToken returns the token of a received email's download
// link (the Receiving API's raw.download_url and attachments'
// download_url). It panics if d.EmailID or a non-empty d.AttachmentID is
// not a UUID, or d.TeamID is empty or longer than 256 bytes.
func (s *Signer) ReceivedDownloadToken(d ReceivedDownload) string {
	checkTeam(d.TeamID)
	b := make([]byte, 0, headSize+8+1+idSize+len(d.TeamID)+macSize)
	b = appendHead(b, kindRecv, d.EmailID)
	b = binary.BigEndian.AppendUint64(b, uint64(d.Expires.Unix()))
	if d.AttachmentID == "" {
		b = append(b, recvRaw)
	} else {
		id, err := uuid.Parse(d.AttachmentID)
		if err != nil {
			panic(fmt.Sprintf("tracking: attachment id %q is not a UUID", d.AttachmentID))
		}
		b = append(b, recvAttachment)
		b = append(b, id[:]...)
	}
	b = append(b, d.TeamID...)
	return s.seal(b, kindRecv)
}

// ParseReceivedDownload verifies a received email's download token and
// returns what it carries.
func (s *Signer) ParseReceivedDownload(tok string) (ReceivedDownload, error) {
	id, body, err := s.open(tok, kindRecv)
	if err != nil {
		return ReceivedDownload{}, err
	}
	if len(body) < 9 {
		return ReceivedDownload{}, fmt.Errorf("%w: no expiry", ErrInvalidToken)
	}
	d := ReceivedDownload{EmailID: id.String(), Expires: time.Unix(int64(binary.BigEndian.Uint64(body)), 0).UTC()}
	rest := body[9:]
	switch body[8] {
	case recvRaw:
	case recvAttachment:
		if len(rest) < idSize {
			return ReceivedDownload{}, fmt.Errorf("%w: no attachment id", ErrInvalidToken)
		}
		d.AttachmentID = uuid.UUID(rest[:idSize]).String()
		rest = rest[idSize:]
	default:
		return ReceivedDownload{}, fmt.Errorf("%w: unknown download %d", ErrInvalidToken, body[8])
	}
	if !validTeam(rest) {
		return ReceivedDownload{}, fmt.Errorf("%w: bad team id", ErrInvalidToken)
	}
	d.TeamID = string(rest)
	return d, nil
}
