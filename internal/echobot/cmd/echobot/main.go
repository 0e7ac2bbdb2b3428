// Command echobot runs the baseline echo bot of the delivery benchmarks (see
// package echobot) as a process of its own, as the real bot runs.
//
//	echobot -addr 127.0.0.1:8081 -redis redis://127.0.0.1:6379/15 -prefix bench \
//	  -api http://127.0.0.1:9000 -token 1:abc -secret s
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"journeybot/internal/echobot"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address of the webhook (POST /telegram/webhook)")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
	prefix := flag.String("prefix", "echo", "key prefix")
	api := flag.String("api", "https://api.telegram.org", "Bot API base URL")
	token := flag.String("token", "", "bot token")
	secret := flag.String("secret", "", "webhook secret")
	flag.Parse()
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		log.Fatalf("echobot: -redis: %v", err)
	}
	opt.PoolSize = 128
	bot, err := echobot.New(echobot.Options{Redis: redis.NewClient(opt), Prefix: *prefix, APIURL: *api, Token: *token, Secret: *secret})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /telegram/webhook", bot)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	log.Fatal(http.ListenAndServe(*addr, mux))
}
