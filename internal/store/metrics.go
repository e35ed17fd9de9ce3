package store

import "time"

// EmailMetricsFilter selects the counts GET /emails/metrics reads: a team's,
// over [From, To), optionally restricted to domains, broadcasts or emails.
type EmailMetricsFilter struct {
	TeamID string
	From   time.Time
	To     time.Time
	// DomainIDs, BroadcastIDs and EmailIDs restrict the counts when not
	// empty; ids the team does not have match nothing.
	DomainIDs    []string
	BroadcastIDs []string
	// EmailIDs makes the counts come from those emails' own events (exact
	// to the microsecond, one row per email and hour); without it they come
	// from the hourly rollup, whose rows cover whole hours: every hour that
	// starts in [From truncated to the hour, To).
	EmailIDs []string
	// ByHour, ByDomain and ByBroadcast keep rows of different hours,
	// domains or broadcasts apart; without them such rows are summed (Hour
	// is then From truncated to the hour; DomainID or BroadcastID ""),
	// which is how a caller that does not break counts down by them reads
	// fewer rows. Rows read from the named emails' events are always kept
	// apart.
	ByHour      bool
	ByDomain    bool
	ByBroadcast bool
	// Bucket, with ByHour, sums the hours of each bucket of that length
	// (a whole number of hours; 0 is one hour) whose boundaries fall at
	// multiples of Bucket since the epoch moved back by Shift; a row's Hour
	// is then the first hour of its bucket that has counts. A caller that
	// folds hours into days of a fixed UTC offset reads a row a day.
	Bucket time.Duration
	Shift  time.Duration
}

// EmailCounts are the counters of the email metrics. Every counter is a
// number of email events (an event may name several recipients of one
// email), except Received (emails accepted) and UniqueOpened/UniqueClicked
// (an email's first open or click, counted when it happens).
type EmailCounts struct {
	Received            int64
	Sent                int64
	Delivered           int64
	DeliveryDelayed     int64
	Failed              int64
	Suppressed          int64
	Bounced             int64
	BouncedTransient    int64
	BouncedPermanent    int64
	BouncedUndetermined int64
	Complained          int64
	Opened              int64
	Clicked             int64
	UniqueOpened        int64
	UniqueClicked       int64
}

// Add adds o to c.
func (c *EmailCounts) Add(o *EmailCounts) {
	c.Received += o.Received
	c.Sent += o.Sent
	c.Delivered += o.Delivered
	c.DeliveryDelayed += o.DeliveryDelayed
	c.Failed += o.Failed
	c.Suppressed += o.Suppressed
	c.Bounced += o.Bounced
	c.BouncedTransient += o.BouncedTransient
	c.BouncedPermanent += o.BouncedPermanent
	c.BouncedUndetermined += o.BouncedUndetermined
	c.Complained += o.Complained
	c.Opened += o.Opened
	c.Clicked += o.Clicked
	c.UniqueOpened += o.UniqueOpened
	c.UniqueClicked += o.UniqueClicked
}

// EmailMetricsRow is the counts of one UTC hour, sending domain ("" for
// none), broadcast ("" for none) and, when the filter named emails, email.
type EmailMetricsRow struct {
	Hour          time.Time
	DomainID      string
	DomainName    string
	BroadcastID   string
	BroadcastName string
	EmailID       string
	EmailCounts
}
