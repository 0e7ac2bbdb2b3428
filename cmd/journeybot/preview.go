package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/conversations/scripttest"
	"journeybot/journey"
)

func previewCmd(g *globals) *cobra.Command {
	var days int
	var fromRedis bool
	var test string
	cmd := &cobra.Command{
		Use:   "preview CUSTOMER-FIXTURE | --redis CUSTOMER_ID",
		Short: "Print what a customer will receive over the next days (after quiet hours and caps), as a timeline",
		Long: "Print what a customer will receive over the next --days days, with the date and time of each\n" +
			"message after quiet hours and caps (the configured send.* rules), as a timeline.\n" +
			"The customer is a fixture in the format of script tests (a file with one test's start, customer\n" +
			"and steps, or a *_test.yaml file with --test NAME): its steps are played first, then the clock runs.\n" +
			"With --redis the argument is a customer id in redis.url: a copy of the journey is previewed from now;\n" +
			"the real journey is only read.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 400 {
				return fmt.Errorf("--days %d: give 1 to 400", days)
			}
			c, err := g.load()
			if err != nil {
				return err
			}
			s, _, err := conversations.LoadDir(c.ScriptsDir)
			if err != nil {
				return fmt.Errorf("scripts in %s do not lint (run: journeybot lint %s):\n%w", c.ScriptsDir, c.ScriptsDir, err)
			}
			m := miniredis.NewMiniRedis()
			if err := m.Start(); err != nil {
				return err
			}
			defer m.Close()
			rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
			defer rdb.Close()
			opt := botEngineOptions(c) // as the configured bot runs: caps, quiet hours, the staff desk
			ctx := cmd.Context()
			var x *scripttest.Session
			var fixture *scripttest.Case
			if fromRedis {
				x, err = sessionFromRedis(ctx, c.RedisURL, c.RedisPrefix, args[0], rdb, s, opt, newLogger(c, cmd.ErrOrStderr()))
			} else {
				if fixture, err = scripttest.LoadCase(args[0], test); err == nil {
					x, err = scripttest.NewSession(ctx, rdb, s, opt, fixture)
				}
			}
			if err != nil {
				return err
			}
			return preview(ctx, cmd.OutOrStdout(), x, s, fixture, opt, time.Duration(days)*24*time.Hour)
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "how many days ahead")
	cmd.Flags().BoolVar(&fromRedis, "redis", false, "the argument is a customer id in redis.url, not a fixture file")
	cmd.Flags().StringVar(&test, "test", "", "in a test file, the test whose name contains this text (default the first)")
	return cmd
}

// sessionFromRedis copies a real customer's journey into the preview's own
// Redis: the preview runs the scripts and timers on the copy only.
func sessionFromRedis(ctx context.Context, url, prefix, id string, rdb redis.UniversalClient, s *conversations.Scripts, opt conversations.Options, log *slog.Logger) (*scripttest.Session, error) {
	if url == "" {
		return nil, errors.New("preview --redis needs redis.url (JOURNEYBOT_REDIS_URL): the embedded Redis holds no customers")
	}
	journey.LogRedisTo(nil)
	real, closeRedis, err := journey.Open(ctx, url, log)
	if err != nil {
		return nil, err
	}
	defer closeRedis()
	j, found, err := journey.NewStore(real, journey.Options{Prefix: prefix}).Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no customer %q in redis (prefix %s)", id, prefix)
	}
	return scripttest.NewSessionFrom(ctx, rdb, s, opt, j, time.Now())
}

