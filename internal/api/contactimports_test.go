package api

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// importBody builds a multipart body as the Node SDK sends it: the CSV in
// `file`, the other fields as strings (JSON for column_map, segments and
// topics).
func importBody(t testing.TB, csv string, fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", "contacts.csv")
	require.NoError(t, err)
	_, _ = fw.Write([]byte(csv))
	for i := 0; i+1 < len(fields); i += 2 {
		require.NoError(t, mw.WriteField(fields[i], fields[i+1]))
	}
	require.NoError(t, mw.Close())
	return b.String(), mw.FormDataContentType()
}

func (e *testEnv) importCSV(key, csv string, fields ...string) result {
	e.t.Helper()
	body, ct := importBody(e.t, csv, fields...)
	return e.do("POST", "/contacts/imports", key, body, "Content-Type", ct)
}

// runImport runs an import's job, as the queue would, after checking that
// the request left it queued.
func (e *testEnv) runImport(teamID, id string) {
	e.t.Helper()
	ci, err := e.db.GetContactImport(context.Background(), teamID, id)
	require.NoError(e.t, err)
	require.Equal(e.t, store.ImportQueued, ci.Status)
	im := &contactimport.Importer{Store: e.db, Now: e.clock.Now}
	require.NoError(e.t, im.Run(context.Background(), teamID, id))
}

