package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"journeybot/events"
	"journeybot/keys"
	"journeybot/orders"
	"journeybot/ratelimit"
)

// setupEvents mounts POST /events when events.secret is set, and gives the
// bot the order lookup service when orders.lookup_url is set.
func setupEvents(ctx context.Context, a *app, mux *http.ServeMux) error {
	if err := setupOrders(a); err != nil {
		return err
	}
	if !a.cfg.Events.Enabled() {
		a.log.Info("commerce events API disabled: set events.secret to accept POST /events")
		mux.HandleFunc("/events", events.Off)
		return nil
	}
	// Every method: a GET gets a JSON 405 from the handler, not the mux's text.
	mux.Handle("/events", events.NewHandler(a.bot, events.Options{
		Keys: keys.New(a.cfg.Events.Secrets...), LegacySignature: a.cfg.Events.LegacySignature, BotUsername: a.cfg.Telegram.BotUsername, Log: a.log,
		PerCustomer: ratelimit.NewKeyed(a.store.Redis(), a.cfg.RedisPrefix, "events", a.cfg.Events.CustomerPerMinute, a.cfg.Events.CustomerBurst),
	}))
	a.log.Info("commerce events API enabled", "path", "POST /events")
	return nil
}

func setupOrders(a *app) error {
	if a.cfg.Orders.LookupURL == "" {
		return nil
	}
	l, err := orders.New(a.cfg.Orders.LookupURL, orders.Options{
		Timeout: a.cfg.Orders.LookupTimeout, CacheTTL: a.cfg.Orders.CacheTTL, Log: a.log,
	})
	if err != nil {
		return err
	}
	a.bot.SetOrderLookup(l)
	a.log.Info("order lookup service enabled", "timeout", a.cfg.Orders.LookupTimeout, "cache_ttl", a.cfg.Orders.CacheTTL)
	return nil
}

func eventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Commerce events"}
	var workers int
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Apply a JSON-lines file of past events (one event per line; - reads stdin), as POST /events would",
		Long: "Apply a JSON-lines file of past events through the same validation and path as POST /events.\n" +
			"Each event needs occurred_at. Bad lines are reported and skipped; running the same file again\n" +
			"is safe within 48 hours (event ids already applied count as duplicates).\n" +
			"Events older than schedule.grace update journeys without messaging anyone; send recent events\n" +
			"to POST /events of the running bot instead, which can deliver their messages.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			if c.RedisURL == "" {
				return errors.New("events import needs redis.url (JOURNEYBOT_REDIS_URL): the embedded Redis would be thrown away when the import ends")
			}
			var in io.Reader = cmd.InOrStdin()
			var size int64 = -1
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("events import: %w", err)
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil {
					size = st.Size()
				}
				in = f
			}
			// Script warnings are for who writes the scripts (lint, run),
			// not for an import of events.
			log := newLogger(c, cmd.ErrOrStderr())
			a, err := newApp(cmd.Context(), c, slog.New(dropMessage{log.Handler(), "script warning"}))
			if err != nil {
				return err
			}
			defer a.close()
			if err := setupOrders(a); err != nil {
				return err
			}
			sum, err := events.Import(cmd.Context(), in, a.bot, events.ImportOptions{
				Progress: cmd.ErrOrStderr(), Size: size, Workers: workers, Now: a.bot.Now,
			})
			// The figures the imported events made are buffered in memory
			// (run flushes them every second): written before the exit.
			if ferr := a.stats.Flush(context.WithoutCancel(cmd.Context())); ferr != nil && err == nil {
				err = fmt.Errorf("writing the figures: %w", ferr)
			}
			printSummary(cmd.OutOrStdout(), sum)
			// Conversions the imported events made count in the experiments.
			if ferr := a.experiments.Flush(context.WithoutCancel(cmd.Context())); ferr != nil && err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("events import stopped: %w (applied events are kept; run the import again to go on)", err)
			}
			if len(sum.Invalid) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	imp.Flags().IntVar(&workers, "workers", 8, "events applied in parallel (one customer's events stay in file order)")
	cmd.AddCommand(imp)
	return cmd
}

// printSummary prints what an import did; at most 50 bad lines are listed.
func printSummary(w io.Writer, s *events.Summary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "events: %d read, %d applied, %d duplicates, %d invalid\n", s.Lines, s.Applied, s.Duplicates, len(s.Invalid))
	if s.Erased > 0 {
		fmt.Fprintf(w, "  %d refused: their customer's data was erased at their request (customer.consent: true brings one back)\n", s.Erased)
	}
	for i, e := range s.Invalid {
		if i == 50 {
			fmt.Fprintf(w, "  ... and %d more invalid lines\n", len(s.Invalid)-50)
			break
		}
		fmt.Fprintf(w, "  %s\n", e)
	}
	if s.Messages > 0 {
		fmt.Fprintf(w, "note: %d message(s) for recent events were not sent (this command has no channel); send recent events to POST /events instead\n", s.Messages)
	}
}

// dropMessage is a log handler that leaves out records with one message.
type dropMessage struct {
	slog.Handler
	msg string
}

func (d dropMessage) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == d.msg {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d dropMessage) WithAttrs(as []slog.Attr) slog.Handler {
	return dropMessage{d.Handler.WithAttrs(as), d.msg}
}

func (d dropMessage) WithGroup(name string) slog.Handler {
	return dropMessage{d.Handler.WithGroup(name), d.msg}
}
