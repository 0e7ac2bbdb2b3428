// Command journeybot is the customer-journey bot: run it, chat with it in
// the terminal, lint and test its scripts, print deep links, import events.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"journeybot/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "journeybot:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a code after its output was printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

type globals struct {
	configFile string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "journeybot",
		Short:         "A chat bot that carries customers through the journey after a sale",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "configuration file (default ./journeybot.yaml if present)")
	root.AddCommand(runCmd(g), chatCmd(g), lintCmd(g), testCmd(g), matchCmd(g), linkCmd(g), eventsCmd(g), statsCmd(g), reportCmd(g), mapCmd(g), previewCmd(g), privacyCmd(g))
	return root
}

// load reads the configuration, failing before anything connects.
func (g *globals) load() (*config.Config, error) {
	return config.Load(g.configFile, os.Environ())
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
