package message

import "sync"

// DerivedText is HTMLToText through a cache of the bodies converted last:
// the emails of a batch or a broadcast share their HTML, and converting it
// (parsing the whole document) costs about as much CPU as signing the
// message, so each body is converted once while it stays in the cache.
// The result is the same as HTMLToText's.
func DerivedText(html string) string {
	if len(html) > maxCachedHTML {
		return HTMLToText(html)
	}
	if text, ok := texts.get(html); ok {
		return text
	}
	text := HTMLToText(html)
	texts.put(html, text)
	return text
}

// The cache holds at most textCacheBytes of HTML and text together, bodies
// of at most maxCachedHTML bytes, and forgets the oldest first.
const (
	textCacheBytes = 8 << 20
	maxCachedHTML  = 1 << 20
)

var texts = &textCache{m: map[string]string{}}

type textCache struct {
	mu    sync.Mutex
	m     map[string]string // HTML → text
	order []string          // keys of m, oldest first
	bytes int
}

func (c *textCache) get(html string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	text, ok := c.m[html]
	return text, ok
}

func (c *textCache) put(html, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[html]; ok {
		return
	}
	for c.bytes+len(html)+len(text) > textCacheBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order[0] = ""
		c.order = c.order[1:]
		c.bytes -= len(old) + len(c.m[old])
		delete(c.m, old)
	}
	c.m[html] = text
	c.order = append(c.order, html)
	c.bytes += len(html) + len(text)
}
