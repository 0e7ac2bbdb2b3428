// Package echobot is the baseline of the delivery benchmarks: the least a
// Telegram webhook bot on journeybot's libraries does for one update. It
// decodes the update with the telegram-bot-api types, reads and writes the
// chat's state (about 400 bytes) in one pipelined Redis round trip, replies
// through the Bot API, and only then answers the webhook. Set beside the
// real process in one run, it turns the engine's cost into a ratio.
//
// A message "m17" is answered "r17", as the delivery test scripts answer,
// so the same load generator and checks serve both.
package echobot

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"
)

// StateSize is the size of the state the bot keeps per chat, about what a
// journey document weighs in Redis (README, Performance).
const StateSize = 400

// Options configure a Bot.
type Options struct {
	Redis  redis.UniversalClient
	Prefix string // keys are PREFIX:echo:CHAT
	// APIURL is the Bot API base (telegram.api_url); Token the bot's token.
	APIURL, Token string
	// Secret is the webhook secret; requests without it get 401.
	Secret string
}

// Bot is an echo bot; it is an http.Handler for the webhook.
type Bot struct {
	opt Options
	api *tgbotapi.BotAPI
}

// New connects to the Bot API (getMe) and returns the bot.
func New(o Options) (*Bot, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	endpoint := strings.ReplaceAll(strings.TrimRight(o.APIURL, "/"), "%", "%%") + "/bot%s/%s"
	api, err := tgbotapi.NewBotAPIWithClient(o.Token, endpoint, hc)
	if err != nil {
		return nil, fmt.Errorf("echobot: getMe: %w", err)
	}
	return &Bot{opt: o, api: api}, nil
}

type state struct {
	Chat  int64  `json:"chat"`
	Last  string `json:"last"`
	At    int64  `json:"at"`
	Notes string `json:"notes"` // padding up to StateSize
}

// ServeHTTP handles one webhook update.
func (b *Bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")), []byte(b.opt.Secret)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var u tgbotapi.Update
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u); err != nil {
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	if u.Message == nil || u.Message.Chat == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	chat := u.Message.Chat.ID
	text, err := Step(r.Context(), b.opt.Redis, b.opt.Prefix, u.Message)
	if err != nil {
		http.Error(w, "redis", http.StatusInternalServerError)
		return
	}
	if _, err := b.api.Send(tgbotapi.NewMessage(chat, text)); err != nil {
		http.Error(w, "send", http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Step is the echo bot's work for one message, without the HTTP on either
// side: the chat's state read and written in one pipelined round trip, and
// the reply's text. The in-process benchmarks run it as their baseline.
func Step(ctx context.Context, rdb redis.UniversalClient, prefix string, m *tgbotapi.Message) (string, error) {
	chat := m.Chat.ID
	st := state{Chat: chat, Last: m.Text, At: time.Now().Unix()}
	raw, _ := json.Marshal(st)
	st.Notes = strings.Repeat("x", max(0, StateSize-len(raw)))
	raw, _ = json.Marshal(st)
	key := prefix + ":echo:" + strconv.FormatInt(chat, 10)
	pipe := rdb.Pipeline()
	pipe.Get(ctx, key)
	pipe.Set(ctx, key, raw, 48*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return "", err
	}
	text := "?"
	if n, ok := strings.CutPrefix(m.Text, "m"); ok {
		text = "r" + n
	}
	return text, nil
}
