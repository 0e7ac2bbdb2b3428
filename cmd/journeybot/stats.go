package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"journeybot/bot"
	"journeybot/journey"
)

// statsCmd prints the daily figures marketers care about, from Redis: the
// same numbers as /journey stats in Slack, for several days.
func statsCmd(g *globals) *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the daily figures (messages, nudges, cases, NPS, CSAT, opt-outs) of the last days",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			if c.RedisURL == "" {
				return errors.New("stats needs redis.url (JOURNEYBOT_REDIS_URL): the embedded Redis holds nothing")
			}
			if days < 1 || days > 400 {
				return fmt.Errorf("--days %d: give 1 to 400", days)
			}
			log := newLogger(c, cmd.ErrOrStderr())
			journey.LogRedisTo(nil) // a failed start is one line: the error returned
			rdb, closeRedis, err := journey.Open(cmd.Context(), c.RedisURL, log)
			if err != nil {
				return err
			}
			defer closeRedis()
			stats := bot.NewStats(rdb, c.RedisPrefix, nil).InZone(c.Send.DefaultTimezone)
			var rows []dayRow
			for i := days - 1; i >= 0; i-- {
				day := time.Now().In(c.Send.DefaultTimezone).AddDate(0, 0, -i)
				d, err := stats.Day(cmd.Context(), day)
				if err != nil {
					return fmt.Errorf("stats of %s: %w", day.Format("2006-01-02"), err)
				}
				rows = append(rows, dayRow{day, bot.Summarize(d)})
			}
			printStats(cmd.OutOrStdout(), rows)
			return nil
		},
	}
	cmd.Flags().IntVar(&days, "days", 7, "how many days, ending today")
	return cmd
}

type dayRow struct {
	day time.Time
	s   bot.Summary
}

func printStats(w io.Writer, rows []dayRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tin\tout\tnudges\tfallbacks\tcases\ttakeover\tNPS (n)\tCSAT (n)\topt-outs\t")
	for _, r := range rows {
		s := r.s
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t\n",
			r.day.Format("2006-01-02"), s.Inbound, s.Outbound, s.Proactive, s.Fallbacks, s.CasesOpened,
			orDash(s.TakeoverSeconds, func(v float64) string { return (time.Duration(v) * time.Second).String() }),
			orDash(s.NPS, func(v float64) string { return fmt.Sprintf("%+.0f (%d)", v, s.NPSAnswers) }),
			orDash(s.CSAT, func(v float64) string { return fmt.Sprintf("%.0f%% (%d)", v, s.CSATAnswers) }),
			s.OptOuts)
	}
	tw.Flush()
	fmt.Fprintln(w, "NPS: % promoters (9-10) minus % detractors (0-6). CSAT: % of 4-5 answers. takeover: mean time from case to staff.")
}

func orDash(v *float64, f func(float64) string) string {
	if v == nil {
		return "-"
	}
	return f(*v)
}
