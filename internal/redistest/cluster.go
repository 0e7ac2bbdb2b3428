package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvCluster names the variable with the test Redis Cluster's addresses,
// comma-separated (CI starts a three-master cluster and sets it).
const EnvCluster = "JOURNEYBOT_TEST_REDIS_CLUSTER"

// Mode is a kind of Redis a test runs against.
type Mode struct {
	Name string
	New  func(t testing.TB) *Redis
}

// Modes are the single node (New) and the Redis Cluster (NewCluster): tests
// about state run as a table over both.
func Modes() []Mode { return []Mode{{"single", New}, {"cluster", NewCluster}} }

// Each runs f once per mode, as subtests named after the mode.
func Each(t *testing.T, f func(t *testing.T, r *Redis)) {
	t.Helper()
	for _, m := range Modes() {
		t.Run(m.Name, func(t *testing.T) { f(t, m.New(t)) })
	}
}

// NewCluster returns a Redis Cluster for t with a key prefix of its own: the
// cluster named by JOURNEYBOT_TEST_REDIS_CLUSTER, else three masters started
// for the test (redis-server and redis-cli on PATH). The test fails, never
// skips, when neither is possible. The test's keys are deleted at cleanup.
func NewCluster(t testing.TB) *Redis {
	t.Helper()
	prefix := fmt.Sprintf("jbtest%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	addrs := strings.Split(os.Getenv(EnvCluster), ",")
	if addrs[0] == "" {
		addrs = StartCluster(t)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("test redis cluster at %s: %v", strings.Join(addrs, ","), err)
	}
	t.Cleanup(func() {
		c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				n.Del(ctx, iter.Val())
			}
			return nil
		})
		c.Close()
	})
	u := "redis://" + addrs[0] + "?cluster=true"
	for _, a := range addrs[1:] {
		u += "&addr=" + a
	}
	return &Redis{Client: c, Prefix: prefix, URL: u, Real: true}
}

// StartCluster starts a three-master Redis Cluster on loopback for t (no
// replicas, nothing persisted) and returns its addresses; it is killed when
// the test ends.
func StartCluster(t testing.TB) []string {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("redistest: no Redis Cluster: %s is unset and %s is not installed (apt-get install redis-server): %v", EnvCluster, bin, err)
		}
	}
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		port := clusterPort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", i),
			"--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
			"--daemonize", "no", "--loglevel", "warning")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: start cluster node: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		waitPing(t, addr, done)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	// The nodes agree on the slots a moment after create returns.
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("redistest: cluster node %s not ready: %v %s", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}

// clusterPort picks a free port whose cluster bus port (+10000) is free
// too, both below the ephemeral range (see freeAddr).
func clusterPort(t testing.TB) int {
	for range 100 {
		p := 10000 + rand.IntN(12000)
		l1, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		l1.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	t.Fatal("redistest: no free port pair for a cluster node")
	return 0
}

func waitPing(t testing.TB, addr string, done <-chan struct{}) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("redistest: cluster node %s exited at start", addr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster node %s does not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
