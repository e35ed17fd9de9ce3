package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// addFixtures seeds a fuzz target with every testdata/*.eml, so that the
// seeds run with the normal go test.
func addFixtures(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var all [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		all = append(all, b)
	}
	return all
}

func FuzzParse(f *testing.F) {
	for _, b := range addFixtures(f) {
		f.Add(b)
		f.Add(toLF(b))
	}
	f.Add([]byte(""))
	f.Add([]byte("Subject: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		r, err := Parse(raw)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Parse took %v on %d bytes", d, len(raw))
		}
		if err != nil {
			if r != nil {
				t.Fatal("a report and an error")
			}
			return
		}
		if r == nil {
			t.Fatal("no report and no error")
		}
		if r.EmailID != "" && canonicalUUID(r.EmailID) != r.EmailID {
			t.Fatalf("EmailID %q is not a canonical UUID", r.EmailID)
		}
		if r.Kind != Unknown && r.Kind != DSN && r.Kind != ARF {
			t.Fatalf("kind %d", r.Kind)
		}
		if len(r.Recipients) > maxRecipients {
			t.Fatalf("%d recipients", len(r.Recipients))
		}
		if r.Kind == Unknown && len(r.Recipients) > 0 {
			t.Fatal("recipients in a message of kind unknown")
		}
		if r.Kind != ARF && r.FeedbackType != "" {
			t.Fatal("feedback type outside ARF")
		}
		for _, rc := range r.Recipients {
			if rc.Permanent && (rc.Action != "failed" || !strings.HasPrefix(rc.Status, "5")) {
				t.Fatalf("permanent %+v", rc)
			}
			if strings.TrimSpace(rc.DiagnosticCode) != rc.DiagnosticCode {
				t.Fatalf("diagnostic code not trimmed: %q", rc.DiagnosticCode)
			}
			if rc.Action != strings.ToLower(rc.Action) {
				t.Fatalf("action %q", rc.Action)
			}
		}
	})
}

func FuzzEmailIDFromAddress(f *testing.F) {
	f.Add("bounces+01a2235b-e124-72b2-802c-10c180253c2e@send.example.com")
	f.Add("<BOUNCES+01A2235B-E124-72B2-802C-10C180253C2E@send.example.com>")
	f.Add("rfc822; bounces+01a2235b-e124-72b2-802c-10c180253c2e@x")
	f.Add("")
	// Every header value of every fixture.
	for _, b := range addFixtures(f) {
		for _, line := range strings.Split(string(toLF(b)), "\n") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				f.Add(strings.TrimSpace(v))
			}
		}
	}
	f.Fuzz(func(t *testing.T, addr string) {
		id := EmailIDFromAddress(addr)
		if id != "" && canonicalUUID(id) != id {
			t.Fatalf("%q: id %q is not a canonical UUID", addr, id)
		}
		if id != "" && !strings.Contains(strings.ToLower(addr), "bounces+"+id+"@") {
			t.Fatalf("%q: id %q is not in the address", addr, id)
		}
		// A return path found by EmailIDFromAddress is found in a header too.
		if id != "" && findEmailID(addr) != id {
			t.Fatalf("%q: EmailIDFromAddress %q, findEmailID %q", addr, id, findEmailID(addr))
		}
		if mid := emailIDFromMessageID(addr); mid != "" && canonicalUUID(mid) != mid {
			t.Fatalf("%q: message id %q", addr, mid)
		}
		if fid := findEmailID(addr); fid != "" && canonicalUUID(fid) != fid {
			t.Fatalf("%q: found id %q", addr, fid)
		}
	})
}
