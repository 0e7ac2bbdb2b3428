package slack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"journeybot/insight"
	"journeybot/journey"
)

const usage = "*/journey* — for staff and marketers\n" +
	"• `/journey customer <id or @telegram_username>` — stage, orders, open case, recent activity\n" +
	"• `/journey pause <customer>` — the bot stops writing to this customer\n" +
	"• `/journey resume <customer>` — the bot writes again\n" +
	"• `/journey resolve <customer>` — close their open case (the customer gets the CSAT survey)\n" +
	"• `/journey stats` — the figures of today and the last 7 days"

// command answers /journey (shown only to the member who typed it). It
// touches only Redis, so it answers within Slack's three seconds.
func (d *Desk) command(ctx context.Context, c slack.SlashCommand) string {
	if !d.allowed(ctx, c.UserID, c.TeamID) {
		return "Sorry, /journey is only for the support team."
	}
	if !d.inSupportChannel(c) {
		// Answers hold customers' records: only where staff work.
		return "/journey works only in the support channel (" + d.o.Channel + "), not in DMs or other channels."
	}
	verb, arg, _ := strings.Cut(strings.TrimSpace(c.Text), " ")
	arg = strings.TrimSpace(arg)
	var out string
	var err error
	switch strings.ToLower(verb) {
	case "customer", "c":
		out, err = d.showCustomer(ctx, arg)
	case "pause", "resume":
		out, err = d.pause(ctx, arg, strings.EqualFold(verb, "pause"), c.UserID)
	case "resolve":
		out, err = d.resolveCommand(ctx, arg, c)
	case "stats":
		out, err = d.stats(ctx)
	default:
		return usage
	}
	if errors.Is(err, errUsage) {
		return usage
	}
	if err != nil {
		d.log.Warn("/journey failed", "verb", verb, "err", err)
		return "Something went wrong; try again in a moment."
	}
	return out
}

var errUsage = errors.New("usage")

// findCustomer takes a customer id or a Telegram @username.
func (d *Desk) findCustomer(ctx context.Context, arg string) (*journey.Journey, string, error) {
	if arg == "" {
		return nil, "", errUsage
	}
	lookup := func(name string) (*journey.Journey, error) {
		id, err := d.store.Resolve(ctx, "telegram_username", strings.ToLower(name))
		if err != nil || id == "" {
			return nil, err
		}
		j, found, err := d.store.Get(ctx, id)
		if err != nil || !found {
			return nil, err
		}
		return j, nil
	}
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		j, err := lookup(name)
		if err == nil && j == nil {
			return nil, fmt.Sprintf("No customer with the Telegram username @%s.", esc(name)), nil
		}
		return j, "", err
	}
	j, found, err := d.store.Get(ctx, arg)
	if err != nil || found {
		return j, "", err
	}
	if j, err = lookup(arg); err != nil || j != nil {
		return j, "", err
	}
	return nil, fmt.Sprintf("No customer `%s` (give a customer id or a Telegram @username).", esc(arg)), nil
}

