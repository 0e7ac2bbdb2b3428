package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"journeybot/channels"
)

// MaxText is Telegram's limit for one message, in UTF-16 code units.
const MaxText = 4096

// maxData is Telegram's limit for a button's callback data, in bytes.
const maxData = 64

// Send delivers m, split into several messages when the text is longer than
// Telegram allows (the buttons go with the last part). It waits through 429s
// as long as Telegram says, retries network errors with backoff, and returns
// channels.ErrUnreachable when the customer blocked the bot.
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	chat, err := strconv.ParseInt(m.Address, 10, 64)
	if err != nil {
		return fmt.Errorf("telegram: address %q is not a chat id: %w", m.Address, err)
	}
	kb, err := keyboard(m.Buttons)
	if err != nil {
		return err
	}
	parts := Split(m.Text, MaxText)
	if len(parts) == 0 {
		if kb == nil {
			return nil
		}
		parts = []string{"…"} // buttons need a text to hang on
	}
	for i, p := range parts {
		msg := tgbotapi.NewMessage(chat, p)
		if i == len(parts)-1 && kb != nil {
			msg.ReplyMarkup = *kb
		}
		if err := c.deliver(ctx, chat, msg); err != nil {
			return err
		}
	}
	return nil
}

// keyboard lays buttons out as an inline keyboard: short labels (survey
// scores) several to a row, others one per row so they read on a phone.
func keyboard(bs []channels.Button) (*tgbotapi.InlineKeyboardMarkup, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	short := true
	for _, b := range bs {
		if len(b.Data) == 0 || len(b.Data) > maxData {
			return nil, fmt.Errorf("telegram: button %q has %d bytes of data; Telegram takes 1 to %d", b.Label, len(b.Data), maxData)
		}
		if utf8.RuneCountInString(b.Label) > 3 {
			short = false
		}
	}
	perRow := 1
	if short {
		perRow = 6
	}
	var rows [][]tgbotapi.InlineKeyboardButton
	for i := 0; i < len(bs); i += perRow {
		var row []tgbotapi.InlineKeyboardButton
		for _, b := range bs[i:min(i+perRow, len(bs))] {
			row = append(row, tgbotapi.NewInlineKeyboardButtonData(b.Label, b.Data))
		}
		rows = append(rows, row)
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return &kb, nil
}

// deliver sends one message to chat within the pace, through 429s and
// transient failures.
func (c *Channel) deliver(ctx context.Context, chat int64, msg tgbotapi.Chattable) error {
	failures := 0
	for {
		if !c.pace.wait(ctx, chat) {
			return fmt.Errorf("telegram: send to chat %d: %w", chat, ctx.Err())
		}
		err := c.request(ctx, msg)
		if err == nil {
			return nil
		}
		var apiErr *tgbotapi.Error
		switch {
		case errors.As(err, &apiErr) && (apiErr.Code == http.StatusTooManyRequests || apiErr.RetryAfter > 0):
			// Never drop a message for a 429: wait as long as Telegram says.
			wait := time.Duration(max(apiErr.RetryAfter, 1)) * time.Second
			c.pace.hold(chat, time.Now().Add(wait))
			c.log.Warn("Telegram flood limit, waiting", "chat", chat, "retry_after", wait)
			continue
		case errors.As(err, &apiErr) && unreachable(apiErr):
			return fmt.Errorf("telegram: chat %d: %s: %w", chat, apiErr.Message, channels.ErrUnreachable)
		case errors.As(err, &apiErr) && apiErr.Code > 0 && apiErr.Code < 500:
			return fmt.Errorf("telegram: send to chat %d: %w", chat, err)
		case ctx.Err() != nil:
			return fmt.Errorf("telegram: send to chat %d: %w", chat, ctx.Err())
		}
		// A network error or a 5xx: retry with backoff, a bounded number of times.
		failures++
		if failures >= c.opt.SendAttempts {
			return fmt.Errorf("telegram: send to chat %d failed %d times: %w", chat, failures, err)
		}
		c.log.Warn("Bot API request failed, retrying", "chat", chat, "attempt", failures, "err", err)
		if !sleep(ctx, c.backoff(failures-1)) {
			return fmt.Errorf("telegram: send to chat %d: %w", chat, ctx.Err())
		}
	}
}

// unreachable tells the answers that mean the customer cannot be written to
// any more: blocked the bot, deleted the account, never started the chat.
func unreachable(e *tgbotapi.Error) bool {
	if e.Code == http.StatusForbidden {
		return true
	}
	msg := strings.ToLower(e.Message)
	return e.Code == http.StatusBadRequest && (strings.Contains(msg, "chat not found") || strings.Contains(msg, "user not found"))
}

// Split cuts text into parts of at most limit UTF-16 code units (Telegram's
// measure), at a paragraph break when there is one, else a line break, else
// the end of a sentence, else a space; a word longer than limit is cut.
func Split(text string, limit int) []string {
	text = strings.TrimSpace(text)
	var parts []string
	for text != "" {
		if units(text) <= limit {
			parts = append(parts, text)
			break
		}
		// prefix is the longest byte prefix within limit code units.
		n, prefix := 0, 0
		for i, r := range text {
			w := 1
			if r >= 0x10000 {
				w = 2
			}
			if n+w > limit {
				break
			}
			n += w
			prefix = i + utf8.RuneLen(r)
		}
		cut := bestCut(text[:prefix])
		if cut <= 0 {
			cut = prefix
		}
		parts = append(parts, strings.TrimRightFunc(text[:cut], unicode.IsSpace))
		text = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	}
	return parts
}

// bestCut returns where to end a part within s (0 when no boundary is found
// in its second half, so parts do not come out tiny).
func bestCut(s string) int {
	half := len(s) / 2
	if i := strings.LastIndex(s, "\n\n"); i > half {
		return i
	}
	if i := strings.LastIndex(s, "\n"); i > half {
		return i
	}
	best := -1
	for _, end := range []string{". ", "! ", "? ", "… ", ".\n", "!\n", "?\n"} {
		if i := strings.LastIndex(s, end); i > best {
			best = i + len(end) - 1
		}
	}
	if best > half {
		return best
	}
	if i := strings.LastIndexFunc(s, unicode.IsSpace); i > half {
		return i
	}
	return 0
}

// units is the length of s in UTF-16 code units.
func units(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// pacer spaces messages: at most one per PerChat to a chat, PerSecond
// overall (a token bucket allowing a one-second burst). A sender first waits
// for its chat's slot, then takes an overall token at the time it really
// sends, so a chat that waits never books capacity away from the others.
type pacer struct {
	mu      sync.Mutex
	perChat time.Duration
	rate    float64 // tokens per second, overall
	tokens  float64 // may go negative: the debt queued senders wait off
	last    time.Time
	chats   map[int64]time.Time // earliest time of the next message to a chat
}

func newPacer(perChat time.Duration, perSecond float64) *pacer {
	return &pacer{perChat: perChat, rate: perSecond, tokens: perSecond, chats: map[int64]time.Time{}}
}

// wait blocks until a message may go to chat.
func (p *pacer) wait(ctx context.Context, chat int64) bool {
	return sleep(ctx, p.chatSlot(chat, time.Now())) && sleep(ctx, p.token(time.Now()))
}

// chatSlot books chat's next slot and returns how long to wait for it.
func (p *pacer) chatSlot(chat int64, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if next := p.chats[chat]; next.After(at) {
		at = next
	}
	p.chats[chat] = at.Add(p.perChat)
	if len(p.chats) > 10000 {
		for id, t := range p.chats {
			if t.Before(now) {
				delete(p.chats, id)
			}
		}
	}
	return at.Sub(now)
}

// token takes one overall token and returns how long to wait for it.
func (p *pacer) token(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.last.IsZero() && now.After(p.last) {
		p.tokens = min(p.rate, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	if now.After(p.last) {
		p.last = now
	}
	p.tokens--
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}

// hold keeps chat from being sent to before until (after a 429).
func (p *pacer) hold(chat int64, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.chats[chat]) {
		p.chats[chat] = until
	}
}
