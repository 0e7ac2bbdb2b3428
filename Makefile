# journeybot — see README.md. `make run` and `make test` are the two commands
# a newcomer needs; the rest are for development.
SHELL   := bash
GO      ?= go
BIN     := bin/journeybot
PKGS    := ./...

.PHONY: build run chat test test-scripts bench bench-delivery bench-rss lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/journeybot

# The bot with the default scripts; embedded Redis and the console channel
# unless journeybot.yaml / JOURNEYBOT_* configure Redis and channels.
run: build
	./$(BIN) run

# Chat with the bot in the terminal as a customer (pt-BR; CHAT_LANG=en for English).
chat: build
	./$(BIN) chat --lang $(or $(CHAT_LANG),pt-BR)

# All tests: Go tests (race detector on), then lint and test the shipped scripts.
# Tests use the Redis in JOURNEYBOT_TEST_REDIS_URL when set (CI sets it), else an embedded one.
# The HTML report's test runs headless Chromium: .ci/install-chromium installs it when missing.
test: build
	@.ci/install-chromium
	$(GO) test -race -count=1 $(PKGS)
	./$(BIN) lint scripts
	./$(BIN) test scripts
	./$(BIN) lint cmd/journeybot/testdata/delivery
	./$(BIN) test cmd/journeybot/testdata/delivery

test-scripts: build
	./$(BIN) lint scripts
	./$(BIN) test scripts

# Benchmarks of the hot path and the scheduler, then the delivery benchmarks
# through real processes (webhook intake, sends and lag beside an echo bot;
# scheduler due items with 1 and 2 processes; each runs once, a few seconds
# to a minute); figures go in README.md and docs/delivery-measurements.md.
# Uses the Redis on 127.0.0.1:6379 (database 15) when one answers, else the embedded one;
# the hot-path benchmarks beside the echo bot (bot/lean_bench_test.go) start a
# private redis-server of their own (redis-server on PATH), so their Redis CPU
# and memory figures are theirs alone. Then bench-rss.
DELIVERY_BENCH := BenchmarkWebhookDelivery|BenchmarkSchedulerDue
bench:
	@if [ -z "$$JOURNEYBOT_TEST_REDIS_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
		export JOURNEYBOT_TEST_REDIS_URL=redis://127.0.0.1:6379/15; fi; \
	$(GO) test -run '^$$' -bench . -skip BenchmarkTouchMillion -benchmem -count=1 $$($(GO) list $(PKGS) | grep -v '/cmd/journeybot$$') && \
	$(GO) test -run '^$$' -bench '$(DELIVERY_BENCH)' -benchtime 1x -count=1 ./cmd/journeybot
	$(MAKE) bench-rss

# The process's memory after 1,000,000 distinct customers each wrote once,
# the echo bot first as the baseline (BenchmarkTouchMillion; a few minutes:
# RSS_CUSTOMERS=200000 for a shorter run).
RSS_CUSTOMERS ?= 1000000
bench-rss:
	JOURNEYBOT_BENCH_CUSTOMERS=$(RSS_CUSTOMERS) $(GO) test -run '^$$' -bench BenchmarkTouchMillion -benchtime 1x -count=1 -timeout 60m ./bot

# Only the delivery benchmarks.
bench-delivery:
	@if [ -z "$$JOURNEYBOT_TEST_REDIS_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
		export JOURNEYBOT_TEST_REDIS_URL=redis://127.0.0.1:6379/15; fi; \
	$(GO) test -run '^$$' -bench '$(DELIVERY_BENCH)' -benchtime 1x -count=1 ./cmd/journeybot

# go vet, gofmt, staticcheck (fetched through the module proxy at a pinned version).
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# A short fuzzing run of every input surface, FUZZTIME each (CI: 10s), with
# minimization capped so the time goes to new inputs. A crash is written to
# the package's testdata/fuzz/TARGET/ and fails the run: fix it and commit
# the input, which `make test` then replays for good.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	FuzzWebhookUpdate:./channels/telegram FuzzSplitText:./channels \
	FuzzSlackRequests:./staff/slack \
	FuzzParseEvent:./events FuzzImport:./events \
	FuzzTemplate:./conversations FuzzLoad:./conversations FuzzCustomerText:./conversations \
	FuzzDeepLinkPayload:./bot FuzzStartAndPedido:./bot \
	FuzzChecker:./llm FuzzModelResponse:./llm \
	FuzzDecodeOrder:./orders \
	FuzzConfigValue:./config FuzzSupportHours:./config
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t%%:*} ($${t#*:}, $(FUZZTIME))"; \
		run() { $(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $${t#*:}; }; \
		if ! run; then \
			if [ -n "$$(git status --porcelain -- "$${t#*:}/testdata/fuzz" 2>/dev/null)" ]; then exit 1; fi; \
			echo "fuzz: $${t%%:*} stopped without writing a failing input (the Go fuzzer's own hiccup, e.g. a deadline in its coordinator): once more"; \
			run; \
		fi; \
	done

clean:
	rm -rf bin
