package bot_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/echobot"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

// The benchmarks of issue 16: journeybot beside the echo bot (decode the
// Telegram update, one pipelined GET+SET of 400 bytes, reply) in one run, on
// a private redis-server without persistence, so that its INFO figures
// (CPU, memory) are this benchmark's alone.

// countSender is a "telegram" channel that counts what it is given.
type countSender struct{ n atomic.Int64 }

func (c *countSender) Name() string { return "telegram" }
func (c *countSender) Send(context.Context, channels.Outbound) error {
	c.n.Add(1)
	return nil
}

// handleKey marks the contexts of the message path, so that round trips are
// counted for it and not for the senders running beside it.
type handleKey struct{}

// pathCounter counts round trips (a command or a pipeline) made under a
// context marked with handleKey.
type pathCounter struct{ n atomic.Int64 }

func (c *pathCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *pathCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(handleKey{}) != nil {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *pathCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(handleKey{}) != nil {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// update is the webhook body of a Telegram text message from chat.
func update(id int64, chat int64, text string) []byte {
	c := strconv.FormatInt(chat, 10)
	return []byte(`{"update_id":` + strconv.FormatInt(id, 10) + `,"message":{"message_id":` + strconv.FormatInt(id, 10) +
		`,"date":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"chat":{"id":` + c + `,"type":"private"},` +
		`"from":{"id":` + c + `,"first_name":"Ana","username":"ana_` + c + `","language_code":"pt-br"},"text":` + strconv.Quote(text) + `}}`)
}

// inboundOf decodes an update the way channels/telegram does for a text.
func inboundOf(raw []byte) (channels.Inbound, error) {
	var u tgbotapi.Update
	if err := json.Unmarshal(raw, &u); err != nil {
		return channels.Inbound{}, err
	}
	m := u.Message
	return channels.Inbound{
		Channel: "telegram", Address: strconv.FormatInt(m.Chat.ID, 10), ID: strconv.Itoa(u.UpdateID),
		Kind: channels.KindText, Text: m.Text, Username: m.From.UserName, FirstName: m.From.FirstName,
		LanguageCode: m.From.LanguageCode, At: time.Unix(int64(m.Date), 0),
	}, nil
}

// echoStep is the echo bot's work for one update, its reply given to out.
func echoStep(ctx context.Context, rdb redis.UniversalClient, raw []byte, out *countSender) error {
	var u tgbotapi.Update
	if err := json.Unmarshal(raw, &u); err != nil {
		return err
	}
	text, err := echobot.Step(ctx, rdb, "echo", u.Message)
	if err != nil {
		return err
	}
	return out.Send(ctx, channels.Outbound{Channel: "telegram", Address: strconv.FormatInt(u.Message.Chat.ID, 10), Text: text})
}

// hotRig is one journeybot (a store, a bot with senders) on a private Redis.
type hotRig struct {
	srv   *redistest.Server
	rdb   *redis.Client
	rt    *pathCounter
	store *journey.Store
	bot   *bot.Bot
	sent  *countSender
	stop  func()
}

func newHotRig(b *testing.B, srv *redistest.Server, scripts *conversations.Scripts, opt journey.Options) *hotRig {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 64})
	rt := &pathCounter{}
	rdb.AddHook(rt)
	if opt.Prefix == "" {
		opt.Prefix = "jb"
	}
	store := journey.NewStore(rdb, opt)
	if err := store.Prepare(context.Background()); err != nil {
		b.Fatal(err)
	}
	bt := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(scripts, conversations.DefaultOptions()),
		Background: true, Intake: bot.IntakeLimit{PerMinute: 1 << 30, Burst: 1 << 30}})
	sent := &countSender{}
	bt.AddChannel(sent)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); bt.RunSenders(ctx) }()
	r := &hotRig{srv: srv, rdb: rdb, rt: rt, store: store, bot: bt, sent: sent}
	r.stop = func() { cancel(); <-done; rdb.Close() }
	b.Cleanup(r.stop)
	return r
}

// handle runs one update through journeybot.
func (r *hotRig) handle(raw []byte) error {
	in, err := inboundOf(raw)
	if err != nil {
		return err
	}
	return r.bot.HandleInbound(context.WithValue(context.Background(), handleKey{}, true), in)
}

