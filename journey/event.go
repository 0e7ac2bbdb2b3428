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
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Language     string `json:"language,omitempty"`
	TimeZone     string `json:"time_zone,omitempty"`
	Email        string `json:"email,omitempty"`
	Phone        string `json:"phone,omitempty"`
	TelegramChat string `json:"telegram_chat,omitempty"`
}
