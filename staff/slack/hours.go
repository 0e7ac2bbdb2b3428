package slack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slack-go/slack"

	"journeybot/config"
)

// nextOpening is the next time support opens after now (in now's zone).
func nextOpening(now time.Time, h config.Hours) time.Time {
	for i := 0; i <= 7; i++ {
		day := time.Date(now.Year(), now.Month(), now.Day()+i, 0, 0, 0, 0, now.Location())
		if !h.Days[day.Weekday()] {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), int(h.Start.Hours()), int(h.Start.Minutes())%60, 0, 0, now.Location())
		if open.After(now) {
			return open
		}
	}
	return now // no open day at all: nothing better to say
}

var (
	weekdaysPT = []string{"domingo", "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado"}
)

// openingText says when support opens, for the customer: "amanhã às 09:00",
// "on Monday at 09:00".
func openingText(now, opens time.Time, lang string) string {
	en := strings.HasPrefix(lang, "en")
	clock := opens.Format("15:04")
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	day := time.Date(opens.Year(), opens.Month(), opens.Day(), 0, 0, 0, 0, opens.Location())
	days := int(day.Sub(today).Hours()/24 + 0.5)
	switch {
	case days == 0 && en:
		return "today at " + clock
	case days == 0:
		return "hoje às " + clock
	case days == 1 && en:
		return "tomorrow at " + clock
	case days == 1:
		return "amanhã às " + clock
	case en:
		return "on " + opens.Weekday().String() + " at " + clock
	}
	return weekdaysPT[opens.Weekday()] + " às " + clock
}

// claimDue atomically takes the unclaimed cases due now and moves them one
// claim timeout later, so with several processes each is raised by one.
var claimDue = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 50)
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], m) end
return due
`)

// CheckUnclaimed raises again, in the channel, the cases nobody took within
// the claim timeout, and returns how many it raised. Outside support hours
// it waits (nobody is there to take them).
func (d *Desk) CheckUnclaimed(ctx context.Context) (int, error) {
	now := d.now()
	ids, err := claimDue.Run(ctx, d.rdb, []string{d.unclaimedKey()}, now.Unix(), now.Add(d.o.ClaimTimeout).Unix()).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("unclaimed cases: %w", err)
	}
	raised := 0
	for _, ts := range ids {
		r, ok, err := d.loadCase(ctx, ts)
		if err != nil {
			return raised, err
		}
		if !ok {
			d.closed(ctx, ts)
			continue
		}
		j, open, err := d.current(ctx, r)
		if err != nil {
			return raised, err
		}
		if !open {
			d.closed(ctx, ts)
			continue
		}
		if j.Case.Claimed != 0 {
			d.claimed(ctx, ts)
			continue
		}
		if d.o.Hours != nil && !d.o.Hours.Open(now.In(d.o.TimeZone)) {
			continue
		}
		wait := duration(now.Sub(time.Unix(r.Opened, 0)))
		text := fmt.Sprintf("<!here> ⏰ *%s* has been waiting %s and nobody has taken the case. Press *Take over* on the case above.",
			esc(customerName(j)), wait)
		// A thread reply also shown in the channel: it links to the case.
		if _, _, err := d.post(ctx, r.Channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(ts), slack.MsgOptionBroadcast()); err != nil {
			d.log.Warn("raise unclaimed case", "ts", ts, "err", err)
			continue
		}
		raised++
	}
	return raised, nil
}

// reraiseLoop checks for unclaimed cases a few times per claim timeout.
func (d *Desk) reraiseLoop(ctx context.Context) {
	every := min(max(d.o.ClaimTimeout/5, time.Second), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := d.CheckUnclaimed(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("check unclaimed cases", "err", err)
			}
		}
	}
}