// drained waits until every committed reply was sent.
func (r *hotRig) drained(b *testing.B) {
	for deadline := time.Now().Add(5 * time.Minute); ; {
		n, err := r.store.OutboxBacklog(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d outboxes still waiting", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// redisCPU is the server's CPU time so far (INFO cpu, user and system).
func redisCPU(b *testing.B, rdb redis.UniversalClient) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, l := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// usedMemory is INFO memory used_memory.
func usedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}

// parallel runs fn(i) for i in [from, to) on workers goroutines.
func parallel(b *testing.B, from, to int64, workers int, fn func(i int64) error) {
	var next atomic.Int64
	next.Store(from)
	var wg sync.WaitGroup
	var once sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= to {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		}()
	}
	wg.Wait()
}

// workers is how many messages are in flight at once, for journeybot and
// the echo alike: enough that both are bound by CPU, not by round trips.
var workers = runtime.GOMAXPROCS(0)

func shippedScripts(b *testing.B) *conversations.Scripts {
	b.Helper()
	s, _, err := conversations.LoadDir("../scripts")
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkHotPath is journeybot's hot path beside the echo bot's, at 1,000
// warm customers (the runtime's test scripts, the shipped scripts) and at
// 100,000 (shipped scripts): messages/s of each and their ratio, Redis
// server CPU per message of each, and journeybot's round trips per message
// for a cold customer (first message), a warm one, one a second process
// has not seen, and one whose cached address lookup has run out.
func BenchmarkHotPath(b *testing.B) {
	parent := b
	cases := []struct {
		name      string
		scripts   func(*testing.B) *conversations.Scripts
		customers int64
		opt       journey.Options
	}{
		{"runtime-scripts/customers=1000", func(b *testing.B) *conversations.Scripts { return loadScripts(b) }, 1000, journey.Options{}},
		{"shipped-scripts/customers=1000", shippedScripts, 1000, journey.Options{}},
		// The default caches (50,000) hold half of them; sized for all
		// (state.journey_cache, state.address_cache), a message is one
		// round trip again.
		{"shipped-scripts/customers=100000", shippedScripts, 100000, journey.Options{}},
		{"shipped-scripts/customers=100000/caches=100000", shippedScripts, 100000, journey.Options{CacheSize: 100000, AddressCacheSize: 100000}},
	}
	inputs := []string{"oi", "pedido", "não sei", "olá"}
	for _, c := range cases {
		// The rig outlives the sub-benchmark's calls (b.Run calls it again
		// with a larger b.N), so it belongs to the parent: the server and
		// the bot go when the whole benchmark ends.
		var rig *hotRig
		var cold float64
		var chat0 int64 = 5_000_000_000
		b.Run(c.name, func(b *testing.B) {
			if rig == nil {
				srv := redistest.StartVolatileServer(parent)
				rig = newHotRig(parent, srv, c.scripts(b), c.opt)
				rig.rt.n.Store(0)
				parallel(b, 0, c.customers, workers, func(i int64) error { return rig.handle(update(i, chat0+i, "oi")) })
				cold = float64(rig.rt.n.Load()) / float64(c.customers)
				rig.drained(b)
				// The echo's chats exist too.
				parallel(b, 0, c.customers, workers, func(i int64) error {
					return echoStep(context.Background(), rig.rdb, update(i, chat0+i, "m1"), rig.sent)
				})
			}
			ctx := context.Background()
			n := int64(b.N)
			seq := c.customers + 1 + time.Now().UnixNano()%1_000_000_000
			b.ResetTimer()

			// The echo first, then journeybot, on the same chats.
			cpu0 := redisCPU(b, rig.rdb)
			start := time.Now()
			parallel(b, 0, n, workers, func(i int64) error {
				return echoStep(ctx, rig.rdb, update(seq+i, chat0+i%c.customers, "m"+strconv.FormatInt(i, 10)), rig.sent)
			})
			echoTook := time.Since(start)
			echoCPU := redisCPU(b, rig.rdb) - cpu0

			rig.rt.n.Store(0)
			rig.rdb.ConfigResetStat(ctx)
			cpu0 = redisCPU(b, rig.rdb)
			start = time.Now()
			parallel(b, 0, n, workers, func(i int64) error {
				return rig.handle(update(seq+n+i, chat0+i%c.customers, inputs[i%int64(len(inputs))]))
			})
			rig.drained(b)
			took := time.Since(start)
			jbCPU := redisCPU(b, rig.rdb) - cpu0
			warm := float64(rig.rt.n.Load()) / float64(n)
			b.StopTimer()
			if testing.Verbose() {
				// Where Redis spent its time, per message.
				stats, _ := rig.rdb.Info(ctx, "commandstats").Result()
				for _, l := range strings.Split(stats, "\n") {
					name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
					if !ok || !strings.HasPrefix(name, "cmdstat_") {
						continue
					}
					var calls, usec int64
					for _, f := range strings.Split(rest, ",") {
						k, v, _ := strings.Cut(f, "=")
						switch k {
						case "calls":
							calls, _ = strconv.ParseInt(v, 10, 64)
						case "usec":
							usec, _ = strconv.ParseInt(v, 10, 64)
						}
					}
					b.Logf("%-28s %6.2f calls/msg %7.2f µs/msg", strings.TrimPrefix(name, "cmdstat_"), float64(calls)/float64(n), float64(usec)/float64(n))
				}
			}

			jb, echo := float64(n)/took.Seconds(), float64(n)/echoTook.Seconds()
			b.ReportMetric(jb, "msgs/s")
			b.ReportMetric(echo, "echo-msgs/s")
			b.ReportMetric(jb/echo, "ratio")
			b.ReportMetric(float64(jbCPU.Microseconds())/float64(n), "redis-cpu-µs/msg")
			b.ReportMetric(float64(echoCPU.Microseconds())/float64(n), "echo-redis-cpu-µs/msg")
			b.ReportMetric(cold, "rtt-cold/msg")
			b.ReportMetric(warm, "rtt-warm/msg")
			b.ReportMetric(1, "echo-rtt/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkRoundTrips counts journeybot's round trips on the message path in
// each state of its caches: a customer nobody has seen, one the process
// has cached, one a second process has not seen (its first message there),
// and one whose cached address lookup ran out (the journey still cached).
// The echo bot makes one.
func BenchmarkRoundTrips(b *testing.B) {
	srv := redistest.StartVolatileServer(b)
	scripts := shippedScripts(b)
	const n = 200
	var seq atomic.Int64
	measure := func(r *hotRig, base int64) float64 {
		r.rt.n.Store(0)
		for i := int64(0); i < n; i++ {
			if err := r.handle(update(seq.Add(1), base+i, "oi")); err != nil {
				b.Fatal(err)
			}
		}
		return float64(r.rt.n.Load()) / n
	}
	for i := 0; i < b.N; i++ {
		base := 7_000_000_000 + int64(i)*n
		one := newHotRig(b, srv, scripts, journey.Options{})
		cold := measure(one, base)
		warm := measure(one, base)
		other := newHotRig(b, srv, scripts, journey.Options{})
		unseen := measure(other, base)
		short := newHotRig(b, srv, scripts, journey.Options{AddressTTL: time.Millisecond})
		measure(short, base)
		time.Sleep(5 * time.Millisecond)
		expired := measure(short, base)
		b.ReportMetric(cold, "rtt-cold/msg")
		b.ReportMetric(warm, "rtt-warm/msg")
		b.ReportMetric(unseen, "rtt-other-process/msg")
		b.ReportMetric(expired, "rtt-address-expired/msg")
		b.ReportMetric(1, "echo-rtt/msg")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCustomerMemory is the Redis memory of a customer with one order
// and a short conversation (8 history lines), the shipped scripts: the
// growth of used_memory over 1,000 such customers, divided by them (every
// key and index entry of theirs, the shared indexes' members included),
// beside the echo's state of a chat; and the journey document's size.
func BenchmarkCustomerMemory(b *testing.B) {
	scripts := shippedScripts(b)
	for i := 0; i < b.N; i++ {
		srv := redistest.StartVolatileServer(b)
		r := newHotRig(b, srv, scripts, journey.Options{})
		ctx := context.Background()
		const customers = 1000
		before := usedMemory(b, r.rdb)
		var lines atomic.Int64
		base := int64(8_000_000_000)
		parallel(b, 0, customers, workers, func(i int64) error {
			chat := base + i
			id := "cust-" + strconv.FormatInt(i, 10)
			now := time.Now()
			ev := journey.Event{ID: "o-" + id, Type: "order.created", At: now, Customer: journey.EventCustomer{
				ID: id, Name: "Ana", Email: "ana" + strconv.FormatInt(i, 10) + "@example.com",
				Addresses: map[string]string{"telegram": strconv.FormatInt(chat, 10)}},
				Order: &journey.Order{ID: "P" + strconv.FormatInt(100000+i, 10), Status: "created", Total: 129.9, Currency: "BRL",
					Items: []journey.Item{{Name: "Tênis Corrida", SKU: "TN-42", Qty: 1, Price: 129.9}}, Created: now.Unix()}}
			if _, err := r.bot.HandleEvent(ctx, ev); err != nil {
				return err
			}
			for k := int64(0); ; k++ {
				n, err := r.rdb.LLen(ctx, "jb:{c:"+id+"}:h").Result()
				if err != nil {
					return err
				}
				if n >= 8 || k > 8 {
					lines.Add(n)
					return nil
				}
				if err := r.handle(update(chat*10+k, chat, []string{"oi", "pedido", "obrigado", "tchau"}[k%4])); err != nil {
					return err
				}
			}
		})
		r.drained(b)
		after := usedMemory(b, r.rdb)
		echoBefore := usedMemory(b, r.rdb)
		for k := int64(0); k < customers; k++ {
			if err := echoStep(ctx, r.rdb, update(k, base+k, "m1"), r.sent); err != nil {
				b.Fatal(err)
			}
		}
		echoAfter := usedMemory(b, r.rdb)
		doc, err := r.rdb.HGet(ctx, "jb:{c:cust-0}", "d").Result()
		if err != nil {
			b.Fatal(err)
		}
		// Every key's MEMORY USAGE (all samples): the customers' own keys and
		// their members of the shared indexes, apart from the echo's.
		var own, all, echoAll int64
		iter := r.rdb.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			m, err := r.rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				b.Fatal(err)
			}
			switch {
			case strings.HasPrefix(k, "echo:"):
				echoAll += m
				continue
			case strings.Contains(k, "{c:cust-0}") || strings.HasSuffix(k, ":"+strconv.FormatInt(base, 10)) ||
				strings.HasSuffix(k, ":P100000") || strings.HasSuffix(k, "_"+strconv.FormatInt(base, 10)):
				typ, _ := r.rdb.Type(ctx, k).Result()
				b.Logf("%-44s %-6s %5d B", k, typ, m)
				own += m
			case !strings.Contains(k, "{c:") && !strings.Contains(k, ":addr:") && !strings.Contains(k, ":order:"):
				b.Logf("%-44s shared %5d B", k, m)
			}
			all += m
		}
		if err := iter.Err(); err != nil {
			b.Fatal(err)
		}
		b.Logf("journey document: %d bytes", len(doc))
		b.ReportMetric(float64(all)/customers, "redis-B/customer")
		b.ReportMetric(float64(own), "cust0-keys-B")
		b.ReportMetric(float64(echoAll)/customers, "echo-redis-B/chat")
		b.ReportMetric(float64(after-before)/customers, "used-memory-B/customer")
		b.ReportMetric(float64(echoAfter-echoBefore)/customers, "echo-used-memory-B/chat")
		b.ReportMetric(float64(len(doc)), "journey-doc-B")
		jm, _ := r.rdb.MemoryUsage(ctx, "jb:{c:cust-0}").Result()
		b.ReportMetric(float64(jm), "journey-key-B")
		b.ReportMetric(float64(lines.Load())/customers, "history-lines")
	}
	b.ReportMetric(0, "ns/op")
}

// rssMiB is the process's resident memory (VmRSS).
func rssMiB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkTouchMillion is the process's memory after 1,000,000 distinct
// customers each wrote once (the runtime's test scripts): every in-process
// cache is bounded, so it levels off. The echo bot, which caches nothing,
// goes first over the same chats, as the baseline. Not part of the main
// `make bench` run: `make bench-rss` (which `make bench` calls).
func BenchmarkTouchMillion(b *testing.B) {
	customers := int64(1_000_000)
	if v := os.Getenv("JOURNEYBOT_BENCH_CUSTOMERS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("JOURNEYBOT_BENCH_CUSTOMERS=%q: want a positive number", v)
		}
		customers = n
	}
	for i := 0; i < b.N; i++ {
		srv := redistest.StartVolatileServer(b)
		r := newHotRig(b, srv, loadScripts(b), journey.Options{})
		runtime.GC()
		start := rssMiB(b)
		base := int64(9_000_000_000)
		t0 := time.Now()
		parallel(b, 0, customers, 64, func(i int64) error {
			return echoStep(context.Background(), r.rdb, update(i, base+i, "m1"), r.sent)
		})
		echoTook := time.Since(t0)
		runtime.GC()
		echo := rssMiB(b)
		t0 = time.Now()
		parallel(b, 0, customers, 64, func(i int64) error { return r.handle(update(i, base+i, "oi")) })
		r.drained(b)
		took := time.Since(t0)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(start, "rss-start-MiB")
		b.ReportMetric(echo, "echo-rss-MiB")
		b.ReportMetric(rssMiB(b), "rss-MiB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
		b.ReportMetric(float64(customers)/took.Seconds(), "msgs/s")
		b.ReportMetric(float64(customers)/echoTook.Seconds(), "echo-msgs/s")
		b.ReportMetric(float64(customers), "customers")
	}
	b.ReportMetric(0, "ns/op")
}
