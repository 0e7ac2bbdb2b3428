package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"journeybot/channels"
)

func (c *Channel) handler() channels.Handler {
	c.hmu.RLock()
	defer c.hmu.RUnlock()
	return c.hand
}

func (c *Channel) setHandler(h channels.Handler) {
	c.hmu.Lock()
	c.hand = h
	c.hmu.Unlock()
}

// Run receives updates and passes them to h until ctx ends: by long polling
// (after removing any webhook), or, in webhook mode, from WebhookHandler,
// which answers 503 until Run is called. With Options.PollLease set, only
// the process holding the lease polls; the others wait to take over.
func (c *Channel) Run(ctx context.Context, h channels.Handler) error {
	c.setHandler(h)
	defer c.setHandler(nil)
	if c.opt.Mode == ModeWebhook {
		<-ctx.Done()
		return nil
	}
	if c.opt.PollLease == nil {
		c.poll(ctx, h)
		return nil
	}
	c.opt.PollLease.Run(ctx, func(ctx context.Context) { c.poll(ctx, h) })
	return nil
}

// poll long-polls getUpdates and hands each update over in update_id order.
// The offset, which confirms updates to Telegram, moves past an update only
// once the handler took it (with Intake: once it is in its chat's inbox), so
// a crash means a redelivery, which the bot's per-update idempotency turns
// into a no-op.
func (c *Channel) poll(ctx context.Context, h channels.Handler) {
	for attempt := 0; ; attempt++ {
		err := c.DeleteWebhook(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("cannot remove the webhook before polling, retrying", "err", err)
		if !sleep(ctx, c.backoff(attempt)) {
			return
		}
	}
	// An update being handed over when ctx ends is finished, so the offset
	// confirmed at the end is exact.
	hctx := context.WithoutCancel(ctx)
	offset, failures := 0, 0
	for ctx.Err() == nil {
		var updates []tgbotapi.Update
		err := c.call(ctx, c.opt.PollTimeout+15*time.Second, func(api *tgbotapi.BotAPI) error {
			var err error
			updates, err = api.GetUpdates(tgbotapi.UpdateConfig{
				Offset: offset, Limit: 100, Timeout: max(1, int(c.opt.PollTimeout/time.Second)),
				AllowedUpdates: []string{"message", "callback_query"},
			})
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var apiErr *tgbotapi.Error
			if errors.As(err, &apiErr) && apiErr.Code == http.StatusConflict {
				c.log.Warn("another getUpdates or a webhook is active for this bot; retrying", "err", err)
			} else {
				c.log.Warn("getUpdates failed, retrying", "err", err)
			}
			sleep(ctx, c.backoff(failures))
			failures++
			continue
		}
		failures = 0
		for _, u := range updates {
			if u.UpdateID < offset {
				continue
			}
			for attempt := 0; ; attempt++ {
				err := c.handleUpdate(hctx, h, u)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					c.confirm(offset)
					return // not confirmed: Telegram gives it again
				}
				c.log.Warn("update not handed over, retrying", "update", u.UpdateID, "attempt", attempt+1, "err", err)
				sleep(ctx, c.backoff(attempt))
			}
			offset = u.UpdateID + 1
		}
	}
	c.confirm(offset)
}

// confirm tells Telegram the final offset, so the next poller does not get
// the handed-over updates again (it would skip them anyway).
func (c *Channel) confirm(offset int) {
	if offset == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := c.call(ctx, 3*time.Second, func(api *tgbotapi.BotAPI) error {
		_, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 1, Timeout: 0, AllowedUpdates: []string{"message", "callback_query"}})
		return err
	})
	if err != nil {
		c.log.Info("could not confirm the last updates; they will be skipped as duplicates", "err", err)
	}
}

