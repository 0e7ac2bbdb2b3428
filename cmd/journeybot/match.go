package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"journeybot/conversations"
)

func matchCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "match TEXT...",
		Short: "Explain which intent a customer's text reaches, and why",
		Long: "Explain which intent a customer's text reaches in the scripts: the keyword that decided, how each word\n" +
			"met it (exact, abbrev, repeat, stem, typo, pattern), keywords a negation cancelled, and the runners-up.",
		Example: `  journeybot match "qdo chega meu pedidoo?"
  journeybot match --scripts scripts "não quero mais receber"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				d, err := scriptsDir(g, nil)
				if err != nil {
					return err
				}
				dir = d
			}
			s, _, err := conversations.LoadDir(dir)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{2}
			}
			explain(cmd.OutOrStdout(), strings.Join(args, " "), s.Match(strings.Join(args, " ")))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "scripts", "", "scripts folder (default: scripts.dir of the configuration)")
	return cmd
}

// explain prints a match the way a marketer reads it.
func explain(w io.Writer, text string, m conversations.Match) {
	fmt.Fprintf(w, "text:    %q\n", text)
	if m.Intent == "" {
		fmt.Fprintln(w, "intent:  none (the fallback answers)")
	} else {
		fmt.Fprintf(w, "intent:  %s (score %.2f)\n", m.Intent, m.Score)
		fmt.Fprintf(w, "keyword: %q at %s\n", m.Keyword, m.At)
		for _, wm := range m.Words {
			fmt.Fprintf(w, "  %-14s ← %-16q %s\n", wm.Keyword, wm.Text, wm.Rule)
		}
		if len(m.Ranked) > 0 && len(m.Ranked[0].Extra) > 0 {
			fmt.Fprintf(w, "  also:   %s (other keywords of %s, +0.2 each)\n", strings.Join(m.Ranked[0].Extra, ", "), m.Intent)
		}
	}
	if m.Order != "" {
		fmt.Fprintf(w, "order:   %s\n", m.Order)
	}
	for _, n := range m.Negated {
		fmt.Fprintf(w, "negated: %q of %s (at %s): %q comes after a negation\n", n.Keyword, n.Intent, n.At, n.Word)
	}
	if len(m.Ranked) > 1 {
		fmt.Fprintln(w, "runners-up:")
		for _, r := range m.Ranked[1:] {
			fmt.Fprintf(w, "  %-16s %.2f  %q at %s\n", r.Intent, r.Score, r.Keyword, r.At)
		}
	}
}
