package openaitest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

func client(s *Server) *openai.Client {
	cfg := openai.DefaultConfig("test-key")
	cfg.BaseURL = s.BaseURL()
	return openai.NewClientWithConfig(cfg)
}

func chat(ctx context.Context, c *openai.Client) (openai.ChatCompletionResponse, error) {
	return c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: "m",
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "be nice"},
			{Role: openai.ChatMessageRoleUser, Content: "hello there"},
		},
	})
}

func TestReplyAndRecording(t *testing.T) {
	s := New(t)
	s.SetReply("hi Ana")
	resp, err := chat(context.Background(), client(s))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "hi Ana" {
		t.Fatalf("choices = %+v", resp.Choices)
	}
	if resp.Model != "m" || resp.Usage.CompletionTokens != 2 || resp.Usage.PromptTokens != 4 {
		t.Fatalf("model/usage = %q %+v", resp.Model, resp.Usage)
	}
	req, ok := s.LastRequest()
	if !ok || s.Calls() != 1 {
		t.Fatalf("calls = %d", s.Calls())
	}
	if got := req.ContentsByRole("user"); len(got) != 1 || got[0] != "hello there" {
		t.Fatalf("user contents = %q", got)
	}
	if req.Header.Get("Authorization") != "Bearer test-key" {
		t.Fatalf("auth header = %q", req.Header.Get("Authorization"))
	}
}

func TestErrorsSurfaceAsGoOpenAITypes(t *testing.T) {
	s := New(t)
	c := client(s)

	s.SetResponse(ErrorJSON(http.StatusTooManyRequests, "rate_limit_exceeded", "slow down"))
	_, err := chat(context.Background(), c)
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusTooManyRequests {
		t.Fatalf("429: err = %v", err)
	}

	s.SetResponse(Status(http.StatusInternalServerError))
	_, err = chat(context.Background(), c)
	var reqErr *openai.RequestError
	if !errors.As(err, &reqErr) || reqErr.HTTPStatusCode != http.StatusInternalServerError {
		t.Fatalf("500: err = %v", err)
	}
}

func TestQueueThenHandler(t *testing.T) {
	s := New(t)
	s.Enqueue(Response{NoChoices: true})
	s.SetHandler(func(r Request) Response { return Reply("n=" + r.Messages[1].Content) })
	c := client(s)

	resp, err := chat(context.Background(), c)
	if err != nil || len(resp.Choices) != 0 {
		t.Fatalf("queued: %v %+v", err, resp.Choices)
	}
	resp, err = chat(context.Background(), c)
	if err != nil || resp.Choices[0].Message.Content != "n=hello there" {
		t.Fatalf("handler: %v %+v", err, resp.Choices)
	}
}

func TestDelayEndsWhenClientGivesUp(t *testing.T) {
	s := New(t)
	s.SetResponse(Response{Content: "late", Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := chat(ctx, client(s))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Generous bound: only checks that the server did not hold the call for the full delay.
	if time.Since(start) > 5*time.Second {
		t.Fatal("call waited for the full delay")
	}
}