func TestContactImports(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		seg := e.newSegment(e.keyA, "imported")
		topic := e.newTopic(e.keyA, `{"name":"news","default_subscription":"opt_out"}`)
		e.newProperty(e.keyA, `{"key":"seats","type":"number","fallback_value":1}`)
		e.newContact(e.keyA, `{"email":"old@example.net","first_name":"Old"}`)
		before := len(e.teamEvents(e.teamA, func(string) bool { return true }))

		csv := "\ufeffEmail,First Name,last_name,Unsubscribed,plan,seats\n" +
			"new@example.net,Ann,Lee,false,pro,3\n" +
			"OLD@example.net,Changed,,,,\n" +
			"not-an-address,X,,,,\n" +
			"bad@example.net,,,maybe,,\n" +
			"\n" +
			"seats@example.net,,,,,many\n" +
			"\"a,b@example.net\",\"A, B\",,yes,,\n"
		r := e.importCSV(e.keyA, csv, "segments", `[{"id":"`+seg+`"}]`,
			"topics", `[{"id":"`+topic+`","subscription":"opt_in"}]`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, []string{"id", "object"}, keysOf(r.json))
		require.Equal(t, "contact_import", r.json["object"])
		id := r.json["id"].(string)
		r = e.do("GET", "/contacts/imports/"+id, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_import", "id": id, "status": "queued",
			"created_at": "2026-11-28 12:00:00+00", "completed_at": nil,
			"counts": map[string]any{"total": 0.0, "created": 0.0, "updated": 0.0, "skipped": 0.0, "failed": 0.0}}, r.json,
			"the job imports the rows")
		e.runImport(e.teamA, id)

		r = e.do("GET", "/contacts/imports/"+id, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_import", "id": id, "status": "completed",
			"created_at": "2026-11-28 12:00:00+00", "completed_at": "2026-11-28 12:00:00+00",
			"counts": map[string]any{"total": 6.0, "created": 1.0, "updated": 0.0, "skipped": 1.0, "failed": 4.0}}, r.json,
			"invalid email, bad boolean, a number property that is not one, and an address the CSV cannot quote as a contact's")

		r = e.do("GET", "/contacts/new@example.net", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "Ann", r.json["first_name"])
		require.Equal(t, "Lee", r.json["last_name"])
		require.Equal(t, false, r.json["unsubscribed"])
		require.Equal(t, map[string]any{"plan": "pro", "seats": 3.0}, r.json["properties"])
		require.Equal(t, []string{seg}, listIDs(t, e.do("GET", "/contacts/new@example.net/segments", e.keyA, "")))
		require.Equal(t, []string{topic + "=opt_in"}, e.subscriptions(e.keyA, "new@example.net"))
		r = e.do("GET", "/contacts/old@example.net", e.keyA, "")
		require.Equal(t, "Old", r.json["first_name"], "skipped by default")
		require.Empty(t, listIDs(t, e.do("GET", "/contacts/old@example.net/segments", e.keyA, "")))

		require.Len(t, e.teamEvents(e.teamA, func(string) bool { return true }), before, "imports record no contact events")

		// Upsert, with a column_map as the Node SDK encodes it.
		r = e.importCSV(e.keyA, "E-mail,Given,Unsub,Tier\nold@example.net,Olga,1,gold\nnew@example.net,,,\nfresh@example.net,Fred,0,\n",
			"column_map", `{"email":"E-mail","first_name":"Given","unsubscribed":"Unsub","properties":{"tier":{"column":"Tier"}}}`,
			"on_conflict", "upsert", "segments", `[{"id":"`+seg+`"}]`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		upsert := r.json["id"].(string)
		e.runImport(e.teamA, upsert)
		r = e.do("GET", "/contacts/imports/"+upsert, e.keyA, "")
		require.Equal(t, map[string]any{"total": 3.0, "created": 1.0, "updated": 2.0, "skipped": 0.0, "failed": 0.0}, r.json["counts"])
		r = e.do("GET", "/contacts/old@example.net", e.keyA, "")
		require.Equal(t, "Olga", r.json["first_name"])
		require.Equal(t, true, r.json["unsubscribed"])
		require.Equal(t, map[string]any{"tier": "gold"}, r.json["properties"])
		require.Equal(t, []string{seg}, listIDs(t, e.do("GET", "/contacts/old@example.net/segments", e.keyA, "")))
		r = e.do("GET", "/contacts/new@example.net", e.keyA, "")
		require.Equal(t, "Ann", r.json["first_name"], "empty cells change nothing")
		require.Equal(t, map[string]any{"plan": "pro", "seats": 3.0}, r.json["properties"])
		require.Len(t, e.teamEvents(e.teamA, func(string) bool { return true }), before)

		// Lists, newest first, filtered by status; another team sees none.
		require.Equal(t, []string{upsert, id}, listIDs(t, e.do("GET", "/contacts/imports", e.keyA, "")))
		require.Equal(t, []string{upsert}, listIDs(t, e.do("GET", "/contacts/imports?status=completed&limit=1", e.keyA, "")))
		require.Equal(t, []string{id}, listIDs(t, e.do("GET", "/contacts/imports?after="+upsert, e.keyA, "")))
		require.Empty(t, listIDs(t, e.do("GET", "/contacts/imports?status=failed", e.keyA, "")))
		requireError(t, e.do("GET", "/contacts/imports?status=done", e.keyA, ""), 422, "validation_error")
		require.Empty(t, listIDs(t, e.do("GET", "/contacts/imports", e.keyB, "")))
		requireError(t, e.do("GET", "/contacts/imports/"+id, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/contacts/imports/nope", e.keyA, ""), 422, "invalid_parameter")
		requireError(t, e.do("GET", "/contacts/x/y", e.keyA, ""), 404, "not_found")
		require.Equal(t, 200, e.do("GET", "/contacts/old@example.net/segments", e.keyA, "").status, "contact routes still match")

		// Bad requests change nothing.
		for _, c := range []struct {
			name, csv string
			fields    []string
			status    int
			errName   string
		}{
			{"unterminated quote", "email\n\"a@example.net\n", nil, 422, "validation_error"},
			{"empty file", "", nil, 422, "validation_error"},
			{"no email column", "name\nx\n", nil, 422, "validation_error"},
			{"unknown mapped column", "email\na@example.net\n", []string{"column_map", `{"first_name":"Nope"}`}, 422, "validation_error"},
			{"column_map not JSON", "email\na@example.net\n", []string{"column_map", `{`}, 422, "validation_error"},
			{"on_conflict", "email\na@example.net\n", []string{"on_conflict", "replace"}, 422, "validation_error"},
			{"segments", "email\na@example.net\n", []string{"segments", `[{"id":"x"}]`}, 422, "invalid_parameter"},
			{"unknown segment", "email\na@example.net\n", []string{"segments", `[{"id":"00000000-0000-4000-8000-000000000000"}]`}, 404, "not_found"},
			{"unknown topic", "email\na@example.net\n", []string{"topics", `[{"id":"00000000-0000-4000-8000-000000000000","subscription":"opt_in"}]`}, 404, "not_found"},
			{"property type", "email,n\na@example.net,1\n", []string{"column_map", `{"properties":{"n":{"column":"n","type":"date"}}}`}, 422, "validation_error"},
		} {
			requireError(t, e.importCSV(e.keyA, c.csv, c.fields...), c.status, c.errName)
		}
		requireError(t, e.do("POST", "/contacts/imports", e.keyA, `{"file":"x"}`, "Content-Type", "application/json"), 422, "validation_error")
		body, ct := importBody(t, "", "on_conflict", "skip")
		body = strings.Replace(body, `name="file"`, `name="other"`, 1)
		requireError(t, e.do("POST", "/contacts/imports", e.keyA, body, "Content-Type", ct), 422, "missing_required_field")
		requireError(t, e.importCSV(e.sendA, "email\na@example.net\n"), 401, "restricted_api_key")
		r = e.do("GET", "/contacts/a@example.net", e.keyA, "")
		require.Equal(t, 404, r.status)
		require.Len(t, listIDs(t, e.do("GET", "/contacts/imports", e.keyA, "")), 2)
	})
}

