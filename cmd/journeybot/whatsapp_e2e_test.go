package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/whatsapptest"
)

// waCustomer is a wa_id of this run only (the binary's keys are under the
// default prefix, which a shared CI Redis sees from other runs too).
func waCustomer(t *testing.T, r *redistest.Redis) string {
	id := fmt.Sprintf("55119%08d", time.Now().UnixNano()%100_000_000)
	if r.Real {
		t.Cleanup(func() {
			ctx := context.Background()
			iter := r.Client.Scan(ctx, 0, "jb:*"+id+"*", 1000).Iterator()
			for iter.Next(ctx) {
				r.Client.Del(ctx, iter.Val())
			}
		})
	}
	return id
}

// The real binary with WhatsApp configured: the webhook verifies, a
// conversation with the shipped scripts runs through the list and the
// buttons, and no secret reaches the output.
// On a single node and on a Redis Cluster.
func TestRunWhatsApp(t *testing.T) { redistest.Each(t, testRunWhatsApp) }

func testRunWhatsApp(t *testing.T, r *redistest.Redis) {
	srv := whatsapptest.New(t)
	ana := waCustomer(t, r)
	scripts, _ := filepath.Abs("../../scripts")
	addr, maddr := freeAddr(t), freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_METRICS_ADDR=" + maddr, "JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=" + whatsapptest.Token, "JOURNEYBOT_WHATSAPP_PHONE_NUMBER_ID=" + whatsapptest.PhoneNumberID,
		"JOURNEYBOT_WHATSAPP_APP_SECRET=" + whatsapptest.AppSecret, "JOURNEYBOT_WHATSAPP_VERIFY_TOKEN=" + whatsapptest.VerifyToken,
		"JOURNEYBOT_WHATSAPP_API_URL=" + srv.APIURL(),
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	hook := "http://" + addr + "/whatsapp/webhook"
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {whatsapptest.VerifyToken}, "hub.challenge": {"8471"}}
	if body := waitStatus(t, hook+"?"+q.Encode(), 200); body != "8471" {
		t.Fatalf("verification answered %q, want the challenge", body)
	}
	srv.SetWebhook(hook)
	empty := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if code := srv.Post(empty, "wrong-secret"); code != 401 {
		t.Fatalf("a notification signed with another secret: %d, want 401", code)
	}
	for i := 0; srv.Post(empty, whatsapptest.AppSecret) != 200; i++ {
		if i > 200 {
			t.Fatal("the webhook never took notifications")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Text(ana, "Ana Souza", "oi")
	menu := srv.WaitMessages(ana, 1)[0]
	if menu.Type != "list" || !strings.Contains(menu.Text, "Ana") {
		t.Fatalf("menu = %+v, want a list greeting Ana", menu)
	}
	srv.Text(ana, "", "quero parar de receber mensagens")
	confirm := srv.WaitMessages(ana, 2)[1]
	if confirm.Type != "button" || len(confirm.Buttons) != 2 {
		t.Fatalf("opt-out confirmation = %+v", confirm)
	}
	srv.Press(ana, confirm.Buttons[1].Title)
	srv.WaitMessages(ana, 3)
	body := waitStatus(t, "http://"+maddr+"/metrics", 200)
	if !strings.Contains(body, `journeybot_inbound_messages_total{channel="whatsapp"} 3`) {
		t.Errorf("metrics do not count the three WhatsApp messages")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	out := p.stderr.String() + p.stdout.String()
	for _, secret := range []string{whatsapptest.Token, whatsapptest.AppSecret, whatsapptest.VerifyToken} {
		if strings.Contains(out, secret) {
			t.Errorf("a WhatsApp secret is in the output:\n%s", out)
		}
	}
}

func TestWhatsAppConfigErrors(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=x"}, "whatsapp.phone_number_id"},
		{[]string{"JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=x", "JOURNEYBOT_WHATSAPP_PHONE_NUMBER_ID=123"}, "whatsapp.app_secret"},
		{[]string{"JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=x", "JOURNEYBOT_WHATSAPP_PHONE_NUMBER_ID=123", "JOURNEYBOT_WHATSAPP_APP_SECRET=s"}, "whatsapp.verify_token"},
		{[]string{"JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=x", "JOURNEYBOT_WHATSAPP_PHONE_NUMBER_ID=+55 11 91234-5678"}, "not the phone number itself"},
	} {
		p := start(t, append([]string{"JOURNEYBOT_HTTP_ADDR=" + freeAddr(t)}, c.env...), "run")
		err := p.wait(t)
		if err == nil || !strings.Contains(p.stderr.String(), c.want) {
			t.Errorf("%v: exit %v, stderr %q; want a failure naming %s", c.env, err, p.stderr.String(), c.want)
		}
	}
}
