// Package contactimport imports contacts from a CSV file, as Resend's
// POST /contacts/imports does, on a job.
//
// # Create, then run
//
// Create checks a request (the CSV's shape and size, column_map against
// the header, on_conflict, that the segments and topics exist) and stores,
// in one transaction, the import queued, its source (the CSV as uploaded
// and the options) and its job. Nothing else is written: a refused request
// changes nothing, and a created one will run.
//
// Run is the job. It moves the import to in_progress, reads the CSV's
// records in batches of BatchSize and commits each batch's contacts with
// the import's counts and row offset (how many records the committed
// batches have read) in one transaction, and completes the import with the
// last batch, which also deletes the source. A batch commits only if the
// import's row offset is still where the batch started, so a job that runs
// again after a crash resumes after the last committed batch, and two runs
// at once never write a row twice.
//
// # Rows
//
// Each row creates a contact, updates one (on_conflict upsert: non-empty
// cells change its fields, properties are merged, segments are joined and
// topic subscriptions set) or is skipped (on_conflict skip, the default);
// a row that cannot be a contact (an invalid address, a value of the wrong
// type) fails and is counted, and the import goes on. Imports record no
// contact events (Resend's CSV imports do not fire contact.created).
//
// A batch is planned from the contacts as read before it, and the store
// refuses it whole if one of them changed meanwhile (store.ErrConflict):
// the batch is planned again from a fresh read.
//
// # Failure
//
// An import fails, with a reason kept for operators, when it cannot go on
// whatever the retries: its source is missing or unreadable, or a segment
// or topic it names was deleted. Other errors (the store's) are returned,
// and the job is retried; the queue fails the import once it gives up.
package contactimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/store"
)

const (
	// MaxBytes is Resend's limit on the CSV.
	MaxBytes = 50 << 20
	// MaxRows bounds the data rows of one import.
	MaxRows = 10000
	// BatchSize is the default number of records written per transaction.
	BatchSize = 500
	// conflictRetries bounds the times a batch is planned again after the
	// contacts it read changed.
	conflictRetries = 3
)

// Store is what the importer needs of the store.
type Store interface {
	GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error)
	GetTopic(ctx context.Context, teamID, id string) (*store.Topic, error)
	ContactPropertiesByKey(ctx context.Context, teamID string, keys []string) ([]*store.ContactProperty, error)
	ContactsByEmail(ctx context.Context, teamID string, emails []string) ([]*store.Contact, error)

	CreateContactImport(ctx context.Context, ci *store.ContactImport, src *store.ContactImportSource) error
	GetContactImport(ctx context.Context, teamID, id string) (*store.ContactImport, error)
	GetContactImportSource(ctx context.Context, teamID, id string) (*store.ContactImportSource, error)
	StartContactImport(ctx context.Context, teamID, id string) (*store.ContactImport, error)
	WriteContactImportBatch(ctx context.Context, b *store.ContactImportBatch) error
	FailContactImport(ctx context.Context, teamID, id, reason string, at time.Time) error
}

// Code says what is wrong with a refused request.
type Code string

const (
	// CodeInvalid is a request that is not a valid import (Resend's 422).
	CodeInvalid Code = "invalid"
	// CodeTooLarge is a CSV over MaxBytes (413).
	CodeTooLarge Code = "too_large"
	// CodeSegmentNotFound and CodeTopicNotFound name a segment or topic
	// the team does not have (404).
	CodeSegmentNotFound Code = "segment_not_found"
	CodeTopicNotFound   Code = "topic_not_found"
)

// Error is a request Create refuses; Message is safe to show the client.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "contact import: " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// Request is a contact import as POST /contacts/imports asks for it.
type Request struct {
	TeamID string
	// CSV is the file.
	CSV []byte
	// ColumnMap is column_map as the form carries it (JSON; "" for none).
	ColumnMap string
	// OnConflict is "skip" (or "") or "upsert".
	OnConflict string
	// Segments are the ids of the segments to add contacts to, Topics the
	// subscriptions to give them.
	Segments []string
	Topics   []store.TopicSubscription
}

// options are what the job needs of a request besides the CSV, stored with
// it (ContactImportSource.Options).
type options struct {
	ColumnMap *ColumnMap    `json:"column_map,omitempty"`
	Upsert    bool          `json:"upsert,omitempty"`
	Segments  []string      `json:"segments,omitempty"`
	Topics    []topicOption `json:"topics,omitempty"`
}

