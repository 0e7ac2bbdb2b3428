package main

import (
	"github.com/redis/go-redis/v9"

	"journeybot/config"
	"journeybot/conversations"
	"journeybot/insight"
)

// newReportSource reads the figures the runtime recorded under
// redis.prefix, days in send.default_timezone. insight.abandon_after has no
// configuration key yet: the reader's default (insight.DefaultAbandonAfter).
func newReportSource(rdb redis.UniversalClient, c *config.Config, s *conversations.Scripts) reportSource {
	return insight.NewReader(rdb, insight.ReaderOptions{Prefix: c.RedisPrefix, Zone: c.Send.DefaultTimezone, Scripts: s})
}
