package conversations

import (
	"strings"
	"testing"
	"time"

	"journeybot/journey"
)

const testScripts = `
settings: {languages: [pt-BR, en], fallback: fallback}
stages:
  - {id: purchase, initial: true}
  - {id: onboarding}
  - {id: loyalty}
transitions:
  - {on: order.delivered, from: [purchase], to: onboarding}
  - {on: order.refunded, to: loyalty}
intents:
  - {id: order, keywords: [pedido, order], patterns: ['pedido\s*#?(?P<order>[0-9]{3,})']}
  - {id: coupon, keywords: [cupom]}
  - {id: size, keywords: [tamanho]}
  - {id: signup, keywords: [cadastro, signup]}
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Não entendi ({{ misses }})", en: "Did not get it ({{ misses }})"}
  - id: order
    triggers: [{intent: order}]
    steps:
      - branch:
          - {if: order.id, goto: found}
        else: missing
      - id: found
        say: {pt-BR: "Pedido {{ order.id }}: {{ order.status }}", en: "Order {{ order.id }}: {{ order.status }}"}
        end: true
      - id: missing
        say: {pt-BR: "Não achei {{ order_ref | default \"\" }}", en: "Not found {{ order_ref | default \"\" }}"}
  - id: signup
    triggers: [{intent: signup}]
    steps:
      - id: ask
        ask: {pt-BR: "Seu e-mail?", en: "Your e-mail?"}
        save: email
        validate: email
        retry: {pt-BR: "E-mail inválido, tente de novo", en: "Invalid e-mail, try again"}
        max_retries: 1
        on_fail: gave_up
      - say: {pt-BR: "Obrigado, {{ email | default \"\" }}", en: "Thanks, {{ email | default \"\" }}"}
        end: true
      - id: gave_up
        say: {pt-BR: "Tudo bem, fica para depois", en: "Fine, later then"}
  - id: tips
    triggers: [{after: 1d, since: order.delivered}]
    stages: [onboarding]
    steps:
      - say: {pt-BR: "Dica 1", en: "Tip 1"}
      - wait: 2d
        unless: answers.no_tips
      - say: {pt-BR: "Dica 2", en: "Tip 2"}
  - id: coupon
    triggers: [{intent: coupon}]
    steps:
      - offer: {code: VOLTE10, expires: 2d, on_expiry: coupon_gone}
      - say: {pt-BR: "Cupom {{ coupon | default \"\" }}", en: "Coupon {{ coupon | default \"\" }}"}
  - id: joined
    triggers: [{event: case.claimed}]
    steps:
      - say: {pt-BR: "Uma pessoa entrou", en: "A person joined"}
  - id: coupon_gone
    steps:
      - say: {pt-BR: "Seu cupom expirou", en: "Your coupon expired"}
  - id: size
    triggers: [{intent: size}]
    steps:
      - id: pick
        say: {pt-BR: "Qual tamanho?", en: "Which size?"}
        save: size
        buttons:
          - {label: {pt-BR: "P", en: "S"}, value: small}
          - {label: {pt-BR: "G", en: "L"}, value: large}
      - say: {pt-BR: "Anotado: {{ answers.size | default \"\" }}", en: "Noted: {{ answers.size | default \"\" }}"}
  - id: nps
    triggers: [{command: nps}]
    steps:
      - id: q
        survey: nps
        text: {pt-BR: "De 0 a 10?", en: "From 0 to 10?"}
        promoter: promo
        detractor: detr
      - say: {pt-BR: "Obrigado (neutro)", en: "Thanks (passive)"}
        end: true
      - id: promo
        say: {pt-BR: "Que ótimo!", en: "Great!"}
        buttons:
          - {label: {pt-BR: "Avaliar", en: "Review"}, goto: review}
        end: true
      - id: review
        say: {pt-BR: "Link da avaliação", en: "Review link"}
        end: true
      - id: detr
        escalate: detractor
      - say: {pt-BR: "Sentimos muito", en: "We are sorry"}
`

