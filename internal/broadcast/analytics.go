package broadcast

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

// A broadcast's analytics are counted from its emails (one per recipient)
// and their events (store.BroadcastEmails): the API's recipients and
// clicked links, and the dashboard's broadcast page, read them through
// these functions.

// RecipientTypes are the kinds of a broadcast's recipients, in Resend's
// order (the `type` of GET /broadcasts/{id}/recipients).
var RecipientTypes = []string{"sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "suppressed"}

// eventData is the part of an email event's detail the analytics read.
type eventData struct {
	Bounce *struct {
		Type string `json:"type"`
	} `json:"bounce"`
	Click *struct {
		Link string `json:"link"`
	} `json:"click"`
}

func decodeEventData(ev *store.EmailEvent) eventData {
	var d eventData
	if len(ev.Data) > 0 {
		_ = json.Unmarshal(ev.Data, &d) // detail Godwit wrote; a row it cannot read counts without it
	}
	return d
}

// BounceType maps the last bounce's type (Permanent, Transient) to
// Resend's lower-case values; anything else is undetermined.
func BounceType(events []*store.EmailEvent) string {
	for i := len(events) - 1; i >= 0; i-- {
		if d := decodeEventData(events[i]); d.Bounce != nil {
			switch strings.ToLower(d.Bounce.Type) {
			case "permanent":
				return "permanent"
			case "transient":
				return "transient"
			}
		}
	}
	return "undetermined"
}

// LinkClicks is how often one email's recipient clicked a link.
type LinkClicks struct {
	URL    string
	Clicks int
}

// Clicks counts an email's clicks per link, most clicked first (then by
// the link, for a stable order).
func Clicks(events []*store.EmailEvent) []LinkClicks {
	n := map[string]int{}
	for _, ev := range events {
		if d := decodeEventData(ev); d.Click != nil && d.Click.Link != "" {
			n[d.Click.Link]++
		}
	}
	out := make([]LinkClicks, 0, len(n))
	for u, c := range n {
		out = append(out, LinkClicks{URL: u, Clicks: c})
	}
	slices.SortFunc(out, func(a, b LinkClicks) int {
		if a.Clicks != b.Clicks {
			return b.Clicks - a.Clicks
		}
		return strings.Compare(a.URL, b.URL)
	})
	return out
}

// ClickedLink is a link of a broadcast: its clicks, and how many
// recipients clicked it.
type ClickedLink struct {
	URL          string
	Clicks       int
	UniqueClicks int
}

// ClickedLinks counts a broadcast's clicked links from its emails' click
// events, most clicked first (then by the link).
func ClickedLinks(list []*store.BroadcastEmail) []ClickedLink {
	byURL := map[string]int{}
	var links []ClickedLink
	for _, be := range list {
		for _, lc := range Clicks(be.Events) {
			i, ok := byURL[lc.URL]
			if !ok {
				i = len(links)
				byURL[lc.URL] = i
				links = append(links, ClickedLink{URL: lc.URL})
			}
			links[i].Clicks += lc.Clicks
			links[i].UniqueClicks++
		}
	}
	slices.SortFunc(links, func(a, b ClickedLink) int {
		if a.Clicks != b.Clicks {
			return b.Clicks - a.Clicks
		}
		return strings.Compare(a.URL, b.URL)
	})
	return links
}

// RecipientAddress is the address a broadcast's email went to.
func RecipientAddress(be *store.BroadcastEmail) string {
	if len(be.To) == 0 {
		return ""
	}
	return be.To[0]
}
