package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"journeybot/channels"
)

// Identifier links a chat to the customer of an order when the contact
// (e-mail or phone) matches; *bot.Bot implements it. When the Handler given
// to Run is one, "/pedido ORDER CONTACT" (or /order) identifies the customer.
type Identifier interface {
	Identify(ctx context.Context, channel, address, orderID, contact string) (bool, error)
}

// Commands sent to the handler for the identification command, so the
// scripts can answer them (`command: identified` and so on).
const (
	CmdIdentified     = "identified"      // linked; Args is the order id
	CmdIdentifyFailed = "identify_failed" // no order with that contact
	CmdIdentifyUsage  = "identify_usage"  // the command came without order and contact
	CmdIdentifyLocked = "identify_locked" // too many failed attempts from this chat
)

// identifyLimit is how many failed identifications a chat gets per hour, so
// nobody can guess their way to someone else's order.
const identifyLimit = 5

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
// which answers 503 until Run is called.
func (c *Channel) Run(ctx context.Context, h channels.Handler) error {
	c.setHandler(h)
	defer c.setHandler(nil)
	if c.opt.Mode == ModeWebhook {
		<-ctx.Done()
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := c.DeleteWebhook(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("cannot remove the webhook before polling, retrying", "err", err)
		if !sleep(ctx, c.backoff(attempt)) {
			return nil
		}
	}
	p := &poller{c: c, h: h, inflight: map[int]bool{}, done: map[int]bool{}, queues: map[int64][]tgbotapi.Update{}, wake: make(chan struct{}, 1)}
	p.run(ctx)
	return nil
}

// poller long-polls getUpdates. Updates of one chat are handled in order by
// one goroutine; chats run side by side. The offset (which confirms updates
// to Telegram) only moves past an update once it and all before it were
// handled, so a crash means a redelivery, which the bot's per-update
// idempotency turns into a no-op.
type poller struct {
	c        *Channel
	h        channels.Handler
	mu       sync.Mutex
	offset   int          // every update below it was handled
	maxSeen  int          // the highest update id dispatched
	inflight map[int]bool // dispatched, not handled yet
	done     map[int]bool // handled, waiting for an earlier one
	queues   map[int64][]tgbotapi.Update
	wake     chan struct{} // an update was handled
	wg       sync.WaitGroup
}

func (p *poller) run(ctx context.Context) {
	// Handlers may finish their work for Grace after ctx ends (a reply half
	// sent is worse than a slightly slower stop); they are cut off after that.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	failures := 0
	for ctx.Err() == nil {
		p.mu.Lock()
		offset := p.offset
		p.mu.Unlock()
		var updates []tgbotapi.Update
		err := p.c.call(ctx, p.c.opt.PollTimeout+15*time.Second, func(api *tgbotapi.BotAPI) error {
			var err error
			updates, err = api.GetUpdates(tgbotapi.UpdateConfig{
				Offset: offset, Limit: 100, Timeout: max(1, int(p.c.opt.PollTimeout/time.Second)),
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
				p.c.log.Warn("another getUpdates or a webhook is active for this bot; retrying", "err", err)
			} else {
				p.c.log.Warn("getUpdates failed, retrying", "err", err)
			}
			sleep(ctx, p.c.backoff(failures))
			failures++
			continue
		}
		failures = 0
		fresh := 0
		for _, u := range updates {
			if p.dispatch(hctx, ctx, u) {
				fresh++
			}
		}
		if fresh == 0 && len(updates) > 0 {
			// Only updates still being handled came back: wait for progress
			// instead of asking again at once.
			select {
			case <-p.wake:
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
		}
	}
	cut := time.AfterFunc(p.c.opt.Grace, cancel)
	p.wg.Wait()
	cut.Stop()
	p.confirm()
}

// confirm tells Telegram the final offset, so a restart does not get the
// handled updates again (it would skip them anyway).
func (p *poller) confirm() {
	p.mu.Lock()
	offset := p.offset
	p.mu.Unlock()
	if offset == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := p.c.call(ctx, 3*time.Second, func(api *tgbotapi.BotAPI) error {
		_, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 1, Timeout: 0, AllowedUpdates: []string{"message", "callback_query"}})
		return err
	})
	if err != nil {
		p.c.log.Info("could not confirm the last updates; they will be skipped as duplicates", "err", err)
	}
}

// dispatch queues u on its chat's worker; it reports false for an update
// already known.
func (p *poller) dispatch(hctx, ctx context.Context, u tgbotapi.Update) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := u.UpdateID
	if ctx.Err() != nil || id < p.offset || p.inflight[id] || p.done[id] {
		return false
	}
	p.inflight[id] = true
	p.maxSeen = max(p.maxSeen, id)
	key := chatKey(u)
	q := p.queues[key]
	p.queues[key] = append(q, u)
	if len(q) == 0 {
		p.wg.Add(1)
		go p.work(hctx, ctx, key)
	}
	return true
}

// work handles the queued updates of one chat in order. A failed update is
// retried (with backoff) before the next one of the chat, so the order holds.
func (p *poller) work(hctx, ctx context.Context, key int64) {
	defer p.wg.Done()
	for {
		// The queue of key is not empty while its worker runs: only the
		// worker removes items, and it deletes the queue with the last one.
		p.mu.Lock()
		u := p.queues[key][0]
		p.mu.Unlock()
		for attempt := 0; ; attempt++ {
			err := p.c.handleUpdate(hctx, p.h, u)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				// Stopping: leave it unconfirmed; Telegram gives it again.
				p.mu.Lock()
				delete(p.queues, key)
				p.mu.Unlock()
				return
			}
			p.c.log.Warn("update not handled, retrying", "update", u.UpdateID, "attempt", attempt+1, "err", err)
			sleep(ctx, p.c.backoff(attempt))
		}
		p.mu.Lock()
		rest := p.queues[key][1:]
		p.finishLocked(u.UpdateID)
		if len(rest) == 0 {
			delete(p.queues, key)
		} else {
			p.queues[key] = rest
		}
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		if len(rest) == 0 {
			return
		}
	}
}

