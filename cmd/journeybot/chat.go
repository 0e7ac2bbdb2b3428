package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"journeybot/channels/console"
)

func chatCmd(g *globals) *cobra.Command {
	var lang, name string
	var withDemo bool
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat with the bot in this terminal, playing the customer (embedded Redis unless redis.url is set)",
		Long: "Chat with the bot in this terminal, playing the customer.\n" +
			"With --demo you are a sample customer with orders (always on an embedded Redis), and you play\n" +
			"the store and the clock too: /event order.shipped, /advance 3d, /demo for the list.",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			c.LogLevel = "warn"
			log := newLogger(c, cmd.ErrOrStderr())
			if withDemo {
				return runDemo(cmd, c, log, lang, name, cmd.Flags().Changed("name"))
			}
			a, err := newApp(cmd.Context(), c, log)
			if err != nil {
				return err
			}
			defer a.close()
			ch := console.New(os.Stdin, cmd.OutOrStdout(), lang, name)
			a.bot.AddChannel(ch)
			fmt.Fprintln(cmd.OutOrStdout(), "journeybot chat: you are the customer. Type a message, a button's number, or /help. Ctrl-D ends.")
			if c.LLM.Enabled() {
				fmt.Fprintf(cmd.OutOrStdout(), "Language model %s on: personalised steps and free answers are its texts when they pass the checks.\n", c.LLM.Model)
			}
			go a.bot.RunScheduler(cmd.Context(), c.Schedule.Interval)
			return ch.Run(cmd.Context(), a.bot)
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "pt-BR", "your language as the customer (pt-BR or en)")
	cmd.Flags().StringVar(&name, "name", "Ana", "your first name as the customer")
	cmd.Flags().BoolVar(&withDemo, "demo", false, "be a sample customer with orders and play the store (/event) and the clock (/advance)")
	return cmd
}
