package journey

import "time"

// Event is something that happened in the store: an order was created,
// shipped, delivered; a customer was created; a coupon was redeemed; or a
// custom type the scripts use.
type Event struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	At       time.Time         `json:"at"`
	Customer EventCustomer     `json:"customer"`
	Order    *Order            `json:"-"`
	Points   *int              `json:"points,omitempty"`
	Coupon   string            `json:"coupon,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
}

// EventCustomer is what an event tells about the customer.
type EventCustomer struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	// Addresses are the customer's chats the store knows, by channel
	// (telegram: chat id, whatsapp: international digits).
	Addresses map[string]string `json:"addresses,omitempty"`
	// TelegramChat is the older spelling of Addresses["telegram"].
	TelegramChat string `json:"telegram_chat,omitempty"`
	// Consent: the customer agreed again after an erase (see Store.Erase).
	Consent bool `json:"consent,omitempty"`
}

// Address returns the customer's address on channel the event gives.
func (c EventCustomer) Address(channel string) string {
	if a := c.Addresses[channel]; a != "" {
		return a
	}
	if channel == "telegram" {
		return c.TelegramChat
	}
	return ""
}

// AllAddresses are the addresses the event gives, telegram_chat included.
func (c EventCustomer) AllAddresses() map[string]string {
	out := map[string]string{}
	for ch, a := range c.Addresses {
		if a != "" {
			out[ch] = a
		}
	}
	if out["telegram"] == "" && c.TelegramChat != "" {
		out["telegram"] = c.TelegramChat
	}
	return out
}