type topicOption struct {
	ID           string `json:"id"`
	Subscription string `json:"subscription"`
}

func (o *options) topics() []store.TopicSubscription {
	if len(o.Topics) == 0 {
		return nil
	}
	out := make([]store.TopicSubscription, len(o.Topics))
	for i, t := range o.Topics {
		out[i] = store.TopicSubscription{TopicID: t.ID, Subscription: t.Subscription}
	}
	return out
}

// Importer creates and runs contact imports.
type Importer struct {
	Store Store
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BatchSize is the number of CSV records written per transaction
	// (BatchSize when 0).
	BatchSize int
	// AfterBatch, when set, runs after each committed batch with the
	// import's new row offset (tests use it to stop a run, as a crash).
	AfterBatch func(rowOffset int) error
	Logger     *slog.Logger
}

func (im *Importer) now() time.Time {
	if im.Now != nil {
		return im.Now().UTC()
	}
	return time.Now().UTC()
}

func (im *Importer) logger() *slog.Logger {
	if im.Logger != nil {
		return im.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Create checks a request and stores the import queued, with its source
// and its job, in one transaction. Its errors are *Error for a request it
// refuses, anything else for a failure of the store.
func (im *Importer) Create(ctx context.Context, req Request) (*store.ContactImport, error) {
	if len(req.CSV) > MaxBytes {
		return nil, &Error{Code: CodeTooLarge, Message: "The CSV file is larger than the 50 MB limit."}
	}
	cm, err := ParseColumnMap(req.ColumnMap)
	if err != nil {
		return nil, err
	}
	opts := options{ColumnMap: cm, Segments: req.Segments}
	switch strings.TrimSpace(req.OnConflict) {
	case "", "skip":
	case "upsert":
		opts.Upsert = true
	default:
		return nil, invalid("The `on_conflict` field must be `skip` or `upsert`.")
	}
	for _, id := range req.Segments {
		if _, err := im.Store.GetSegment(ctx, req.TeamID, id); errors.Is(err, store.ErrNotFound) {
			return nil, &Error{Code: CodeSegmentNotFound, Message: "Segment not found"}
		} else if err != nil {
			return nil, fmt.Errorf("get segment: %w", err)
		}
	}
	for _, t := range req.Topics {
		if _, err := im.Store.GetTopic(ctx, req.TeamID, t.TopicID); errors.Is(err, store.ErrNotFound) {
			return nil, &Error{Code: CodeTopicNotFound, Message: "Topic not found"}
		} else if err != nil {
			return nil, fmt.Errorf("get topic: %w", err)
		}
		opts.Topics = append(opts.Topics, topicOption{ID: t.TopicID, Subscription: t.Subscription})
	}
	header, err := checkCSV(bytes.NewReader(req.CSV))
	if err != nil {
		return nil, err
	}
	if _, err := newPlan(header, cm); err != nil {
		return nil, err
	}
	encoded, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode import options: %w", err)
	}
	ci := &store.ContactImport{ID: store.NewID(), TeamID: req.TeamID, Status: store.ImportQueued, CreatedAt: im.now()}
	if err := im.Store.CreateContactImport(ctx, ci, &store.ContactImportSource{CSV: req.CSV, Options: encoded}); err != nil {
		return nil, fmt.Errorf("create contact import: %w", err)
	}
	im.logger().Info("contact import queued", slog.String("import_id", ci.ID), slog.String("team_id", ci.TeamID),
		slog.Int("bytes", len(req.CSV)))
	return ci, nil
}

// failure is a reason an import cannot go on.
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

// Run runs (or resumes) an import's job. An import that has ended, or is
// gone, is done. An import that cannot go on is failed with its reason and
// Run returns nil; any other error is returned, for the job to be retried.
func (im *Importer) Run(ctx context.Context, teamID, id string) error {
	err := im.run(ctx, teamID, id)
	if f, ok := errors.AsType[*failure](err); ok {
		im.logger().Warn("contact import failed", slog.String("import_id", id), slog.String("team_id", teamID),
			slog.String("reason", f.reason))
		return im.Fail(ctx, teamID, id, f.reason)
	}
	return err
}

// Fail ends an import that has not ended as failed, with its reason (the
// queue calls it when it gives up on a job).
func (im *Importer) Fail(ctx context.Context, teamID, id, reason string) error {
	err := im.Store.FailContactImport(ctx, teamID, id, reason, im.now())
	if errors.Is(err, store.ErrImportState) || errors.Is(err, store.ErrNotFound) {
		return nil // it ended, or is gone
	}
	if err != nil {
		return fmt.Errorf("fail contact import: %w", err)
	}
	return nil
}

func (im *Importer) run(ctx context.Context, teamID, id string) error {
	ci, err := im.Store.StartContactImport(ctx, teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start contact import: %w", err)
	}
	if ci.Status != store.ImportInProgress {
		return nil
	}
	im.logger().Info("contact import started", slog.String("import_id", id), slog.String("team_id", teamID),
		slog.Int("row_offset", ci.RowOffset))
	src, err := im.Store.GetContactImportSource(ctx, teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return &failure{"the import's source is missing"}
	}
	if err != nil {
		return fmt.Errorf("get contact import source: %w", err)
	}
	var opts options
	if err := json.Unmarshal(src.Options, &opts); err != nil {
		return &failure{fmt.Sprintf("the import's options cannot be read: %v", err)}
	}
	j := &job{im: im, teamID: teamID, id: id, src: src, opts: &opts, topics: opts.topics()}
	if err := j.prepare(ctx); err != nil {
		return err
	}
	for {
		err := j.resume(ctx, ci.RowOffset)
		if !errors.Is(err, store.ErrImportState) {
			return err
		}
		// Another run committed a batch, or the import ended: go on from
		// where it stands.
		if ci, err = im.Store.GetContactImport(ctx, teamID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("get contact import: %w", err)
		}
		if ci.Status != store.ImportInProgress {
			return nil
		}
	}
}

// job is one run of an import.
type job struct {
	im         *Importer
	teamID, id string
	src        *store.ContactImportSource
	opts       *options
	topics     []store.TopicSubscription
	plan       *plan
	declared   map[string]string
}

// prepare maps the CSV's header and reads the declared types of its
// properties.
func (j *job) prepare(ctx context.Context) error {
	header, err := newReader(bytes.NewReader(j.src.CSV)).Read()
	if err != nil {
		return &failure{fmt.Sprintf("the CSV's header cannot be read: %v", err)}
	}
	if j.plan, err = newPlan(header, j.opts.ColumnMap); err != nil {
		return &failure{err.Error()}
	}
	if keys := j.plan.keys(); len(keys) > 0 {
		defs, err := j.im.Store.ContactPropertiesByKey(ctx, j.teamID, keys)
		if err != nil {
			return fmt.Errorf("contact properties by key: %w", err)
		}
		j.declared = make(map[string]string, len(defs))
		for _, d := range defs {
			j.declared[d.Key] = d.Type
		}
		j.plan.declare(j.declared)
	}
	return nil
}

// resume writes the batches after the first offset records.
func (j *job) resume(ctx context.Context, offset int) error {
	cr := newReader(bytes.NewReader(j.src.CSV))
	if _, err := cr.Read(); err != nil {
		return &failure{fmt.Sprintf("the CSV's header cannot be read: %v", err)}
	}
	for range offset {
		if _, err := cr.Read(); err != nil {
			return &failure{fmt.Sprintf("the CSV has fewer records than the import has read: %v", err)}
		}
	}
	size := j.im.BatchSize
	if size <= 0 {
		size = BatchSize
	}
	for {
		b := &batch{from: offset}
		for len(b.records) < size {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				b.done = true
				break
			}
			if err != nil {
				return &failure{fmt.Sprintf("the CSV cannot be read at record %d: %v", offset+len(b.records)+1, err)}
			}
			b.records = append(b.records, append([]string(nil), rec...))
		}
		if err := j.write(ctx, b); err != nil {
			return err
		}
		offset += len(b.records)
		if j.im.AfterBatch != nil {
			if err := j.im.AfterBatch(offset); err != nil {
				return err
			}
		}
		if b.done {
			j.im.logger().Info("contact import completed", slog.String("import_id", j.id), slog.String("team_id", j.teamID),
				slog.Int("rows", offset))
			return nil
		}
	}
}

