package conversations

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"journeybot/journey"
)

// order is the order the conversation is about: the one the customer named,
// else the latest.
func (x *run) order() *journey.Order {
	if ref := x.j.Answers["order_ref"]; ref != "" {
		return x.j.Order(ref)
	}
	return x.j.LatestOrder()
}

// lookup gives templates and conditions the customer's context.
func (x *run) lookup(field string) (string, bool) {
	j, lang := x.j, x.lang()
	str := func(s string) (string, bool) { return s, s != "" }
	switch field {
	case "name":
		return str(j.Profile.Name)
	case "first_name":
		first, _, _ := strings.Cut(strings.TrimSpace(j.Profile.Name), " ")
		return str(first)
	case "email":
		return str(first(j.Profile.Email, j.Profile.Fields["email"]))
	case "phone":
		return str(first(j.Profile.Phone, j.Profile.Fields["phone"]))
	case "username":
		return str(j.Profile.Username)
	case "language":
		return lang, true
	case "stage":
		return j.Stage, true
	case "points":
		return strconv.Itoa(j.Profile.Points), true
	case "variant":
		return x.abGroup(), true
	case "misses":
		return strconv.Itoa(j.Conv.Misses), true
	case "today":
		return formatDate(x.now.In(x.zone()), lang), true
	case "coupon":
		return str(j.Answers["coupon"])
	case "coupon_expires":
		if at, err := strconv.ParseInt(j.Answers["coupon_expires_at"], 10, 64); err == nil {
			return formatDate(time.Unix(at, 0).In(x.zone()), lang), true
		}
		return "", false
	case "answer":
		return str(j.Answers["_last"])
	case "order_ref":
		return str(j.Answers["order_ref"])
	case "orders.count":
		return strconv.Itoa(len(j.Orders)), true
	case "total_spent":
		var sum float64
		cur := ""
		for _, o := range j.Orders {
			if o.Status != "cancelled" && o.Status != "refunded" {
				sum += o.Total
				cur = o.Currency
			}
		}
		return formatMoney(sum, cur, lang), true
	case "last_contact":
		if j.LastInbound == 0 {
			return "", false
		}
		return formatDate(time.Unix(j.LastInbound, 0).In(x.zone()), lang), true
	case "recommendation":
		return str(x.recommendation())
	case "case.reason":
		if j.Case != nil {
			return j.Case.Reason, true
		}
		return "", false
	case "staff.available":
		if x.e.opt.NoStaff {
			return "", false
		}
		return "yes", true
	case "staff":
		if j.Case != nil {
			first, _, _ := strings.Cut(j.Case.Staff, " ")
			return str(first)
		}
		return "", false
	}
	if k, ok := strings.CutPrefix(field, "answers."); ok {
		return str(j.Answers[k])
	}
	if k, ok := strings.CutPrefix(field, "profile."); ok {
		return str(j.Profile.Fields[k])
	}
	if k, ok := strings.CutPrefix(field, "facts."); ok {
		return str(x.say(x.s.Facts[k]))
	}
	if k, ok := strings.CutPrefix(field, "order."); ok {
		o := x.order()
		if o == nil {
			return "", false
		}
		switch k {
		case "id":
			return str(o.ID)
		case "status":
			return str(o.Status)
		case "status_label":
			if st := x.s.Statuses[o.Status]; st != nil {
				return str(x.say(st.Label))
			}
			return str(o.Status)
		case "next_step":
			if st := x.s.Statuses[o.Status]; st != nil {
				return str(x.say(st.Next))
			}
			return "", false
		case "items":
			names := make([]string, 0, len(o.Items))
			for _, it := range o.Items {
				if it.Qty > 1 {
					names = append(names, fmt.Sprintf("%d× %s", it.Qty, it.Name))
				} else {
					names = append(names, it.Name)
				}
			}
			return str(strings.Join(names, ", "))
		case "total":
			if o.Total == 0 {
				return "", false
			}
			return formatMoney(o.Total, o.Currency, lang), true
		case "tracking_url":
			return str(o.TrackingURL)
		case "date":
			if o.Created == 0 {
				return "", false
			}
			return formatDate(time.Unix(o.Created, 0).In(x.zone()), lang), true
		}
	}
	return "", false
}

