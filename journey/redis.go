package journey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis named by rawURL and checks it answers. The URL forms:
//
//	redis://[user:pass@]host:port/db          one node (rediss:// for TLS)
//	redis://host:port?addr=host2:port&cluster=true   Redis Cluster
//	redis://host:port?master_name=mymaster&addr=...   Sentinel (addresses of the sentinels)
//
// With an empty URL it starts an embedded in-process Redis (miniredis) and
// logs that nothing is durable: same code path, nothing is kept on restart.
// The returned close function releases everything.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if rawURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		log.Warn("no redis.url configured: using an embedded in-process Redis; journey state is NOT durable and is lost when the bot stops")
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		return c, func() { c.Close(); m.Close() }, nil
	}
	c, err := clientFor(rawURL)
	if err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, nil, openError(redactURL(rawURL), err)
	}
	return c, func() { c.Close() }, nil
}

// openError tells a Redis that answered with a refusal (a wrong password, a
// database it does not have) from one that did not answer at all, on one line.
func openError(at string, err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return fmt.Errorf("redis at %s does not answer: %w", at, err)
	}
	msg := strings.TrimSpace(rerr.Error())
	hint := ""
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "AUTH"):
		hint = " (check the user and password in redis.url)"
	case strings.Contains(msg, "DB index is out of range"):
		hint = " (the /DB number in redis.url is beyond the server's databases setting)"
	}
	return fmt.Errorf("redis at %s answered: %s%s", at, msg, hint)
}

func clientFor(rawURL string) (redis.UniversalClient, error) {
	// Parse errors quote the whole URL, password included: never pass them on.
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("redis.url is not a valid URL (characters such as % @ / : in the password must be %-escaped)")
	}
	q := u.Query()
	switch {
	case q.Get("master_name") != "":
		// Sentinel: the URL's host and addr= are the sentinels; user,
		// password, /db and rediss:// apply to the master.
		opt, err := redis.ParseURL((&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: u.Path}).String())
		if err != nil {
			return nil, fmt.Errorf("redis.url %s: not a valid Redis URL", redactURL(rawURL))
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: q.Get("master_name"), SentinelAddrs: append([]string{u.Host}, q["addr"]...),
			Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
		}), nil
	case q.Get("cluster") == "true" || len(q["addr"]) > 0:
		q.Del("cluster")
		u.RawQuery = q.Encode()
		opt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis.url %s: not a valid cluster URL", redactURL(rawURL))
		}
		return redis.NewClusterClient(opt), nil
	default:
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis.url %s: not a valid Redis URL", redactURL(rawURL))
		}
		return redis.NewClient(opt), nil
	}
}

// redactURL hides a password in a Redis URL so it can be logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.ReplaceAll(u.String(), "xxxxx", "***")
}

// slogRedis sends go-redis's own messages (reconnects, pool errors) to the
// structured log instead of plain stderr lines.
type slogRedis struct{ log *slog.Logger }

func (l slogRedis) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// LogRedisTo routes the go-redis client's messages to log. go-redis keeps
// one logger per process, so this is set once, at start.
// A nil log discards them (while the first connection is checked, whose
// error says it all in one line).
func LogRedisTo(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	redis.SetLogger(slogRedis{log})
}
