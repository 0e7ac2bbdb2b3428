package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"journeybot/channels"
)

// MaxText is Telegram's limit for one message, in UTF-16 code units.
const MaxText = 4096

// maxData is Telegram's limit for a button's callback data, in bytes.
const maxData = 64

// Send delivers m in one attempt. A text longer than Telegram takes is cut
// (the bot splits long texts before it queues them: see Split). Failures say
// what the sender should do: channels.ErrUnreachable when the customer
// blocked the bot, channels.ErrRejected for a message Telegram refuses, a
// *channels.RetryError for a 429 (with its retry_after) or a 5xx.
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	chat, err := strconv.ParseInt(m.Address, 10, 64)
	if err != nil {
		return fmt.Errorf("telegram: address %q is not a chat id: %w", m.Address, channels.ErrRejected)
	}
	kb, err := keyboard(m.Buttons)
	if err != nil {
		return fmt.Errorf("%w: %w", channels.ErrRejected, err)
	}
	text := m.Text
	if parts := Split(text, MaxText); len(parts) > 0 {
		text = parts[0]
	} else if kb != nil {
		text = "…" // buttons need a text to hang on
	} else {
		return nil
	}
	msg := tgbotapi.NewMessage(chat, text)
	if kb != nil {
		msg.ReplyMarkup = *kb
	}
	return c.deliver(ctx, chat, msg)
}

// Split cuts text into the messages Telegram takes.
func (c *Channel) Split(text string) []string { return Split(text, MaxText) }

// Capabilities are Telegram's: 4096-character texts, inline keyboards of
// any size with 64-byte payloads, no templates, no service window.
func (c *Channel) Capabilities() channels.Capabilities { return Capabilities() }

// Capabilities are Telegram's limits, for lint as well as the bot.
func Capabilities() channels.Capabilities {
	return channels.Capabilities{MaxText: MaxText, MaxData: maxData}
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

// deliver makes one sendMessage call and classifies its failure.
func (c *Channel) deliver(ctx context.Context, chat int64, msg tgbotapi.Chattable) error {
	err := c.request(ctx, msg)
	if err == nil {
		return nil
	}
	var apiErr *tgbotapi.Error
	switch {
	case errors.As(err, &apiErr) && (apiErr.Code == http.StatusTooManyRequests || apiErr.RetryAfter > 0):
		return &channels.RetryError{After: time.Duration(max(apiErr.RetryAfter, 1)) * time.Second,
			Err: fmt.Errorf("telegram: flood limit for chat %d: %w", chat, err)}
	case errors.As(err, &apiErr) && unreachable(apiErr):
		return fmt.Errorf("telegram: chat %d: %s: %w", chat, apiErr.Message, channels.ErrUnreachable)
	case errors.As(err, &apiErr) && apiErr.Code > 0 && apiErr.Code < 500:
		return fmt.Errorf("telegram: send to chat %d: %s: %w", chat, apiErr.Message, channels.ErrRejected)
	}
	return &channels.RetryError{Err: fmt.Errorf("telegram: send to chat %d: %w", chat, err)}
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

// Split cuts text into parts of at most limit UTF-16 code units (see
// channels.SplitText).
func Split(text string, limit int) []string { return channels.SplitText(text, limit) }
