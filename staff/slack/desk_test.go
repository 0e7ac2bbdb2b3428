package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/config"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/internal/channeltest"
	"journeybot/internal/openaitest"
	"journeybot/internal/redistest"
	"journeybot/internal/simclock"
	"journeybot/internal/slacktest"
	"journeybot/journey"
	"journeybot/llm"
)

const secret = "test-signing-secret"

var (
	bia   = slacktest.User{ID: "U1", Name: "bia", RealName: "Bia Souza", FirstName: "Bia"}
	caio  = slacktest.User{ID: "U2", Name: "caio", RealName: "Caio Lima", FirstName: "Caio"}
	guest = slacktest.User{ID: "U9", Name: "guest", RealName: "Guest", TeamID: "T0OTHER"}
)

// loadScripts loads the repo's scripts: the case.claimed, case.resolved
// (CSAT) and case.after_hours flows the desk relies on are theirs.
func loadScripts(t testing.TB) *conversations.Scripts {
	t.Helper()
	s, probs, err := conversations.LoadDir("../../scripts")
	if err != nil {
		t.Fatalf("repo scripts: %v\n%v", err, probs)
	}
	return s
}

// env is one bot process with its desk, sharing Slack and Redis with any
// other env built from the same base.
type env struct {
	t       *testing.T
	ctx     context.Context
	sl      *slacktest.Server
	channel string // the support channel id
	r       *redistest.Redis
	clock   *simclock.Clock
	rec     *channeltest.Recorder
	bot     *bot.Bot
	stats   *bot.Stats
	desk    *Desk
	http    *httptest.Server
}

type setup struct {
	opts   func(*Options)
	socket bool
	clock  *simclock.Clock
	// model, when set, is the language model server the bot uses.
	model *openaitest.Server
}

func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	sl := slacktest.New(t)
	for _, u := range []slacktest.User{bia, caio, guest} {
		sl.AddUser(u)
	}
	e := &env{t: t, sl: sl, channel: sl.AddChannel("support"), r: redistest.New(t), clock: s.clock}
	if e.clock == nil {
		e.clock = simclock.New(time.Now())
	}
	return e.start(s)
}

// twin is a second process: its own bot and desk over the same Slack and Redis.
func (e *env) twin(s setup) *env {
	o := &env{t: e.t, sl: e.sl, channel: e.channel, r: e.r, clock: e.clock, rec: e.rec}
	return o.start(s)
}

