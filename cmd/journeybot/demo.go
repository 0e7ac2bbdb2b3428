package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"journeybot/bot"
	"journeybot/channels/console"
	"journeybot/config"
	"journeybot/conversations/scripttest"
	"journeybot/events"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

//go:embed demo_customer.yaml
var demoCustomer []byte

// demo plays the store and the clock beside `journeybot chat --demo`: the
// console customer is a sample customer with orders, /event sends a commerce
// event through the same validation as POST /events, /advance moves the
// simulated clock, waking timers on the way as the scheduler would.
type demo struct {
	bot   *bot.Bot
	store *journey.Store
	clock *simclock.Clock
	id    string
	seq   int
}

const demoHelp = `demo commands (the rest goes to the bot, /pedido included):
  /event TYPE [ORDER] [key=value ...]   a commerce event, e.g. /event order.shipped, /event order.delivered 1002,
                                        /event coupon.redeemed coupon=VOLTE10, /event loyalty.tier data.tier=gold
  /advance DURATION                     time passes (90s, 30m, 4h, 3d, 2w); due messages arrive on the way
  /demo                                 this help, the clock and the sample customer's orders`

// newDemo seeds the sample customer, linked to the console chat, and
// returns the demo; name and lang, when given, replace the sample's.
func newDemo(ctx context.Context, b *bot.Bot, store *journey.Store, clock *simclock.Clock, name, lang string) (*demo, error) {
	c, err := scripttest.ParseCase("demo_customer.yaml", demoCustomer, "")
	if err != nil {
		return nil, err
	}
	if name != "" {
		c.Customer.Name = name
	}
	if lang != "" {
		c.Customer.Language = lang
	}
	d := &demo{bot: b, store: store, clock: clock, id: c.Customer.ID}
	if err := scripttest.Seed(ctx, store, d.id, c.Customer, clock.Now()); err != nil {
		return nil, err
	}
	// The console chat is the sample customer's, and the store's order
	// index knows her orders (so /pedido 1001 ana@example.com finds them).
	if _, err := store.Update(ctx, d.id, "", clock.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.Addresses = map[string]string{"console": console.Address}
		return nil, nil
	}); err != nil {
		return nil, err
	}
	if err := store.Link(ctx, "console", console.Address, d.id); err != nil {
		return nil, err
	}
	for _, o := range c.Customer.Orders {
		if err := store.IndexOrder(ctx, o.ID, d.id); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// local handles the demo's own commands; other lines go to the bot.
func (d *demo) local(ctx context.Context, line string, out io.Writer) bool {
	name, args, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	args = strings.TrimSpace(args)
	var err error
	switch strings.ToLower(name) {
	case "event":
		err = d.event(ctx, args, out)
	case "advance":
		if err = scripttest.Advance(ctx, d.bot, d.store, d.clock, args); err == nil {
			fmt.Fprintf(out, "(the clock is now %s)\n", d.clock.Now().Format(stamp))
		}
	case "demo":
		err = d.describe(ctx, out)
	default:
		return false
	}
	if err != nil {
		fmt.Fprintf(out, "(%s: %v)\n", name, err)
	}
	return true
}

// event builds the JSON the store would post and applies it through
// events.Parse, so what the demo accepts is what POST /events accepts.
func (d *demo) event(ctx context.Context, args string, out io.Writer) error {
	f := strings.Fields(args)
	if len(f) == 0 {
		return fmt.Errorf("give a type: /event order.shipped [ORDER] [key=value ...]")
	}
	d.seq++
	p := map[string]any{
		"id": fmt.Sprintf("demo-%d", d.seq), "type": f[0], "occurred_at": d.clock.Now().Format("2006-01-02T15:04:05Z07:00"),
		"customer": map[string]any{"id": d.id},
	}
	data := map[string]any{}
	order := ""
	for _, a := range f[1:] {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			order = strings.TrimPrefix(a, "#")
		case k == "points":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("points=%s is not a number", v)
			}
			p["points"] = n
		case k == "coupon":
			p["coupon"] = v
		case k == "tracking_url":
			if order == "" {
				order = "-"
			}
			data["tracking_url"] = v
		default:
			data[strings.TrimPrefix(k, "data.")] = v
		}
	}
	if strings.HasPrefix(f[0], "order.") || order != "" {
		if order == "" || order == "-" {
			j, _, err := d.store.Get(ctx, d.id)
			if err != nil {
				return err
			}
			if lo := j.LatestOrder(); lo != nil {
				order = lo.ID
			}
		}
		o := map[string]any{"id": order}
		if u, ok := data["tracking_url"]; ok {
			o["tracking_url"] = u
			delete(data, "tracking_url")
		}
		p["order"] = o
	}
	if len(data) > 0 {
		p["data"] = data
	}
	raw, _ := json.Marshal(p)
	ev, err := events.Parse(raw, events.ParseOptions{Now: d.clock.Now()})
	if err != nil {
		return fmt.Errorf("refused as POST /events would refuse it: %w", err)
	}
	o, err := d.bot.HandleEvent(ctx, ev)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "(event %s applied: stage %s, %d message(s))\n", ev.Type, o.Stage, o.Messages)
	return nil
}

func (d *demo) describe(ctx context.Context, out io.Writer) error {
	j, _, err := d.store.Get(ctx, d.id)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, demoHelp)
	stage := j.Stage
	if stage == "" {
		stage = "the initial one"
	}
	fmt.Fprintf(out, "clock: %s · customer %s (%s), stage %s, %d points\n", d.clock.Now().Format(stamp), j.Profile.Name, j.Profile.Email, stage, j.Profile.Points)
	for _, o := range j.Orders {
		fmt.Fprintf(out, "  order #%s: %s, %.2f %s\n", o.ID, o.Status, o.Total, o.Currency)
	}
	return nil
}

// runDemo is `journeybot chat --demo`.
func runDemo(cmd *cobra.Command, c *config.Config, log *slog.Logger, lang, name string, nameGiven bool) error {
	if c.RedisURL != "" {
		log.Warn("chat --demo runs on an embedded Redis: redis.url is not used, so no demo customer reaches a real database")
		c.RedisURL = ""
	}
	ctx := cmd.Context()
	clock := simclock.New(scripttest.DefaultStart)
	a, err := newAppClock(ctx, c, log, clock.Now)
	if err != nil {
		return err
	}
	defer a.close()
	if !nameGiven {
		name = ""
	}
	d, err := newDemo(ctx, a.bot, a.store, clock, name, lang)
	if err != nil {
		return err
	}
	ch := console.New(os.Stdin, cmd.OutOrStdout(), lang, name)
	ch.SetClock(clock.Now)
	ch.SetLocal(d.local)
	a.bot.AddChannel(ch)
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "journeybot chat --demo: you are a sample customer of the store, and you play the store and the clock.")
	d.describe(ctx, out)
	fmt.Fprintln(out, "The clock moves only with /advance. Ctrl-D ends.")
	return ch.Run(ctx, a.bot)
}
