package delivery

import (
	"context"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

// Batch is what the emails of one delivery job are read with before their
// attempts: the emails themselves, their sending domains and which of their
// recipients are suppressed, a few queries for the whole job instead of
// three round trips per email. Whatever it lacks (a read that failed, an
// email not found) each attempt reads on its own, as without a batch. The
// queue reads a batch for the emails it holds delivery slots for, just
// before they start, so it is as fresh as the per-email reads were.
type Batch struct {
	emails  map[string]*store.Email
	domains map[domainKey]*store.Domain
	// suppressed holds, per team whose recipients were looked up, the
	// lower-cased recipients of the batch's emails (test addresses
	// excepted) that are suppressed; a team missing was not looked up.
	suppressed map[string]map[string]bool
}

type domainKey struct{ team, id string }

// ReadBatch reads the emails of ids (an immediate job's) and what the
// attempts of those and of fresh need; fresh are emails of the job already
// read (handed over by the store as it committed them). It fails only if
// the emails cannot be read; a failed domain or suppression read leaves
// that part to each attempt.
func (w *Worker) ReadBatch(ctx context.Context, ids []string, fresh []*store.Email) (*Batch, error) {
	es := fresh
	if len(ids) > 0 {
		read, err := w.Store.GetEmailsForDelivery(ctx, ids)
		if err != nil {
			return nil, err
		}
		es = append(read, fresh...)
	}
	b := &Batch{emails: make(map[string]*store.Email, len(es)), domains: map[domainKey]*store.Domain{},
		suppressed: map[string]map[string]bool{}}
	addrs := map[string][]string{} // team → its real recipients
	for _, e := range es {
		b.emails[e.ID] = e
		if store.Final(e.LastEvent) {
			continue
		}
		if k := (domainKey{e.TeamID, e.DomainID}); e.DomainID != "" {
			if _, ok := b.domains[k]; !ok {
				if d, err := w.Store.GetDomain(ctx, k.team, k.id); err == nil {
					b.domains[k] = d
				} else {
					b.domains[k] = nil // each attempt reads it, and reports the error
				}
			}
		}
		for _, st := range recipientsOf(e, nil) {
			if w.TestDomain == "" || domainOf(st.addr) != w.TestDomain {
				addrs[e.TeamID] = append(addrs[e.TeamID], st.addr)
			}
		}
	}
	for team, list := range addrs {
		got, err := w.Store.SuppressedAmong(ctx, team, list)
		if err != nil {
			continue // each attempt asks
		}
		set := make(map[string]bool, len(got))
		for a, s := range got {
			if s {
				set[strings.ToLower(a)] = true
			}
		}
		b.suppressed[team] = set
	}
	return b, nil
}

// email returns the batch's email id, if it has it.
func (b *Batch) email(id string) (*store.Email, bool) {
	if b == nil {
		return nil, false
	}
	e, ok := b.emails[id]
	return e, ok
}

// domain returns the domain the batch read for e, if it did.
func (b *Batch) domain(e *store.Email) (*store.Domain, bool) {
	if b == nil || e.DomainID == "" {
		return nil, false
	}
	d := b.domains[domainKey{e.TeamID, e.DomainID}]
	return d, d != nil
}

// suppressedAmong answers SuppressedAmong from the batch when it looked
// every one of addrs up (e's recipients, read with it).
func (b *Batch) suppressedAmong(e *store.Email, addrs []string) (map[string]bool, bool) {
	if b == nil {
		return nil, false
	}
	if _, ok := b.emails[e.ID]; !ok {
		return nil, false
	}
	set, ok := b.suppressed[e.TeamID]
	if !ok {
		return nil, false
	}
	out := map[string]bool{}
	for _, a := range addrs {
		if set[strings.ToLower(a)] {
			out[a] = true
		}
	}
	return out, true
}
