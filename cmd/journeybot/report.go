package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"journeybot/config"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/journey"
)

// reportSource builds the report of the days from..to (midnights in the
// business's time zone, both days included).
type reportSource interface {
	Report(ctx context.Context, from, to time.Time) (*insight.Report, error)
}

// maxReportDays bounds a range: a year and a day (a leap year's dates).
const maxReportDays = 367

// reportCmd prints what the scripts achieved over a range of days, from the
// figures in Redis.
func reportCmd(g *globals) *cobra.Command {
	var from, to, format, out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print the journey report: flows and drop-off, stages, NPS/CSAT, experiments, offers, customers, cases",
		Long: "Print the journey report of a range of days from the figures in Redis (redis.url):\n" +
			"flows with their drop-off by step, the stage funnel, NPS and CSAT, experiments with\n" +
			"their intervals and verdict, offers, customers (repeat rate, retention, CLV) and cases.\n" +
			"Days are in send.default_timezone; the default range is the last 7 days ending today.\n" +
			"--format html writes one self-contained page with charts and the journey map.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(insight.Formats, format) {
				return fmt.Errorf("--format %q: give one of %s", format, strings.Join(insight.Formats, ", "))
			}
			c, err := g.load()
			if err != nil {
				return err
			}
			s, err := loadReportScripts(c.ScriptsDir)
			if err != nil {
				return err
			}
			r, err := readReport(cmd, c, s, from, to)
			if err != nil {
				return err
			}
			return writeOut(cmd.OutOrStdout(), out, func(w io.Writer) error {
				if format == "html" {
					return insight.WriteHTML(w, r, insight.BuildMap(s, r))
				}
				return insight.Write(w, format, r)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (default: 6 days before --to)")
	cmd.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD (default: today)")
	cmd.Flags().StringVar(&format, "format", "table", "table, json, csv or html")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

// mapCmd draws the journey from the scripts.
func mapCmd(g *globals) *cobra.Command {
	var format, from, to, out string
	var withReport bool
	cmd := &cobra.Command{
		Use:   "map [DIR]",
		Short: "Draw the journey from the scripts: stages and transitions, flows with their steps, buttons and branches",
		Long: "Draw the journey exactly as the scripts in DIR (default scripts.dir) define it: stages and\n" +
			"their transitions; flows with their triggers, steps, buttons, branches and survey answers.\n" +
			"--format mermaid (paste into any Markdown that renders Mermaid), dot (Graphviz) or html\n" +
			"(a self-contained page). --report overlays the figures of --from..--to from Redis\n" +
			"(customers who reached each step, drop-off, stage entries, moves between stages).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(insight.MapFormats, format) {
				return fmt.Errorf("--format %q: give one of %s", format, strings.Join(insight.MapFormats, ", "))
			}
			if !withReport && (from != "" || to != "") {
				return errors.New("--from and --to choose the days of --report: add --report")
			}
			dir, err := scriptsDir(g, args)
			if err != nil {
				return err
			}
			s, err := loadReportScripts(dir)
			if err != nil {
				return err
			}
			var r *insight.Report
			if withReport {
				c, err := g.load()
				if err != nil {
					return err
				}
				if r, err = readReport(cmd, c, s, from, to); err != nil {
					return err
				}
			}
			return writeOut(cmd.OutOrStdout(), out, func(w io.Writer) error {
				return insight.WriteMap(w, format, insight.BuildMap(s, r))
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "mermaid, dot or html")
	cmd.Flags().BoolVar(&withReport, "report", false, "overlay the report's counts and drop-off (needs redis.url)")
	cmd.Flags().StringVar(&from, "from", "", "with --report: first day, YYYY-MM-DD (default: 6 days before --to)")
	cmd.Flags().StringVar(&to, "to", "", "with --report: last day, YYYY-MM-DD (default: today)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

// reportRange reads --from and --to as days in zone; without them the
// range is the 7 days ending today.
func reportRange(fromS, toS string, zone *time.Location, now time.Time) (from, to time.Time, err error) {
	if zone == nil {
		zone = time.UTC
	}
	day := func(flag, s string) (time.Time, error) {
		t, err := time.ParseInLocation(time.DateOnly, s, zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("--%s %q: give a day as YYYY-MM-DD", flag, s)
		}
		return t, nil
	}
	n := now.In(zone)
	to = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, zone)
	if toS != "" {
		if to, err = day("to", toS); err != nil {
			return
		}
	}
	from = to.AddDate(0, 0, -6)
	if fromS != "" {
		if from, err = day("from", fromS); err != nil {
			return
		}
	}
	if from.After(to) {
		return from, to, fmt.Errorf("--from %s is after --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	if days := int(to.Sub(from).Hours()/24+0.5) + 1; days > maxReportDays {
		return from, to, fmt.Errorf("--from %s --to %s is %d days: give at most %d", from.Format(time.DateOnly), to.Format(time.DateOnly), days, maxReportDays)
	}
	return from, to, nil
}

// loadReportScripts loads the scripts the report and the map are about; a
// set with errors is refused (lint says where).
func loadReportScripts(dir string) (*conversations.Scripts, error) {
	s, _, err := conversations.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scripts in %s: %w (journeybot lint %s shows every problem)", dir, err, dir)
	}
	return s, nil
}

// openReportSource opens Redis and the figures recorded there.
func openReportSource(cmd *cobra.Command, c *config.Config, s *conversations.Scripts) (reportSource, func(), error) {
	if c.RedisURL == "" {
		return nil, nil, errors.New("the report needs redis.url (JOURNEYBOT_REDIS_URL): the embedded Redis holds no figures")
	}
	log := newLogger(c, cmd.ErrOrStderr())
	journey.LogRedisTo(nil) // a failed start is one line: the error returned
	rdb, closeRedis, err := journey.Open(cmd.Context(), c.RedisURL, log)
	if err != nil {
		return nil, nil, err
	}
	return newReportSource(rdb, c, s), closeRedis, nil
}

// writeOut writes through render to w, or to the file out: written beside
// it and renamed, so a failed render leaves no half file.
func writeOut(w io.Writer, out string, render func(io.Writer) error) error {
	if out == "" {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return err
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	defer os.Remove(f.Name())
	if err := render(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	return nil
}

// readReport reads the figures of the days --from..--to (in the business's
// time zone) from Redis.
func readReport(cmd *cobra.Command, c *config.Config, s *conversations.Scripts, from, to string) (*insight.Report, error) {
	start, end, err := reportRange(from, to, c.Send.DefaultTimezone, time.Now())
	if err != nil {
		return nil, err
	}
	src, closeSrc, err := openReportSource(cmd, c, s)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	r, err := src.Report(cmd.Context(), start, end)
	if err != nil {
		return nil, fmt.Errorf("report %s .. %s: %w", start.Format(time.DateOnly), end.Format(time.DateOnly), err)
	}
	return r, nil
}
