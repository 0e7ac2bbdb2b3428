package whatsapp

import "strings"

// Addresses are the wa_ids a phone number may have, the most likely first:
// international digits, no "+". A number written without a country code
// (10 or 11 digits, as Brazilian stores often do) is taken as Brazilian.
// Brazilian mobiles gained a ninth digit in 2012-2016, and WhatsApp still
// reports some accounts without it, so both forms are given: 55 DDD 9XXXX-XXXX
// and 55 DDD XXXX-XXXX. Nothing for a text with too few digits.
func Addresses(phone string) []string {
	phone = strings.TrimSpace(phone)
	intl := strings.HasPrefix(phone, "+") || strings.HasPrefix(phone, "00")
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	if strings.HasPrefix(phone, "00") {
		d = strings.TrimPrefix(d, "00")
	}
	if !intl && (len(d) == 10 || len(d) == 11) {
		d = "55" + d
	}
	if len(d) < 8 || len(d) > 15 {
		return nil
	}
	if !strings.HasPrefix(d, "55") {
		return []string{d}
	}
	switch {
	case len(d) == 13 && d[4] == '9':
		return []string{d, d[:4] + d[5:]}
	case len(d) == 12 && d[4] >= '6':
		// Mobiles start with 6-9 after the area code; landlines (2-5) have no ninth digit.
		return []string{d[:4] + "9" + d[4:], d}
	}
	return []string{d}
}
