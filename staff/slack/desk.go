// Package slack is the support staff's desk in Slack. It implements
// bot.Staff: a case is one Block Kit message in the support channel, and
// everything about it happens in that message's thread. Staff take cases
// over and resolve them with buttons, talk to the customer by replying in
// the thread, and use /journey to look customers up, pause the bot for one
// of them, or read today's figures.
//
// Input arrives over Socket Mode (slack.app_token) or the HTTP Events API
// (slack.signing_secret). Either way the desk acknowledges at once and does
// the work on a few workers, each case's work in order on one of them.
package slack

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/slack-go/slack"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/config"
	"journeybot/insight"
	"journeybot/journey"
)

// Options build a Desk. BotToken, Channel and Bot are required.
type Options struct {
	BotToken string
	// AppToken enables Socket Mode; without it the desk serves the HTTP
	// endpoints (Mount) and SigningSecret verifies their requests.
	AppToken, SigningSecret string
	// APIURL is the Web API base with its trailing slash ("" = Slack's).
	APIURL string
	// Channel is the support channel, by id or name.
	Channel string
	// TeamID is the only workspace whose members may act ("" = the bot's own).
	TeamID string
	// StaffUserIDs are the members who may act. Without them, nobody may,
	// unless StaffFromChannel makes every member of the support channel
	// (from the desk's own workspace) staff.
	StaffUserIDs     []string
	StaffFromChannel bool
	// ClaimTimeout is how long a case may wait for someone before it is
	// raised again (10m).
	ClaimTimeout time.Duration
	// Hours are the support hours (nil = always open), in TimeZone.
	Hours    *config.Hours
	TimeZone *time.Location
	Bot      Runtime
	// Stats and Figures give /journey stats its figures (optional, both):
	// Stats is flushed first, so the last second's counts are in.
	Stats   *bot.Stats
	Figures *insight.Reader
	Log     *slog.Logger
	// Now is the clock for hours and re-raising (the bot's clock by default).
	Now        func() time.Time
	HTTPClient *http.Client
	// Workers run the work of cases in parallel, each case on one (8).
	Workers int
	// Limiter paces posts to one message a second per channel across
	// processes (ratelimit.Limiter); nil posts without pacing.
	Limiter RateLimiter
}

// Runtime is what the desk needs of the bot (*bot.Bot is one): the staff
// actions, the events it raises (case.after_hours), the store its own case
// records live in, and the clock.
type Runtime interface {
	Claim(ctx context.Context, customerID, staffID, staffName string) (won bool, holder string, err error)
	StaffReply(ctx context.Context, customerID, staffName, text string) error
	Resolve(ctx context.Context, customerID, staffName string) (time.Duration, error)
	SetPaused(ctx context.Context, customerID string, paused bool) error
	HandleEvent(ctx context.Context, ev journey.Event) (*bot.EventOutcome, error)
	Store() *journey.Store
	Now() time.Time
}

// RateLimiter spaces events under a name across processes.
type RateLimiter interface {
	Wait(ctx context.Context, name string, perSecond float64) error
}

// Desk is the Slack staff desk. It is also a channels.Channel so the
// runtime starts and stops it like the others, but it never reaches
// customers itself: Send always fails.
type Desk struct {
	o         Options
	api       *slack.Client
	store     *journey.Store
	rdb       redis.UniversalClient
	log       *slog.Logger
	now       func() time.Time
	team      string // the workspace allowed to act
	botID     string // this app's bot id and user: its own posts are ignored
	botUser   string
	names     *lru.Cache[string, string]     // user id -> display name
	staff     *lru.Cache[string, membership] // user id -> membership (StaffFromChannel), for a minute
	queues    []chan job
	stop      chan struct{}
	stopOnce  sync.Once
	bg        sync.WaitGroup // after-hours notices in flight
	work      context.Context
	cancelWrk context.CancelFunc
}

type job struct {
	what string
	fn   func(ctx context.Context) error
}