// finishLocked marks id handled and moves the offset past every update
// handled without a gap.
func (p *poller) finishLocked(id int) {
	delete(p.inflight, id)
	p.done[id] = true
	next := p.maxSeen + 1
	for x := range p.inflight {
		next = min(next, x)
	}
	p.offset = max(p.offset, next)
	for x := range p.done {
		if x < p.offset {
			delete(p.done, x)
		}
	}
}

func chatKey(u tgbotapi.Update) int64 {
	switch {
	case u.Message != nil && u.Message.Chat != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil && u.CallbackQuery.Message.Chat != nil:
		return u.CallbackQuery.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.From != nil:
		return u.CallbackQuery.From.ID
	}
	return 0
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
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		// Telegram may hang up while the replies are paced out; the work
		// (already committed) should still finish.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
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
	in := channels.Inbound{Channel: Name, Address: strconv.FormatInt(chat.ID, 10), ID: strconv.Itoa(updateID)}
	if from != nil {
		in.Username, in.FirstName, in.LanguageCode = from.UserName, from.FirstName, from.LanguageCode
	}
	if date > 0 {
		in.At = time.Unix(int64(date), 0)
	}
	return in
}

func (c *Channel) handleMessage(ctx context.Context, h channels.Handler, updateID int, m *tgbotapi.Message) error {
	if !c.allowed(m.Chat) || m.From == nil || m.From.IsBot {
		return nil
	}
	in := c.inbound(updateID, m.Chat, m.From, m.Date)
	switch {
	case m.IsCommand():
		if at := strings.Index(m.CommandWithAt(), "@"); at >= 0 && !strings.EqualFold(m.CommandWithAt()[at+1:], c.self.UserName) {
			return nil // a command for another bot in a group
		}
		in.Kind = channels.KindCommand
		in.Command = strings.ToLower(m.Command())
		in.Args = strings.TrimSpace(m.CommandArguments())
		if in.Command == "pedido" || in.Command == "order" {
			if id, ok := h.(Identifier); ok {
				return c.identify(ctx, h, id, in)
			}
		}
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

// identify handles "/pedido ORDER_ID EMAIL_OR_PHONE": it links the chat to
// the order's customer through the bot, then passes a command the scripts
// answer (CmdIdentified and the others).
func (c *Channel) identify(ctx context.Context, h channels.Handler, id Identifier, in channels.Inbound) error {
	order, contact, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
	contact = strings.TrimSpace(contact)
	in.Args = ""
	switch {
	case order == "" || contact == "":
		in.Command = CmdIdentifyUsage
	case !c.identifyAllowed(ctx, in.Address, strings.TrimPrefix(order, "#")):
		in.Command = CmdIdentifyLocked
	default:
		ok, err := id.Identify(ctx, in.Channel, in.Address, order, contact)
		if err != nil {
			return fmt.Errorf("telegram: identify chat %s: %w", in.Address, err)
		}
		if ok {
			in.Command, in.Args = CmdIdentified, strings.TrimPrefix(order, "#")
			c.identifyReset(ctx, in.Address)
		} else {
			in.Command = CmdIdentifyFailed
		}
	}
	return h.HandleInbound(ctx, in)
}

func (c *Channel) identifyKey(kind, id string) string {
	return c.opt.Store.Key("tg", "identify", kind, id)
}

// identifyAllowed counts an attempt before it is made (one atomic INCR, so
// concurrent webhook requests cannot all slip under the limit), per chat and
// per order: identifyLimit tries an hour from a chat, 2×identifyLimit on one
// order from all chats together.
func (c *Channel) identifyAllowed(ctx context.Context, chat, order string) bool {
	if c.opt.Store == nil {
		return true
	}
	rdb := c.opt.Store.Redis()
	for _, k := range []struct {
		key   string
		limit int64
	}{{c.identifyKey("chat", chat), identifyLimit}, {c.identifyKey("order", order), 2 * identifyLimit}} {
		n, err := rdb.Incr(ctx, k.key).Result()
		if err != nil {
			c.log.Warn("count identification attempt", "err", err)
			return false // fail closed: an attempt we cannot count is not made
		}
		if n == 1 {
			rdb.Expire(ctx, k.key, time.Hour)
		}
		if n > k.limit {
			return false
		}
	}
	return true
}

// identifyReset clears a chat's count after it identified.
func (c *Channel) identifyReset(ctx context.Context, chat string) {
	if c.opt.Store != nil {
		c.opt.Store.Redis().Del(ctx, c.identifyKey("chat", chat))
	}
}

// handleCallback handles a button press: it answers the query (Telegram
// shows a spinner until then), removes the keyboard of the pressed message so
// a second tap cannot run the step again, and passes the press on.
func (c *Channel) handleCallback(ctx context.Context, h channels.Handler, updateID int, q *tgbotapi.CallbackQuery) error {
	// answerCallbackQuery answers true, not a Message: Request, not Send.
	if err := c.request(ctx, tgbotapi.NewCallback(q.ID, "")); err != nil {
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
		if err := c.request(ctx, edit); err != nil {
			// "message is not modified": an earlier tap removed it already.
			c.log.Debug("remove keyboard failed", "chat", m.Chat.ID, "err", err)
		}
	}
	in := c.inbound(updateID, m.Chat, q.From, 0)
	in.Kind, in.Data, in.Text = channels.KindButton, q.Data, label
	return h.HandleInbound(ctx, in)
}
