package journey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

func TestReviseHistory(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Unix(1772460000, 0)
	_, err := s.Commit(ctx, "c1", "m1", now, func(j *journey.Journey) (journey.Change, error) {
		return journey.Change{History: []journey.HistoryEntry{
			{At: now.Unix(), From: "customer", Text: `he wrote "msg":"abc"`},
			{At: now.Unix(), From: "bot", Text: "Não entendi.", Msg: "abc"},
			{At: now.Unix(), From: "bot", Text: "Mais alguma coisa?"},
		}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	model := journey.HistoryEntry{At: now.Unix() + 2, From: "bot", Text: "Lave à mão.", Msg: "abc", Model: true}
	if err := s.ReviseHistory(ctx, "c1", model); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "c1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Text != `he wrote "msg":"abc"` || h[1] != model || h[2].Text != "Mais alguma coisa?" {
		t.Fatalf("history = %+v", h)
	}
	if err := s.ReviseHistory(ctx, "c1", journey.HistoryEntry{Msg: "gone", Text: "x"}); !errors.Is(err, journey.ErrNoHistoryLine) {
		t.Fatalf("unknown message: err = %v, want ErrNoHistoryLine", err)
	}
}