// preview plays the fixture's steps, then runs the clock for span, printing
// each message at the time it is sent.
func preview(ctx context.Context, w io.Writer, x *scripttest.Session, s *conversations.Scripts, fixture *scripttest.Case, opt conversations.Options, span time.Duration) error {
	j, _, err := x.Store.Get(ctx, x.ID)
	if err != nil {
		return err
	}
	zone := opt.TimeZone
	if l, err := time.LoadLocation(j.Profile.TimeZone); err == nil && j.Profile.TimeZone != "" {
		zone = l
	}
	from := x.Clock.Now()
	to := from.Add(span)
	name := j.Profile.Name
	if name == "" {
		name = "(no name)"
	}
	lang := j.Profile.Language
	if lang == "" && len(s.Languages) > 0 {
		lang = s.Languages[0]
	}
	if j.Stage == "" {
		j.Stage = s.InitialStage() // a new customer's, until the first commit sets it
	}
	fmt.Fprintf(w, "preview: %s (%s), %s, stage %s\n", name, x.ID, lang, orNone(j.Stage))
	fmt.Fprintf(w, "from %s to %s (%s), %d days\n", from.In(zone).Format(stamp), to.In(zone).Format(stamp), zone, int(span.Hours()/24))
	fmt.Fprintf(w, "send rules: at most %d nudges a day and %d a week; quiet hours %s-%s in the customer's zone; staff desk: %s\n\n",
		opt.MaxPerDay, opt.MaxPerWeek, clock(opt.QuietStart), clock(opt.QuietEnd), map[bool]string{true: "none", false: "connected"}[opt.NoStaff])
	stage := j.Stage
	count := 0
	show := func(at time.Time, cause string, msgs []channels.Outbound) {
		for i, m := range msgs {
			when := ""
			if i == 0 {
				when = at.In(zone).Format(stamp)
			}
			line := fmt.Sprintf("%-22s %s", when, indent(m.Text, 23))
			if i == 0 && cause != "" {
				line = fmt.Sprintf("%-22s (%s)\n%-22s %s", when, cause, "", indent(m.Text, 23))
			}
			fmt.Fprintln(w, line)
			if len(m.Buttons) > 0 {
				var ls []string
				for _, b := range m.Buttons {
					ls = append(ls, b.Label)
				}
				fmt.Fprintf(w, "%-22s [%s]\n", "", strings.Join(ls, " | "))
			}
			count++
		}
		if j, _, err := x.Store.Get(ctx, x.ID); err == nil && j.Stage != stage && j.Stage != "" {
			when := ""
			if len(msgs) == 0 {
				when = at.In(zone).Format(stamp)
			}
			fmt.Fprintf(w, "%-22s -> stage %s\n", when, j.Stage)
			stage = j.Stage
		}
	}
	if fixture != nil {
		for i, st := range fixture.Steps {
			if st.Advance != "" {
				// Time passes: each message at the time it is sent.
				d, err := conversations.ParseDuration(st.Advance)
				if err != nil {
					return fmt.Errorf("fixture step %d: %w", i+1, err)
				}
				if err := x.Until(ctx, x.Clock.Now().Add(d), func(at time.Time, msgs []channels.Outbound) { show(at, "", msgs) }); err != nil {
					return err
				}
				continue
			}
			at := x.Clock.Now()
			msgs, err := x.Play(ctx, st)
			if err != nil {
				return fmt.Errorf("fixture step %d: %w", i+1, err)
			}
			show(at, "after "+describeStep(st), msgs)
		}
	}
	if err := x.Until(ctx, to, func(at time.Time, msgs []channels.Outbound) { show(at, "", msgs) }); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d message(s); stage at the end: %s\n", count, orNone(stage))
	return nil
}

const stamp = "Mon 2006-01-02 15:04"

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func indent(s string, n int) string { return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n)) }

func describeStep(st *scripttest.Step) string {
	switch {
	case st.Say != nil:
		return fmt.Sprintf("the customer says %q", *st.Say)
	case st.Press != "":
		return fmt.Sprintf("the customer presses %q", st.Press)
	case st.Command != "":
		return "the customer sends " + st.Command
	case st.Event != nil:
		return "event " + st.Event.Type
	case st.Advance != "":
		return "advance " + st.Advance
	case st.Staff != "":
		return "staff " + st.Staff
	case st.StaffSays != "":
		return "staff says something"
	}
	return "a step"
}
