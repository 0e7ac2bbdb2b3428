package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"journeybot/channels"
	"journeybot/channels/console"
	"journeybot/conversations"
	"journeybot/ratelimit"
)

func runCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the bot: the enabled channels, the scheduler and the HTTP server (console when no channel is configured)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			log := newLogger(c, cmd.ErrOrStderr())
			ctx := cmd.Context()
			a, err := newApp(ctx, c, log)
			if err != nil {
				return err
			}
			defer a.close()

			mux := http.NewServeMux()
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
			mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
				pctx, cancel := context.WithTimeout(r.Context(), time.Second)
				defer cancel()
				if err := a.store.Ping(pctx); err != nil {
					http.Error(w, "redis unavailable", http.StatusServiceUnavailable)
					return
				}
				fmt.Fprintln(w, "ready")
			})

			// Customer channels, then the staff desk; with any customer
			// channel, updates go through the inboxes and replies through the
			// senders, else (the terminal) straight to the bot.
			var chans []channels.Channel
			for _, cc := range customerChannels {
				ch, limits, err := cc.setup(ctx, a, mux)
				if err != nil {
					return err
				}
				if ch != nil {
					chans = append(chans, ch)
					a.bot.AddChannel(ch, limits)
				}
			}
			background := len(chans) > 0
			a.bot.SetBackground(background)
			desk, err := setupSlack(ctx, a, mux)
			if err != nil {
				return err
			}
			if desk != nil {
				chans = append(chans, desk)
				a.bot.AddChannel(desk)
			} else if background {
				log.Warn("customer channels run without a staff desk (slack.bot_token is not set): nobody can answer a case, " +
					"so scripts see staff.available as false (the shipped handoff says so instead of promising a reply)")
			}
			if err := setupEvents(ctx, a, mux); err != nil {
				return err
			}
			if len(chans) == 0 {
				log.Info("no channel configured (telegram.token, whatsapp.access_token, slack.bot_token): chatting in this terminal")
				term := console.New(os.Stdin, cmd.OutOrStdout(), "", "")
				chans = append(chans, term)
				a.bot.AddChannel(term)
			}
			var handler channels.Handler = a.bot
			if background {
				handler = a.bot.Intake()
			}

			ln, err := listen("http.addr", c.HTTPAddr, c.MaxConns)
			if err != nil {
				return err
			}
			// Each client address is limited on the public endpoints; the
			// probes of /healthz and /readyz are not (/metrics has its own listener).
			srv := newServer(ratelimit.NewClients(c.IPRate, c.IPBurst).Limit(mux, "/healthz", "/readyz"))
			log.Info("journeybot running", "http", ln.Addr().String(), "scripts", c.ScriptsDir)

			// Everything below stops when ctx ends (SIGINT/SIGTERM): intake
			// first, then in-flight work finishes, then Redis closes (defer).
			var wg sync.WaitGroup
			runCtx, stopAll := context.WithCancel(ctx)
			defer stopAll()
			// /metrics has its own listener (metrics.addr, loopback by
			// default), off the one the webhooks and /events face the world on.
			msrv, err := serveMetrics(c, a.metrics.Registry, log, stopAll)
			if err != nil {
				return err
			}
			if msrv != nil {
				defer msrv.Close()
			}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server", "err", err)
					stopAll()
				}
			}()
			wg.Add(4)
			go func() { defer wg.Done(); watchRedis(runCtx, a.store.Ping, log, time.Second) }()
			if background {
				wg.Add(2)
				go func() { defer wg.Done(); a.bot.RunIntake(runCtx) }()
				go func() { defer wg.Done(); a.bot.RunSenders(runCtx) }()
			}
			go func() { defer wg.Done(); a.bot.RunScheduler(runCtx, c.Schedule.Interval) }()
			go func() { defer wg.Done(); a.stats.Run(runCtx, time.Second) }()
			wg.Add(1)
			go func() { defer wg.Done(); a.experiments.Run(runCtx, time.Second) }()
			go func() { defer wg.Done(); conversations.Watch(runCtx, c.ScriptsDir, a.engine, log) }()
			for _, ch := range chans {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := ch.Run(runCtx, handler); err != nil && runCtx.Err() == nil {
						log.Error("channel stopped", "channel", ch.Name(), "err", err)
					}
					if ch.Name() == "console" && runCtx.Err() == nil {
						if term.IsTerminal(int(os.Stdin.Fd())) {
							stopAll() // Ctrl-D in a terminal ends the session
							return
						}
						// No terminal (a service manager's /dev/null, a pipe):
						// the HTTP side (events, metrics, health) goes on.
						log.Info("end of input and no terminal: the console is done, HTTP keeps serving until SIGTERM")
					}
				}()
			}
			<-runCtx.Done()
			log.Info("shutting down: stopping intake, finishing in-flight work")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			stopAll()
			wg.Wait()
			log.Info("stopped")
			return nil
		},
	}
}
