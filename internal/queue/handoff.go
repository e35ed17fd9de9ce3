package queue

import (
	"sync"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// A delivery worker used to read back every email it started, moments
// after the node's own commit had written it: on SQLite about a tenth of
// the CPU of a node that accepts and delivers. The store hands the emails
// of each committed accept to the outbox (sqlstore.EmailHandoff), which
// keeps them here for this node's workers, and the first run of the job
// made with them takes them instead of reading them.
//
// Only that run may: it is the first attempt of its emails anywhere (a job
// made at accept, marked DeliverArgs.Accepted; River counts a job's runs,
// so a run after an error or a crash, which may follow attempts, reads the
// store). Each email is taken at most once. The emails are kept for
// handoffMaxAge to 2×handoffMaxAge, and up to handoffMaxBytes in all: an
// email whose job runs on another node (PostgreSQL), or later, or that did
// not fit, is read from the store as before.

// handoffMaxBytes bounds the memory of the emails kept (about their
// bodies' sizes); past it, newly committed emails are not kept.
const handoffMaxBytes = 8 << 20

// handoffMaxAge is how long an email is kept at least.
const handoffMaxAge = 2 * time.Second

// handoff holds emails committed on this node until their first delivery
// run takes them.
type handoff struct {
	mu        sync.Mutex
	cur, prev map[string]handedEmail
	bytes     int // of the emails in cur and prev
	rotated   time.Time
	now       func() time.Time
}

type handedEmail struct {
	e    *store.Email
	size int
}

func newHandoff(now func() time.Time) *handoff {
	return &handoff{cur: map[string]handedEmail{}, prev: map[string]handedEmail{}, rotated: now(), now: now}
}

// put keeps emails, as far as they fit.
func (h *handoff) put(emails []*store.Email) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	for _, e := range emails {
		n := emailSize(e)
		if h.bytes+n > handoffMaxBytes {
			return
		}
		h.cur[e.ID] = handedEmail{e, n}
		h.bytes += n
	}
}

// take removes and returns the kept emails among ids, and the ids it does
// not have.
func (h *handoff) take(ids []string) (got []*store.Email, rest []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	for _, id := range ids {
		he, ok := h.cur[id]
		if ok {
			delete(h.cur, id)
		} else if he, ok = h.prev[id]; ok {
			delete(h.prev, id)
		}
		if !ok {
			rest = append(rest, id)
			continue
		}
		h.bytes -= he.size
		got = append(got, he.e)
	}
	return got, rest
}

// expire drops the emails kept for more than handoffMaxAge by the last
// rotation.
func (h *handoff) expire() {
	now := h.now()
	if now.Sub(h.rotated) < handoffMaxAge {
		return
	}
	for _, he := range h.prev {
		h.bytes -= he.size
	}
	if now.Sub(h.rotated) >= 2*handoffMaxAge {
		for _, he := range h.cur { // none of them is recent either
			h.bytes -= he.size
		}
		clear(h.cur)
	}
	h.prev, h.cur = h.cur, h.prev
	clear(h.cur)
	h.rotated = now
}

// emailSize approximates the memory an email holds.
func emailSize(e *store.Email) int {
	n := 512 + len(e.Subject) + len(e.From)
	if e.HTML != nil {
		n += len(*e.HTML)
	}
	if e.Text != nil {
		n += len(*e.Text)
	}
	for _, l := range [][]string{e.To, e.Cc, e.Bcc, e.ReplyTo} {
		for _, s := range l {
			n += 16 + len(s)
		}
	}
	for _, h := range e.Headers {
		n += 32 + len(h.Name) + len(h.Value)
	}
	for _, t := range e.Tags {
		n += 32 + len(t.Name) + len(t.Value)
	}
	return n
}
