package tracking

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxTeamIDLen bounds the team id a share or download token carries.
const maxTeamIDLen = 256

// Share is what a share token carries: a read-only view of one of a team's
// emails, until Expires. Parsing does not check the expiry (the caller
// compares it with its own clock, so that it can tell an expired link from
// a forged one).
type Share struct {
	EmailID string // a UUID; parsing returns it in canonical lower-case form
	TeamID  string // at most 256 bytes
	Expires time.Time
}

// Download is what an attachment download token carries: the Index-th
// attachment of a team's email, until Expires (not checked by parsing).
type Download struct {
	EmailID string // a UUID; parsing returns it in canonical lower-case form
	TeamID  string // at most 256 bytes
	Index   int    // the attachment's position in the email, from 0
	Expires time.Time
}

// MaxShareTTL is the longest a share link lives (Resend's bound on
// expires_in, and its default).
const MaxShareTTL = 48 * time.Hour

// ShareLink returns the link that shares the team's email for ttl from now,
// under publicURL (GET /share/{token} is served there), and when it
// expires: rounded up to the second the token keeps, so that a link never
// expires early. The API's POST /emails/{id}/share and the dashboard's
// share form both make their links here. It panics as ShareToken does.
func (s *Signer) ShareLink(publicURL, teamID, emailID string, now time.Time, ttl time.Duration) (string, time.Time) {
	exp := now.UTC().Add(ttl + time.Second - 1).Truncate(time.Second)
	tok := s.ShareToken(Share{EmailID: emailID, TeamID: teamID, Expires: exp})
	return strings.TrimSuffix(publicURL, "/") + "/share/" + tok, exp
}

// ShareToken returns the token of a share link. It panics if s.EmailID is
// not a UUID or s.TeamID is empty or longer than 256 bytes.
func (s *Signer) ShareToken(sh Share) string {
	checkTeam(sh.TeamID)
	b := make([]byte, 0, headSize+8+len(sh.TeamID)+macSize)
	b = appendHead(b, kindShare, sh.EmailID)
	b = binary.BigEndian.AppendUint64(b, uint64(sh.Expires.Unix()))
	b = append(b, sh.TeamID...)
	return s.seal(b, kindShare)
}

// ParseShare verifies a share token and returns what it carries.
func (s *Signer) ParseShare(tok string) (Share, error) {
	id, body, err := s.open(tok, kindShare)
	if err != nil {
		return Share{}, err
	}
	if len(body) < 8 {
		return Share{}, fmt.Errorf("%w: no expiry", ErrInvalidToken)
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(body)), 0).UTC()
	team := body[8:]
	if !validTeam(team) {
		return Share{}, fmt.Errorf("%w: bad team id", ErrInvalidToken)
	}
	return Share{EmailID: id.String(), TeamID: string(team), Expires: exp}, nil
}

// DownloadToken returns the token of an attachment's download link. It
// panics if d.EmailID is not a UUID, d.Index is negative or above
// math.MaxInt32, or d.TeamID is empty or longer than 256 bytes.
func (s *Signer) DownloadToken(d Download) string {
	checkTeam(d.TeamID)
	if d.Index < 0 || d.Index > maxIndex {
		panic(fmt.Sprintf("tracking: attachment index %d out of range", d.Index))
	}
	b := make([]byte, 0, headSize+8+binary.MaxVarintLen64+len(d.TeamID)+macSize)
	b = appendHead(b, kindFile, d.EmailID)
	b = binary.BigEndian.AppendUint64(b, uint64(d.Expires.Unix()))
	b = binary.AppendUvarint(b, uint64(d.Index))
	b = append(b, d.TeamID...)
	return s.seal(b, kindFile)
}

// ParseDownload verifies a download token and returns what it carries.
func (s *Signer) ParseDownload(tok string) (Download, error) {
	id, body, err := s.open(tok, kindFile)
	if err != nil {
		return Download{}, err
	}
	if len(body) < 8 {
		return Download{}, fmt.Errorf("%w: no expiry", ErrInvalidToken)
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(body)), 0).UTC()
	idx, n := binary.Uvarint(body[8:])
	if n <= 0 || idx > maxIndex {
		return Download{}, fmt.Errorf("%w: bad attachment index", ErrInvalidToken)
	}
	team := body[8+n:]
	if !validTeam(team) {
		return Download{}, fmt.Errorf("%w: bad team id", ErrInvalidToken)
	}
	return Download{EmailID: id.String(), TeamID: string(team), Index: int(idx), Expires: exp}, nil
}

func checkTeam(team string) {
	if team == "" || len(team) > maxTeamIDLen {
		panic("tracking: team id empty or too long")
	}
}

func validTeam(b []byte) bool {
	return len(b) > 0 && len(b) <= maxTeamIDLen && utf8.Valid(b)
}
