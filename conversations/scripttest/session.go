package scripttest

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

// DefaultStart is when a test starts unless it says: Monday 2026-03-02 10:00 -03:00.
var DefaultStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("-03", -3*3600))

// LoadCase reads a fixture in the format of script tests: a file holding
// one test (name, start, customer, steps), or a test file (tests: [...]),
// of which the test whose name contains name is used (the first when name
// is empty). It goes through the same decoding as `journeybot test`.
func LoadCase(path, name string) (*Case, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCase(path, src, name)
}

// ParseCase is LoadCase on the contents src of the file path.
func ParseCase(path string, src []byte, name string) (*Case, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a test (name, start, customer, steps) or a test file (tests: [...])", path)
	}
	root := doc.Content[0]
	// As strict as a test file: an unknown or misspelt key is an error.
	shape := reflect.TypeOf(Case{})
	if len(root.Content) >= 2 && root.Content[0].Value == "tests" {
		shape = reflect.TypeOf(File{})
	}
	check := &fixtureChecker{file: path}
	check.shape(root, shape, "a test")
	if len(check.probs) > 0 {
		return nil, check.probs
	}
	if len(root.Content) >= 2 && root.Content[0].Value == "tests" {
		var f File
		if err := root.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		for _, c := range f.Tests {
			if strings.Contains(c.Name, name) {
				return c, nil
			}
		}
		return nil, fmt.Errorf("%s: no test named %q", path, name)
	}
	var c Case
	if err := root.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &c, nil
}

// StartTime is when the case starts.
func (c *Case) StartTime() (time.Time, error) {
	if c.Start == "" {
		return DefaultStart, nil
	}
	t, err := time.Parse(time.RFC3339, c.Start)
	if err != nil {
		return time.Time{}, fmt.Errorf("start: %v", err)
	}
	return t, nil
}

// Session is one customer played as a script test plays it — the real bot
// and store on rdb, a simulated clock, a recording channel — for commands
// that are not tests (journeybot preview). Expectations are not checked.
type Session struct {
	Bot   *bot.Bot
	Store *journey.Store
	Clock *simclock.Clock
	ID    string

	rec         *channeltest.Recorder
	seq         int
	lastButtons []channels.Button
}

// NewSession seeds c's customer in rdb (an empty embedded Redis) at the
// case's start, running the scripts s with the engine options opt
// (staff_available, when the case gives it, decides staff.available).
func NewSession(ctx context.Context, rdb redis.UniversalClient, s *conversations.Scripts, opt conversations.Options, c *Case) (*Session, error) {
	start, err := c.StartTime()
	if err != nil {
		return nil, err
	}
	if c.StaffAvailable != nil { // the fixture says; else as opt has it
		opt.NoStaff = !*c.StaffAvailable
	}
	x := newSession(rdb, s, opt, start, c.Customer.ID)
	if err := seed(ctx, x.Store, x.ID, c.Customer, start); err != nil {
		return nil, err
	}
	return x, nil
}

// NewSessionFrom starts a session from a copy of a stored journey (a real
// customer's), at now; its messages reach the recording channel whatever
// channels the customer has.
func NewSessionFrom(ctx context.Context, rdb redis.UniversalClient, s *conversations.Scripts, opt conversations.Options, j *journey.Journey, now time.Time) (*Session, error) {
	x := newSession(rdb, s, opt, now, j.ID)
	_, err := x.Store.Update(ctx, x.ID, "", now, func(cur *journey.Journey) ([]journey.HistoryEntry, error) {
		*cur = *j.Clone()
		cur.Profile.Addresses = map[string]string{"test": x.ID}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	_, err = x.Store.Link(ctx, "test", x.ID, x.ID, x.Clock.Now())
	return x, err
}

func newSession(rdb redis.UniversalClient, s *conversations.Scripts, opt conversations.Options, start time.Time, id string) *Session {
	if id == "" {
		id = "customer-1"
	}
	clk := simclock.New(start)
	store := journey.NewStore(rdb, journey.Options{})
	rec := channeltest.New("test")
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(s, opt), Now: clk.Now})
	b.AddChannel(rec)
	return &Session{Bot: b, Store: store, Clock: clk, ID: id, rec: rec}
}

