package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
	"journeybot/journey"
)

const privacySecret = "0f4c1d8e2b7a9c3e5d6f8a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5"

// keysMentioning lists the keys under the test's prefix whose name or
// value holds one of needles.
func keysMentioning(t *testing.T, r *redistest.Redis, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := r.Client.Scan(ctx, 0, r.Prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		val := ""
		switch typ, _ := r.Client.Type(ctx, k).Result(); typ {
		case "string":
			val, _ = r.Client.Get(ctx, k).Result()
		case "hash":
			m, _ := r.Client.HGetAll(ctx, k).Result()
			for f, v := range m {
				val += f + "=" + v + " "
			}
		case "list":
			l, _ := r.Client.LRange(ctx, k, 0, -1).Result()
			val = strings.Join(l, " ")
		case "set":
			l, _ := r.Client.SMembers(ctx, k).Result()
			val = strings.Join(l, " ")
		case "zset":
			l, _ := r.Client.ZRange(ctx, k, 0, -1).Result()
			val = strings.Join(l, " ")
		}
		for _, n := range needles {
			if strings.Contains(k, n) || strings.Contains(val, n) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// A customer chats first, the store's event links the chat, the customer
// asks in the chat to erase their data and confirms: they get a last
// message, nothing of them is left, and the store's next event is refused
// until it says the customer consented again.
func TestPrivacyEraseFromTheChat(t *testing.T) {
	r := redistest.New(t)
	srv := telegramtest.New(t)
	ana := telegramCustomer(t, r)
	chatID := strconv.FormatInt(ana.ID, 10)
	customer := "cust-" + chatID
	scripts, _ := filepath.Abs("../../scripts")
	addr, maddr := freeAddr(t), freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_METRICS_ADDR=" + maddr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + srv.URL, "JOURNEYBOT_EVENTS_SECRET=" + privacySecret,
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "oi")
	srv.WaitMessages(chat.ID, 1)
	ev := func(id string, consent bool) string {
		c := `"consent":false`
		if consent {
			c = `"consent":true`
		}
		return `{"id":"` + id + `","type":"order.paid","customer":{"id":"` + customer + `","email":"ana@example.com","telegram_chat":"` + chatID + `",` + c + `},"order":{"id":"` + chatID[len(chatID)-6:] + `","total":10,"currency":"BRL"}}`
	}
	url := "http://" + addr + "/events"
	if code, a := postEvent(t, url, privacySecret, ev("p-1", false)); code != http.StatusOK || a.Customer != customer {
		t.Fatalf("event: %d %+v", code, a)
	}
	// The payment's confirmation waits: the customer is in the middle of the
	// menu's question (merged from the chat's journey).
	n := 1
	srv.SendText(chat, ana, "quero apagar meus dados")
	ask := srv.WaitMessages(chat.ID, n+1)[n]
	if !strings.Contains(ask.Text, "apague tudo") || !slices.Contains(buttonLabels(ask), "Sim, apagar") {
		t.Fatalf("the erase was not confirmed first: %q %v", ask.Text, buttonLabels(ask))
	}
	srv.Press(chat, ana, "Sim, apagar")
	last := srv.WaitMessages(chat.ID, n+2)[n+1]
	if !strings.HasPrefix(last.Text, "Pronto: apaguei seus dados") {
		t.Fatalf("last message = %q", last.Text)
	}
	p.stderr.waitFor(t, "privacy erase")
	// Nothing of Ana is left but the outbox's pacing record of the last
	// message, which expires within a minute.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, k := range keysMentioning(t, r, chatID, customer, "ana@example.com") {
			if !strings.HasSuffix(k, ":om") {
				left = append(left, k)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the erase Redis still holds %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	audit := p.stderr.String()
	if !strings.Contains(audit, "audit=erase") || strings.Contains(audit, "ana@example.com") {
		t.Errorf("audit line missing or with personal data:\n%s", audit)
	}
	code, a := postEvent(t, url, privacySecret, ev("p-2", false))
	if code != http.StatusConflict || a.Field != "customer.consent" || !strings.Contains(a.Error, "erased") {
		t.Fatalf("event for the erased customer: %d %+v, want 409 naming customer.consent", code, a)
	}
	if code, a := postEvent(t, url, privacySecret, ev("p-3", true)); code != http.StatusOK || !a.OK {
		t.Fatalf("event with consent: %d %+v", code, a)
	}
	j, found, err := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}).Get(context.Background(), customer)
	if err != nil || !found || j.Counters.Inbound != 0 || len(j.Merged) != 0 {
		t.Fatalf("with consent a fresh journey starts: %+v found %v err %v", j, found, err)
	}
	body := waitStatus(t, "http://"+maddr+"/metrics", 200)
	if !strings.Contains(body, `event="event.refused_erased"} 1`) {
		t.Errorf("the refused event is not counted")
	}
	stopBinary(t, p, srv.Token)
}

// `journeybot privacy export` lists every key of the customer (compared
// with a scan) and `erase` leaves nothing; unknown customers get a clear
// error.
func TestPrivacyCommands(t *testing.T) {
	r := redistest.New(t)
	ctx := context.Background()
	s := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	now := time.Now()
	chat := strconv.FormatInt(2_000_000_000+now.UnixNano()%100_000_000, 10)
	if _, err := s.Commit(ctx, "telegram:"+chat, "telegram:1", now, func(j *journey.Journey) (journey.Change, error) {
		j.Profile.Name, j.Profile.Language = "Bia", "en"
		j.Profile.Addresses = map[string]string{"telegram": chat}
		return journey.Change{History: []journey.HistoryEntry{{At: now.Unix(), From: "customer", Text: "hi"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, "telegram", chat, "cust-bia", now); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexOrder(ctx, "o-"+chat, "cust-bia"); err != nil {
		t.Fatal(err)
	}
	r.Client.HSet(ctx, r.Prefix+":stats:2026-12-01", "inbound", 3)
	scripts, _ := filepath.Abs("../../scripts")
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL="+r.URL, "JOURNEYBOT_REDIS_PREFIX="+r.Prefix, "JOURNEYBOT_SCRIPTS_DIR="+scripts)
		cmd.Dir = t.TempDir()
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	out, stderr, err := run("privacy", "export", "telegram:"+chat)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	var e journey.Export
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out)
	}
	if e.Customer != "cust-bia" || e.Journey["profile"].(map[string]any)["name"] != "Bia" || len(e.History) != 1 {
		t.Errorf("export = %+v", e)
	}
	for _, k := range keysMentioning(t, r, chat, "cust-bia") {
		if !slices.Contains(e.Keys, k) && !slices.Contains(e.Indexes, k) {
			t.Errorf("export misses %s", k)
		}
	}
	if !strings.Contains(stderr, "audit=export") {
		t.Errorf("no audit line for the export:\n%s", stderr)
	}
	out, stderr, err = run("privacy", "erase", "o-"+chat)
	if err != nil || !strings.HasPrefix(out, "erased customer cust-bia:") {
		t.Fatalf("erase: %v\n%s%s", err, out, stderr)
	}
	if left := keysMentioning(t, r, chat, "cust-bia"); len(left) != 0 {
		t.Errorf("after the erase: %v", left)
	}
	if v, _ := r.Client.HGet(ctx, r.Prefix+":stats:2026-12-01", "inbound").Result(); v != "3" {
		t.Errorf("aggregate changed: %q", v)
	}
	for _, args := range [][]string{{"privacy", "export", "cust-bia"}, {"privacy", "erase", "nobody-42"}} {
		_, stderr, err := run(args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(stderr, "no such customer") || !strings.Contains(stderr, args[2]) {
			t.Errorf("%v: err %v, stderr %q", args, err, stderr)
		}
	}
}
