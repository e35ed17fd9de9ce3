package sendreq

import (
	"encoding/json"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

// SplitBatch parses the body of POST /emails/batch: a JSON array of 1..100
// objects. The returned messages are sub-slices of raw (not copies); pass each
// to Decode with Options.Batch set. Items that are not objects are left for
// Decode to refuse. Errors are *apierr.Error: 400 for a body that is not JSON
// or not an array, 422 validation_error for an empty or oversized batch.
func SplitBatch(raw []byte) ([]json.RawMessage, error) {
	if err := validJSON(raw); err != nil {
		return nil, err
	}
	elems, ok := arrayElems(raw)
	if !ok {
		return nil, apierr.BadRequest("Invalid JSON body: expected a JSON array of emails.")
	}
	if len(elems) == 0 {
		return nil, apierr.Validation("The batch is empty: send between 1 and %d emails.", MaxBatch)
	}
	if len(elems) > MaxBatch {
		return nil, apierr.Validation("Too many emails in the batch: the maximum is %d.", MaxBatch)
	}
	out := make([]json.RawMessage, len(elems))
	for i, el := range elems {
		out[i] = json.RawMessage(el)
	}
	return out, nil
}

// DecodeBatch parses the body of POST /emails/batch and decodes each of its
// emails (with Options.Batch rules), validating the JSON once for the whole
// body. err is an error of the body as a whole; otherwise emails[i] is item
// i, or nil when itemErrs[i] says why it was refused. Every error is an
// *apierr.Error.
func DecodeBatch(raw []byte, opts Options) (emails []*store.Email, itemErrs []error, err error) {
	items, err := SplitBatch(raw)
	if err != nil {
		return nil, nil, err
	}
	opts.Batch = true
	opts = opts.withDefaults()
	emails = make([]*store.Email, len(items))
	itemErrs = make([]error, len(items))
	for i, item := range items {
		ms, ok := objectMembers(item)
		if !ok {
			itemErrs[i] = apierr.BadRequest("Invalid JSON body: expected a JSON object.")
			continue
		}
		e, aerr := decodeEmail(toFields(ms), opts)
		if aerr != nil {
			itemErrs[i] = aerr
			continue
		}
		emails[i] = e
	}
	return emails, itemErrs, nil
}