// Play runs one step of a test (say, press, command, event, advance, staff)
// and returns the messages it caused.
func (x *Session) Play(ctx context.Context, st *Step) ([]channels.Outbound, error) {
	x.seq++
	in := channels.Inbound{Channel: "test", Address: x.ID, ID: "s" + strconv.Itoa(x.seq), At: x.Clock.Now()}
	var err error
	switch {
	case st.Say != nil:
		in.Kind, in.Text = channels.KindText, *st.Say
		err = x.Bot.HandleInbound(ctx, in)
	case st.Press != "":
		data, ok := findButton(st.Press, x.lastButtons)
		if !ok {
			return nil, fmt.Errorf("no button %q to press; the last buttons were: %s", st.Press, strings.Join(labels(x.lastButtons), ", "))
		}
		in.Kind, in.Data, in.Text = channels.KindButton, data, st.Press
		err = x.Bot.HandleInbound(ctx, in)
	case st.Command != "":
		name, args, _ := strings.Cut(strings.TrimPrefix(st.Command, "/"), " ")
		in.Kind, in.Command, in.Args = channels.KindCommand, strings.ToLower(name), args
		err = x.Bot.HandleInbound(ctx, in)
	case st.Event != nil:
		err = sendEvent(ctx, x.Bot, x.ID, x.seq, st.event, x.Clock.Now())
	case st.Advance != "":
		err = advance(ctx, x.Bot, x.Store, x.Clock, st.Advance)
	case st.Staff == "take":
		_, _, err = x.Bot.Claim(ctx, x.ID, "U1", "Maria Souza")
	case st.Staff == "resolve":
		_, err = x.Bot.Resolve(ctx, x.ID, "Maria Souza")
	case st.Staff != "":
		err = fmt.Errorf("staff: %q (want take or resolve)", st.Staff)
	case st.StaffSays != "":
		err = x.Bot.StaffReply(ctx, x.ID, "Maria Souza", st.StaffSays)
	}
	return x.take(), err
}

func (x *Session) take() []channels.Outbound {
	got := x.rec.Take()
	for i := len(got) - 1; i >= 0; i-- {
		if len(got[i].Buttons) > 0 {
			x.lastButtons = got[i].Buttons
			break
		}
	}
	return got
}

// Until moves the clock to t, waking the customer at each due time on the
// way as the scheduler would, and calls fn with the time and the messages
// of each wake (none when a wake only moved the journey, a stage change).
func (x *Session) Until(ctx context.Context, t time.Time, fn func(at time.Time, msgs []channels.Outbound)) error {
	for i := 0; i < 10000; i++ {
		due, ok, err := x.Store.NextWake(ctx)
		if err != nil {
			return err
		}
		if !ok || due > t.Unix() {
			break
		}
		if at := time.Unix(due, 0).In(t.Location()); at.After(x.Clock.Now()) {
			x.Clock.Set(at)
		}
		if _, err := x.Bot.Tick(ctx); err != nil {
			return err
		}
		fn(x.Clock.Now(), x.take())
	}
	x.Clock.Set(t)
	if _, err := x.Bot.Tick(ctx); err != nil {
		return err
	}
	if got := x.take(); len(got) > 0 {
		fn(x.Clock.Now(), got)
	}
	return nil
}

// Advance moves clk forward by d (a duration such as 3d), waking the
// customers of store at each due time on the way, as a test's advance step.
func Advance(ctx context.Context, b *bot.Bot, store *journey.Store, clk *simclock.Clock, d string) error {
	return advance(ctx, b, store, clk, d)
}

// Seed writes the starting customer c under id in store at now, linked to
// the test channel, as a script test starts it.
func Seed(ctx context.Context, store *journey.Store, id string, c Customer, now time.Time) error {
	return seed(ctx, store, id, c, now)
}
