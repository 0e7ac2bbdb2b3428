package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// privacyCmd serves the customer's rights under LGPD (art. 18, 19): what the
// bot keeps about a person, as JSON, and its erasure.
func privacyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Export or erase what the bot keeps about one customer (LGPD)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "export CUSTOMER",
		Short: "Print everything kept about a customer as JSON (CUSTOMER: a customer id, a chat address such as telegram:123, or an order id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.privacyApp(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			e, err := a.bot.Export(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("privacy export: %w", err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(e)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "erase CUSTOMER",
		Short: "Erase everything kept about a customer (journey, history, addresses, orders index, timers); daily figures stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.privacyApp(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			if a.cfg.Slack.Enabled() {
				// The customer's case threads get a note; an unreachable
				// Slack does not hold the erase up.
				if _, err := setupSlack(cmd.Context(), a, http.NewServeMux()); err != nil {
					a.log.Warn("slack unavailable: case threads get no note of the erase", "err", err)
				}
			}
			er, err := a.bot.Erase(cmd.Context(), args[0], "operator")
			if err != nil {
				return fmt.Errorf("privacy erase: %w", err)
			}
			if err := a.stats.Flush(cmd.Context()); err != nil {
				a.log.Warn("daily figures not saved", "err", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "erased customer %s: %d keys; %d staff case threads\n", er.Customer, er.Keys, len(er.Cases))
			return nil
		},
	})
	return cmd
}

// privacyApp connects to the configured Redis (never the embedded one: it
// holds nothing) with the runtime assembled.
func (g *globals) privacyApp(cmd *cobra.Command) (*app, error) {
	c, err := g.load()
	if err != nil {
		return nil, err
	}
	if c.RedisURL == "" {
		return nil, errors.New("privacy needs redis.url (JOURNEYBOT_REDIS_URL): the embedded Redis holds nothing")
	}
	return newApp(cmd.Context(), c, newLogger(c, cmd.ErrOrStderr()))
}
