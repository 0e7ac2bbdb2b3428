package bot_test

import (
	"sync"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

func loadScripts(t testing.TB) *conversations.Scripts {
	t.Helper()
	s, _, err := conversations.LoadDir("testdata/runtime")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	bot   *bot.Bot
	store *journey.Store
	rec   *channeltest.Recorder
	redis *redistest.Redis
}

func newFixture(t testing.TB, r *redistest.Redis) *fixture {
	t.Helper()
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions())})
	rec := channeltest.New("test")
	b.AddChannel(rec)
	return &fixture{bot: b, store: store, rec: rec, redis: r}
}

var seq struct {
	sync.Mutex
	n int
}

func text(addr, s string) channels.Inbound {
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	return channels.Inbound{Channel: "test", Address: addr, ID: time.Now().Format("150405.000000000") + "-" + itoa(n), Kind: channels.KindText, Text: s, FirstName: "Ana"}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