// WebhookHandler serves POST /telegram/webhook. A request without the
// matching X-Telegram-Bot-Api-Secret-Token gets 401 before its body is read.
// An update that could not be handled gets a 500, so Telegram sends it again.
func (c *Channel) WebhookHandler() http.Handler {
	want := sha256.Sum256([]byte(c.opt.WebhookSecret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Compare digests in constant time, so neither the content nor the
		// length of the secret leaks through timing.
		got := sha256.Sum256([]byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")))
		if c.opt.WebhookSecret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h := c.handler()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		var u tgbotapi.Update
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "update larger than 1 MiB", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		// Telegram may hang up meanwhile; the update should still be stored.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
		defer cancel()
		if err := c.handleUpdate(ctx, h, u); err != nil {
			c.log.Warn("webhook update not handled; Telegram will send it again", "update", u.UpdateID, "err", err)
			http.Error(w, "not handled", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// handleUpdate turns one update into an Inbound and hands it over. It
// returns nil for updates the bot ignores (group chats, edits, service
// messages), so they are confirmed.
func (c *Channel) handleUpdate(ctx context.Context, h channels.Handler, u tgbotapi.Update) error {
	switch {
	case u.Message != nil:
		return c.handleMessage(ctx, h, u.UpdateID, u.Message)
	case u.CallbackQuery != nil:
		return c.handleCallback(ctx, h, u.UpdateID, u.CallbackQuery)
	}
	return nil
}

func (c *Channel) allowed(chat *tgbotapi.Chat) bool {
	return chat != nil && (chat.Type == "private" || c.opt.AllowGroups)
}

func (c *Channel) inbound(updateID int, chat *tgbotapi.Chat, from *tgbotapi.User, date int) channels.Inbound {
	in := channels.Inbound{Channel: Name, Address: strconv.FormatInt(chat.ID, 10), ID: strconv.Itoa(updateID), Seq: int64(updateID)}
	if from != nil {
		in.Username, in.FirstName, in.LanguageCode = from.UserName, from.FirstName, from.LanguageCode
	}
	if date > 0 {
		in.At = time.Unix(int64(date), 0)
	}
	return in
}

// commandFits says the command entity lies inside the text: the library
// slices the text by it and panics on one that does not (a forged update).
func commandFits(m *tgbotapi.Message) bool {
	e := m.Entities[0]
	return e.Length >= 1 && e.Length <= len(m.Text)
}

func (c *Channel) handleMessage(ctx context.Context, h channels.Handler, updateID int, m *tgbotapi.Message) error {
	if !c.allowed(m.Chat) || m.From == nil || m.From.IsBot {
		return nil
	}
	in := c.inbound(updateID, m.Chat, m.From, m.Date)
	switch {
	case m.IsCommand() && commandFits(m):
		if at := strings.Index(m.CommandWithAt(), "@"); at >= 0 && !strings.EqualFold(m.CommandWithAt()[at+1:], c.self.UserName) {
			return nil // a command for another bot in a group
		}
		in.Kind = channels.KindCommand
		in.Command = strings.ToLower(m.Command())
		in.Args = strings.TrimSpace(m.CommandArguments())
	case m.Text != "":
		in.Kind, in.Text = channels.KindText, m.Text
	default:
		media := mediaName(m)
		if media == "" {
			return nil // service messages: members joining, titles...
		}
		in.Kind, in.Media, in.Text = channels.KindMedia, media, m.Caption
	}
	return h.HandleInbound(ctx, in)
}

func mediaName(m *tgbotapi.Message) string {
	switch {
	case len(m.Photo) > 0:
		return "photo"
	case m.Sticker != nil:
		return "sticker"
	case m.Voice != nil:
		return "voice"
	case m.Audio != nil:
		return "audio"
	case m.VideoNote != nil:
		return "video_note"
	case m.Video != nil:
		return "video"
	case m.Animation != nil:
		return "animation"
	case m.Document != nil:
		return "document"
	case m.Location != nil || m.Venue != nil:
		return "location"
	case m.Contact != nil:
		return "contact"
	case m.Poll != nil:
		return "poll"
	case m.Dice != nil:
		return "dice"
	}
	return ""
}

// handleCallback handles a button press: it answers the query (Telegram
// shows a spinner until then), removes the keyboard of the pressed message so
// a second tap cannot run the step again, and passes the press on.
func (c *Channel) handleCallback(ctx context.Context, h channels.Handler, updateID int, q *tgbotapi.CallbackQuery) error {
	// These two calls only tidy the chat: they are bounded, so a slow Bot
	// API cannot hold up the press's acknowledgement.
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// answerCallbackQuery answers true, not a Message: Request, not Send.
	if err := c.request(tctx, tgbotapi.NewCallback(q.ID, "")); err != nil {
		// A redelivered press was answered before; nothing is lost.
		c.log.Debug("answerCallbackQuery failed", "err", err)
	}
	m := q.Message
	if m == nil || !c.allowed(m.Chat) || q.From == nil || q.Data == "" {
		return nil
	}
	label := ""
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData != nil && *b.CallbackData == q.Data {
					label = b.Text
				}
			}
		}
		// Omitting reply_markup removes the keyboard.
		edit := tgbotapi.EditMessageReplyMarkupConfig{BaseEdit: tgbotapi.BaseEdit{ChatID: m.Chat.ID, MessageID: m.MessageID}}
		if err := c.request(tctx, edit); err != nil {
			// "message is not modified": an earlier tap removed it already.
			c.log.Debug("remove keyboard failed", "chat", m.Chat.ID, "err", err)
		}
	}
	in := c.inbound(updateID, m.Chat, q.From, 0)
	in.Kind, in.Data, in.Text = channels.KindButton, q.Data, label
	return h.HandleInbound(ctx, in)
}
