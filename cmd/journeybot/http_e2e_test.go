package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"journeybot/internal/redistest"
)

// /metrics is off the webhooks' listener: on metrics.addr, behind
// metrics.token when set; every answer says nosniff.
func TestMetricsOnTheirOwnListenerBehindAToken(t *testing.T) {
	r := redistest.New(t)
	addr, maddr := freeAddr(t), freeAddr(t)
	const token = "m3trics-t0ken-for-the-scraper"
	start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_METRICS_ADDR=" + maddr, "JOURNEYBOT_METRICS_TOKEN=" + token,
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	if code, _ := get(t, "http://"+addr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on http.addr: HTTP %d, want 404", code)
	}
	waitStatus(t, "http://"+maddr+"/metrics", http.StatusUnauthorized)
	req, _ := http.NewRequest(http.MethodGet, "http://"+maddr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/metrics with the token: HTTP %d, nosniff %q", resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
	}
	resp, err = http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/healthz lacks X-Content-Type-Options: nosniff")
	}
}

// http.max_connections: connections beyond it wait until one closes.
func TestConnectionsAreCapped(t *testing.T) {
	r := redistest.New(t)
	addr := freeAddr(t)
	start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_HTTP_MAX_CONNECTIONS=2",
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// A request answered proves the server took the connection.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("held connection: %q %v", line, err)
		}
		held = append(held, c)
		defer c.Close()
	}
	third, err := net.Dial("tcp", addr) // the kernel's backlog takes it
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	br := bufio.NewReader(third)
	if line, err := br.ReadString('\n'); err == nil {
		t.Fatalf("a third connection was served over http.max_connections 2: %q", line)
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("the waiting connection once another closed: %q %v", line, err)
	}
}

func TestServerTimeouts(t *testing.T) {
	s := newServer(http.NotFoundHandler())
	if s.WriteTimeout <= 0 || s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Fatalf("timeouts: write %v, read header %v, read %v, idle %v", s.WriteTimeout, s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout)
	}
}