// recommendation is a catalog item related to what the customer bought and
// has not bought yet.
func (x *run) recommendation() string {
	bought := map[string]bool{}
	for _, o := range x.j.Orders {
		for _, it := range o.Items {
			bought[it.SKU] = true
		}
	}
	for i := len(x.j.Orders) - 1; i >= 0; i-- {
		for _, it := range x.j.Orders[i].Items {
			for _, p := range x.s.Catalog {
				if p.SKU != it.SKU {
					continue
				}
				for _, r := range p.Related {
					if !bought[r] {
						for _, q := range x.s.Catalog {
							if q.SKU == r {
								return q.Name
							}
						}
					}
				}
			}
		}
	}
	return ""
}

func formatDate(t time.Time, lang string) string {
	if strings.HasPrefix(lang, "pt") {
		return t.Format("02/01/2006")
	}
	return t.Format("Jan 2, 2006")
}

var currencySymbols = map[string]string{"BRL": "R$", "USD": "US$", "EUR": "€", "": "R$"}

// formatMoney writes 1234.5 BRL as "R$ 1.234,50" in Portuguese and "R$ 1,234.50" in English.
func formatMoney(v float64, currency, lang string) string {
	sym, ok := currencySymbols[strings.ToUpper(currency)]
	if !ok {
		sym = strings.ToUpper(currency)
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	thou, dec := ",", "."
	if strings.HasPrefix(lang, "pt") {
		thou, dec = ".", ","
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(thou)
		}
		b.WriteRune(r)
	}
	out := sym + " " + b.String() + dec + frac
	if neg {
		out = "-" + out
	}
	return out
}

// test evaluates a condition against the customer's context.
func (x *run) test(c *Cond) bool {
	if c == nil {
		return false
	}
	v, ok := x.lookup(c.Path)
	if c.Op == "" {
		return ok && truthy(v)
	}
	switch c.Op {
	case "==":
		return strings.EqualFold(v, c.Value)
	case "!=":
		return !strings.EqualFold(v, c.Value)
	case "contains":
		return strings.Contains(Normalize(v), Normalize(c.Value))
	}
	a, err1 := strconv.ParseFloat(v, 64)
	b, err2 := strconv.ParseFloat(c.Value, 64)
	if !ok || err1 != nil || err2 != nil {
		return false
	}
	switch c.Op {
	case ">=":
		return a >= b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case "<":
		return a < b
	}
	return false
}

var (
	phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 ()\-.]{7,18}[0-9]$`)
	orderRe = regexp.MustCompile(`^#?[A-Za-z0-9\-]{3,32}$`)
	numRe   = regexp.MustCompile(`^-?[0-9]+([.,][0-9]+)?$`)
)

// validate checks an answer; it returns the value to store.
func validate(v *Validation, raw, norm string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 500 {
		return "", false
	}
	if v == nil {
		return raw, true
	}
	switch v.Type {
	case "email":
		a, err := mail.ParseAddress(raw)
		if err != nil || !strings.Contains(a.Address, ".") || a.Address != raw {
			return "", false
		}
		return strings.ToLower(raw), true
	case "phone":
		if !phoneRe.MatchString(raw) {
			return "", false
		}
		return raw, true
	case "number":
		if !numRe.MatchString(raw) {
			return "", false
		}
		f, _ := strconv.ParseFloat(strings.ReplaceAll(raw, ",", "."), 64)
		if v.Min != nil && f < *v.Min || v.Max != nil && f > *v.Max {
			return "", false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	case "choice":
		for _, c := range v.Choices {
			if c == norm {
				return c, true
			}
		}
		return "", false
	case "regex":
		if !v.Pattern.MatchString(raw) {
			return "", false
		}
		return raw, true
	case "order":
		if !orderRe.MatchString(raw) {
			return "", false
		}
		return strings.TrimPrefix(raw, "#"), true
	}
	return raw, true
}

// first returns the first non-empty string.
func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
