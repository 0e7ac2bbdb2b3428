package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"journeybot/bot"
	"journeybot/config"
)

func linkCmd(g *globals) *cobra.Command {
	var customer bool
	cmd := &cobra.Command{
		Use:   "link ORDER_ID",
		Short: "Print the signed Telegram deep link for an order (or, with --customer, a customer id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			kind := byte('o')
			if customer {
				kind = 'c'
			}
			p, err := bot.SignPayload(c.Events.Secret, kind, args[0])
			if err != nil {
				return err
			}
			// A link with a placeholder for the bot would be pasted and fail later.
			if c.Telegram.BotUsername == "" {
				return fmt.Errorf("telegram.bot_username is not set (environment: %s): a deep link names the bot (https://t.me/BOT_USERNAME?start=...)", config.EnvName("telegram.bot_username"))
			}
			fmt.Fprintln(cmd.OutOrStdout(), bot.DeepLink(c.Telegram.BotUsername, p))
			return nil
		},
	}
	cmd.Flags().BoolVar(&customer, "customer", false, "the argument is a customer id, not an order id")
	return cmd
}
