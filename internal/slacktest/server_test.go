package slacktest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func TestWebAPI(t *testing.T) {
	s := New(t)
	ch := s.AddChannel("support")
	s.AddUser(User{ID: "U1", Name: "bia", RealName: "Bia Souza", FirstName: "Bia"})
	api := slack.New(s.BotToken, slack.OptionAPIURL(s.URL))
	ctx := context.Background()

	auth, err := api.AuthTestContext(ctx)
	if err != nil || auth.BotID != s.BotID || auth.UserID != s.BotUserID || auth.TeamID != s.TeamID {
		t.Fatalf("auth.test = %+v, %v", auth, err)
	}
	if _, err := slack.New("xoxb-wrong", slack.OptionAPIURL(s.URL)).AuthTestContext(ctx); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("wrong token: %v", err)
	}

	gotCh, ts, err := api.PostMessageContext(ctx, "#support", slack.MsgOptionText("case", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*hello*", false, false), nil, nil, slack.SectionBlockOptionBlockID("b1"))))
	if err != nil || gotCh != ch || ts == "" {
		t.Fatalf("postMessage = %q %q %v", gotCh, ts, err)
	}
	if _, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("case (taken)", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, ch, "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: ts})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "case (taken)" || msgs[1].Text != "reply" || msgs[0].BotID != s.BotID {
		t.Fatalf("replies = %+v, %v", msgs, err)
	}
	if len(msgs[0].Blocks.BlockSet) != 1 || msgs[0].Blocks.BlockSet[0].ID() != "b1" {
		t.Fatalf("blocks lost: %+v", msgs[0].Blocks)
	}
	u, err := api.GetUserInfoContext(ctx, "U1")
	if err != nil || u.Profile.FirstName != "Bia" || u.RealName != "Bia Souza" {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	if len(s.Thread(ch, ts)) != 1 || len(s.Ephemerals()) != 1 || s.Calls("chat.update") != 1 {
		t.Fatalf("recorded: thread %v, ephemerals %v", s.Thread(ch, ts), s.Ephemerals())
	}
	if _, _, err := api.PostMessageContext(ctx, "#nowhere", slack.MsgOptionText("x", false)); err == nil {
		t.Fatal("unknown channel accepted")
	}
}

func TestSocketMode(t *testing.T) {
	s := New(t)
	api := slack.New(s.BotToken, slack.OptionAPIURL(s.URL), slack.OptionAppLevelToken(s.AppToken))
	// A short ping interval proves the server pings: without pings the
	// client would drop the connection and the deliveries below would fail.
	sm := socketmode.New(api, socketmode.OptionPingInterval(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go sm.RunContext(ctx)
	got := make(chan socketmode.Event, 10)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sm.Events:
				switch ev.Type {
				case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive:
					sm.Ack(*ev.Request)
					got <- ev
				case socketmode.EventTypeSlashCommand:
					sm.Ack(*ev.Request, map[string]string{"text": "pong"})
					got <- ev
				}
			}
		}
	}()
	if err := s.DeliverEvent(ctx, "Ev1", MessageEvent(Message{Channel: "C1", TS: "1.1", ThreadTS: "1.0", User: "U1", Text: "hi"})); err != nil {
		t.Fatal(err)
	}
	ev := <-got
	inner, ok := ev.Data.(slackevents.EventsAPIEvent)
	if !ok {
		t.Fatalf("data %T", ev.Data)
	}
	msg, ok := inner.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || msg.Text != "hi" || msg.ThreadTimeStamp != "1.0" || inner.Data.(*slackevents.EventsAPICallbackEvent).EventID != "Ev1" {
		t.Fatalf("event = %+v", inner)
	}
	time.Sleep(3 * time.Second) // longer than the client's ping interval: still connected
	if _, err := s.Deliver(ctx, "interactive", s.BlockAction(User{ID: "U1", Name: "bia"}, "C1", "1.0", "actions", "take", "cust")); err != nil {
		t.Fatal(err)
	}
	ev = <-got
	cb := ev.Data.(slack.InteractionCallback)
	if len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].ActionID != "take" || cb.ActionCallback.BlockActions[0].BlockID != "actions" {
		t.Fatalf("interaction = %+v", cb.ActionCallback)
	}
	ack, err := s.Deliver(ctx, "slash_commands", s.SlashCommand(User{ID: "U1"}, "C1", "/journey", "stats"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Text string }
	if json.Unmarshal(ack, &p); p.Text != "pong" {
		t.Fatalf("ack payload %s", ack)
	}
	if c := (<-got).Data.(slack.SlashCommand); c.Command != "/journey" || c.Text != "stats" {
		t.Fatalf("command %+v", c)
	}
}
