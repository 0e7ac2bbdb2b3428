package bot

import (
	"context"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/journey"
)

// after does what a committed update asks of staff: count its notes, open
// the case it escalated, or mirror the customer's message into the open one.
// in is the customer's message being answered, nil for bot-initiated work.
func (b *Bot) after(ctx context.Context, j *journey.Journey, res *handled, channel string, in *channels.Inbound) {
	for _, n := range res.Notes {
		b.metrics.note(n)
	}
	b.metrics.stats.AddCounts(res.counts)
	if b.experiments != nil {
		for _, h := range res.Experiments {
			b.experiments.Record(h)
		}
	}
	if res.Escalated != "" {
		b.openCase(ctx, j, channel, res.Escalated)
	} else if res.Mirror && in != nil && j.Case != nil && j.Case.Ref != "" {
		// Every kind of message reaches staff; media as a notice ("[photo]").
		if s := b.staffDesk(); s != nil {
			if err := s.Mirror(ctx, j.Case.Ref, Case{Journey: j, Channel: channel}, describe(*in)); err != nil {
				b.log.Warn("mirror to staff failed", "customer", j.ID, "err", err)
			}
		}
	}
}

// handleWith runs the engine on j inside a commit. A case it opens gets a
// retry timer in the same commit, so a process that dies before bringing the
// case to staff leaves it to be brought a minute later (recording the case's
// reference cancels the timer).
//
// It also counts the marketers' figures of what the engine did (package
// insight), keeping their per-customer state in j: the counts ride along
// in the result and are added to the buffered stats by after, once the
// commit is in Redis (a commit retried after a conflict counts once).
func (b *Bot) handleWith(j *journey.Journey, in conversations.Input, now time.Time) *handled {
	before := b.figures.Snapshot(j, in)
	res := b.engine.Handle(j, in, now)
	if res.Escalated != "" && b.staffDesk() != nil {
		j.SetTimer(journey.Timer{Key: conversations.CaseRetryKey, Due: now.Add(time.Minute).Unix()})
	}
	return &handled{Result: res, counts: b.figures.Observe(before, j, in, res, now)}
}

// handled is what the engine did with an input, and the figures it counts.
type handled struct {
	*conversations.Result
	counts []insight.Count
}

// openCase brings a new case to staff and records its reference.
func (b *Bot) openCase(ctx context.Context, j *journey.Journey, channel, reason string) {
	b.metrics.casesOpened.Inc()
	s := b.staffDesk()
	if s == nil {
		b.log.Info("case opened but no staff channel is configured", "customer", j.ID, "reason", reason)
		return
	}
	hist, err := b.store.History(ctx, j.ID, 10)
	if err != nil {
		b.log.Warn("history for case", "customer", j.ID, "err", err)
	}
	ref, err := s.OpenCase(ctx, Case{Journey: j, Reason: reason, Channel: channel, History: hist})
	if err != nil {
		// The customer was told a person is coming: try again in a minute
		// (a timer in the journey, so a restart does not forget it).
		b.log.Error("open case failed; retrying in a minute", "customer", j.ID, "err", err)
		b.metrics.errors.WithLabelValues("open_case").Inc()
		retry := b.now().Add(time.Minute).Unix()
		_, err := b.store.Update(ctx, j.ID, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			if j.Case == nil || j.Case.Ref != "" {
				return nil, journey.ErrNoChange
			}
			j.SetTimer(journey.Timer{Key: conversations.CaseRetryKey, Due: retry})
			return nil, nil
		})
		if err != nil {
			b.log.Error("schedule case retry failed", "customer", j.ID, "err", err)
		}
		return
	}
	_, err = b.store.Update(ctx, j.ID, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		if j.Case == nil {
			return nil, journey.ErrNoChange
		}
		j.Case.Ref = ref
		j.CancelTimers(func(t journey.Timer) bool { return t.Key == conversations.CaseRetryKey })
		return nil, nil
	})
	if err != nil {
		b.log.Error("record case reference failed", "customer", j.ID, "err", err)
	}
	j.Case.Ref = ref
}