// batch is the records of one transaction.
type batch struct {
	from    int
	records [][]string
	done    bool
}

// write plans a batch from the contacts as they are and commits it,
// planning it again if one of them changed meanwhile.
func (j *job) write(ctx context.Context, b *batch) error {
	var rows []*row // nil: the record is a blank line or a failed row
	counts := store.ContactImportCounts{}
	var emails []string
	for _, rec := range b.records {
		if blank(rec) {
			rows = append(rows, nil)
			continue
		}
		counts.Total++
		r, err := j.plan.row(rec)
		if err == nil {
			err = checkDeclared(j.declared, r.props)
		}
		if err != nil {
			counts.Failed++
			rows = append(rows, nil)
			continue
		}
		rows = append(rows, r)
		emails = append(emails, r.email)
	}
	for attempt := 1; ; attempt++ {
		existing, err := j.im.Store.ContactsByEmail(ctx, j.teamID, emails)
		if err != nil {
			return fmt.Errorf("contacts by email: %w", err)
		}
		sb := j.decide(b, rows, counts, existing)
		err = j.im.Store.WriteContactImportBatch(ctx, sb)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrConflict) && attempt < conflictRetries:
			continue
		case errors.Is(err, store.ErrNotFound): // or store.ErrUnknownTopic
			return &failure{"a segment or topic of the import was deleted"}
		case errors.Is(err, store.ErrImportState):
			return err
		}
		return fmt.Errorf("write contact import batch: %w", err)
	}
}

