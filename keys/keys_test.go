package keys_test

import (
	"bytes"
	"strings"
	"testing"

	"journeybot/keys"
)

func TestStrong(t *testing.T) {
	for _, c := range []struct {
		secret string
		want   bool
	}{
		{"shop", false},
		{"e2e-events-secret", false},
		{strings.Repeat("ab", 20), false}, // 40 hex digits: 20 bytes
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false}, // 63 hex digits
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{strings.Repeat("a", 64), false},
		{"q3Vx9ZrT1mKpL0sYwE7uHbN2cJ5fGdA8iOeR4tQyU6w", true}, // 43 base64 characters
		{"q3Vx9ZrT1mKpL0sYwE7uHbN2cJ5fGdA8iOeR4tQyU6", false}, // 42
	} {
		if got := keys.Strong(c.secret); got != c.want {
			t.Errorf("Strong(%d chars) = %v, want %v", len(c.secret), got, c.want)
		}
	}
}

func TestDerivedKeysDiffer(t *testing.T) {
	s := keys.New("new-secret", "", "old-secret")
	if len(s.Events()) != 2 || len(s.Links()) != 2 || len(s.Legacy()) != 2 {
		t.Fatalf("want 2 keys of each kind (empty entries skipped), got %d %d %d", len(s.Events()), len(s.Links()), len(s.Legacy()))
	}
	if bytes.Equal(s.Events()[0], s.Links()[0]) || bytes.Equal(s.Events()[0], []byte("new-secret")) || bytes.Equal(s.Links()[0], []byte("new-secret")) {
		t.Fatal("the events key, the links key and the secret must all differ")
	}
	if bytes.Equal(s.Events()[0], s.Events()[1]) {
		t.Fatal("two secrets gave the same events key")
	}
	if !keys.New().Empty() || keys.New("x").Empty() {
		t.Fatal("Empty is wrong")
	}
}
