package slack

import (
	"context"
	"strings"
	"testing"
)

// An erase leaves a note in the customer's case thread (the thread stays:
// staff messages are the business's record) and no case record in Redis.
func TestEraseNotesTheCaseThread(t *testing.T) {
	e := newEnv(t, setup{})
	c := e.openCase()
	er, err := e.bot.Erase(e.ctx, "telegram:42", "operator")
	if err != nil {
		t.Fatal(err)
	}
	if er.Customer != "cust-1" || len(er.Cases) != 1 || er.Cases[0] != c.TS {
		t.Fatalf("erased = %+v", er)
	}
	thread := e.sl.Thread(e.channel, c.TS)
	if len(thread) == 0 || !strings.Contains(thread[len(thread)-1].Text, "data was erased") {
		t.Fatalf("thread = %+v", thread)
	}
	ctx := context.Background()
	iter := e.r.Client.Scan(ctx, 0, e.r.Prefix+":slack:case:*", 100).Iterator()
	for iter.Next(ctx) {
		t.Errorf("case record left: %s", iter.Val())
	}
}
