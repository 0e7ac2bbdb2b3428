package journey

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// Limit is one counter of attempts and how many it allows in the window.
type Limit struct {
	Kind, ID string
	Max      int64
}

// Reserve counts one attempt on every limit for the message token, unless
// that message was counted already (a retry of the same update), and
// reports whether all limits allow it. An attempt over a limit is not
// counted. Each counter is its own key (no cross-slot script, so Redis
// Cluster works); concurrent attempts cannot all slip under a limit because
// each INCR is atomic and the ones over it are taken back.
func (s *Store) Reserve(ctx context.Context, token string, window time.Duration, limits ...Limit) (bool, error) {
	tk := s.attemptKey("token", token)
	fresh, err := s.rdb.SetNX(ctx, tk, 1, window).Result()
	if err != nil {
		return false, fmt.Errorf("reserve attempt: %w", err)
	}
	if !fresh {
		for _, l := range limits {
			n, err := s.rdb.Get(ctx, s.attemptKey(l.Kind, l.ID)).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return false, fmt.Errorf("read %s attempts: %w", l.Kind, err)
			}
			if n > l.Max {
				return false, nil
			}
		}
		return true, nil
	}
	cmds := make([]*redis.Cmd, len(limits))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, l := range limits {
			// Eval, not EvalSha: a pipeline cannot fall back when Redis
			// does not hold the script yet.
			cmds[i] = countScript.Eval(ctx, p, []string{s.attemptKey(l.Kind, l.ID)}, window.Milliseconds())
		}
		return nil
	})
	over := false
	for i, c := range cmds {
		n, cerr := c.Int64()
		if cerr != nil && err == nil {
			err = cerr
		}
		over = over || n > limits[i].Max
	}
	if err != nil || over {
		// Take the attempt back: it is not made.
		if rerr := s.Release(context.WithoutCancel(ctx), token, limits...); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil {
			return false, fmt.Errorf("reserve attempt: %w", err)
		}
		return false, nil
	}
	return true, nil
}

// Release takes back a reserved attempt (one that did not count against
// the customer: it succeeded, or the lookup behind it failed). Releasing a
// token twice takes it back once.
func (s *Store) Release(ctx context.Context, token string, limits ...Limit) error {
	n, err := s.rdb.Del(ctx, s.attemptKey("token", token)).Result()
	if err != nil || n == 0 {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range limits {
			uncountScript.Eval(ctx, p, []string{s.attemptKey(l.Kind, l.ID)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release attempt: %w", err)
	}
	return nil
}

// uncountScript decrements a counter that still exists, never below zero.
var uncountScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
`)

// NormalizeOrderID is the one place a customer's order id is cleaned: spaces
// around it and one leading '#' go. Every limit and every lookup of an
// attempt uses what it returns, so "##5" and "#5" are not two budgets.
func NormalizeOrderID(raw string) string {
	return strings.TrimPrefix(strings.TrimSpace(raw), "#")
}

// LookupableOrderID reports whether id may be asked of the order lookup
// service: 1 to 64 letters, digits, '-' and '_', starting with a letter or
// digit. Nothing else reaches the service's URL ("..", "/", "?", "%").
func LookupableOrderID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i, r := range id {
		alnum := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !alnum && (i == 0 || r != '-' && r != '_') {
			return false
		}
	}
	return true
}
