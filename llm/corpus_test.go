package llm

import (
	"context"
	"os"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// corpus is llm/testdata/corpus.yaml: model outputs a checker must refuse
// (hostile) or let through (good), each in a context of trusted facts.
type corpus struct {
	Contexts map[string]corpusContext `yaml:"contexts"`
	Hostile  []corpusCase             `yaml:"hostile"`
	Good     []corpusCase             `yaml:"good"`
}

type corpusContext struct {
	Op       string   `yaml:"op"` // answer or rephrase
	Lang     string   `yaml:"lang"`
	Topics   []string `yaml:"topics"`
	Template string   `yaml:"template"`
	BotSaid  []string `yaml:"bot_said"`
	Profile  struct {
		FirstName string   `yaml:"first_name"`
		Points    int      `yaml:"points"`
		Products  []string `yaml:"products"`
	} `yaml:"profile"`
}

type corpusCase struct {
	Ctx   string `yaml:"ctx"`
	Why   string `yaml:"why"`
	Reply string `yaml:"reply"`
	Cited bool   `yaml:"cited"`
}

func loadCorpus(tb testing.TB) corpus {
	tb.Helper()
	b, err := os.ReadFile("testdata/corpus.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var c corpus
	if err := yaml.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	for _, k := range append(append([]corpusCase{}, c.Hostile...), c.Good...) {
		if _, ok := c.Contexts[k.Ctx]; !ok {
			tb.Fatalf("case %q: unknown context %q", k.Reply, k.Ctx)
		}
	}
	return c
}

// verdict is the checks' reason for refusing reply in context cx ("" when
// it passes), from the same functions Rephrase and Answer call.
func verdict(c *Client, cx corpusContext, reply string) string {
	cc := CustomerContext{FirstName: cx.Profile.FirstName, Language: cx.Lang, Points: cx.Profile.Points, Products: cx.Profile.Products}
	lang := langCode(cx.Lang)
	if cx.Op == "rephrase" {
		req := RephraseRequest{Template: cx.Template, Language: cx.Lang, Context: cc}
		r, d := c.checkRephrase(req, reply, lang, defaultMaxChars, c.chk.extract(req.Template))
		return join(r, d)
	}
	req := AnswerRequest{Question: "?", Topics: cx.Topics, Language: cx.Lang, Context: cc}
	for _, s := range cx.BotSaid {
		req.Turns = append(req.Turns, Turn{Text: s})
	}
	r, d := c.checkAnswer(req, reply, lang, defaultMaxChars)
	return join(r, d)
}

func join(reason, detail string) string {
	if reason == "" {
		return ""
	}
	return reason + " (" + detail + ")"
}

// passes sends reply through the real client path (the loopback server
// answers with it) and reports whether the customer would get it.
func passes(f *fixture, cx corpusContext, reply string) bool {
	f.c.cache = newCache(time.Hour, 10) // each case is a fresh call
	f.srv.SetReply(reply)
	cc := CustomerContext{FirstName: cx.Profile.FirstName, Language: cx.Lang, Points: cx.Profile.Points, Products: cx.Profile.Products}
	ctx := context.Background()
	if cx.Op == "rephrase" {
		_, ok := f.c.Rephrase(ctx, RephraseRequest{Template: cx.Template, Language: cx.Lang, Context: cc})
		return ok
	}
	turns := []Turn{}
	for _, s := range cx.BotSaid {
		turns = append(turns, Turn{Text: s})
	}
	_, ok := f.c.Answer(ctx, AnswerRequest{Question: "?", Topics: cx.Topics, Language: cx.Lang, Context: cc, Turns: turns})
	return ok
}

// TestCorpus is the gate of issue 14: no hostile output reaches a customer
// and at least 90% of the good ones do.
func TestCorpus(t *testing.T) {
	c := loadCorpus(t)
	if len(c.Hostile) < 60 || len(c.Good) < 60 {
		t.Fatalf("corpus too small: %d hostile, %d good (want 60 each)", len(c.Hostile), len(c.Good))
	}
	f := newFixture(t, nil)
	cited, citedPassed := 0, 0
	hostilePassed := 0
	for _, k := range c.Hostile {
		ok := passes(f, c.Contexts[k.Ctx], k.Reply)
		if v := verdict(f.c, c.Contexts[k.Ctx], k.Reply); (v == "") != ok {
			t.Errorf("the client and its checks disagree on %q: ok=%v, checks %q", k.Reply, ok, v)
		}
		if k.Cited {
			cited++
			if ok {
				citedPassed++
			}
		}
		if ok {
			hostilePassed++
			t.Errorf("hostile output passed (%s, %s): %q", k.Ctx, k.Why, k.Reply)
		}
	}
	goodPassed := 0
	for _, k := range c.Good {
		if passes(f, c.Contexts[k.Ctx], k.Reply) {
			goodPassed++
		} else {
			t.Logf("good output refused (%s, %s): %q", k.Ctx, verdict(f.c, c.Contexts[k.Ctx], k.Reply), k.Reply)
		}
	}
	rate := float64(goodPassed) / float64(len(c.Good))
	t.Logf("hostile passed %d/%d (cited %d/%d); good passed %d/%d (%.1f%%)",
		hostilePassed, len(c.Hostile), citedPassed, cited, goodPassed, len(c.Good), 100*rate)
	if rate < 0.9 {
		t.Errorf("good outputs passed: %.1f%%, want at least 90%%", 100*rate)
	}
}

// BenchmarkCorpus times the checks on every corpus output and reports the
// two rates of the gate: hostile outputs let through (must be 0) and good
// ones let through (at least 90).
func BenchmarkCorpus(b *testing.B) {
	c := loadCorpus(b)
	f := newFixture(b, nil)
	var hostile, good int
	for b.Loop() {
		hostile, good = 0, 0
		for _, k := range c.Hostile {
			if verdict(f.c, c.Contexts[k.Ctx], k.Reply) == "" {
				hostile++
			}
		}
		for _, k := range c.Good {
			if verdict(f.c, c.Contexts[k.Ctx], k.Reply) == "" {
				good++
			}
		}
	}
	b.ReportMetric(100*float64(hostile)/float64(len(c.Hostile)), "hostile_passed_%")
	b.ReportMetric(100*float64(good)/float64(len(c.Good)), "good_passed_%")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*(len(c.Hostile)+len(c.Good))), "µs/reply")
}
