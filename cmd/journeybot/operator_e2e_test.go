package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"journeybot/internal/redistest"
)

// A Redis that answers with a refusal is named with its answer, in one line,
// not as a Redis that "does not answer".
func TestRedisRefusalIsOneLineWithItsAnswer(t *testing.T) {
	srv := redistest.StartServer(t)
	cases := []struct {
		name, url string
		want      []string
	}{
		{"wrong password", "redis://bob:s3cretpw@" + srv.Addr + "/0", []string{"answered: WRONGPASS", "user and password"}},
		{"no such database", "redis://" + srv.Addr + "/99", []string{"answered: ERR DB index is out of range", "databases"}},
		{"nobody there", "redis://127.0.0.1:1/0", []string{"does not answer", "connection refused"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), "run")
			cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL="+c.url, "JOURNEYBOT_SCRIPTS_DIR="+runtimeScripts(t))
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			text := strings.TrimSpace(string(out))
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			// Script warnings may come first; about Redis, one line.
			n := 0
			for _, l := range strings.Split(text, "\n") {
				if strings.Contains(strings.ToLower(l), "redis") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d lines about Redis, want 1:\n%s", n, text)
			}
			if strings.Contains(text, "s3cretpw") {
				t.Errorf("the password leaked:\n%s", text)
			}
		})
	}
}

// Redis lost and back while running: one line each way.
func TestRedisBackIsLogged(t *testing.T) {
	srv := redistest.StartServer(t)
	addr := freeAddr(t)
	p := start(t, []string{"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + srv.URL}, "run")
	waitStatus(t, "http://"+addr+"/readyz", 200)
	srv.Kill()
	p.stderr.waitFor(t, "redis lost")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	p.stderr.waitFor(t, "redis is back")
	if n := strings.Count(p.stderr.String(), "redis lost"); n != 1 {
		t.Errorf("redis lost logged %d times, want once:\n%s", n, p.stderr.String())
	}
}
