package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"journeybot/conversations"
	"journeybot/conversations/scripttest"
)

func scriptsDir(g *globals, args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	c, err := g.load()
	if err != nil {
		return "", err
	}
	return c.ScriptsDir, nil
}

func lintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint [DIR|FILE]",
		Short: "Check the conversation scripts; problems are printed as FILE:LINE:COL: message",
		Long: "Check the conversation scripts; problems are printed as FILE:LINE:COL: message.\n" +
			"Given a FILE, lint checks the set of scripts it belongs to (its folder) and reports that file's problems.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := scriptsDir(g, args)
			if err != nil {
				return err
			}
			// A file is checked with the rest of its set: alone, its
			// references to other files' flows and stages would be errors.
			file := ""
			if st, err := os.Stat(dir); err == nil && !st.IsDir() {
				file, dir = filepath.Clean(dir), filepath.Dir(dir)
				if conversations.IsTestFile(file) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s holds script tests: journeybot test %s checks and runs it\n", file, dir)
					return exitError{2}
				}
			}
			s, probs, err := conversations.LoadDir(dir)
			if err == nil {
				probs = append(probs, conversations.LintChannels(s, channelCapabilities())...)
			}
			if file != "" {
				if err != nil && !isProblems(err) {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return exitError{1}
				}
				var mine conversations.Problems
				for _, p := range probs {
					if filepath.Clean(p.Pos.File) == file {
						mine = append(mine, p)
					}
				}
				if others := len(probs.Errors()) - len(mine.Errors()); others > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: other files of the set in %s have %d error(s): journeybot lint %s\n", dir, others, dir)
				}
				probs, err = mine, nil
				if len(mine.Errors()) > 0 {
					err = mine.Errors()
				}
			}
			for _, p := range probs {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			if err != nil {
				if len(probs) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d error(s)\n", len(probs.Errors()))
				return exitError{1}
			}
			if file != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s (checked with the set in %s), %d warning(s)\n", file, dir, len(probs))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d files, %d stages, %d flows, %d intents, %d warning(s)\n",
				len(s.Files), len(s.Stages), len(s.Flows), len(s.Intents), len(probs))
			return nil
		},
	}
}

// isProblems reports whether err lists script problems (not, say, a missing folder).
func isProblems(err error) bool {
	var ps conversations.Problems
	return errors.As(err, &ps)
}

func testCmd(g *globals) *cobra.Command {
	var run string
	var coverage bool
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the script tests (*_test.yaml) with a simulated clock and an embedded Redis",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The tests run with the configured sending rules (caps, quiet
			// hours), as the bot would.
			c, err := g.load()
			if err != nil {
				return err
			}
			dir := c.ScriptsDir
			if len(args) > 0 {
				dir = args[0]
			}
			send := engineOptions(c)
			rules := "built-in defaults"
			if c.File != "" {
				rules = "send.* of " + c.File
			}
			rep, err := scripttest.Run(cmd.Context(), dir, scripttest.Options{Filter: run, Send: &send, Rules: rules, Coverage: coverage})
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{2}
			}
			rep.Print(cmd.OutOrStdout())
			if rep.Failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only tests whose name contains this text")
	cmd.Flags().BoolVar(&coverage, "coverage", false, "report which flows, steps, buttons and branches the tests exercise, per file, and list the rest as FILE:LINE:COL")
	return cmd
}

var _ = os.Stdout
