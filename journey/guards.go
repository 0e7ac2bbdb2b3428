package journey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Attempts and first uses, shared by every process: what the bot's guards
// against guessing (/pedido) and against forwarded deep links keep.

func (s *Store) attemptKey(kind, id string) string {
	return s.opt.Prefix + ":identify:" + kind + ":" + id
}

// CountAttempt counts one attempt of kind by id within window and returns the
// count so far, in one round trip (counted before the attempt is made, so
// concurrent requests cannot all slip under a limit).
func (s *Store) CountAttempt(ctx context.Context, kind, id string, window time.Duration) (int64, error) {
	n, err := countScript.Run(ctx, s.rdb, []string{s.attemptKey(kind, id)}, window.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("count %s attempt: %w", kind, err)
	}
	return n, nil
}

// countScript: the window starts with the first attempt.
var countScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`)

// ResetAttempts forgets the attempts of kind by id.
func (s *Store) ResetAttempts(ctx context.Context, kind, id string) error {
	if err := s.rdb.Del(ctx, s.attemptKey(kind, id)).Err(); err != nil {
		return fmt.Errorf("reset %s attempts: %w", kind, err)
	}
	return nil
}

// FirstUse records holder as the first user of name for ttl and returns the
// first user: holder itself when it was first.
func (s *Store) FirstUse(ctx context.Context, name, holder string, ttl time.Duration) (string, error) {
	first, err := s.rdb.SetArgs(ctx, s.opt.Prefix+":link:"+name, holder, redis.SetArgs{Mode: "NX", TTL: ttl, Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return holder, nil
	}
	if err != nil {
		return "", fmt.Errorf("record first use: %w", err)
	}
	return first, nil
}