func testEngine(t *testing.T) *Engine {
	t.Helper()
	s, probs := Load(map[string][]byte{"test.yaml": []byte(testScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatalf("test scripts do not lint:\n%v", errs)
	}
	o := DefaultOptions()
	return NewEngine(s, o)
}

// monday10 is a Monday 10:00 in São Paulo: outside quiet hours.
var monday10 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("-03", -3*3600))

func texts(r *Result) []string {
	var out []string
	for _, m := range r.Messages {
		out = append(out, m.Text)
	}
	return out
}

func say(e *Engine, j *journey.Journey, text string, at time.Time) []string {
	return texts(e.Handle(j, Input{Kind: InText, Text: text}, at))
}

func TestIntentsIgnoreCaseAccentsAndCaptureOrder(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	j.UpsertOrder(journey.Order{ID: "4567", Status: "shipped"})
	cases := []struct{ in, want string }{
		{"PEDIDO #4567", "Pedido 4567: shipped"},
		{"quero ver meu pedido", "Pedido 4567: shipped"},
		{"pedido 999", "Não achei 999"},
		{"blá blá", "Não entendi (1)"},
		{"???", "Não entendi (2)"},
		{"", "Não entendi (3)"},
		{"🙂🙂🙂", "Não entendi (4)"},
	}
	for _, c := range cases {
		got := say(e, j, c.in, monday10)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%q -> %q, want %q", c.in, got, c.want)
		}
		delete(j.Answers, "order_ref")
	}
	if j.Stage != "purchase" {
		t.Errorf("new customer stage = %q, want the initial stage", j.Stage)
	}
}

func TestAskValidatesRetriesAndGivesUp(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	j.Profile.Language = "en"
	if got := say(e, j, "signup", monday10); got[0] != "Your e-mail?" {
		t.Fatalf("ask = %q", got)
	}
	if got := say(e, j, "not an email", monday10); got[0] != "Invalid e-mail, try again" {
		t.Fatalf("retry = %q", got)
	}
	if got := say(e, j, "ana@example.com", monday10); got[0] != "Thanks, ana@example.com" || j.Profile.Fields["email"] != "ana@example.com" {
		t.Fatalf("answer = %q, fields %v", got, j.Profile.Fields)
	}
	if j.Profile.Email != "" {
		t.Fatal("a typed e-mail became the store's verified contact")
	}
	say(e, j, "signup", monday10)
	say(e, j, "x", monday10)
	if got := say(e, j, "y", monday10); got[0] != "Fine, later then" {
		t.Fatalf("after retries = %q", got)
	}
	// A question is left when the customer asks something else.
	say(e, j, "signup", monday10)
	if got := say(e, j, "my order", monday10); !strings.HasPrefix(got[0], "Not found") {
		t.Fatalf("intent during a question = %q", got)
	}
}

func TestSurveyFollowUpsAndStaleButtons(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	r := e.Handle(j, Input{Kind: InCommand, Command: "nps"}, monday10)
	if len(r.Messages) != 1 || len(r.Messages[0].Buttons) != 11 {
		t.Fatalf("survey message = %+v", r.Messages)
	}
	nine := r.Messages[0].Buttons[9].Data
	r = e.Handle(j, Input{Kind: InButton, Data: nine}, monday10)
	if texts(r)[0] != "Que ótimo!" || j.Answers["nps"] != "9" {
		t.Fatalf("promoter: %q nps=%q", texts(r), j.Answers["nps"])
	}
	review := r.Messages[0].Buttons[0].Data
	// The old survey button again: never counted twice.
	if r := e.Handle(j, Input{Kind: InButton, Data: nine}, monday10); len(r.Messages) != 0 {
		t.Fatalf("stale survey button answered: %q", texts(r))
	}
	if got := texts(e.Handle(j, Input{Kind: InButton, Data: review}, monday10)); got[0] != "Link da avaliação" {
		t.Fatalf("review = %q", got)
	}
	if r := e.Handle(j, Input{Kind: InButton, Data: review}, monday10); len(r.Messages) != 0 {
		t.Fatalf("second tap ran the step again: %q", texts(r))
	}
	// A button of a flow that no longer exists (scripts changed) gets the fallback.
	if got := texts(e.Handle(j, Input{Kind: InButton, Data: "b:gone:x:0"}, monday10)); len(got) != 1 || !strings.HasPrefix(got[0], "Não entendi") {
		t.Fatalf("removed button: %q", got)
	}
	// A detractor opens one case; the bot keeps answering until staff take over.
	e.Handle(j, Input{Kind: InCommand, Command: "nps"}, monday10)
	r = e.Handle(j, Input{Kind: InText, Text: "3"}, monday10)
	if r.Escalated != "detractor" || j.Case == nil || texts(r)[0] != "Sentimos muito" {
		t.Fatalf("detractor: escalated %q case %v msgs %q", r.Escalated, j.Case, texts(r))
	}
	if r := e.Handle(j, Input{Kind: InCommand, Command: "human"}, monday10); r.Escalated != "" {
		t.Fatal("a second case opened while one is open")
	}
	j.Case.Claimed = monday10.Unix()
	if r := e.Handle(j, Input{Kind: InText, Text: "oi?"}, monday10); len(r.Messages) != 0 || !r.Mirror || !r.Silent {
		t.Fatalf("after takeover the bot answered: %+v", r)
	}
}