func (e *env) start(s setup) *env {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	store := journey.NewStore(e.r.Client, journey.Options{Prefix: e.r.Prefix})
	eng := conversations.NewEngine(loadScripts(t), conversations.DefaultOptions())
	e.stats = bot.NewStats(e.r.Client, e.r.Prefix, e.clock.Now) // the days the desk reads: its clock, not the wall clock
	bo := bot.Options{Store: store, Engine: eng, Now: e.clock.Now, Metrics: bot.NewMetrics(e.stats)}
	if s.model != nil {
		l, err := llm.New(llm.Config{APIKey: "sk-test", BaseURL: s.model.BaseURL(), Model: "test-model"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		bo.LLM = l
	}
	e.bot = bot.New(bo)
	if e.rec == nil {
		e.rec = channeltest.New("telegram")
	}
	e.bot.AddChannel(e.rec)
	o := Options{
		BotToken: e.sl.BotToken, SigningSecret: secret, APIURL: e.sl.URL, Channel: "#support",
		ClaimTimeout: time.Minute, Bot: e.bot, Stats: e.stats, Workers: 4, StaffUserIDs: []string{bia.ID, caio.ID},
		Figures: insight.NewReader(e.r.Client, insight.ReaderOptions{Prefix: e.r.Prefix, Current: eng.Scripts, Now: e.clock.Now}),
	}
	if s.socket {
		o.AppToken = e.sl.AppToken
	}
	if s.opts != nil {
		s.opts(&o)
	}
	d, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	e.desk = d
	e.bot.SetStaff(d)
	mux := http.NewServeMux()
	d.Mount(mux)
	e.http = httptest.NewServer(mux)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	t.Cleanup(func() { // before Slack and Redis go away (cleanups run last first)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("desk stopped with: %v", err)
		}
		e.http.Close()
	})
	return e
}

// eventually waits for cond; the deadline only bounds a failing test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// customer is Ana, who bought order 1001 and writes on "telegram" chat 42.
func (e *env) customer() {
	e.t.Helper()
	ctx := e.ctx
	if _, err := e.bot.Store().Link(ctx, "telegram", "42", "cust-1", e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
	_, err := e.bot.HandleEvent(ctx, journey.Event{ID: "ord-1", Type: "order.paid", At: e.clock.Now(),
		Customer: journey.EventCustomer{ID: "cust-1", Name: "Ana Lima"},
		Order: &journey.Order{ID: "1001", Status: "shipped", Total: 199.9, Currency: "BRL",
			Items: []journey.Item{{Name: "Tênis Runner", Qty: 1}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

var msgSeq int

func (e *env) say(text string) {
	e.t.Helper()
	msgSeq++
	in := channels.Inbound{Channel: "telegram", Address: "42", ID: fmt.Sprint("m", msgSeq), Kind: channels.KindText,
		Text: text, FirstName: "Ana", Username: "ana_s", LanguageCode: "pt-BR"}
	if strings.HasPrefix(text, "/") {
		in.Kind, in.Command, in.Text = channels.KindCommand, strings.TrimPrefix(text, "/"), ""
	}
	if err := e.bot.HandleInbound(e.ctx, in); err != nil {
		e.t.Fatal(err)
	}
}

// openCase has Ana ask for a person and returns the case message.
func (e *env) openCase() slacktest.Message {
	e.t.Helper()
	e.customer()
	e.say("/human")
	msgs := e.sl.Messages(e.channel)
	if len(msgs) != 1 {
		e.t.Fatalf("want one case message in the support channel, got %+v", msgs)
	}
	eventually(e.t, "the case ref in the journey", func() bool {
		j, _, _ := e.bot.Store().Get(e.ctx, "cust-1")
		return j.Case != nil && j.Case.Ref == msgs[0].TS
	})
	return msgs[0]
}

func (e *env) post(path, contentType string, body []byte, at time.Time, signWith string) *http.Response {
	e.t.Helper()
	req, err := slacktest.SignedRequest(e.ctx, e.http.URL+path, signWith, at, contentType, body)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

var evSeq int

// event delivers an Events API event over HTTP and returns its id.
func (e *env) event(id string, ev any) string {
	e.t.Helper()
	if id == "" {
		evSeq++
		id = fmt.Sprint("Ev", evSeq)
	}
	resp := e.post("/slack/events", "application/json", e.sl.EventCallback(id, ev), time.Now(), secret)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("event %s: status %d", id, resp.StatusCode)
	}
	return id
}

// staffSays posts a member's thread reply and delivers its event.
func (e *env) staffSays(u slacktest.User, ts, text string) {
	e.t.Helper()
	e.event("", slacktest.MessageEvent(e.sl.Post(e.channel, u.ID, ts, text)))
}

func (e *env) click(u slacktest.User, ts, action string) {
	e.t.Helper()
	payload, _ := json.Marshal(e.sl.BlockAction(u, e.channel, ts, blockActions, action, "cust-1"))
	resp := e.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(payload)}}.Encode()), time.Now(), secret)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("interaction: status %d", resp.StatusCode)
	}
}

func (e *env) command(u slacktest.User, text string) string {
	e.t.Helper()
	return e.commandIn(u, e.channel, text)
}

func (e *env) commandIn(u slacktest.User, channel, text string) string {
	e.t.Helper()
	form := url.Values{}
	for k, v := range e.sl.SlashCommand(u, channel, "/journey", text) {
		form.Set(k, v)
	}
	req, _ := slacktest.SignedRequest(e.ctx, e.http.URL+"/slack/commands", secret, time.Now(), "application/x-www-form-urlencoded", []byte(form.Encode()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("command: %d %s", resp.StatusCode, b)
	}
	if out.ResponseType != "ephemeral" {
		e.t.Errorf("command answer is %q, want ephemeral", out.ResponseType)
	}
	return out.Text
}

// threadHas reports whether a thread message contains s.
func (e *env) threadHas(ts, s string) bool {
	for _, m := range e.sl.Thread(e.channel, ts) {
		if strings.Contains(m.Text, s) {
			return true
		}
	}
	return false
}

func (e *env) ephemeralTo(u slacktest.User, s string) bool {
	for _, m := range e.sl.Ephemerals() {
		if m.User == u.ID && strings.Contains(m.Text, s) {
			return true
		}
	}
	return false
}

func (e *env) journey() *journey.Journey {
	j, _, err := e.bot.Store().Get(e.ctx, "cust-1")
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *env) takeOver(u slacktest.User, ts string) {
	e.t.Helper()
	e.click(u, ts, actionTake)
	eventually(e.t, "the takeover notice", func() bool { return e.threadHas(ts, "took over") })
}

func TestCaseOpensWithContext(t *testing.T) {
	e := newEnv(t, setup{})
	e.customer()
	e.say("oi")
	e.say("/human")
	msgs := e.sl.Messages(e.channel)
	if len(msgs) != 1 || msgs[0].ThreadTS != "" {
		t.Fatalf("want one case message, got %+v", msgs)
	}
	m := msgs[0]
	j := e.journey()
	if j.Case == nil || j.Case.Ref != m.TS {
		t.Fatalf("journey case = %+v, want ref %s", j.Case, m.TS)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if b["block_id"] == nil || b["block_id"] == "" {
			t.Errorf("block without block_id: %v", b)
		}
	}
	raw := string(m.Blocks)
	for _, want := range []string{"Ana Lima", "telegram", "@ana_s", "*Stage*\\n" + j.Stage, "#1001", "shipped", "Tênis Runner",
		"customer asked for a person", "oi", "/human", `"action_id":"case_take"`, `"action_id":"case_resolve"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("case message lacks %q:\n%s", want, raw)
		}
	}
	if j.Stage == "" {
		t.Error("customer has no stage; the card's stage check means nothing")
	}
	// The customer is told someone is coming, and nobody took it yet.
	if len(e.rec.Sent()) == 0 {
		t.Error("customer got no reply to /human")
	}
	// A second request while the case is open opens no second case (it
	// reaches the case's thread instead).
	e.say("/human")
	top := 0
	for _, m := range e.sl.Messages(e.channel) {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			top++
		}
	}
	if top != 1 {
		t.Errorf("second /human: %d cases in the channel, want 1", top)
	}
}

// A text the model wrote reaches the case as the customer read it, marked
// as the model's.
func TestCaseShowsTheModelsText(t *testing.T) {
	model := openaitest.New(t)
	const answer = "Claro, Ana! Posso ajudar com isso por aqui."
	model.SetReply(answer)
	e := newEnv(t, setup{model: model})
	e.customer()
	e.say("xyzzy plugh")
	if got := e.rec.Texts("42"); len(got) == 0 || got[len(got)-1] != answer {
		t.Fatalf("customer got %q, want the model's answer", got)
	}
	e.say("/human")
	msgs := e.sl.Messages(e.channel)
	if len(msgs) != 1 {
		t.Fatalf("want one case message, got %+v", msgs)
	}
	if raw := string(msgs[0].Blocks); !strings.Contains(raw, "🤖 _(model)_ "+answer) {
		t.Errorf("case lacks the model's text marked as such:\n%s", raw)
	}
}

func TestTakeoverRaceExactlyOneWins(t *testing.T) {
	a := newEnv(t, setup{})
	b := a.twin(setup{}) // another process, same Redis and Slack
	m := a.openCase()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.click(bia, m.TS, actionTake) }()
	go func() { defer wg.Done(); b.click(caio, m.TS, actionTake) }()
	wg.Wait()
	eventually(t, "a winner and a loser", func() bool {
		return a.threadHas(m.TS, "took over") && len(a.sl.Ephemerals()) == 1
	})
	j := a.journey()
	if j.Case == nil || j.Case.Claimed == 0 {
		t.Fatalf("case not claimed: %+v", j.Case)
	}
	winner, loser := bia, caio
	if j.Case.StaffID == caio.ID {
		winner, loser = caio, bia
	}
	if !a.ephemeralTo(loser, winner.RealName+" already has it") {
		t.Errorf("loser %s not told who has it: %+v", loser.ID, a.sl.Ephemerals())
	}
	n := 0
	for _, tm := range a.sl.Thread(a.channel, m.TS) {
		if strings.Contains(tm.Text, "took over") {
			n++
			if !strings.Contains(tm.Text, winner.RealName) {
				t.Errorf("takeover notice names the wrong person: %s", tm.Text)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d takeover notices, want 1", n)
	}
	eventually(t, "the card update", func() bool {
		c, _ := a.sl.Message(a.channel, m.TS)
		return strings.Contains(string(c.Blocks), "Taken over by *"+winner.RealName)
	})
	c, _ := a.sl.Message(a.channel, m.TS)
	if strings.Contains(string(c.Blocks), actionTake) || !strings.Contains(string(c.Blocks), actionResolve) {
		t.Errorf("after takeover the card should keep only Resolve: %s", c.Blocks)
	}
	for _, keep := range []string{"Case: Ana Lima", "#1001", "customer asked for a person", blockHistory} {
		if !strings.Contains(string(c.Blocks), keep) {
			t.Errorf("the update lost %q: %s", keep, c.Blocks)
		}
	}
	// The customer hears once that a person joined, by first name.
	if got := a.rec.Count(winner.FirstName); got != 1 {
		t.Errorf("customer told %d times about %s: %+v", got, winner.FirstName, a.rec.Sent())
	}
	if a.rec.Count(loser.FirstName) != 0 {
		t.Errorf("customer heard of the loser: %+v", a.rec.Sent())
	}
}

func TestRelayNotesEditsFilesResolveAndCSAT(t *testing.T) {
	e := newEnv(t, setup{})
	m := e.openCase()
	e.takeOver(bia, m.TS)
	if e.rec.Count("Bia") != 1 {
		t.Fatalf("customer not told Bia joined: %+v", e.rec.Sent())
	}

	// Customer -> thread.
	e.say("meu pedido não chegou <ainda> & agora?")
	eventually(t, "the mirror", func() bool {
		return e.threadHas(m.TS, "*Ana Lima:* meu pedido não chegou &lt;ainda&gt; &amp; agora?")
	})
	before := len(e.rec.Sent())
	if e.rec.Count("não entendi") != 0 {
		t.Errorf("the bot answered while staff has the case: %+v", e.rec.Sent())
	}

	// Thread -> customer, with Slack's link markup made readable.
	e.staffSays(bia, m.TS, "Oi Ana, veja <https://track.example/1001|o rastreio> &amp; me diga")
	eventually(t, "the staff reply", func() bool { return e.rec.Count("Oi Ana") == 1 })
	if got := e.rec.Sent()[before].Text; got != "Oi Ana, veja o rastreio (https://track.example/1001) & me diga" {
		t.Errorf("customer got %q", got)
	}

	// A note, the bot's own post and an edit do not reach the customer; the
	// message after them proves they were handled (one case's work runs in order).
	e.staffSays(bia, m.TS, "// ligar para a transportadora")
	e.staffSays(caio, m.TS, "note: cliente VIP")
	own := e.sl.Thread(e.channel, m.TS)[0] // the bot's takeover notice
	e.event("", slacktest.MessageEvent(own))
	edited := e.sl.Post(e.channel, bia.ID, m.TS, "Oi Ana, veja o rastreio")
	e.event("", map[string]any{"type": "message", "subtype": "message_changed", "channel": e.channel, "hidden": true,
		"ts": "9.9", "message": map[string]any{"type": "message", "user": bia.ID, "text": "Oi Ana, veja o rastreio!", "ts": edited.TS,
			"thread_ts": m.TS, "edited": map[string]any{"user": bia.ID, "ts": "9.9"}},
		"previous_message": map[string]any{"type": "message", "user": bia.ID, "text": "Oi Ana, veja o rastreio", "ts": edited.TS, "thread_ts": m.TS}})
	file := e.sl.Post(e.channel, bia.ID, m.TS, "segue a nota")
	fev := slacktest.MessageEvent(file)
	fev["subtype"] = "file_share"
	fev["files"] = []any{map[string]any{"id": "F1", "name": "nota.pdf"}}
	e.event("", fev)
	e.staffSays(bia, m.TS, "Já te aviso")
	eventually(t, "the last reply", func() bool { return e.rec.Count("Já te aviso") == 1 })
	for _, s := range []string{"transportadora", "VIP", "took over", "rastreio!"} {
		if e.rec.Count(s) != 0 {
			t.Errorf("%q reached the customer: %+v", s, e.rec.Sent())
		}
	}
	if e.rec.Count("segue a nota") != 1 {
		t.Errorf("the text of a message with a file was not sent")
	}
	if !e.threadHas(m.TS, "edits are not sent") || !e.threadHas(m.TS, "Files are not forwarded") {
		t.Errorf("thread does not explain edits and files: %+v", e.sl.Thread(e.channel, m.TS))
	}

	// Resolve in the thread: the customer gets the CSAT survey.
	e.clock.Add(14 * time.Minute)
	before = len(e.rec.Sent())
	e.staffSays(bia, m.TS, "resolve")
	eventually(t, "the resolve notice", func() bool { return e.threadHas(m.TS, "Resolved by *Bia Souza* after 14m") })
	if j := e.journey(); j.Case != nil {
		t.Fatalf("case still open: %+v", j.Case)
	}
	var survey *channels.Outbound
	for _, o := range e.rec.Sent()[before:] {
		if len(o.Buttons) == 5 && o.Buttons[0].Label == "1" && o.Buttons[4].Label == "5" {
			survey = &o
		}
	}
	if survey == nil {
		t.Fatalf("no CSAT survey after resolve: %+v", e.rec.Sent()[before:])
	}
	eventually(t, "the card closed", func() bool {
		c, _ := e.sl.Message(e.channel, m.TS)
		return strings.Contains(string(c.Blocks), "Resolved by *Bia Souza*")
	})
	if c, _ := e.sl.Message(e.channel, m.TS); strings.Contains(string(c.Blocks), actionResolve) {
		t.Errorf("a resolved card still has buttons: %s", c.Blocks)
	}
	// The customer answers 5; today's figures show it.
	msgSeq++
	if err := e.bot.HandleInbound(e.ctx, channels.Inbound{Channel: "telegram", Address: "42", ID: fmt.Sprint("m", msgSeq),
		Kind: channels.KindButton, Data: survey.Buttons[4].Data, Text: "5"}); err != nil {
		t.Fatal(err)
	}
	stats := e.command(bia, "stats")
	for _, want := range []string{"CSAT: 100% satisfied, 5.0 average (1 answers)", "0 open now", "Time to takeover: 30s (median)",
		"*Last 7 days*", "Cases: 1 opened in 7 days · 1 resolved", "Coupons: 0 sent · 0 redeemed", "Orders: 1 (1 first purchases) · 0 repeat buyers · 0 won back"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lack %q:\n%s", want, stats)
		}
	}
	// After resolve, thread replies no longer reach the customer.
	before = len(e.rec.Sent())
	e.staffSays(bia, m.TS, "mais uma coisa")
	eventually(t, "the closed-case warning", func() bool { return e.ephemeralTo(bia, "was not sent") })
	if len(e.rec.Sent()) != before {
		t.Errorf("a reply on a resolved case reached the customer")
	}
}

func TestResolveButtonAndReplyTakesOver(t *testing.T) {
	e := newEnv(t, setup{})
	m := e.openCase()
	// Replying to an unclaimed case takes it over first.
	e.staffSays(caio, m.TS, "Olá! Sou o Caio.")
	eventually(t, "the reply", func() bool { return e.rec.Count("Sou o Caio") == 1 })
	if j := e.journey(); j.Case == nil || j.Case.StaffID != caio.ID {
		t.Fatalf("reply did not take the case over: %+v", j.Case)
	}
	e.click(bia, m.TS, actionResolve)
	eventually(t, "the resolve notice", func() bool { return e.threadHas(m.TS, "Resolved by *Bia Souza*") })
	e.click(caio, m.TS, actionResolve)
	eventually(t, "the already-resolved answer", func() bool { return e.ephemeralTo(caio, "already resolved") })
}

func TestForgedOrStaleRequestsRefused(t *testing.T) {
	e := newEnv(t, setup{})
	m := e.openCase()
	body := e.sl.EventCallback("EvForged", slacktest.MessageEvent(e.sl.Post(e.channel, bia.ID, m.TS, "resolve")))
	cases := map[string]*http.Response{
		"wrong secret": e.post("/slack/events", "application/json", body, time.Now(), "not-the-secret"),
		"stale":        e.post("/slack/events", "application/json", body, time.Now().Add(-6*time.Minute), secret),
		"from future":  e.post("/slack/events", "application/json", body, time.Now().Add(6*time.Minute), secret),
	}
	payload, _ := json.Marshal(e.sl.BlockAction(bia, e.channel, m.TS, blockActions, actionResolve, "cust-1"))
	form := []byte(url.Values{"payload": {string(payload)}}.Encode())
	cases["forged interaction"] = e.post("/slack/interactions", "application/x-www-form-urlencoded", form, time.Now(), "x")
	cases["forged command"] = e.post("/slack/commands", "application/x-www-form-urlencoded", []byte("text=stats&user_id=U1"), time.Now(), "x")
	for name, resp := range cases {
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
	}
	// Tampering with a signed body breaks the signature.
	req, _ := slacktest.SignedRequest(e.ctx, e.http.URL+"/slack/events", secret, time.Now(), "application/json", body)
	req.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "resolve", "resolvE", 1)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: status %d", resp.StatusCode)
	}
	// No header at all.
	resp, err = http.Post(e.http.URL+"/slack/events", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned: status %d", resp.StatusCode)
	}
	// Signed, but not events: 400, and the desk is not asked.
	notEvents := map[string][]byte{
		"random bytes":            []byte("\x00\x9f garbage"),
		"100,000-deep JSON":       []byte(strings.Repeat(`{"a":`, 100000)),
		"a list":                  []byte(`[1,2,3]`),
		"unknown envelope":        []byte(`{"type":"pizza"}`),
		"callback, no event":      []byte(`{"type":"event_callback"}`),
		"callback, event no type": []byte(`{"type":"event_callback","event":{"text":"resolve"}}`),
	}
	for name, b := range notEvents {
		if resp := e.post("/slack/events", "application/json", b, time.Now(), secret); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
	// A real event of a type the desk does not subscribe to is still acknowledged.
	if resp := e.post("/slack/events", "application/json", []byte(`{"type":"event_callback","event":{"type":"reaction_added"}}`), time.Now(), secret); resp.StatusCode != http.StatusOK {
		t.Errorf("an event of another type: status %d, want 200", resp.StatusCode)
	}
	// None of them did anything; a signed request still works.
	req, _ = slacktest.SignedRequest(e.ctx, e.http.URL+"/slack/events", secret, time.Now(), "application/json",
		[]byte(`{"token":"x","challenge":"chal-123","type":"url_verification"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "chal-123" {
		t.Errorf("url_verification: %d %q", resp.StatusCode, got)
	}
	if j := e.journey(); j.Case == nil {
		t.Error("a refused request resolved the case")
	}
	if n := len(e.sl.Thread(e.channel, m.TS)); n != 1 { // just the forged "resolve" posted above
		t.Errorf("refused requests left %d thread messages", n)
	}
}

func TestRetriedEventHandledOnce(t *testing.T) {
	e := newEnv(t, setup{})
	m := e.openCase()
	e.takeOver(bia, m.TS)
	ev := slacktest.MessageEvent(e.sl.Post(e.channel, bia.ID, m.TS, "Uma vez só"))
	e.event("EvRetry", ev)
	body := e.sl.EventCallback("EvRetry", ev)
	req, _ := slacktest.SignedRequest(e.ctx, e.http.URL+"/slack/events", secret, time.Now(), "application/json", body)
	req.Header.Set("X-Slack-Retry-Num", "1")
	req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("retry answered %d; Slack would keep retrying", resp.StatusCode)
	}
	e.staffSays(bia, m.TS, "Depois")
	eventually(t, "the later message", func() bool { return e.rec.Count("Depois") == 1 })
	if n := e.rec.Count("Uma vez só"); n != 1 {
		t.Errorf("retried event delivered %d times", n)
	}
}

func TestSocketMode(t *testing.T) {
	e := newEnv(t, setup{socket: true})
	e.sl.SetEcho(true) // Slack shows the app its own posts
	m := e.openCase()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	ack, err := e.sl.Deliver(ctx, "interactive", e.sl.BlockAction(bia, e.channel, m.TS, blockActions, actionTake, "cust-1"))
	if err != nil {
		t.Fatalf("interaction not acknowledged: %v", err)
	}
	if string(ack) != "" && string(ack) != "null" {
		t.Errorf("interaction ack payload %s", ack)
	}
	eventually(t, "takeover over socket mode", func() bool { return e.threadHas(m.TS, "Bia Souza* took over") })
	if e.rec.Count("Bia") != 1 {
		t.Errorf("customer not told: %+v", e.rec.Sent())
	}
	if err := e.sl.DeliverEvent(ctx, "EvS1", slacktest.MessageEvent(e.sl.Post(e.channel, bia.ID, m.TS, "Pelo socket"))); err != nil {
		t.Fatal(err)
	}
	e.say("obrigada")
	eventually(t, "relay both ways", func() bool { return e.rec.Count("Pelo socket") == 1 && e.threadHas(m.TS, "obrigada") })
	// The echoes of the bot's own posts (card, notice, mirror) came back as
	// events and none went to the customer.
	if e.rec.Count("took over") != 0 || e.rec.Count("Ana Lima") != 0 {
		t.Errorf("own posts relayed: %+v", e.rec.Sent())
	}
	raw, err := e.sl.Deliver(ctx, "slash_commands", e.sl.SlashCommand(bia, e.channel, "/journey", "customer @ana_s"))
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ Text string }
	json.Unmarshal(raw, &reply)
	for _, want := range []string{"Ana Lima", "cust-1", "#1001", "with *Bia Souza*", "Pelo socket"} {
		if !strings.Contains(reply.Text, want) {
			t.Errorf("/journey customer lacks %q:\n%s", want, reply.Text)
		}
	}
}

func TestSlashCommands(t *testing.T) {
	e := newEnv(t, setup{})
	e.openCase()
	if got := e.command(bia, ""); !strings.Contains(got, "/journey customer") {
		t.Errorf("help: %s", got)
	}
	got := e.command(bia, "customer cust-1")
	for _, want := range []string{"Ana Lima", "shipped", "customer asked for a person", "nobody has it yet", "/human"} {
		if !strings.Contains(got, want) {
			t.Errorf("customer view lacks %q:\n%s", want, got)
		}
	}
	if got := e.command(bia, "customer @nobody"); !strings.Contains(got, "No customer") {
		t.Errorf("unknown username: %s", got)
	}
	if got := e.command(bia, "pause @ana_s"); !strings.Contains(got, "paused") || !e.journey().Profile.Paused {
		t.Errorf("pause: %s, paused=%v", got, e.journey().Profile.Paused)
	}
	if got := e.command(bia, "resume cust-1"); !strings.Contains(got, "again") || e.journey().Profile.Paused {
		t.Errorf("resume: %s", got)
	}
	got = e.command(bia, "stats")
	for _, want := range []string{"1 opened today", "1 open now (1 waiting", "CSAT: no answers yet"} {
		if !strings.Contains(got, want) {
			t.Errorf("stats lack %q:\n%s", want, got)
		}
	}
	if got := e.command(guest, "stats"); !strings.Contains(got, "only for the support team") {
		t.Errorf("other workspace allowed: %s", got)
	}
	if got := e.command(bia, "resolve cust-1"); !strings.Contains(got, "Resolving") {
		t.Errorf("resolve: %s", got)
	}
	ts := e.sl.Messages(e.channel)[0].TS
	eventually(t, "resolved by command", func() bool { return e.threadHas(ts, "Resolved by *Bia Souza*") })
	if e.journey().Case != nil {
		t.Error("case still open")
	}
	if got := e.command(bia, "resolve cust-1"); !strings.Contains(got, "no open case") {
		t.Errorf("second resolve: %s", got)
	}
}

func TestStaffListLimitsWhoActs(t *testing.T) {
	e := newEnv(t, setup{opts: func(o *Options) { o.StaffUserIDs = []string{bia.ID} }})
	m := e.openCase()
	if got := e.command(caio, "stats"); !strings.Contains(got, "only for the support team") {
		t.Errorf("non-staff used /journey: %s", got)
	}
	e.click(caio, m.TS, actionTake)
	eventually(t, "refusal", func() bool { return e.ephemeralTo(caio, "Only support staff") })
	e.staffSays(caio, m.TS, "posso ajudar?")
	e.staffSays(bia, m.TS, "Oi, sou a Bia")
	eventually(t, "staff reply", func() bool { return e.rec.Count("sou a Bia") == 1 })
	if e.rec.Count("posso ajudar") != 0 || e.journey().Case.StaffID != bia.ID {
		t.Errorf("non-staff reached the customer or took the case: %+v", e.rec.Sent())
	}
}

func TestUnclaimedCaseRaisedAgainOnce(t *testing.T) {
	c := simclock.New(time.Date(2024, 6, 5, 14, 0, 0, 0, time.UTC)) // a Wednesday
	a := newEnv(t, setup{clock: c})
	b := a.twin(setup{})
	m := a.openCase()
	if n, err := a.desk.CheckUnclaimed(a.ctx); err != nil || n != 0 {
		t.Fatalf("raised %d before the timeout (%v)", n, err)
	}
	c.Add(time.Minute + time.Second)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, d := range []*Desk{a.desk, b.desk} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := d.CheckUnclaimed(a.ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 1 {
		t.Fatalf("raised %v times by two processes, want once", counts)
	}
	var raised []slacktest.Message
	for _, tm := range a.sl.Thread(a.channel, m.TS) {
		if tm.Broadcast {
			raised = append(raised, tm)
		}
	}
	if len(raised) != 1 || !strings.Contains(raised[0].Text, "<!here>") || !strings.Contains(raised[0].Text, "waiting 1m") {
		t.Fatalf("re-raise = %+v", raised)
	}
	// Taken over: never raised again.
	a.takeOver(bia, m.TS)
	c.Add(10 * time.Minute)
	if n, err := a.desk.CheckUnclaimed(a.ctx); err != nil || n != 0 {
		t.Errorf("raised a claimed case: %d %v", n, err)
	}
}

func TestAfterHoursCustomerToldWhenWeAnswer(t *testing.T) {
	h, err := config.ParseHours("mon-fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	c := simclock.New(time.Date(2024, 6, 8, 15, 0, 0, 0, sp)) // Saturday afternoon
	e := newEnv(t, setup{clock: c, opts: func(o *Options) { o.Hours, o.TimeZone = &h, sp }})
	m := e.openCase()
	eventually(t, "after-hours notice", func() bool { return e.rec.Count("segunda-feira às 09:00") == 1 })
	if !strings.Contains(string(m.Blocks), "outside support hours") {
		t.Errorf("card does not say it is after hours: %s", m.Blocks)
	}
	// Outside hours an unclaimed case waits instead of pinging nobody.
	c.Add(2 * time.Minute)
	if n, _ := e.desk.CheckUnclaimed(e.ctx); n != 0 {
		t.Errorf("raised %d cases outside hours", n)
	}
	// Within hours a new case says nothing of the kind.
	c.Set(time.Date(2024, 6, 10, 10, 0, 0, 0, sp))
	e.staffSays(bia, m.TS, "resolve")
	eventually(t, "resolved", func() bool { return e.threadHas(m.TS, "Resolved by") })
	e.say("/human")
	msgs := e.sl.Messages(e.channel)
	last := msgs[len(msgs)-1]
	if last.TS == m.TS || last.ThreadTS != "" || strings.Contains(string(last.Blocks), "outside support hours") {
		t.Errorf("second case during hours: %+v", last)
	}
}

// /journey shows customers' records: it answers only in the support
// channel, not in a DM or another channel, even to staff.
func TestJourneyOnlyInTheSupportChannel(t *testing.T) {
	e := newEnv(t, setup{})
	e.openCase()
	other := e.sl.AddChannel("random")
	for _, ch := range []string{"D0DM", other} {
		got := e.commandIn(bia, ch, "customer cust-1")
		if !strings.Contains(got, "only in the support channel") || strings.Contains(got, "Ana") {
			t.Errorf("/journey customer in %s: %s", ch, got)
		}
	}
	if got := e.command(bia, "customer cust-1"); !strings.Contains(got, "Ana Lima") {
		t.Errorf("/journey customer in the support channel: %s", got)
	}
}

// With no staff defined the desk does not start (every member used to be staff).
func TestDeskRefusesToStartWithoutStaff(t *testing.T) {
	sl := slacktest.New(t)
	sl.AddChannel("support")
	r := redistest.New(t)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions())})
	_, err := New(context.Background(), Options{BotToken: sl.BotToken, APIURL: sl.URL, Channel: "#support", SigningSecret: secret, Bot: b})
	if err == nil || !strings.Contains(err.Error(), "no staff") {
		t.Fatalf("New without staff: %v, want an error", err)
	}
}

// Members of the support channel are staff when the operator says so, but
// only those of the desk's workspace: a Slack Connect member of a shared
// channel is refused although the payload's team is ours.
func TestStaffFromChannelChecksMembershipAndTheUsersTeam(t *testing.T) {
	e := newEnv(t, setup{opts: func(o *Options) {
		// By id, as the configuration requires here: the first channel of slacktest.
		o.StaffUserIDs, o.StaffFromChannel, o.Channel = nil, true, "C0001SUPPORT"
	}})
	if e.channel != "C0001SUPPORT" {
		t.Fatalf("support channel id %s", e.channel)
	}
	e.sl.AddMember(e.channel, bia.ID)
	e.sl.AddMember(e.channel, guest.ID)
	m := e.openCase()
	e.click(guest, m.TS, actionTake)
	eventually(t, "refusal of the other workspace's member", func() bool { return e.ephemeralTo(guest, "Only support staff") })
	e.click(caio, m.TS, actionTake)
	eventually(t, "refusal of a non-member", func() bool { return e.ephemeralTo(caio, "Only support staff") })
	if got := e.command(caio, "stats"); !strings.Contains(got, "only for the support team") {
		t.Errorf("a non-member used /journey: %s", got)
	}
	e.takeOver(bia, m.TS)
	if c := e.journey().Case; c == nil || c.StaffID != bia.ID {
		t.Fatalf("case = %+v, want taken by bia", c)
	}
}
