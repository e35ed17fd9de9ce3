package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Placeholders until the contacts tables land.

var errTODO = errors.New("sqlstore: contacts not implemented yet")

func (db *DB) CreateSegment(ctx context.Context, s *store.Segment) error { return errTODO }
func (db *DB) GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error) {
	return nil, errTODO
}
func (db *DB) ListSegments(ctx context.Context, teamID string, p store.Page) ([]*store.Segment, bool, error) {
	return nil, false, errTODO
}
func (db *DB) UpdateSegment(ctx context.Context, s *store.Segment) error  { return errTODO }
func (db *DB) DeleteSegment(ctx context.Context, teamID, id string) error { return errTODO }
func (db *DB) CreateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error {
	return errTODO
}
func (db *DB) GetContact(ctx context.Context, teamID, idOrEmail string) (*store.Contact, error) {
	return nil, errTODO
}
func (db *DB) ListContacts(ctx context.Context, teamID, segmentID string, p store.Page) ([]*store.Contact, bool, error) {
	return nil, false, errTODO
}
func (db *DB) UpdateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error {
	return errTODO
}
func (db *DB) DeleteContact(ctx context.Context, teamID, id string, events ...*store.Event) error {
	return errTODO
}
func (db *DB) AddContactToSegment(ctx context.Context, teamID, contactID, segmentID string, at time.Time) error {
	return errTODO
}
func (db *DB) RemoveContactFromSegment(ctx context.Context, teamID, contactID, segmentID string) error {
	return errTODO
}
func (db *DB) ListContactSegments(ctx context.Context, teamID, contactID string, p store.Page) ([]*store.Segment, bool, error) {
	return nil, false, errTODO
}