// decide decides each row's outcome against the existing contacts: a row
// whose address an earlier row of the batch made or found acts on that
// contact.
func (j *job) decide(b *batch, rows []*row, counts store.ContactImportCounts, existing []*store.Contact) *store.ContactImportBatch {
	now := j.im.now()
	sb := &store.ContactImportBatch{TeamID: j.teamID, ImportID: j.id, From: b.from, To: b.from + len(b.records),
		Done: b.done, At: now}
	found := make(map[string]*store.Contact, len(existing))
	for _, c := range existing {
		found[strings.ToLower(c.Email)] = c
	}
	pending := map[string]*store.Contact{} // this batch's contacts by address key
	for _, r := range rows {
		if r == nil {
			continue
		}
		key := strings.ToLower(r.email)
		c, ok := pending[key]
		old := found[key]
		switch {
		case !ok && old == nil:
			c = &store.Contact{ID: store.NewID(), TeamID: j.teamID, Email: r.email, FirstName: r.firstName, LastName: r.lastName,
				Properties: r.props, SegmentIDs: j.opts.Segments, Topics: j.topics, CreatedAt: now, UpdatedAt: now}
			if r.unsubscribed != nil {
				c.Unsubscribed = *r.unsubscribed
			}
			pending[key] = c
			sb.Create = append(sb.Create, c)
			counts.Created++
		case !j.opts.Upsert:
			counts.Skipped++
		case ok:
			if !update(c, r, now) {
				counts.Failed++
				continue
			}
			counts.Updated++
		default:
			cp := *old
			c = &cp
			c.SegmentIDs, c.Topics = j.opts.Segments, j.topics
			if !update(c, r, now) {
				counts.Failed++
				continue
			}
			pending[key] = c
			sb.Update = append(sb.Update, &store.ContactImportUpdate{Contact: c, Read: old.UpdatedAt})
			counts.Updated++
		}
	}
	// Updates lock their rows in one order (by address), so that two
	// imports updating the same contacts on PostgreSQL wait for each other
	// instead of deadlocking. Creates keep the file's order (the contacts'
	// list order): two imports creating the same new addresses in opposite
	// orders at once may deadlock, and the job that loses is retried.
	slices.SortFunc(sb.Update, func(a, b *store.ContactImportUpdate) int {
		return strings.Compare(strings.ToLower(a.Contact.Email), strings.ToLower(b.Contact.Email))
	})
	sb.Counts = counts
	return sb
}

// update applies a row's non-empty cells to a contact; false if the
// contact cannot take them (too many properties), and then c is unchanged.
func update(c *store.Contact, r *row, now time.Time) bool {
	props, err := contact.MergeProperties(c.Properties, r.props)
	if err != nil {
		return false
	}
	c.Properties = props
	if r.firstName != nil {
		c.FirstName = r.firstName
	}
	if r.lastName != nil {
		c.LastName = r.lastName
	}
	if r.unsubscribed != nil {
		c.Unsubscribed = *r.unsubscribed
	}
	c.UpdatedAt = now
	return true
}
