package accept

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

// AcceptBroadcast commits one chunk of a broadcast's emails with its
// progress. The broadcast's sender passes the same gate as every email, at
// send time: its domain may have lost its verification since the draft was
// saved (the key's domain restriction was checked then; a broadcast is sent
// without a key). A refused sender cancels the broadcast, in a commit that
// holds the same progress check, and the refusal (an *Error) is returned.
// Each email records the sending domain.
func (s *Service) AcceptBroadcast(ctx context.Context, b *store.Broadcast, emails []*store.Email, prog *store.BroadcastProgress) error {
	d, err := s.CheckFrom(ctx, nil, b.TeamID, &store.Email{From: b.From})
	if AsError(err) != nil {
		stop := *prog
		stop.To, stop.Done, stop.Canceled = prog.From, false, true
		if cerr := s.cfg.Store.AcceptEmails(ctx, &store.Accept{Broadcast: &stop}); cerr != nil {
			return fmt.Errorf("cancel broadcast: %w", cerr)
		}
		return err
	}
	if err != nil {
		return err
	}
	for _, e := range emails {
		if d != nil {
			e.DomainID, e.DomainName = d.ID, d.Name
		} else {
			e.DomainName = s.cfg.TestDomain
		}
	}
	if err := s.cfg.Store.AcceptEmails(ctx, &store.Accept{Emails: emails, Broadcast: prog}); err != nil {
		return err
	}
	s.accepted(ctx, SourceBroadcast, emails)
	return nil
}
