package echobot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
)

// An update is answered at the API, its chat's state written (about
// StateSize bytes), and a wrong secret refused.
func TestEchoRepliesAndKeepsState(t *testing.T) {
	r := redistest.New(t)
	srv := telegramtest.New(t)
	bot, err := New(Options{Redis: r.Client, Prefix: r.Prefix, APIURL: srv.URL, Token: srv.Token, Secret: "s3"})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(bot)
	defer hook.Close()
	// The secret the fake API sends is the one the bot set; set it by hand.
	resp, err := http.PostForm(srv.URL+"/bot"+srv.Token+"/setWebhook", map[string][]string{"url": {hook.URL}, "secret_token": {"s3"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u := telegramtest.User{ID: 42, FirstName: "E"}
	id, _ := srv.NewText(telegramtest.Private(u), u, "m7")
	if code, err := srv.Post(context.Background(), http.DefaultClient, hook.URL, id); code != 200 || err != nil {
		t.Fatalf("post: %d %v", code, err)
	}
	if ms := srv.Messages(42); len(ms) != 1 || ms[0].Text != "r7" {
		t.Fatalf("replies = %+v, want r7", ms)
	}
	v, err := r.Client.Get(context.Background(), r.Prefix+":echo:42").Result()
	if err != nil || len(v) < StateSize-10 || len(v) > StateSize+10 {
		t.Fatalf("state: %d bytes, %v", len(v), err)
	}
	req, _ := http.NewRequest(http.MethodPost, hook.URL, nil)
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", resp.StatusCode)
	}
}
