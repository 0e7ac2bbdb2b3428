package journey

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisURLForms(t *testing.T) {
	cases := []struct {
		url  string
		want string
	}{
		{"redis://127.0.0.1:6379/2", "*redis.Client"},
		{"redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", "*redis.ClusterClient"},
		{"redis://127.0.0.1:7000?cluster=true", "*redis.ClusterClient"},
		{"redis://127.0.0.1:26379?master_name=mymaster&addr=127.0.0.1:26380", "*redis.Client"},
		{"redis://:pw@127.0.0.1:26379/3?master_name=mymaster", "*redis.Client"},
	}
	for _, c := range cases {
		cl, err := clientFor(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		got := ""
		switch cl.(type) {
		case *redis.Client:
			got = "*redis.Client"
		case *redis.ClusterClient:
			got = "*redis.ClusterClient"
		}
		if got != c.want {
			t.Errorf("%s: client %s, want %s", c.url, got, c.want)
		}
		if strings.Contains(c.url, "/3?") {
			if o := cl.(*redis.Client).Options(); o.DB != 3 || o.Password != "pw" {
				t.Errorf("sentinel master options lost: db %d", o.DB)
			}
		}
		cl.Close()
	}
}

func TestOpenRedisDownNamesURLWithoutPassword(t *testing.T) {
	_, _, err := Open(context.Background(), "redis://user:s3cretpw@127.0.0.1:1/0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("no error for a Redis that does not answer")
	}
	if strings.Contains(err.Error(), "s3cretpw") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("error = %v", err)
	}
}

func TestOpenEmbeddedWarns(t *testing.T) {
	var logs strings.Builder
	c, closeFn, err := Open(context.Background(), "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "NOT durable") {
		t.Errorf("no durability warning: %s", logs.String())
	}
}

func TestBadRedisURLDoesNotEchoPassword(t *testing.T) {
	for _, raw := range []string{"redis://user:pa%ss@127.0.0.1:6379/0", "redis://user:s3cr3t@127.0.0.1:6379/notanumber",
		"redis://127.0.0.1:6379/notanumber?password=s3cr3t", "redis://s3cr3t@127.0.0.1:6379/notanumber"} {
		_, err := clientFor(raw)
		if err == nil {
			t.Errorf("%s: no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "pa%ss") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// A lone user ("redis://TOKEN@host", a password to go-redis) and password
// query values are hidden too.
func TestOpenRedisDownHidesEveryCredential(t *testing.T) {
	for _, raw := range []string{"redis://s3cretpw@127.0.0.1:1/0", "redis://127.0.0.1:1/0?password=s3cretpw", "redis://:s3cretpw@127.0.0.1:1/0?sentinel_password=s3cretpw"} {
		_, _, err := Open(context.Background(), raw, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			t.Fatalf("%s: no error for a Redis that does not answer", raw)
		}
		if strings.Contains(err.Error(), "s3cretpw") || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("error = %v", err)
		}
	}
}