// New connects to Slack (auth.test) and returns the desk. Call Run to start
// its workers, and Mount (HTTP) when there is no app token.
func New(ctx context.Context, o Options) (*Desk, error) {
	if o.Bot == nil || o.BotToken == "" || o.Channel == "" {
		return nil, errors.New("slack desk: bot token, support channel and bot are required")
	}
	if len(o.StaffUserIDs) == 0 && !o.StaffFromChannel {
		return nil, errors.New("slack desk: no staff defined: list the staff's user ids, or make the support channel's members staff")
	}
	if o.ClaimTimeout <= 0 {
		o.ClaimTimeout = 10 * time.Minute
	}
	if o.TimeZone == nil {
		o.TimeZone = time.UTC
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = o.Bot.Now
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	opts := []slack.Option{}
	if o.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	if o.HTTPClient == nil {
		// slack-go's default client has no timeout, and OpenCase and Mirror
		// run while the bot holds the customer's lock.
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	opts = append(opts, slack.OptionHTTPClient(o.HTTPClient))
	if o.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(o.AppToken))
	}
	d := &Desk{
		o: o, api: slack.New(o.BotToken, opts...), store: o.Bot.Store(), log: o.Log.With("channel", "slack"),
		now: o.Now, stop: make(chan struct{}),
	}
	d.rdb = d.store.Redis()
	// Bounded like every cache of the process: anyone in a shared channel
	// may post, and each new user would otherwise stay for good.
	d.names, _ = lru.New[string, string](slackUsersCached)
	d.staff, _ = lru.New[string, membership](slackUsersCached)
	d.work, d.cancelWrk = context.WithCancel(context.WithoutCancel(ctx))
	auth, err := d.api.AuthTestContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack auth.test (check slack.bot_token and slack.api_url): %w", err)
	}
	d.botID, d.botUser, d.team = auth.BotID, auth.UserID, o.TeamID
	if d.team == "" {
		d.team = auth.TeamID
	}
	for range o.Workers {
		d.queues = append(d.queues, make(chan job, 256))
	}
	d.log.Info("slack desk connected", "team", auth.TeamID, "bot_user", auth.UserID, "socket_mode", o.AppToken != "")
	return d, nil
}

// Name is the desk's channel name.
func (d *Desk) Name() string { return "slack" }

// Send refuses: customers are not reached through the staff desk.
func (d *Desk) Send(ctx context.Context, m channels.Outbound) error {
	return errors.New("slack is the staff desk, not a customer channel")
}

// Run runs the workers, the re-raise loop and, with an app token, the
// Socket Mode connection, until ctx ends; then it finishes the work already
// accepted. The handler is unused: staff input goes to the bot's staff API.
func (d *Desk) Run(ctx context.Context, _ channels.Handler) error {
	var wg sync.WaitGroup
	for _, q := range d.queues {
		wg.Add(1)
		go func() { defer wg.Done(); d.worker(ctx, q) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.reraiseLoop(ctx) }()
	var err error
	if d.o.AppToken != "" {
		err = d.runSocket(ctx)
	} else {
		<-ctx.Done()
	}
	d.stopOnce.Do(func() { close(d.stop) })
	wg.Wait()
	d.bg.Wait()
	d.cancelWrk()
	return err
}

// enqueue hands work to the worker of key (a case's thread), so one case's
// work runs in order. It fails when the desk is stopping or overloaded; the
// caller then answers Slack with an error and Slack retries.
func (d *Desk) enqueue(key, what string, fn func(ctx context.Context) error) error {
	h := fnv.New32a()
	h.Write([]byte(key))
	q := d.queues[h.Sum32()%uint32(len(d.queues))]
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case q <- job{what: what, fn: fn}:
		return nil
	case <-d.stop:
		return errors.New("slack desk is stopping")
	case <-t.C:
		return errors.New("slack desk is overloaded")
	}
}

func (d *Desk) worker(ctx context.Context, q chan job) {
	for {
		select {
		case j := <-q:
			d.runJob(j)
		case <-ctx.Done():
			for { // finish what was accepted
				select {
				case j := <-q:
					d.runJob(j)
				default:
					return
				}
			}
		}
	}
}

// runJob runs accepted work on a context that outlives shutdown's signal,
// bounded by its own timeout.
func (d *Desk) runJob(j job) {
	ctx, cancel := context.WithTimeout(d.work, 30*time.Second)
	defer cancel()
	if err := j.fn(ctx); err != nil {
		d.log.Warn("slack work failed", "what", j.what, "err", err)
	}
}

// allowed reports whether a member may act on cases and use /journey.
// teams are what the request says of the workspace: the payload's and the
// user's own (user.team_id, which differs for a Slack Connect member); every
// one given must be the desk's.
func (d *Desk) allowed(ctx context.Context, user string, teams ...string) bool {
	for _, team := range teams {
		if team != "" && team != d.team {
			return false
		}
	}
	switch {
	case user == "":
		return false
	case len(d.o.StaffUserIDs) > 0:
		return slices.Contains(d.o.StaffUserIDs, user)
	case d.o.StaffFromChannel:
		return d.channelMember(ctx, user)
	}
	return false // no staff defined: nobody (the configuration refuses this)
}

type membership struct {
	ok    bool
	until time.Time
}

// slackUsersCached bounds the Slack users whose name and membership a desk
// remembers.
const slackUsersCached = 4096

// channelMember reports whether user is a member of the support channel and
// of the desk's workspace (a shared channel also holds other workspaces'
// members). Answers are kept a minute; a failure to ask is a no.
func (d *Desk) channelMember(ctx context.Context, user string) bool {
	if v, ok := d.staff.Get(user); ok && time.Now().Before(v.until) {
		return v.ok
	}
	ok, err := d.askMember(ctx, user)
	if err != nil {
		d.log.Warn("staff check failed; refusing", "user", user, "err", err)
		return false
	}
	d.staff.Add(user, membership{ok: ok, until: time.Now().Add(time.Minute)})
	return ok
}