func deliver(e *Engine, j *journey.Journey, at time.Time) *Result {
	ev := &journey.Event{ID: "e1", Type: "order.delivered", At: at, Order: &journey.Order{ID: "1"}}
	return e.Handle(j, Input{Kind: InEvent, Event: ev}, at)
}

func tick(e *Engine, j *journey.Journey, at time.Time) []string {
	return texts(e.Handle(j, Input{Kind: InTick}, at))
}

func TestTimersWaitsQuietHoursAndStageChanges(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	deliver(e, j, monday10)
	if j.Stage != "onboarding" {
		t.Fatalf("stage = %q after delivery", j.Stage)
	}
	if got := tick(e, j, monday10.Add(23*time.Hour)); len(got) != 0 {
		t.Fatalf("tip before it is due: %q", got)
	}
	if got := tick(e, j, monday10.Add(24*time.Hour)); len(got) != 1 || got[0] != "Dica 1" {
		t.Fatalf("day 1 = %q", got)
	}
	// Tip 2 falls due at 10:00 two days later; the bot looks at 21:30 (it
	// was down): within the grace period, but quiet hours: deferred to 09:00.
	night := monday10.Add(3*24*time.Hour + 11*time.Hour + 30*time.Minute)
	if got := tick(e, j, night); len(got) != 0 {
		t.Fatalf("sent in quiet hours: %q", got)
	}
	if got := tick(e, j, night.Add(11*time.Hour+30*time.Minute)); len(got) != 1 || got[0] != "Dica 2" {
		t.Fatalf("morning after = %q (timers %+v)", got, j.Timers)
	}
	if got := tick(e, j, night.Add(20*time.Hour)); len(got) != 0 {
		t.Fatalf("sent twice: %q", got)
	}

	// "unless" cancels a waiting step whose purpose is moot.
	j3 := journey.New("c3", monday10)
	deliver(e, j3, monday10)
	tick(e, j3, monday10.Add(24*time.Hour))
	j3.Answers["no_tips"] = "yes"
	if got := tick(e, j3, monday10.Add(3*24*time.Hour)); len(got) != 0 {
		t.Fatalf("tip sent although unless holds: %q", got)
	}

	// A stage change cancels the waiting tip.
	j2 := journey.New("c2", monday10)
	deliver(e, j2, monday10)
	tick(e, j2, monday10.Add(24*time.Hour))
	if len(j2.Timers) == 0 {
		t.Fatal("no tip waiting")
	}
	(&run{e: e, s: e.Scripts(), j: j2, now: monday10.Add(25 * time.Hour), r: &Result{}}).setStage("loyalty")
	if got := tick(e, j2, monday10.Add(5*24*time.Hour)); len(got) != 0 {
		t.Fatalf("tip after leaving the stage: %q", got)
	}
}

