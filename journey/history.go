package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// reviseScript replaces the history line that carries a message id (the
// newest one, scanning back from the end: the list is capped, so this is at
// most state.history_cap lines). KEYS history. ARGV the marker
// `"msg":"ID"`, the new line. Answers 1 when a line was replaced.
var reviseScript = redis.NewScript(`
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do
  if string.find(items[i], ARGV[1], 1, true) then
    redis.call('LSET', KEYS[1], i - 1, ARGV[2])
    return 1
  end
end
return 0
`)

// ErrNoHistoryLine is returned by ReviseHistory when no line carries the
// message id (trimmed by the cap, or never linked).
var ErrNoHistoryLine = errors.New("no history line for that message")

// ReviseHistory replaces the history line of message e.Msg with e: the text
// the customer actually received when it differs from the one committed (a
// model's rephrase or answer).
func (s *Store) ReviseHistory(ctx context.Context, id string, e HistoryEntry) error {
	if e.Msg == "" {
		return errors.New("journey: ReviseHistory needs the message id")
	}
	marker, _ := json.Marshal(e.Msg)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journey %s: encode history line: %w", id, err)
	}
	n, err := reviseScript.Run(ctx, s.rdb, []string{s.hkey(id)}, `"msg":`+string(marker), line).Int()
	if err != nil {
		return fmt.Errorf("journey %s: revise history: %w", id, err)
	}
	if n == 0 {
		return ErrNoHistoryLine
	}
	return nil
}
