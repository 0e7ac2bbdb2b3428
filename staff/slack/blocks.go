package slack

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"journeybot/bot"
	"journeybot/journey"
)

// Block and action ids. Every block has an id: block_actions payloads name
// the block, and updates find the status and buttons by it.
const (
	blockHead    = "case_head"
	blockInfo    = "case_info"
	blockOrders  = "case_orders"
	blockHistory = "case_history"
	blockStatus  = "case_status"
	blockActions = "case_actions"

	actionTake    = "case_take"
	actionResolve = "case_resolve"
)

// customerName is how staff see the customer.
func customerName(j *journey.Journey) string {
	switch {
	case j.Profile.Name != "":
		return j.Profile.Name
	case j.Profile.Username != "":
		return "@" + j.Profile.Username
	}
	return j.ID
}

// customerChannel is the channel the case came from, or the customer's
// first known one for a case opened outside a conversation.
func customerChannel(c bot.Case) string {
	if c.Channel != "" {
		return c.Channel
	}
	names := make([]string, 0, len(c.Journey.Profile.Addresses))
	for n := range c.Journey.Profile.Addresses {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "unknown"
	}
	return names[0]
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// caseBlocks is the case message: who, where, stage, orders, why, the last
// messages, its status and the buttons.
func caseBlocks(c bot.Case, afterHours string) []slack.Block {
	j := c.Journey
	name := customerName(j)
	ch := customerChannel(c)
	head := slack.NewHeaderBlock(plain(clip("Case: "+name+" ("+ch+")", 150)), slack.HeaderBlockOptionBlockID(blockHead))
	who := "*Customer*\n" + esc(name) + " · `" + esc(j.ID) + "`"
	if j.Profile.Username != "" && ch == "telegram" {
		who += "\n@" + esc(j.Profile.Username)
	}
	stage := j.Stage
	if stage == "" {
		stage = "—"
	}
	fields := []*slack.TextBlockObject{
		mrkdwn(clip(who, 2000)),
		mrkdwn("*Channel*\n" + esc(ch)),
		mrkdwn("*Stage*\n" + esc(stage)),
		mrkdwn(clip("*Reason*\n"+esc(c.Reason), 2000)),
	}
	info := slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID(blockInfo))
	orders := slack.NewSectionBlock(mrkdwn(clip("*Recent orders*\n"+ordersText(j), 3000)), nil, nil, slack.SectionBlockOptionBlockID(blockOrders))
	history := slack.NewSectionBlock(mrkdwn(historyText(c.History)), nil, nil, slack.SectionBlockOptionBlockID(blockHistory))
	status := "⏳ Waiting for someone to take over"
	if afterHours != "" {
		status += " · outside support hours: the customer was told we answer " + afterHours
	}
	return []slack.Block{head, info, orders, history, statusBlock(status), actionsBlock(j.ID, true)}
}

func statusBlock(s string) slack.Block {
	return slack.NewContextBlock(blockStatus, mrkdwn(clip(s, 3000)))
}

// actionsBlock has Take over (while unclaimed) and Resolve.
func actionsBlock(customer string, take bool) slack.Block {
	var els []slack.BlockElement
	if take {
		els = append(els, slack.NewButtonBlockElement(actionTake, customer, plain("Take over")).WithStyle(slack.StylePrimary))
	}
	els = append(els, slack.NewButtonBlockElement(actionResolve, customer, plain("Resolve")).WithConfirm(
		slack.NewConfirmationBlockObject(plain("Resolve this case?"),
			plain("The bot resumes and the customer gets the satisfaction survey."), plain("Resolve"), plain("Cancel"))))
	return slack.NewActionBlock(blockActions, els...)
}