func (d *Desk) askMember(ctx context.Context, user string) (bool, error) {
	u, err := d.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return false, fmt.Errorf("users.info: %w", err)
	}
	if u.TeamID != "" && u.TeamID != d.team || u.IsBot || u.Deleted {
		return false, nil
	}
	p := &slack.GetUsersInConversationParameters{ChannelID: d.o.Channel, Limit: 1000}
	for {
		ids, next, err := d.api.GetUsersInConversationContext(ctx, p)
		if err != nil {
			return false, fmt.Errorf("conversations.members: %w", err)
		}
		if slices.Contains(ids, user) {
			return true, nil
		}
		if next == "" {
			return false, nil
		}
		p.Cursor = next
	}
}

// inSupportChannel reports whether a slash command was typed in the
// support channel (slack.support_channel, an id or a name).
func (d *Desk) inSupportChannel(c slack.SlashCommand) bool {
	want := strings.TrimPrefix(d.o.Channel, "#")
	return c.ChannelID != "" && c.ChannelID == want || c.ChannelName != "" && c.ChannelName == want
}

// staffName is a member's name as customers and the thread see it.
func (d *Desk) staffName(ctx context.Context, user, fallback string) string {
	if v, ok := d.names.Get(user); ok {
		return v
	}
	u, err := d.api.GetUserInfoContext(ctx, user)
	if err != nil {
		d.log.Info("users.info failed; using the handle", "user", user, "err", err)
		if fallback != "" {
			return fallback
		}
		return user
	}
	name := u.RealName
	if name == "" {
		name = u.Profile.RealName
	}
	if name == "" {
		name = u.Name
	}
	d.names.Add(user, name)
	return name
}

// ---- case records in Redis ----

// caseRec is what the desk keeps per case thread: whose case it is and where.
type caseRec struct {
	TS, Channel, Customer string
	Opened                int64
}

const caseTTL = 90 * 24 * time.Hour

func (d *Desk) caseKey(ts string) string { return d.store.Key("slack", "case", ts) }
func (d *Desk) unclaimedKey() string     { return d.store.Key("slack", "unclaimed") }
func (d *Desk) openKey() string          { return d.store.Key("slack", "open") }

func (d *Desk) saveCase(ctx context.Context, r caseRec, due time.Time) error {
	_, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, d.caseKey(r.TS), "customer", r.Customer, "channel", r.Channel, "opened", r.Opened)
		p.Expire(ctx, d.caseKey(r.TS), caseTTL)
		p.ZAdd(ctx, d.unclaimedKey(), redis.Z{Score: float64(due.Unix()), Member: r.TS})
		p.ZAdd(ctx, d.openKey(), redis.Z{Score: float64(r.Opened), Member: r.TS})
		return nil
	})
	if err != nil {
		return fmt.Errorf("save case %s: %w", r.TS, err)
	}
	return nil
}

// loadCase returns the case of thread ts, or ok=false for a thread that is
// not a case.
func (d *Desk) loadCase(ctx context.Context, ts string) (caseRec, bool, error) {
	m, err := d.rdb.HGetAll(ctx, d.caseKey(ts)).Result()
	if err != nil {
		return caseRec{}, false, fmt.Errorf("load case %s: %w", ts, err)
	}
	if m["customer"] == "" {
		return caseRec{}, false, nil
	}
	opened, _ := strconv.ParseInt(m["opened"], 10, 64)
	return caseRec{TS: ts, Channel: m["channel"], Customer: m["customer"], Opened: opened}, true, nil
}

// claimed takes a case off the re-raise list.
func (d *Desk) claimed(ctx context.Context, ts string) {
	if err := d.rdb.ZRem(ctx, d.unclaimedKey(), ts).Err(); err != nil {
		d.log.Warn("unlist claimed case", "ts", ts, "err", err)
	}
}

// closed takes a resolved case off both lists.
func (d *Desk) closed(ctx context.Context, ts string) {
	_, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, d.unclaimedKey(), ts)
		p.ZRem(ctx, d.openKey(), ts)
		return nil
	})
	if err != nil {
		d.log.Warn("unlist resolved case", "ts", ts, "err", err)
	}
}

// current returns the customer's journey when the case of thread r is
// still their open case (a newer case has another thread). Right after the
// case message is posted the bot may not have recorded its ref yet; the
// opening time tells that case apart.
func (d *Desk) current(ctx context.Context, r caseRec) (*journey.Journey, bool, error) {
	j, found, err := d.store.Get(ctx, r.Customer)
	if err != nil {
		return nil, false, fmt.Errorf("journey of %s: %w", r.Customer, err)
	}
	if !found || j.Case == nil || j.Case.Ref != r.TS && (j.Case.Ref != "" || j.Case.Opened != r.Opened) {
		return j, false, nil
	}
	return j, true, nil
}
