package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// eventTypeLiteral matches a string that spells a webhook event type.
var eventTypeLiteral = regexp.MustCompile(`^(email|domain|contact|topic|suppression)\.[a-z_]+(\.[a-z_]+)?$`)

// typeConstants returns the event type constants declared in this package's
// source, by value.
func typeConstants(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	consts := map[string]string{}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					if eventTypeLiteral.MatchString(s) {
						consts[vs.Names[i].Name] = s
					}
				}
			}
		}
	}
	return consts
}

func TestEveryTypeConstantIsSubscribable(t *testing.T) {
	t.Parallel()
	consts := typeConstants(t)
	require.NotEmpty(t, consts)
	values := make([]string, 0, len(consts))
	for name, v := range consts {
		require.True(t, Registered(v), "%s = %q is not in the subscribable list", name, v)
		values = append(values, v)
	}
	list := Subscribable()
	for _, v := range list {
		require.Contains(t, values, v, "%q is subscribable but has no constant", v)
	}
	sorted := slices.Clone(list)
	slices.Sort(sorted)
	require.Equal(t, len(sorted), len(slices.Compact(sorted)), "duplicates in the subscribable list")

	// Subscribable hands out a copy.
	list[0] = "changed"
	require.Equal(t, EmailSent, Subscribable()[0])
}

func TestNewRefusesAnUnregisteredType(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "email.nope", "domain.lost", "delivered", "Email.sent"} {
		ev, err := New("team", typ, nil, time.Now())
		require.Error(t, err, typ)
		require.Nil(t, ev)
	}
	ev, err := New("team", DomainUpdated, nil, time.Now())
	require.NoError(t, err)
	require.Equal(t, DomainUpdated, ev.Type)
}

// TestBuildersEmitRegisteredTypes drives every payload builder of this
// package with every type it is given, and checks that each builds (New
// refuses an unregistered type) and reports that type.
func TestBuildersEmitRegisteredTypes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	emitted := map[string]bool{}
	emit := func(ev *store.Event, err error, want string) {
		t.Helper()
		require.NoError(t, err, want)
		require.NotNil(t, ev, want)
		require.Equal(t, want, ev.Type)
		require.True(t, Registered(ev.Type), ev.Type)
		emitted[ev.Type] = true
	}

	e := &store.Email{ID: "e1", TeamID: "team", From: "a@example.com", To: []string{"b@example.net"}}
	for last, typ := range emailTypes {
		require.Equal(t, typ, EmailType(last))
		ev, err := Email(last, e, nil, nil, at)
		emit(ev, err, typ)
	}
	c := &store.Contact{ID: "c1", TeamID: "team", Email: "c@example.net"}
	for _, typ := range []string{ContactCreated, ContactUpdated, ContactDeleted} {
		ev, err := Contact(typ, c, "", at)
		emit(ev, err, typ)
	}
	ev, err := ContactTopics(c, nil, at)
	emit(ev, err, ContactTopicsUpdated)
	tp := &store.Topic{ID: "t1", TeamID: "team", Name: "News"}
	for _, typ := range []string{TopicCreated, TopicUpdated, TopicDeleted} {
		ev, err := Topic(typ, tp, typ == TopicDeleted, at)
		emit(ev, err, typ)
	}
	s := &store.Suppression{ID: "s1", TeamID: "team", Email: "s@example.net"}
	for _, typ := range []string{SuppressionAdded, SuppressionRemoved} {
		ev, err := Suppression(typ, s, at)
		emit(ev, err, typ)
	}

	ev, err = Received(&store.ReceivedEmail{ID: "r1", TeamID: "team", CreatedAt: at})
	emit(ev, err, EmailReceived)

	// The rest are built elsewhere on New (domains.Settings.Event, tested
	// there).
	var rest []string
	for _, typ := range Subscribable() {
		if !emitted[typ] {
			rest = append(rest, typ)
		}
	}
	require.Equal(t, []string{DomainCreated, DomainUpdated, DomainDeleted}, rest)
}

func TestSuppressionEventPayload(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 12, 0, 1, 234567000, time.UTC)
	s := &store.Suppression{ID: "s1", TeamID: "team", Email: "a@example.net", Origin: store.SuppressionBounce,
		SourceID: "e1", CreatedAt: at.Add(-time.Second)}
	ev, err := Suppression(SuppressionAdded, s, at)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"suppression.added","created_at":"2026-11-28T12:00:01.234Z","data":{
		"id":"s1","email":"a@example.net","origin":"`+store.SuppressionBounce+`","source_id":"e1",
		"created_at":"2026-11-28T12:00:00.234Z"}}`, string(ev.Data))
	s.SourceID = ""
	ev, err = Suppression(SuppressionRemoved, s, at)
	require.NoError(t, err)
	require.Contains(t, string(ev.Data), `"source_id":null`)
}

// TestEventTypesHaveOneHome fails when Go code outside this package spells
// a webhook event type as a string literal: use the constants of types.go,
// so that adding an event type touches this package only. Tests and the
// test-suite packages (storetest, godwittest) are exempt: they pin wire names
// on purpose, and the store treats a type as an opaque string.
func TestEventTypesHaveOneHome(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var found []string
	for _, root := range []string{"..", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				switch filepath.ToSlash(path) {
				case "../events", "../store/storetest", "../godwittest":
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && eventTypeLiteral.MatchString(s) {
					found = append(found, fset.Position(lit.Pos()).String()+": "+lit.Value)
				}
				return true
			})
			return nil
		})
		require.NoError(t, err)
	}
	require.Empty(t, found, "event types spelled outside internal/events")
}

func TestReceivedEventPayload(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 12, 0, 1, 234567000, time.UTC)
	e := &store.ReceivedEmail{ID: "r1", TeamID: "team", CreatedAt: at, From: "someone@example.net",
		To: []string{"Support <support@example.com>"}, ReceivedFor: []string{"support@example.com"},
		MessageID: "<abc@example.net>", Subject: "Help", Attachments: []*store.ReceivedAttachment{
			{ID: "a1", Filename: "logo.png", ContentType: "image/png", ContentDisposition: "inline", ContentID: "logo"},
			{ID: "a2", ContentType: "application/octet-stream"},
		}}
	ev, err := Received(e)
	require.NoError(t, err)
	require.Equal(t, at, ev.CreatedAt)
	require.JSONEq(t, `{"type":"email.received","created_at":"2026-11-28T12:00:01.234Z","data":{
		"email_id":"r1","created_at":"2026-11-28T12:00:01.234Z","from":"someone@example.net",
		"to":["Support <support@example.com>"],"cc":[],"bcc":[],"received_for":["support@example.com"],
		"message_id":"<abc@example.net>","subject":"Help","attachments":[
		{"id":"a1","filename":"logo.png","content_type":"image/png","content_disposition":"inline","content_id":"logo"},
		{"id":"a2","filename":null,"content_type":"application/octet-stream","content_disposition":null,"content_id":null}]}}`, string(ev.Data))

	e.InReplyToEmailID = "sent-1"
	ev, err = Received(e)
	require.NoError(t, err)
	require.Contains(t, string(ev.Data), `"in_reply_to_email_id":"sent-1"`, "Godwit's extra field, only when set")
}
