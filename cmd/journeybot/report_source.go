package main

import (
	"github.com/redis/go-redis/v9"

	"journeybot/config"
	"journeybot/conversations"
	"journeybot/insight"
)

// newReportSource reads the figures the runtime recorded under
// redis.prefix: days in send.default_timezone, a step abandoned after
// insight.abandon_after, as the runtime counted them.
func newReportSource(rdb redis.UniversalClient, c *config.Config, s *conversations.Scripts) reportSource {
	return insight.NewReader(rdb, insight.ReaderOptions{
		Prefix: c.RedisPrefix, Zone: c.Send.DefaultTimezone, Scripts: s, AbandonAfter: c.AbandonAfter,
	})
}
