package sendreq

import (
	"bytes"
	"encoding/json"

	"github.com/godwit/godwit/internal/apierr"
)

// SplitBatch parses the body of POST /emails/batch: a JSON array of 1..100
// objects. The returned messages are sub-slices of raw (not copies); pass each
// to Decode with Options.Batch set. Items that are not objects are left for
// Decode to refuse. Errors are *apierr.Error: 400 for a body that is not JSON
// or not an array, 422 validation_error for an empty or oversized batch.
func SplitBatch(raw []byte) ([]json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, apierr.BadRequest("Invalid JSON body: the request body is empty.")
	}
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