// withStatus returns blocks with the status replaced and the buttons
// replaced by actions (nil drops them).
func withStatus(blocks []slack.Block, status string, actions slack.Block) []slack.Block {
	out := make([]slack.Block, 0, len(blocks)+1)
	for _, b := range blocks {
		switch b.ID() {
		case blockStatus, blockActions:
			continue
		}
		out = append(out, b)
	}
	out = append(out, statusBlock(status))
	if actions != nil {
		out = append(out, actions)
	}
	return out
}

func ordersText(j *journey.Journey) string {
	if len(j.Orders) == 0 {
		return "_no orders_"
	}
	os := append([]journey.Order(nil), j.Orders...)
	sort.SliceStable(os, func(a, b int) bool { return os[a].Created > os[b].Created })
	var b strings.Builder
	for i, o := range os {
		if i == 3 {
			fmt.Fprintf(&b, "_and %d older_\n", len(os)-3)
			break
		}
		status := o.Status
		if status == "" {
			status = "unknown"
		}
		fmt.Fprintf(&b, "• `#%s` *%s*", esc(o.ID), esc(status))
		var items []string
		for _, it := range o.Items {
			if it.Qty > 1 {
				items = append(items, fmt.Sprintf("%s ×%d", it.Name, it.Qty))
			} else {
				items = append(items, it.Name)
			}
		}
		if len(items) > 0 {
			b.WriteString(" — " + esc(clip(strings.Join(items, ", "), 200)))
		}
		if o.Total > 0 {
			fmt.Fprintf(&b, " — %s %.2f", esc(o.Currency), o.Total)
		}
		if o.Created > 0 {
			b.WriteString(" — " + time.Unix(o.Created, 0).UTC().Format("2006-01-02"))
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var fromIcon = map[string]string{"customer": "👤", "bot": "🤖", "staff": "🧑‍💼", "event": "📦"}

// speaker is the icon of a history line, and for a text the language model
// wrote (what the customer received in place of the script's), a mark
// saying so.
func speaker(h journey.HistoryEntry) string {
	icon := fromIcon[h.From]
	if icon == "" {
		icon = "•"
	}
	if h.Model {
		icon += " _(model)_"
	}
	return icon
}

// historyText is the last messages, newest last, within a section's 3000
// characters.
func historyText(h []journey.HistoryEntry) string {
	const head = "*Last messages*\n"
	if len(h) == 0 {
		return head + "_none_"
	}
	if len(h) > 8 {
		h = h[len(h)-8:]
	}
	var lines []string
	budget := 3000 - len(head)
	for i := len(h) - 1; i >= 0; i-- { // keep the newest when space runs out
		line := "> " + speaker(h[i]) + " " + esc(clip(strings.ReplaceAll(h[i].Text, "\n", " "), 300))
		if budget-len(line)-1 < 0 {
			break
		}
		budget -= len(line) + 1
		lines = append([]string{line}, lines...)
	}
	return head + strings.Join(lines, "\n")
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// esc escapes text for Slack mrkdwn (only &, < and > are special).
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var slackRef = regexp.MustCompile(`<([^<>|]+)(?:\|([^<>]*))?>`)

// plainText turns a staff member's Slack message into what the customer
// reads: links as "label (url)", mentions by name, entities unescaped.
func plainText(s string, name func(user string) string) string {
	s = slackRef.ReplaceAllStringFunc(s, func(m string) string {
		p := slackRef.FindStringSubmatch(m)
		target, label := p[1], p[2]
		switch {
		case strings.HasPrefix(target, "@"):
			if label != "" {
				return "@" + label
			}
			return "@" + name(target[1:])
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return "#" + target[1:]
		case strings.HasPrefix(target, "!"):
			return "" // @here, @channel: meant for staff
		case strings.HasPrefix(target, "mailto:"):
			return strings.TrimPrefix(target, "mailto:")
		case label != "" && label != target:
			return label + " (" + target + ")"
		}
		return target
	})
	return strings.TrimSpace(strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s))
}

// duration is a short human duration: 45s, 14m, 2h05m, 3d4h.
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
