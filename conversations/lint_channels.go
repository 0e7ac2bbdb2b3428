package conversations

import (
	"sort"
	"strings"
	"unicode/utf8"

	"journeybot/channels"
)

// LintChannels warns where the scripts meet the limits of the channels they
// are sent on (caps: channel name → what it can show), so a marketer sees it
// before a customer does: a button label longer than a channel shows (the
// channel cuts it), and a step with more buttons than a channel offers as
// buttons or a list (its customers get the choices as text and type one).
// Survey steps build their own score buttons and are fine typed.
func LintChannels(s *Scripts, caps map[string]channels.Capabilities) Problems {
	var probs Problems
	c := &linter{s: s, probs: &probs}
	names := make([]string, 0, len(caps))
	for name := range caps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, f := range s.Flows {
		for _, st := range f.Steps {
			if len(st.Buttons) == 0 {
				continue
			}
			for _, name := range names {
				cp := caps[name]
				if n := cp.Choices(); n > 0 && len(st.Buttons) > n {
					c.warnf(st.Pos, "%d buttons: %s shows at most %d; there its customers get the choices as text and type one", len(st.Buttons), name, n)
				}
				limit, shown := cp.MaxLabel, "buttons"
				switch n := cp.Choices(); {
				case n > 0 && len(st.Buttons) > n:
					continue // the choices go as text: nothing is cut
				case cp.MaxButtons > 0 && len(st.Buttons) > cp.MaxButtons && cp.MaxListLabel > 0:
					limit, shown = cp.MaxListLabel, "list rows" // more than its buttons: a list
				}
				if limit == 0 {
					continue
				}
				for _, b := range st.Buttons {
					if b.Label == nil {
						continue
					}
					for _, lang := range sortedLangs(b.Label) {
						src := b.Label.ByLang[lang].Source
						if strings.Contains(src, "{{") {
							continue // its length is known only when sent
						}
						if n := utf8.RuneCountInString(src); n > limit {
							c.warnf(b.Pos, "button label %q (%s) has %d characters; %s %s show %d and cut the rest", src, lang, n, name, shown, limit)
						}
					}
				}
			}
		}
	}
	return probs
}

func sortedLangs(t *Text) []string {
	out := make([]string, 0, len(t.ByLang))
	for l := range t.ByLang {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