func TestProactiveRespectsOptOutGraceAndCaps(t *testing.T) {
	e := testEngine(t)
	// Opted out: nothing, counted.
	j := journey.New("c1", monday10)
	deliver(e, j, monday10)
	j.Profile.OptedOut = monday10.Unix()
	r := e.Handle(j, Input{Kind: InTick}, monday10.Add(25*time.Hour))
	if len(r.Messages) != 0 || !contains(r.Notes, "nudge.skipped_optout") {
		t.Fatalf("opted out: %q notes %v", texts(r), r.Notes)
	}
	// Late beyond grace (bot was down a week): dropped, counted.
	j = journey.New("c2", monday10)
	deliver(e, j, monday10)
	r = e.Handle(j, Input{Kind: InTick}, monday10.Add(8*24*time.Hour))
	if len(r.Messages) != 0 || !contains(r.Notes, "nudge.dropped_late") {
		t.Fatalf("late: %q notes %v", texts(r), r.Notes)
	}
	// Caps: the third nudge of a day waits for the next morning.
	e.opt.MaxPerDay = 2
	j = journey.New("c3", monday10)
	j.Counters.Day, j.Counters.SentDay = int32(monday10.Add(24*time.Hour).Unix()/86400), 2
	j.Counters.Week = int32((monday10.Add(24*time.Hour).Unix()/86400 + 3) / 7)
	deliver(e, j, monday10)
	r = e.Handle(j, Input{Kind: InTick}, monday10.Add(24*time.Hour))
	if len(r.Messages) != 0 || !contains(r.Notes, "nudge.deferred_cap") {
		t.Fatalf("capped: %q notes %v", texts(r), r.Notes)
	}
	if got := tick(e, j, monday10.Add(48*time.Hour)); len(got) != 1 {
		t.Fatalf("next day = %q", got)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestLanguageFallsBackToBaseAndDefault(t *testing.T) {
	e := testEngine(t)
	for lang, want := range map[string]string{"en-US": "Did not get it (1)", "pt": "Não entendi (1)", "fr": "Não entendi (1)", "": "Não entendi (1)"} {
		j := journey.New("c", monday10)
		j.Profile.Language = lang
		if got := say(e, j, "xyz", monday10); got[0] != want {
			t.Errorf("lang %q: %q, want %q", lang, got[0], want)
		}
	}
}

func TestOldEventsMoveNothing(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	deliver(e, j, monday10) // onboarding
	ev := &journey.Event{ID: "old", Type: "order.refunded", At: monday10.Add(-48 * time.Hour), Order: &journey.Order{ID: "1"}}
	r := e.Handle(j, Input{Kind: InEvent, Event: ev}, monday10.Add(time.Hour))
	if j.Stage != "onboarding" || !contains(r.Notes, "event.stale") {
		t.Fatalf("an old event moved the stage to %q (notes %v)", j.Stage, r.Notes)
	}
	if o := j.Order("1"); o.Status != "delivered" {
		t.Fatalf("an old event overwrote the order status: %q", o.Status)
	}
}

func TestOfferExpiryFollowUpSurvivesQuietHours(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	evening := monday10.Add(11 * time.Hour) // 21:00: the coupon expires in quiet hours two days later
	if got := say(e, j, "quero um cupom", evening); len(got) != 1 || got[0] != "Cupom VOLTE10" {
		t.Fatalf("offer = %q", got)
	}
	if got := tick(e, j, evening.Add(48*time.Hour)); len(got) != 0 {
		t.Fatalf("sent in quiet hours: %q", got)
	}
	if j.Answers["coupon"] != "" {
		t.Fatal("the coupon outlived its expiry")
	}
	if got := tick(e, j, evening.Add(60*time.Hour)); len(got) != 1 || got[0] != "Seu cupom expirou" {
		t.Fatalf("morning after: %q", got)
	}
}

func TestValueButtonsOnlyWhileAsked(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	r := e.Handle(j, Input{Kind: InText, Text: "tamanho"}, monday10)
	small := r.Messages[0].Buttons[0].Data
	if got := texts(e.Handle(j, Input{Kind: InButton, Data: small}, monday10)); len(got) != 1 || got[0] != "Anotado: small" {
		t.Fatalf("press = %q", got)
	}
	if got := texts(e.Handle(j, Input{Kind: InButton, Data: small}, monday10)); len(got) != 0 {
		t.Fatalf("an old value button ran the step again: %q", got)
	}
}

func TestNudgeWaitsWhileCustomerAnswers(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	deliver(e, j, monday10)
	day1 := monday10.Add(24 * time.Hour)
	say(e, j, "signup", day1.Add(-5*time.Minute)) // a question is open
	r := e.Handle(j, Input{Kind: InTick}, day1)
	if len(r.Messages) != 0 || !contains(r.Notes, "nudge.deferred_busy") {
		t.Fatalf("nudge cut into a question: %q %v", texts(r), r.Notes)
	}
	if got := tick(e, j, day1.Add(20*time.Minute)); len(got) != 1 || got[0] != "Dica 1" {
		t.Fatalf("later: %q", got)
	}
}

func TestCaseFollowUpRespectsPause(t *testing.T) {
	e := testEngine(t)
	claimed := Input{Kind: InEvent, Event: &journey.Event{ID: "r", Type: "case.claimed", At: monday10}}
	j := journey.New("c1", monday10)
	j.Case = &journey.Case{Reason: "x", Opened: monday10.Unix()}
	j.Profile.OptedOut = monday10.Unix() // asked for no nudges, then for a person
	if got := texts(e.Handle(j, claimed, monday10)); len(got) != 1 {
		t.Fatalf("the person who joined was not announced: %q", got)
	}
	j.Profile.Paused = true
	if got := texts(e.Handle(j, claimed, monday10)); len(got) != 0 {
		t.Fatalf("sent while staff paused the bot: %q", got)
	}
}

// offerScripts is a two-button question; without "Quero" when quero is false.
func offerScripts(t *testing.T, quero bool) *Scripts {
	t.Helper()
	btn := `          - {label: {pt-BR: "Quero", en: "Yes"}, goto: yes}
`
	if !quero {
		btn = ""
	}
	src := `
settings: {languages: [pt-BR, en], fallback: fallback}
stages: [{id: purchase, initial: true}]
intents: [{id: menu, keywords: [menu]}]
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Não entendi", en: "Sorry?"}
  - id: menu
    triggers: [{intent: menu}]
    steps:
      - id: show
        say: {pt-BR: "Quer ver as ofertas?", en: "See the offers?"}
        buttons:
` + btn + `          - {label: {pt-BR: "Agora não", en: "Not now"}, goto: no}
      - id: yes
        say: {pt-BR: "Aqui estão", en: "Here they are"}
        end: true
      - id: no
        say: {pt-BR: "Tudo bem", en: "Fine"}
`
	s, probs := Load(map[string][]byte{"menu.yaml": []byte(src)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatalf("scripts do not lint:\n%v", errs)
	}
	return s
}

// A press means the button the customer saw, after the step's buttons
// changed in a reload: never its neighbour, and the fallback when it is gone.
func TestButtonsKeepTheirMeaningAcrossReloads(t *testing.T) {
	cases := []struct {
		name, data, label string
		want              string
	}{
		{"removed button, stable data", "k:menu:show:yes", "Quero", "Não entendi"},
		{"kept button, stable data", "k:menu:show:no", "Agora não", "Tudo bem"},
		// Messages sent before stable ids carry positions: "Quero" was 0.
		{"removed button, position data", "b:menu:show:0", "Quero", "Não entendi"},
		{"kept button, position data", "b:menu:show:1", "Agora não", "Tudo bem"},
		{"position data without a label", "b:menu:show:0", "", "Não entendi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(offerScripts(t, true), DefaultOptions())
			j := journey.New("c1", monday10)
			r := e.Handle(j, Input{Kind: InText, Text: "menu"}, monday10)
			if len(r.Messages) != 1 || len(r.Messages[0].Buttons) != 2 || r.Messages[0].Buttons[0].Data != "k:menu:show:yes" {
				t.Fatalf("menu = %+v", r.Messages)
			}
			e.Swap(offerScripts(t, false)) // "Quero" deleted
			got := texts(e.Handle(j, Input{Kind: InButton, Data: tc.data, Text: tc.label}, monday10))
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("press %s (%q) = %q, want %q", tc.data, tc.label, got, tc.want)
			}
		})
	}
}

func TestLintButtonAddresses(t *testing.T) {
	src := strings.Replace(testScripts, `          - {label: {pt-BR: "G", en: "L"}, value: large}`,
		`          - {label: {pt-BR: "G", en: "L"}, value: small}
          - {label: {pt-BR: "M", en: "M"}, value: medium, id: this_id_is_far_too_long_for_telegram_data}`, 1)
	_, probs := Load(map[string][]byte{"test.yaml": []byte(src)})
	var msgs []string
	for _, p := range probs.Errors() {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`test.yaml:72:13: two buttons of this step lead to "small"`, `test.yaml:73:13: button id "this_id_is_far_too_long_for_telegram_data" is longer than 28`} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}