func (d *Desk) showCustomer(ctx context.Context, arg string) (string, error) {
	j, missing, err := d.findCustomer(ctx, arg)
	if err != nil || j == nil {
		return missing, err
	}
	tz := d.o.TimeZone
	at := func(unix int64) string { return time.Unix(unix, 0).In(tz).Format("2006-01-02 15:04") }
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* · `%s`\n", esc(customerName(j)), esc(j.ID))
	stage := j.Stage
	if stage == "" {
		stage = "—"
	}
	fmt.Fprintf(&b, "Stage: *%s*", esc(stage))
	if j.StageSince > 0 {
		fmt.Fprintf(&b, " since %s", at(j.StageSince))
	}
	fmt.Fprintf(&b, " · language %s\n", j.Language())
	var chans []string
	for ch, addr := range j.Profile.Addresses {
		chans = append(chans, esc(ch+" "+addr))
	}
	sort.Strings(chans)
	if j.Profile.Username != "" {
		chans = append(chans, "@"+esc(j.Profile.Username))
	}
	if len(chans) > 0 {
		fmt.Fprintf(&b, "Reached on: %s\n", strings.Join(chans, ", "))
	}
	var flags []string
	if j.Profile.Paused {
		flags = append(flags, "⏸ paused by staff")
	}
	if j.Profile.OptedOut != 0 {
		flags = append(flags, "🚫 opted out "+at(j.Profile.OptedOut))
	}
	if j.Profile.Unreachable != 0 {
		flags = append(flags, "📵 blocked the bot "+at(j.Profile.Unreachable))
	}
	if len(flags) > 0 {
		b.WriteString(strings.Join(flags, " · ") + "\n")
	}
	if k := j.Case; k != nil {
		fmt.Fprintf(&b, "Open case: %s · opened %s", esc(k.Reason), at(k.Opened))
		if k.Claimed != 0 {
			fmt.Fprintf(&b, " · with *%s*", esc(k.Staff))
		} else {
			b.WriteString(" · nobody has it yet")
		}
		b.WriteString("\n")
	} else {
		b.WriteString("Open case: none\n")
	}
	if j.Answers["nps"] != "" || j.Answers["csat"] != "" {
		fmt.Fprintf(&b, "Surveys: NPS %s · CSAT %s\n", orDash(j.Answers["nps"]), orDash(j.Answers["csat"]))
	}
	b.WriteString("*Orders*\n" + ordersText(j) + "\n")
	hist, err := d.store.History(ctx, j.ID, 8)
	if err != nil {
		return "", err
	}
	b.WriteString("*Recent activity*\n")
	if len(hist) == 0 {
		b.WriteString("_none_")
	}
	for _, h := range hist {
		fmt.Fprintf(&b, "> %s %s %s\n", time.Unix(h.At, 0).In(tz).Format("01-02 15:04"), speaker(h), esc(clip(strings.ReplaceAll(h.Text, "\n", " "), 200)))
	}
	return clip(b.String(), 3900), nil
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func (d *Desk) pause(ctx context.Context, arg string, paused bool, user string) (string, error) {
	j, missing, err := d.findCustomer(ctx, arg)
	if err != nil || j == nil {
		return missing, err
	}
	if err := d.o.Bot.SetPaused(ctx, j.ID, paused); err != nil {
		return "", fmt.Errorf("set paused for %s: %w", j.ID, err)
	}
	d.log.Info("bot paused for customer by staff", "customer", j.ID, "paused", paused, "user", user)
	if paused {
		return fmt.Sprintf("⏸ The bot is paused for *%s* (`%s`): it sends nothing until `/journey resume %s`.", esc(customerName(j)), esc(j.ID), esc(j.ID)), nil
	}
	return fmt.Sprintf("▶️ The bot writes to *%s* (`%s`) again.", esc(customerName(j)), esc(j.ID)), nil
}

// resolveCommand resolves a customer's case from anywhere in Slack; the
// work (the survey goes out) runs after the answer, like a button press.
func (d *Desk) resolveCommand(ctx context.Context, arg string, c slack.SlashCommand) (string, error) {
	j, missing, err := d.findCustomer(ctx, arg)
	if err != nil || j == nil {
		return missing, err
	}
	if j.Case == nil || j.Case.Ref == "" {
		return fmt.Sprintf("*%s* has no open case.", esc(customerName(j))), nil
	}
	r, ok, err := d.loadCase(ctx, j.Case.Ref)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("The case of *%s* is not one of this desk's threads.", esc(customerName(j))), nil
	}
	user, handle := c.UserID, c.UserName
	if err := d.enqueue(r.TS, "resolve", func(ctx context.Context) error { return d.resolve(ctx, r, user, handle) }); err != nil {
		return "", err
	}
	return fmt.Sprintf("Resolving the case of *%s*; the thread records it.", esc(customerName(j))), nil
}

