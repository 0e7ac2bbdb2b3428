package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process of one test, on a free loopback port,
// that the test can stop, kill and start again (a Redis restart under load).
// Its data survive a restart: the append-only file is fsynced on every
// write, so what Redis acknowledged is there after a kill -9 too.
type Server struct {
	// Addr is host:port; it stays the same across restarts.
	Addr string
	// URL is redis://Addr/0, for a child process.
	URL string

	t   testing.TB
	dir string
	// volatile: no append-only file (a benchmark's server, which measures
	// Redis's CPU and memory, not the disk's).
	volatile bool
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
}

// StartServer starts a private redis-server for t and stops it when the test
// ends. redis-server must be on PATH (CI installs it); the test fails if not.
func StartServer(t testing.TB) *Server { t.Helper(); return startServer(t, false) }

// StartVolatileServer is StartServer without persistence, for benchmarks:
// nobody else's commands in its INFO figures, and no fsync in its timings.
func StartVolatileServer(t testing.TB) *Server { t.Helper(); return startServer(t, true) }

func startServer(t testing.TB, volatile bool) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redistest: redis-server is not installed (apt-get install redis-server): %v", err)
	}
	addr := freeAddr(t)
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", t: t, dir: t.TempDir(), volatile: volatile}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Kill() })
	return s
}

// freeAddr picks a free port below the kernel's ephemeral range (32768 and
// up on Linux): a port from that range may be taken, while the server is
// down for a restart, as the source port of some outgoing connection, and
// the server could not come back on it.
func freeAddr(t testing.TB) string {
	for range 100 {
		p := 10000 + rand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return l.Addr().String()
	}
	t.Fatal("redistest: no free port for a Redis server")
	return ""
}

// Start starts the server (after Stop or Kill) and waits until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redistest: server at %s is running", s.Addr)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	persist := []string{"--appendonly", "yes", "--appendfsync", "always"}
	if s.volatile {
		persist = []string{"--appendonly", "no"}
	}
	cmd := exec.Command("redis-server", append([]string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir, "--save", "",
		"--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}, persist...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if s.volatile {
		cmd.Stdout, cmd.Stderr = nil, nil // its start-up warnings would interleave with the figures
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	// The port was free a moment ago; a restart may need a while to load
	// the append-only file.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("redistest: redis-server on %s exited at start", s.Addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on %s does not answer: %w", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down the polite way (SIGTERM) and waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL and waits for it.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port, after
// down (the time clients see no Redis at all).
func (s *Server) Restart(down time.Duration) error {
	s.Kill()
	time.Sleep(down)
	return s.Start()
}

// Client returns a client of database db; it is closed when the test ends.
func (s *Server) Client(db int) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// DBURL returns the URL of database db.
func (s *Server) DBURL(db int) string {
	return "redis://" + s.Addr + "/" + strconv.Itoa(db)
}
