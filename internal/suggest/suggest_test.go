package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"redis.url", "http.addr", "telegram.token"}
	cases := []struct {
		word string
		max  int
		want string
	}{
		{"redis.ulr", 3, "redis.url"},
		{"telegram.tokn", 3, "telegram.token"},
		{"something.else", 3, ""},
		{"http.addr", 0, "http.addr"},
	}
	for _, c := range cases {
		if got := Closest(c.word, known, c.max); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d, want 3", d)
	}
}