func (d *Desk) stats(ctx context.Context) (string, error) {
	if d.o.Stats == nil || d.o.Figures == nil {
		return "Daily figures are not kept by this process.", nil
	}
	if err := d.o.Stats.Flush(ctx); err != nil {
		return "", err
	}
	now := d.now()
	today, err := d.o.Figures.Report(ctx, now, now)
	if err != nil {
		return "", err
	}
	week, err := d.o.Figures.Report(ctx, now.AddDate(0, 0, -6), now)
	if err != nil {
		return "", err
	}
	open, err := d.rdb.ZCard(ctx, d.openKey()).Result()
	if err != nil {
		return "", err
	}
	waiting, err := d.rdb.ZCard(ctx, d.unclaimedKey()).Result()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Today* (%s, %s)\n", today.From, today.Zone)
	summary(&b, today, "today")
	fmt.Fprintf(&b, "Cases: %d open now (%d waiting for someone)\n\n", open, waiting)
	fmt.Fprintf(&b, "*Last 7 days* (%s to %s)\n", week.From, week.To)
	summary(&b, week, "in 7 days")
	if f, st, ok := worstStep(week); ok {
		fmt.Fprintf(&b, "Most customers lost: flow *%s*, step *%s* (%d abandoned of %d)\n", esc(f), esc(st.ID), st.Abandoned, st.Reached)
	}
	b.WriteString("`journeybot report` has every figure.")
	return b.String(), nil
}

// summary writes a report's headline figures, the same for one day or a week.
func summary(b *strings.Builder, r *insight.Report, when string) {
	var in, out, pro, optouts int64
	for _, d := range r.Days {
		in, out, pro, optouts = in+d.Inbound, out+d.Outbound, pro+d.Proactive, optouts+d.OptOuts
	}
	fmt.Fprintf(b, "Messages: %d in · %d out (%d proactive)\n", in, out, pro)
	fmt.Fprintf(b, "Cases: %d opened %s · %d resolved\n", r.Cases.Opened, when, r.Cases.Resolved)
	if m := r.Cases.MedianTakeoverMins; m != nil {
		fmt.Fprintf(b, "Time to takeover: %s (median)\n", duration(time.Duration(*m*float64(time.Minute))))
	} else {
		b.WriteString("Time to takeover: —\n")
	}
	if c := r.CSAT; c.SatisfiedShare != nil {
		fmt.Fprintf(b, "CSAT: %.0f%% satisfied, %.1f average (%d answers)\n", *c.SatisfiedShare*100, *c.Average, c.Answers)
	} else {
		b.WriteString("CSAT: no answers yet\n")
	}
	if n := r.NPS; n.Score != nil {
		fmt.Fprintf(b, "NPS: %+.0f (%d answers)\n", *n.Score, n.Answers)
	} else {
		b.WriteString("NPS: no answers yet\n")
	}
	var sent, redeemed int64
	var revenue float64
	for _, o := range r.Offers {
		sent, redeemed, revenue = sent+o.Sent, redeemed+o.Redeemed, revenue+o.Revenue
	}
	fmt.Fprintf(b, "Coupons: %d sent · %d redeemed (%.2f in orders)\n", sent, redeemed, revenue)
	c := r.Customers
	fmt.Fprintf(b, "Orders: %d (%d first purchases) · %d repeat buyers · %d won back\n", c.Orders, c.New, c.Repeat, c.WonBack)
	for _, x := range r.Experiments {
		if x.Verdict != "No customers yet" {
			fmt.Fprintf(b, "Experiment %s: %s\n", x.ID, x.Verdict)
		}
	}
	fmt.Fprintf(b, "Opt-outs: %d\n", optouts)
}

// worstStep is the step where most customers were lost.
func worstStep(r *insight.Report) (string, insight.Step, bool) {
	var flow string
	var best insight.Step
	for _, f := range r.Flows {
		for _, s := range f.Steps {
			if s.Abandoned > best.Abandoned {
				flow, best = f.ID, s
			}
		}
	}
	return flow, best, best.Abandoned > 0
}