// TestContactImportTooLarge: a CSV over 50 MB is a 413 and imports nothing.
func TestContactImportTooLarge(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	requireError(t, e.importCSV(e.keyA, "email\n"+strings.Repeat("a@example.net\n", 51<<20/14)), 413, "validation_error", "50 MB")
	require.Empty(t, listIDs(t, e.do("GET", "/contacts/imports", e.keyA, "")))
}

// TestContactImportStatus: GET shows an import's job at work: queued, then
// in_progress with the counts of its committed batches, then completed;
// and an import whose segment is deleted meanwhile ends failed.
func TestContactImportStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	seg := e.newSegment(e.keyA, "imported")
	r := e.importCSV(e.keyA, "email\na@example.net\nb@example.net\nc@example.net\n", "segments", `[{"id":"`+seg+`"}]`)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	id := r.json["id"].(string)
	get := func() map[string]any {
		r := e.do("GET", "/contacts/imports/"+id, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		return r.json
	}
	require.Equal(t, "queued", get()["status"])
	var seen []map[string]any
	im := &contactimport.Importer{Store: e.db, Now: e.clock.Now, BatchSize: 2, AfterBatch: func(int) error {
		seen = append(seen, get())
		return nil
	}}
	require.NoError(t, im.Run(context.Background(), e.teamA, id))
	require.Len(t, seen, 2)
	require.Equal(t, "in_progress", seen[0]["status"])
	require.Nil(t, seen[0]["completed_at"])
	require.Equal(t, map[string]any{"total": 2.0, "created": 2.0, "updated": 0.0, "skipped": 0.0, "failed": 0.0}, seen[0]["counts"])
	require.Equal(t, "completed", seen[1]["status"])
	require.Equal(t, 3.0, seen[1]["counts"].(map[string]any)["created"])

	r = e.importCSV(e.keyA, "email\nd@example.net\n", "segments", `[{"id":"`+seg+`"}]`)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	id = r.json["id"].(string)
	require.Equal(t, 200, e.do("DELETE", "/segments/"+seg, e.keyA, "").status)
	e.runImport(e.teamA, id)
	got := get()
	require.Equal(t, "failed", got["status"])
	require.NotNil(t, got["completed_at"])
	require.Equal(t, []string{id}, listIDs(t, e.do("GET", "/contacts/imports?status=failed", e.keyA, "")))
}
