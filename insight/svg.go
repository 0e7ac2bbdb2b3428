package insight

import (
	"fmt"
	"html"
	"strings"
)

// svg builds an inline SVG drawing; every text it is given is escaped.
type svg struct {
	b strings.Builder
}

func esc(s string) string { return html.EscapeString(s) }

func (s *svg) open(id, class string, w, h float64, title string) {
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" id="%s" class="%s" viewBox="0 0 %.0f %.0f" width="%.0f" role="img" aria-label="%s">`, esc(id), esc(class), w, h, w, esc(title))
	fmt.Fprintf(&s.b, `<title>%s</title>`, esc(title))
}

func (s *svg) close() string {
	s.b.WriteString("</svg>")
	return s.b.String()
}

func (s *svg) raw(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) rect(x, y, w, h float64, class, tip string) {
	if tip == "" {
		s.raw(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"/>`, x, y, max(w, 0), h, class)
		return
	}
	s.raw(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"><title>%s</title></rect>`, x, y, max(w, 0), h, class, esc(tip))
}

// text writes t at x,y; anchor is start, middle or end.
func (s *svg) text(x, y float64, anchor, class, t string) {
	s.raw(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, esc(t))
}

func (s *svg) line(x1, y1, x2, y2 float64, class string) {
	s.raw(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>`, x1, y1, x2, y2, class)
}

func (s *svg) circle(x, y, r float64, class, tip string) {
	s.raw(`<circle cx="%.1f" cy="%.1f" r="%.1f" class="%s"><title>%s</title></circle>`, x, y, r, class, esc(tip))
}

func (s *svg) path(d, class string) {
	s.raw(`<path d="%s" class="%s"/>`, d, class)
}

// clip shortens t to n characters, with an ellipsis.
func clip(t string, n int) string {
	r := []rune(t)
	if len(r) <= n {
		return t
	}
	return string(r[:n-1]) + "…"
}
