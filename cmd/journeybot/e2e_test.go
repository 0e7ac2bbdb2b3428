package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"journeybot/bot"
	"journeybot/internal/redistest"
)

// These tests start the real binary.

var buildOnce struct {
	sync.Once
	path string
	err  error
}

func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "journeybot-e2e")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "journeybot")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lineWaiter collects a stream and waits for a text to appear in it.
type lineWaiter struct {
	mu   sync.Mutex
	buf  strings.Builder
	cond chan struct{}
	eof  chan struct{} // closed once the pipe is read to its end
}

func watch(r io.Reader) *lineWaiter {
	w := &lineWaiter{cond: make(chan struct{}, 1), eof: make(chan struct{})}
	go func() {
		defer close(w.eof)
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			w.mu.Lock()
			w.buf.WriteString(s)
			w.mu.Unlock()
			select {
			case w.cond <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return w
}

func (w *lineWaiter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

func (w *lineWaiter) waitFor(t *testing.T, s string) { t.Helper(); w.waitCount(t, s, 1) }

// waitCount waits until s appears n times.
func (w *lineWaiter) waitCount(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for strings.Count(w.String(), s) < n {
		select {
		case <-w.cond:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%q never appeared; output so far:\n%s", s, w.String())
		}
	}
}

type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *lineWaiter
	stderr *lineWaiter
	done   chan error
}

func start(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	// Processes in parallel cannot all take metrics.addr's default port: a
	// test that reads /metrics names its own address.
	if !beforeRun && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "JOURNEYBOT_METRICS_ADDR=") }) {
		env = append(env, "JOURNEYBOT_METRICS_ADDR=127.0.0.1:0")
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir() // no stray journeybot.yaml
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, stdout: watch(out), stderr: watch(errp), done: make(chan error, 1)}
	// cmd.Wait closes the pipes: read them to their end first, or the last
	// lines a failing process printed can be lost.
	go func() {
		<-p.stdout.eof
		<-p.stderr.eof
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not exit; stderr:\n%s", p.stderr.String())
		return nil
	}
}

func runtimeScripts(t *testing.T) string {
	d, err := filepath.Abs("../../bot/testdata/runtime")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitStatus(t testing.TB, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(t, url)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d %q, want %d", url, code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunConsoleConversationMetricsAndGracefulShutdown(t *testing.T) {
	r := redistest.New(t)
	addr, maddr := freeAddr(t), freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_METRICS_ADDR=" + maddr,
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	waitStatus(t, "http://"+addr+"/readyz", 200)
	fmt.Fprintln(p.stdin, "oi")
	p.stdout.waitFor(t, "Olá, cliente!")
	p.stdout.waitFor(t, "[1] Pedido")
	fmt.Fprintln(p.stdin, "1")
	p.stdout.waitFor(t, "Sem pedidos.")
	body := waitStatus(t, "http://"+maddr+"/metrics", 200)
	if !strings.Contains(body, `journeybot_inbound_messages_total{channel="console"} 2`) {
		t.Errorf("metrics do not count the two messages:\n%s", body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	for _, s := range []string{"shutting down", "stopped"} {
		if !strings.Contains(p.stderr.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, p.stderr.String())
		}
	}
}

// Redis lost while running: /readyz says 503; back again: 200.
func TestReadyzFollowsRedis(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := freeAddr(t)
	start(t, []string{"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=redis://" + m.Addr()}, "run")
	waitStatus(t, "http://"+addr+"/readyz", 200)
	m.Close()
	waitStatus(t, "http://"+addr+"/readyz", 503)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+addr+"/readyz", 200)
}

func TestBadConfigExitsBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bot.yaml")
	os.WriteFile(file, []byte("redis:\n  url: redis://127.0.0.1:6379/0\ntelegram:\n  tokn: \"123:secret-token\"\n"), 0o600)
	cases := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"unknown key", []string{"run", "--config", file}, nil, []string{file, "telegram.tokn", "did you mean telegram.token"}},
		{"bad duration", []string{"run"}, []string{"JOURNEYBOT_LLM_TIMEOUT=soon"}, []string{"llm.timeout", "not a duration"}},
		{"webhook without secret", []string{"run"}, []string{"JOURNEYBOT_TELEGRAM_TOKEN=1:secret-token", "JOURNEYBOT_TELEGRAM_MODE=webhook", "JOURNEYBOT_TELEGRAM_WEBHOOK_URL=https://bot.example/telegram/webhook"}, []string{"telegram.webhook_secret", "required"}},
		{"redis down", []string{"run"}, []string{"JOURNEYBOT_REDIS_URL=redis://127.0.0.1:1/0", "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t)}, []string{"redis at redis://127.0.0.1:1/0 does not answer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0; output:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "secret-token") {
				t.Errorf("a secret leaked:\n%s", out)
			}
		})
	}
}

func TestLintCommandReportsPositions(t *testing.T) {
	out, err := exec.Command(binary(t), "lint", "../../conversations/testdata/bad").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1", err)
	}
	if !strings.Contains(string(out), "bad.yaml:23:9: intent \"helo\" does not exist") {
		t.Errorf("lint output:\n%s", out)
	}
	out, err = exec.Command(binary(t), "lint", runtimeScripts(t)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok:") {
		t.Errorf("clean scripts: %v\n%s", err, out)
	}
}

// `journeybot chat` with the shipped scripts, in both languages.
func TestChatWithDefaultScripts(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	for _, c := range []struct{ lang, hello, want string }{
		{"pt-BR", "oi", "Como posso ajudar"},
		{"en", "hello", "How can I help"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			p := start(t, []string{"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL="}, "chat", "--lang", c.lang, "--name", "Ana")
			fmt.Fprintln(p.stdin, c.hello)
			p.stdout.waitFor(t, c.want)
			fmt.Fprintln(p.stdin, "1") // the first menu button: the bot answers again
			p.stdout.waitCount(t, "bot:", 2)
			p.stdin.Close()
			if err := p.wait(t); err != nil {
				t.Fatalf("chat exit: %v\n%s", err, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "NOT durable") {
				t.Errorf("no warning about the embedded Redis:\n%s", p.stderr.String())
			}
		})
	}
}

// `journeybot stats` prints the day's figures that the bot counted in Redis.
func TestStatsCommand(t *testing.T) {
	r := redistest.New(t)
	sp, _ := time.LoadLocation("America/Sao_Paulo") // send.default_timezone
	stats := bot.NewStats(r.Client, r.Prefix, nil).InZone(sp)
	for field, n := range map[string]int64{"inbound": 12, "outbound": 15, "nudge.sent": 3, "survey.nps=10": 2, "survey.nps=3": 1, "survey.csat=5": 1, "escalated": 1} {
		stats.Add(field, n)
	}
	if err := stats.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "stats", "--days", "2")
	cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL="+r.URL, "JOURNEYBOT_REDIS_PREFIX="+r.Prefix)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	// The line of the day the figures were flushed (either of the two days
	// shown, should midnight pass during the test): 12 in, 15 out, 3 nudges,
	// NPS (2 promoters - 1 detractor)/3 = +33, CSAT 100%.
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "+33 (3)") {
			line = l
		}
	}
	for _, want := range []string{" 12 ", " 15 ", " 3 ", "+33 (3)", "100% (1)"} {
		if !strings.Contains(line+" ", want) {
			t.Errorf("the day's line %q lacks %q\n%s", line, want, out)
		}
	}
}
